import BuildcatBasics
import BuildcatHash
import BuildcatQueue
import BuildcatRedis
import BuildcatStore
import Glibc
import SystemPackage

/// How a worker runs.
public struct WorkerConfiguration: Sendable {
    public var redis: RedisURL
    /// In priority order.
    public var queues: [String]
    public var name: String
    public var store: ContentStore
    /// Exit when the queues are empty.
    public var burst = false
    /// Exit after this many jobs.
    public var maxJobs: Int?
    /// Seconds between heartbeats; a job whose worker misses three is recovered.
    public var heartbeatSeconds = 10
    /// Read every input on every job instead of trusting the verification cache.
    public var fullVerification = false
    /// The verification cache's directory (nil: none).
    public var verificationCache: FilePath?
    /// The Blender executable: a path, or a name looked up on PATH.
    public var blender = "blender"
    public var version = "0.1.0"

    public init(redis: RedisURL, queues: [String], name: String, store: ContentStore) {
        self.redis = redis
        self.queues = queues
        self.name = name
        self.store = store
    }
}

/// A job that cannot succeed, and why (the text RQ records as the job's error).
public struct JobFailure: Error, CustomStringConvertible, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// A job the worker gives back untouched: it was told to stop (a second signal).
struct JobHandedBack: Error {}

/// An RQ-protocol worker (DESIGN.md "Worker"): takes jobs in queue order, runs the functions it
/// knows, records results and failures where RQ does, and never loses a job — not to a crash
/// (the farm recovers it), not to a signal (the job is finished or handed back), not to Redis
/// going away (it waits for Redis and then reports).
public final class Worker {
    public let configuration: WorkerConfiguration
    private let session: RQWorkerSession
    private let signals: WorkerSignals
    private let log: @Sendable (String) -> Void
    private let cache: HashCache?
    private let manifests = ManifestMemo()
    private var jobsDone = 0

    /// Blocks the stop signals at once: create the worker before any other thread starts.
    public init(configuration: WorkerConfiguration, log: @escaping @Sendable (String) -> Void) {
        self.signals = WorkerSignals()
        self.configuration = configuration
        let name = configuration.name
        self.log = { log("[\(name)] \($0)") }  // several workers may share one log
        self.session = RQWorkerSession(name: configuration.name, queues: configuration.queues,
                                       ttl: 3 * configuration.heartbeatSeconds, version: "buildcat-\(configuration.version)")
        self.cache = configuration.fullVerification ? nil : configuration.verificationCache.map { HashCache(directory: $0) }
    }

    /// The functions a worker runs, by the dotted name a job gives.
    static let functions: [String: @Sendable (JobContext) throws -> JSONValue] = [
        "buildcat.blender.render_frames": { try RenderFramesJob(context: $0).run() },
        "buildcat.verify": { try VerifyJob(context: $0).run() },
    ]

    /// Works until told to stop, or (burst) until the queues are empty.
    /// - Returns: the exit status: 0 after a clean stop, 1 when a job's outcome could not be
    ///   recorded because Redis was gone and the worker was told to stop anyway, or when
    ///   another live worker has this name.
    public func run() -> Int32 {
        var refused = false
        guard let redis = connectAndRegister(refused: &refused) else { return refused ? 1 : 0 }
        let heartbeat = Heartbeat(session: session, url: configuration.redis,
                                  intervalMilliseconds: configuration.heartbeatSeconds * 1000, log: log)
        heartbeat.start()
        log("worker \(session.name) on \(configuration.queues.joined(separator: ", ")) at \(configuration.redis)")
        var status: Int32 = 0
        var backoff = Backoff()
        while signals.stopRequests == 0 {
            if let maxJobs = configuration.maxJobs, jobsDone >= maxJobs { break }
            let job: RQClaimedJob?
            do {
                job = try session.claim(on: redis, wait: configuration.burst ? 0 : 1)
                backoff.reset()
            } catch {
                waitForRedis(error, &backoff)
                continue
            }
            signals.poll()
            guard let job else {
                if configuration.burst { break }
                continue
            }
            heartbeat.job = job
            let outcome = execute(job, heartbeat: heartbeat)
            heartbeat.job = nil
            if !record(outcome, of: job, on: redis) { status = 1 }
            jobsDone += 1
        }
        heartbeat.stop()
        do {
            try session.unregister(on: redis)
        } catch {
            log("could not unregister: \(error) (the registration expires by itself)")
        }
        if let cache { try? cache.save() }
        log("worker \(session.name) stopped after \(jobsDone) job(s)")
        return status
    }

    private enum Outcome {
        case succeeded(JSONValue)
        case failed(String)
        case handedBack
        case lost
    }

    private func execute(_ job: RQClaimedJob, heartbeat: Heartbeat) -> Outcome {
        log("job \(job.id) from \(job.queue): \(job.description)")
        let started = monotonicMilliseconds()
        guard let function = job.function else { return .failed("JobFailure: \(job.payloadProblem ?? "no function")") }
        guard let body = Self.functions[function] else {
            let known = Self.functions.keys.sorted().joined(separator: ", ")
            return .failed("UnknownFunction: this worker does not run '\(function)'; it runs \(known)")
        }
        if let problem = job.payloadProblem { return .failed("JobFailure: \(problem)") }
        let context = JobContext(job: job, configuration: configuration, signals: signals, cache: cache, manifests: manifests,
                                 jobLost: { heartbeat.jobLost }, leaseExpired: { heartbeat.leaseExpired }, log: log)
        do {
            let value = try body(context)
            log("job \(job.id) done in \(Double(monotonicMilliseconds() - started) / 1000) s")
            return .succeeded(value)
        } catch is JobHandedBack {
            return heartbeat.jobLost ? .lost : .handedBack
        } catch let failure as JobFailure {
            if heartbeat.jobLost { return .lost }
            log("job \(job.id) failed: \(failure.message.split(separator: "\n").last ?? "")")
            return .failed(failure.message)
        } catch {
            if heartbeat.jobLost { return .lost }
            log("job \(job.id) failed: \(String(describing: error).split(separator: "\n").first ?? "")")
            return .failed("\(type(of: error)): \(error)")
        }
    }

    /// Records how a job ended, waiting for Redis if it is away.
    /// - Returns: false when it could not be recorded.
    private func record(_ outcome: Outcome, of job: RQClaimedJob, on redis: RedisConnection) -> Bool {
        var backoff = Backoff()
        let stopsBefore = signals.stopRequests
        while true {
            do {
                switch outcome {
                case .succeeded(let value):
                    if try !session.finish(job, returning: value, on: redis) {
                        log("job \(job.id) finished, but the farm had recovered it meanwhile: its result was not recorded")
                    }
                case .failed(let reason):
                    let result = try session.fail(job, reason: reason, on: redis)
                    log("job \(job.id): \(result == .queued ? "queued again for a retry" : result.rawValue)")
                case .handedBack:
                    _ = try session.handBack(job, on: redis)
                    log("job \(job.id) handed back to the front of \(job.queue)")
                case .lost:
                    log("job \(job.id) was recovered by the farm while it ran (this worker looked dead); its outcome is not recorded")
                }
                return true
            } catch {
                // Told to stop twice more while Redis is away: give up; the farm recovers the job.
                if signals.stopRequests >= stopsBefore + 2 {
                    log("job \(job.id): outcome not recorded (\(error)); the farm will recover it")
                    return false
                }
                waitForRedis(error, &backoff)
            }
        }
    }

    /// Connects (waiting for Redis as long as it takes) and registers; nil when told to stop
    /// meanwhile, or when the name is taken (`refused`).
    private func connectAndRegister(refused: inout Bool) -> RedisConnection? {
        var backoff = Backoff()
        while signals.stopRequests == 0 {
            do {
                let redis = try RedisConnection(url: configuration.redis)
                try session.register(on: redis)
                try? _ = session.maintain(on: redis)
                return redis
            } catch where error.code == .reply {
                // Another live worker has this name: waiting will not help.
                log("\(error)")
                refused = true
                return nil
            } catch {
                waitForRedis(error, &backoff)
            }
        }
        return nil
    }

    private func waitForRedis(_ error: any Error, _ backoff: inout Backoff) {
        let delay = backoff.next()
        if backoff.attempts == 1 || backoff.attempts % 10 == 0 {
            log("\(error); trying again in \(Double(delay) / 1000) s")
        }
        let until = monotonicMilliseconds() + Int64(delay)
        while monotonicMilliseconds() < until && signals.stopRequests == 0 {
            signals.wait(milliseconds: Int(min(200, until - monotonicMilliseconds())))
        }
    }
}

/// Waits that grow from half a second to ten.
struct Backoff {
    private(set) var attempts = 0
    mutating func reset() { attempts = 0 }
    mutating func next() -> Int {
        attempts += 1
        return min(10_000, 500 << min(attempts - 1, 5))
    }
}

/// What a job function is given.
public struct JobContext {
    public var job: RQClaimedJob
    public var configuration: WorkerConfiguration
    let signals: WorkerSignals
    let cache: HashCache?
    let manifests: ManifestMemo
    /// Whether the farm took the job away (this worker looked dead).
    let jobLost: () -> Bool
    /// Whether this worker has not reached Redis for so long that the farm may soon take the
    /// job away: the job stops and is handed back.
    let leaseExpired: () -> Bool
    let log: @Sendable (String) -> Void

    public var arguments: JSONValue { job.keywordArguments }

    func text(_ name: String) throws -> String {
        guard let value = arguments.member(name)?.text, !value.isEmpty else {
            throw JobFailure("the job has no '\(name)' argument (a string)")
        }
        return value
    }
}
