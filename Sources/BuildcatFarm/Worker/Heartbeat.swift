import BuildcatBasics
import BuildcatQueue
import BuildcatRedis
import Glibc
import Synchronization

/// The worker's pulse, on a thread and a Redis connection of its own so that it beats while the
/// main thread hashes or waits for a renderer: every interval it extends the registration and
/// the running job's execution, registers again if Redis forgot the worker, notices when the
/// job was taken away, and runs the farm's clean-ups (abandoned jobs, due retries).
final class Heartbeat: Sendable {
    private struct State: Sendable {
        var job: RQClaimedJob?
        var jobLost = false
        var stopping = false
        /// When a heartbeat last reached Redis (monotonic milliseconds).
        var lastBeat: Int64 = 0
    }

    private let state = Mutex(State())
    private let session: RQWorkerSession
    private let url: RedisURL
    private let intervalMilliseconds: Int
    private let log: @Sendable (String) -> Void
    private let thread = Mutex<DedicatedThread?>(nil)

    init(session: RQWorkerSession, url: RedisURL, intervalMilliseconds: Int, log: @escaping @Sendable (String) -> Void) {
        self.session = session
        self.url = url
        self.intervalMilliseconds = intervalMilliseconds
        self.log = log
    }

    func start() {
        let started = DedicatedThread { [self] in beat() }
        thread.withLock { $0 = started }
    }

    func stop() {
        state.withLock { $0.stopping = true }
        thread.withLock { $0 }?.join()
    }

    /// The job to keep alive; nil between jobs.
    var job: RQClaimedJob? {
        get { state.withLock { $0.job } }
        set {
            // The claim that gave the job just reached Redis: the lease starts now.
            let now = monotonicMilliseconds()
            state.withLock { $0.job = newValue; $0.jobLost = false; $0.lastBeat = now }
        }
    }

    /// Whether the running job's lease has run out here: no heartbeat reached Redis for two
    /// intervals, so within a third the farm may take the job for abandoned and give it to
    /// another worker. The job must stop before then: never two renders of one job at once.
    var leaseExpired: Bool {
        let now = monotonicMilliseconds()
        return state.withLock { $0.job != nil && now - $0.lastBeat > 2 * Int64(intervalMilliseconds) }
    }

    /// Whether the running job was recovered by the farm (this worker looked dead).
    var jobLost: Bool { state.withLock { $0.jobLost } }

    private func beat() {
        var redis: RedisConnection?
        var failing = false
        var nextBeat = monotonicMilliseconds() + Int64(intervalMilliseconds)
        while !state.withLock({ $0.stopping }) {
            if monotonicMilliseconds() < nextBeat {
                usleep(50_000)
                continue
            }
            nextBeat = monotonicMilliseconds() + Int64(intervalMilliseconds)
            let job = self.job
            do {
                if redis == nil { redis = try RedisConnection(url: url, readTimeout: .seconds(10)) }
                let (registered, kept) = try session.heartbeat(on: redis!, running: job)
                let beaten = monotonicMilliseconds()
                state.withLock { $0.lastBeat = beaten }
                if !registered {
                    try session.register(on: redis!)
                    log("registered again: Redis had forgotten worker \(session.name)")
                }
                if !kept, let job {
                    state.withLock { if $0.job?.execution == job.execution { $0.jobLost = true } }
                }
                let maintenance = try session.maintain(on: redis!)
                for (id, outcome) in maintenance.abandoned {
                    log("job \(id) was abandoned by its worker: \(outcome == .failed ? "failed" : "\(outcome.rawValue) for a retry")")
                }
                if failing { log("Redis at \(url) is back") }
                failing = false
            } catch {
                if !failing { log("heartbeat: \(error); retrying every \(intervalMilliseconds / 1000) s") }
                failing = true
            }
        }
    }
}
