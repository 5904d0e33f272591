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
    public func enqueueCommands(_ jobs: [RQJob], now: Int64 = wallClockNanoseconds(), registeringQueue: Bool = true) -> RedisCommandBuffer {
        let stamp = rqTimestamp(nanosecondsSinceEpoch: now)
        var buffer = RedisCommandBuffer()
        buffer.reserve(jobs.count * (600 + (jobs.first?.payload.count ?? 0) + (jobs.first?.description.utf8.count ?? 0)))
        if registeringQueue { buffer.append(["SADD", Self.registry, key]) }
        let compressor = ZlibCompressor()
        let emptyFields = ["success_callback_name", "failure_callback_name", "stopped_callback_name",
                           "started_at", "ended_at", "last_heartbeat", "worker_name", "group_id"]
        for job in jobs {
            var optional: [(String, String)] = []
            if job.retries > 0 {
                optional.append(("retries_left", String(job.retries)))
                if !job.retryIntervals.isEmpty {
                    optional.append(("retry_intervals", "[\(job.retryIntervals.map(String.init).joined(separator: ", "))]"))
                }
            }
            if let ttl = job.resultTTL { optional.append(("result_ttl", String(ttl))) }
            buffer.begin(2 + 2 * (7 + emptyFields.count + optional.count), name: "HSET")
            buffer.appendArgument("HSET")
            buffer.appendArgument(RQJob.key(job.id))
            for (field, value) in [("created_at", stamp), ("origin", name), ("description", job.description),
                                   ("enqueued_at", stamp), ("timeout", String(job.timeout)), ("status", "queued")] {
                buffer.appendArgument(field)
                buffer.appendArgument(value)
            }
            buffer.appendArgument("data")
            buffer.appendArgument(job.data(compressor: compressor))
            for field in emptyFields {
                buffer.appendArgument(field)
                buffer.appendArgument("")
            }
            for (field, value) in optional {
                buffer.appendArgument(field)
                buffer.appendArgument(value)
            }
            buffer.begin(3, name: "RPUSH")
            buffer.appendArgument("RPUSH")
            buffer.appendArgument(key)
            buffer.appendArgument(job.id)
        }
        return buffer
    }

    /// Enqueues all `jobs` in one round trip.
    /// - Throws: `RedisError` when the server cannot be reached, or refuses a command (the
    ///   first refusal is reported; RQ would have refused the same).
    public func enqueue(_ jobs: [RQJob], on redis: RedisConnection) throws(RedisError) {
        // One round trip, sent in slices so that the server works on the first jobs while
        // the rest are encoded; the replies are read once, at the end.
        var sent = 0
        let now = wallClockNanoseconds()
        for start in stride(from: 0, to: max(jobs.count, 1), by: 1_000) {
            let buffer = enqueueCommands(Array(jobs[start..<min(jobs.count, start + 1_000)]), now: now, registeringQueue: start == 0)
            try redis.write(buffer)
            sent += buffer.count
        }
        let replies = try redis.readReplies(sent, to: "HSET")
        if let refusal = replies.first(where: { if case .error = $0 { true } else { false } }), case .error(let message) = refusal {
            throw RedisError(code: .reply, server: redis.url.description, operation: "enqueue into \(key)", reason: message)
        }
    }
}
