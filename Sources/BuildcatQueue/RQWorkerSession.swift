import BuildcatBasics
import BuildcatRedis
import Glibc
import Synchronization

/// A job a worker took from a queue: started in Redis, not yet finished or failed.
public struct RQClaimedJob: Sendable {
    public var queue: String
    public var id: String
    /// This run of the job (RQ 3's execution): the started registry holds `<id>:<execution>`.
    public var execution: String
    /// The function's dotted name, from the payload; nil when the payload cannot be read.
    public var function: String?
    /// The keyword arguments, from the payload.
    public var keywordArguments: JSONValue
    /// Why the payload could not be read, when it could not.
    public var payloadProblem: String?
    public var timeout: Int?
    public var retriesLeft: Int?
    public var description: String
    public var resultTTL: Int?
    public var failureTTL: Int?
    /// When this worker started it (wall clock, nanoseconds).
    public var startedAt: Int64
}

/// What became of a job that did not succeed.
public enum RQFailureOutcome: String, Sendable {
    /// Back in its queue (a retry, or handed back).
    case queued
    /// A retry with an interval: in `rq:scheduled:<queue>` until it is due.
    case scheduled
    case failed
    /// Not this worker's any more: recovered as abandoned while it ran. Nothing was changed.
    case lost
    /// The job's hash is gone (deleted while it ran).
    case gone
    /// A recovery found the job no longer started (already ended).
    case skipped
}

/// One worker's side of RQ's protocol (2.x and 3.x keys, JSON serializer): registration and
/// heartbeats as `rq info` reads them, claiming jobs in queue order without ever losing one,
/// ending them where RQ's `Job.fetch(...).latest_result()` finds the outcome, and the farm's
/// clean-ups (abandoned jobs, due retries, jobs stuck between pop and start).
///
/// Not thread-safe by itself: each thread passes its own connection.
public struct RQWorkerSession: Sendable {
    public let name: String
    /// In priority order: a job from the first is taken before any from the second.
    public let queues: [String]
    /// How long an execution or a registration lives without a heartbeat, in seconds.
    public let ttl: Int
    public let version: String

    /// RQ's default time a finished job and its result are kept.
    public static let defaultResultTTL = 500
    /// RQ's default time a failed job is kept: a year.
    public static let defaultFailureTTL = 31_536_000

    public init(name: String, queues: [String], ttl: Int, version: String) {
        self.name = name
        self.queues = queues
        self.ttl = ttl
        self.version = version
    }

    public var key: String { "rq:worker:\(name)" }

    /// A worker name as RQ makes them: random hex (RQ 3 uses uuid4().hex).
    public static func newName() -> String {
        String(RQJob.newID().filter { $0 != "-" })
    }

    private static func now() -> (stamp: String, seconds: String, nanoseconds: Int64) {
        let nanoseconds = wallClockNanoseconds()
        return (rqTimestamp(nanosecondsSinceEpoch: nanoseconds), seconds(nanoseconds), nanoseconds)
    }

    private static func seconds(_ nanoseconds: Int64) -> String {
        let micro = nanoseconds / 1_000
        let fraction = String(micro % 1_000_000)
        return "\(micro / 1_000_000).\(String(repeating: "0", count: 6 - fraction.count))\(fraction)"
    }

    // MARK: Registration

    /// Registers the worker as RQ's `register_birth` does.
    /// - Throws: `RedisError` when Redis cannot be reached, or another live worker has this name.
    public func register(on redis: RedisConnection) throws(RedisError) {
        let host = hostName()
        let existing = try redis.pipeline([["EXISTS", key], ["HMGET", key, "death", "hostname", "pid"]])
        let fields = existing[1].array ?? []
        if existing[0].integer == 1, fields.count == 3, fields[0] == .null {
            // A registration left by a worker of this host whose process is gone (killed, and
            // now restarted under its name) is stale; any other is a live worker's.
            let stale = fields[1].text == host && fields[2].text.flatMap { Int32($0) }.map { kill($0, 0) != 0 && errno == ESRCH } == true
            if !stale {
                throw RedisError(code: .reply, server: redis.url.description, operation: "register worker \(name)",
                                 reason: "a live worker of that name is registered already (on \(fields[1].text ?? "?"), pid \(fields[2].text ?? "?"))")
            }
        }
        let (stamp, _, _) = Self.now()
        var commands: [[any RedisArgument]] = [
            ["DEL", key],
            ["HSET", key, "birth", stamp, "last_heartbeat", stamp, "queues", queues.joined(separator: ","),
             "pid", Int(getpid()), "hostname", host, "ip_address", "", "version", version,
             "python_version", "", "state", "idle", "current_job", ""],
            ["SADD", "rq:workers", key],
        ]
        for queue in queues { commands.append(["SADD", "rq:workers:\(queue)", key]) }
        commands.append(["EXPIRE", key, ttl + 60])
        try check(redis.pipeline(commands), redis, "register worker \(name)")
    }

    /// Removes the registration as RQ's `register_death` does.
    public func unregister(on redis: RedisConnection) throws(RedisError) {
        let (stamp, _, _) = Self.now()
        var commands: [[any RedisArgument]] = [["SREM", "rq:workers", key]]
        for queue in queues { commands.append(["SREM", "rq:workers:\(queue)", key]) }
        commands += [["HSET", key, "death", stamp, "state", "dead"], ["EXPIRE", key, 60], ["DEL", "\(key):executions"]]
        try check(redis.pipeline(commands), redis, "unregister worker \(name)")
    }

    /// Tells the farm the worker lives and extends the job it runs.
    /// - Returns: whether the registration and the job's execution are still there: false
    ///   after Redis lost them (a restart without persistence) or recovered the job as
    ///   abandoned; the caller then registers again.
    @discardableResult
    public func heartbeat(on redis: RedisConnection, running job: RQClaimedJob?) throws(RedisError) -> (registered: Bool, jobKept: Bool) {
        let (stamp, seconds, _) = Self.now()
        var commands: [[any RedisArgument]] = [["EXPIRE", key, ttl + 60], ["HSET", key, "last_heartbeat", stamp]]
        if let job {
            commands.append(["EVAL", RQWorkerScripts.extend, 0, job.queue, job.id, job.execution, name, stamp, seconds, ttl])
        }
        let replies = try redis.pipeline(commands)
        try check(replies, redis, "send the heartbeat of worker \(name)")
        let registered = replies[0].integer == 1
        if !registered { _ = try? redis.send(["DEL", key]) }  // the HSET made a bare hash
        return (registered, job == nil || replies[2].integer == 1)
    }

    // MARK: Jobs

    /// Takes the first job of the first queue that has one, started in the same step.
    /// - Parameter wait: when every queue is empty, how long to wait for a job on the first
    ///   queue (whole seconds; 0 does not wait).
    public func claim(on redis: RedisConnection, wait: Int = 0) throws(RedisError) -> RQClaimedJob? {
        if let job = try runClaim(mode: "pop", queues: queues, on: redis) { return job }
        guard wait > 0, let first = queues.first else { return nil }
        // Blocking moves the id into the queue's intermediate list (as RQ ≥ 2 does); the claim
        // then takes it from there. A worker that dies between the two leaves the id where the
        // clean-up finds it and puts it back.
        let moved = try redis.run(["BLMOVE", "rq:queue:\(first)", "rq:queue:\(first):intermediate", "LEFT", "RIGHT", wait])
        guard let id = moved.text else { return nil }
        if let job = try runClaim(mode: id, queues: [first], on: redis) { return job }
        return try runClaim(mode: "pop", queues: queues, on: redis)
    }

    private func runClaim(mode: String, queues: [String], on redis: RedisConnection) throws(RedisError) -> RQClaimedJob? {
        let (stamp, seconds, nanoseconds) = Self.now()
        let execution = String(RQJob.newID().filter { $0 != "-" })
        var arguments: [any RedisArgument] = ["EVAL", RQWorkerScripts.claim, 0, name, stamp, seconds, ttl, execution, mode]
        arguments += queues.map { $0 as any RedisArgument }
        let reply = try evaluate(arguments, on: redis)
        guard let fields = reply.array, fields.count == 9, let queue = fields[0].text, let id = fields[1].text else { return nil }
        var job = RQClaimedJob(queue: queue, id: id, execution: execution, function: nil, keywordArguments: .object([]),
                               payloadProblem: nil, timeout: fields[3].text.flatMap { Int($0) },
                               retriesLeft: fields[4].text.flatMap { Int($0) }, description: fields[6].text ?? "",
                               resultTTL: fields[7].text.flatMap { Int($0) }, failureTTL: fields[8].text.flatMap { Int($0) },
                               startedAt: nanoseconds)
        Self.decodePayload(fields[2].bytes, into: &job)
        return job
    }

    /// Reads `[function, instance, args, kwargs]` from RQ's zlib-compressed JSON.
    static func decodePayload(_ data: [UInt8]?, into job: inout RQClaimedJob) {
        guard let data, !data.isEmpty else {
            job.payloadProblem = "the job has no data (it was not enqueued by RQ or Buildcat)"
            return
        }
        guard let json = Zlib.decompress(data) else {
            job.payloadProblem = "the job's data is not zlib-compressed (RQ's format)"
            return
        }
        guard let payload = try? JSONParser.parse(json), case .array(let parts) = payload, parts.count == 4,
              let function = parts[0].text else {
            job.payloadProblem = "the job's data is not JSON as RQ's JSONSerializer writes it (was it enqueued with the pickle serializer?)"
            return
        }
        job.function = function
        if case .array(let positional) = parts[2], !positional.isEmpty {
            job.payloadProblem = "\(function) takes keyword arguments only, and was given \(positional.count) positional"
        }
        job.keywordArguments = parts[3]
    }

    /// Ends a job that succeeded: `value` is the JSON it returned.
    /// - Returns: false when the job was no longer this worker's (nothing was written).
    public func finish(_ job: RQClaimedJob, returning value: JSONValue, on redis: RedisConnection) throws(RedisError) -> Bool {
        let (stamp, seconds, nanoseconds) = Self.now()
        let worked = Self.seconds(nanoseconds - job.startedAt)
        let reply = try evaluate(["EVAL", RQWorkerScripts.finish, 0, job.queue, job.id, job.execution, name, stamp, seconds,
                                   job.resultTTL ?? Self.defaultResultTTL, Base64.encode(value.serialized()), worked], on: redis)
        return reply.integer == 1
    }

    /// Ends a job that failed with `reason`: retried while its retries last, else failed.
    public func fail(_ job: RQClaimedJob, reason: String, on redis: RedisConnection) throws(RedisError) -> RQFailureOutcome {
        try end(queue: job.queue, job: job.id, execution: job.execution, worker: name, mode: "fail", reason: reason, on: redis)
    }

    /// Puts a job back at the front of its queue, its retries untouched (the worker stops).
    public func handBack(_ job: RQClaimedJob, on redis: RedisConnection) throws(RedisError) -> RQFailureOutcome {
        try end(queue: job.queue, job: job.id, execution: job.execution, worker: name, mode: "handback", reason: "", on: redis)
    }

    private func end(queue: String, job: String, execution: String, worker: String, mode: String, reason: String,
                     on redis: RedisConnection) throws(RedisError) -> RQFailureOutcome {
        let (stamp, seconds, _) = Self.now()
        let compressed = ZlibCompressor().compress(Array(reason.utf8))
        let reply = try evaluate(["EVAL", RQWorkerScripts.fail, 0, queue, job, execution, worker, stamp, seconds, mode,
                                  compressed, Base64.encode(compressed), Self.defaultFailureTTL], on: redis)
        return reply.text.flatMap(RQFailureOutcome.init(rawValue:)) ?? .skipped
    }

    // MARK: Clean-ups

    /// What a clean-up did.
    public struct Maintenance: Sendable {
        /// Abandoned jobs: (job, what became of it).
        public var abandoned: [(job: String, outcome: RQFailureOutcome)] = []
        public var dueMoved = 0
        public var intermediateMoved = 0
    }

    /// Recovers jobs whose worker stopped heartbeating (retried while retries are left, else
    /// failed as abandoned) — not in a Redis younger than one lifetime, whose scores ran out
    /// while it was down — moves due retries into their queues and returns jobs stuck between
    /// pop and start. Safe to run from every worker at once: each job is handled once.
    public func maintain(on redis: RedisConnection) throws(RedisError) -> Maintenance {
        var result = Maintenance()
        let (stamp, seconds, _) = Self.now()
        // A Redis that has just restarted holds executions whose scores ran out while it was
        // down: their workers get one lifetime to heartbeat again before any is abandoned.
        let info = try redis.run(["INFO", "server"]).text ?? ""
        let uptime = info.split(whereSeparator: \.isNewline).first { $0.hasPrefix("uptime_in_seconds:") }
            .flatMap { Int($0.dropFirst("uptime_in_seconds:".count)) } ?? .max
        let expired = uptime < ttl ? [] : try redis.pipeline(queues.map { ["ZRANGEBYSCORE", "rq:wip:\($0)", 0, seconds, "LIMIT", 0, 1000] })
        for (queue, reply) in zip(queues, expired) {
            for entry in (reply.array ?? []).compactMap(\.text) {
                guard let colon = entry.lastIndex(of: ":") else { continue }
                let job = String(entry[..<colon])
                let execution = String(entry[entry.index(after: colon)...])
                let worker = (try? redis.send(["HGET", RQJob.key(job), "worker_name"]))?.text ?? ""
                let reason = """
                    AbandonedJobError: abandoned: its worker \(worker.isEmpty ? "(unknown)" : worker) stopped sending \
                    heartbeats (it died, or lost Redis for longer than \(ttl) s); noticed by worker \(name) at \(stamp)
                    """
                let outcome = try end(queue: queue, job: job, execution: execution, worker: worker, mode: "abandoned", reason: reason, on: redis)
                if outcome != .lost { result.abandoned.append((job, outcome)) }
            }
        }
        let moved = try redis.pipeline([
            ["EVAL", RQWorkerScripts.enqueueDue, 0, seconds, stamp] + queues.map { $0 as any RedisArgument },
            ["EVAL", RQWorkerScripts.recoverIntermediate, 0, seconds] + queues.map { $0 as any RedisArgument },
        ])
        try check(moved, redis, "clean up the queues")
        result.dueMoved = Int(moved[0].integer ?? 0)
        result.intermediateMoved = Int(moved[1].integer ?? 0)
        return result
    }

    /// Runs `["EVAL", script, …]` as `EVALSHA` once the server has the script: the scripts are a
    /// few kilobytes, sent for every job and every idle second by every worker otherwise. A
    /// server that forgot it (restarted, `SCRIPT FLUSH`) is given it again.
    private func evaluate(_ arguments: [any RedisArgument], on redis: RedisConnection) throws(RedisError) -> RedisValue {
        guard let script = arguments[1] as? String else { return try redis.run(arguments) }
        let rest = Array(arguments.dropFirst(2))
        if let sha = ScriptDigests.shared.digest(of: script) {
            let reply = try redis.send(["EVALSHA", sha] + rest)
            guard case .error(let message) = reply, message.hasPrefix("NOSCRIPT") else {
                if case .error(let message) = reply {
                    throw RedisError(code: .reply, server: redis.url.description, operation: "run a worker script", reason: message)
                }
                return reply
            }
        }
        guard let sha = try redis.run(["SCRIPT", "LOAD", script]).text else {
            throw RedisError(code: .reply, server: redis.url.description, operation: "load a worker script", reason: "no digest came back")
        }
        ScriptDigests.shared.remember(sha, for: script)
        return try redis.run(["EVALSHA", sha] + rest)
    }

    private func check(_ replies: [RedisValue], _ redis: RedisConnection, _ operation: String) throws(RedisError) {
        for reply in replies {
            if case .error(let message) = reply {
                throw RedisError(code: .reply, server: redis.url.description, operation: operation, reason: message)
            }
        }
    }
}

/// The SHA-1 digests Redis gave the worker's scripts (`SCRIPT LOAD`): the same for a script on
/// every server, so learned once per process.
final class ScriptDigests: Sendable {
    static let shared = ScriptDigests()
    private let digests = Mutex<[String: String]>([:])

    func digest(of script: String) -> String? { digests.withLock { $0[script] } }
    func remember(_ digest: String, for script: String) { digests.withLock { $0[script] = digest } }
}
