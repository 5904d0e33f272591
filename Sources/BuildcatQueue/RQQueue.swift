import BuildcatBasics
import BuildcatRedis
import Glibc

/// A queue as RQ lays it out: a list `rq:queue:<name>` of job ids, registered in the set
/// `rq:queues`, with each job's hash at `rq:job:<id>`.
public struct RQQueue: Sendable {
    public var name: String

    public init(name: String) { self.name = name }

    public var key: String { "rq:queue:\(name)" }
    public static let registry = "rq:queues"

    /// The commands that enqueue `jobs` as RQ's `enqueue_many` does, in order: register the
    /// queue, then per job its hash (status queued, fields as RQ 2/3 write them) and its id at
    /// the back of the queue.
    public func enqueueCommands(_ jobs: [RQJob], now: Int64 = wallClockNanosecondsForQueue()) -> [[any RedisArgument]] {
        let stamp = rqTimestamp(nanosecondsSinceEpoch: now)
        var commands: [[any RedisArgument]] = [["SADD", Self.registry, key]]
        commands.reserveCapacity(1 + 2 * jobs.count)
        for job in jobs {
            let fields: [(String, any RedisArgument)] = [
                ("created_at", stamp), ("data", job.data()),
                ("success_callback_name", ""), ("failure_callback_name", ""), ("stopped_callback_name", ""),
                ("started_at", ""), ("ended_at", ""), ("last_heartbeat", ""), ("worker_name", ""), ("group_id", ""),
                ("origin", name), ("description", job.description), ("enqueued_at", stamp),
                ("timeout", job.timeout), ("status", "queued"),
            ]
            var hset: [any RedisArgument] = ["HSET", RQJob.key(job.id)]
            for (field, value) in fields {
                hset.append(field)
                hset.append(value)
            }
            commands.append(hset)
            commands.append(["RPUSH", key, job.id])
        }
        return commands
    }

    /// Enqueues all `jobs` in one round trip.
    /// - Throws: `RedisError` when the server cannot be reached, or refuses a command (the
    ///   first refusal is reported; RQ would have refused the same).
    public func enqueue(_ jobs: [RQJob], on redis: RedisConnection) throws(RedisError) {
        let replies = try redis.pipeline(enqueueCommands(jobs))
        if let refusal = replies.first(where: { if case .error = $0 { true } else { false } }), case .error(let message) = refusal {
            throw RedisError(code: .reply, server: redis.url.description, operation: "enqueue into \(key)", reason: message)
        }
    }
}

/// The wall-clock time in nanoseconds since the epoch.
public func wallClockNanosecondsForQueue() -> Int64 {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
}
