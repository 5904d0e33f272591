import BuildcatBasics
import BuildcatRedis

/// The farm as RQ's keys describe it: what `rq info` shows, and recent failures with reasons.
public struct RQStatus: Sendable {
    public struct Queue: Sendable {
        public var name: String
        public var queued = 0
        public var started = 0
        public var finished = 0
        public var failed = 0
        public var deferred = 0
        public var scheduled = 0
    }

    public struct Worker: Sendable {
        public var name: String
        public var state: String
        public var queues: [String]
        public var lastHeartbeat: String
        public var currentJob: String?
    }

    public struct Failure: Sendable {
        public var job: String
        public var queue: String
        public var description: String
        /// The last line of the error the job failed with.
        public var reason: String
    }

    public var queues: [Queue] = []
    public var workers: [Worker] = []
    public var failures: [Failure] = []

    /// Reads the status in four round trips, however many queues and workers there are.
    /// - Parameter failuresPerQueue: how many of each queue's most recent failures to explain.
    public static func read(from redis: RedisConnection, failuresPerQueue: Int = 5) throws(RedisError) -> RQStatus {
        var status = RQStatus()
        let sets = try redis.pipeline([["SMEMBERS", RQQueue.registry], ["SMEMBERS", "rq:workers"]])
        let queueNames = (sets[0].array ?? []).compactMap(\.text).map { $0.hasPrefix("rq:queue:") ? String($0.dropFirst(9)) : $0 }.sorted()
        let workerKeys = (sets[1].array ?? []).compactMap(\.text).sorted()

        var counts: [[any RedisArgument]] = []
        for name in queueNames {
            counts.append(["LLEN", "rq:queue:\(name)"])
            for registry in ["wip", "finished", "failed", "deferred", "scheduled"] { counts.append(["ZCARD", "rq:\(registry):\(name)"]) }
        }
        for key in workerKeys { counts.append(["HMGET", key, "state", "queues", "last_heartbeat", "current_job"]) }
        let replies = try redis.pipeline(counts)
        for (index, name) in queueNames.enumerated() {
            let numbers = replies[index * 6..<index * 6 + 6].map { Int($0.integer ?? 0) }
            status.queues.append(Queue(name: name, queued: numbers[0], started: numbers[1], finished: numbers[2],
                                       failed: numbers[3], deferred: numbers[4], scheduled: numbers[5]))
        }
        for (index, key) in workerKeys.enumerated() {
            let fields = replies[queueNames.count * 6 + index].array ?? []
            func field(_ at: Int) -> String? { at < fields.count ? fields[at].text : nil }
            status.workers.append(Worker(
                name: key.hasPrefix("rq:worker:") ? String(key.dropFirst(10)) : key, state: field(0) ?? "?",
                queues: (field(1) ?? "").split(separator: ",").map(String.init), lastHeartbeat: field(2) ?? "",
                currentJob: field(3).flatMap { $0.isEmpty ? nil : $0 }))
        }

        let failedQueues = status.queues.filter { $0.failed > 0 }.map(\.name)
        let recent = try redis.pipeline(failedQueues.map { ["ZREVRANGE", "rq:failed:\($0)", 0, failuresPerQueue - 1] })
        var failed: [(job: String, queue: String)] = []
        for (queue, reply) in zip(failedQueues, recent) {
            failed += (reply.array ?? []).compactMap(\.text).map { ($0, queue) }
        }
        var details: [[any RedisArgument]] = []
        for (job, _) in failed {
            details.append(["HMGET", RQJob.key(job), "description", "exc_info"])
            details.append(["XREVRANGE", "rq:results:\(job)", "+", "-", "COUNT", 1])
        }
        let answers = try redis.pipeline(details)
        for (index, (job, queue)) in failed.enumerated() {
            let fields = answers[2 * index].array ?? []
            let description = fields.first?.text ?? ""
            var text: String?
            // RQ 3 keeps the error in the job's result stream (base64 of zlib); RQ 2 in exc_info.
            if let entry = answers[2 * index + 1].array?.first?.array, entry.count == 2, let pairs = entry[1].array {
                for pair in stride(from: 0, to: pairs.count - 1, by: 2) where pairs[pair].text == "exc_string" {
                    text = pairs[pair + 1].bytes.flatMap(Base64.decode).flatMap { Zlib.decompress($0) }.map { String(decoding: $0, as: UTF8.self) }
                }
            }
            if text == nil, fields.count > 1, let compressed = fields[1].bytes {
                text = String(decoding: Zlib.decompress(compressed) ?? compressed, as: UTF8.self)
            }
            let reason = text?.split(separator: "\n").last(where: { $0.contains { !$0.isWhitespace } }).map(String.init) ?? "(no reason recorded)"
            status.failures.append(Failure(job: job, queue: queue, description: description, reason: reason))
        }
        return status
    }
}
