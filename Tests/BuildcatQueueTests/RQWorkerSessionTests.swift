import BuildcatBasics
@testable import BuildcatQueue
import BuildcatRedis
import BuildcatTestSupport
import Foundation
import Testing

/// The worker's side of RQ's protocol against a real Redis, with the real RQ from PyPI on the
/// other side: it enqueues, it reads what our worker wrote.
@Suite struct RQWorkerSessionTests {
    static var python: String { TestEnvironment.peersVenv + "/bin/python" }

    /// Runs a Python script with RQ against the server; its stdout parsed as JSON.
    func python(_ server: RedisServer, _ body: String, _ arguments: [String] = []) throws -> Any {
        let script = """
            import json, sys
            from redis import Redis
            from rq import Queue, Retry, Worker
            from rq.job import Job
            from rq.serializers import JSONSerializer
            connection = Redis.from_url(sys.argv[1])
            args = sys.argv[2:]

            """ + body
        let path = server.directory("script-\(UUID().uuidString).py")
        try writeFile(path, script)
        let output = try run(Self.python, [path.string, server.url] + arguments)
        guard output.status == 0 else { throw ProcessFailure(description: "python failed: \(output.standardError)") }
        return try JSONSerialization.jsonObject(with: Data(output.standardOutput), options: [.fragmentsAllowed])
    }

    func enqueue(_ server: RedisServer, count: Int, queue: String = "render", retries: Int = 0, interval: Int = 0) throws -> [String] {
        let retry = retries > 0 ? "Retry(max=\(retries), interval=\(interval))" : "None"
        let ids = try python(server, """
            queue = Queue(\(String(reflecting: queue)), connection=connection, serializer=JSONSerializer)
            jobs = [queue.enqueue("buildcat.blender.render_frames", frames=[n], scene="files/a.blend", retry=\(retry))
                    for n in range(\(count))]
            print(json.dumps([job.id for job in jobs]))
            """)
        return try #require(ids as? [String])
    }

    func session(_ name: String = "w1", queues: [String] = ["render"], ttl: Int = 60) -> RQWorkerSession {
        RQWorkerSession(name: name, queues: queues, ttl: ttl, version: "buildcat-test")
    }

    @Test func claimsRQsJobsInQueueOrderAndRQReadsTheResults() throws {
        let server = try RedisServer()
        let redis = try RedisConnection(url: try #require(RedisURL(server.url)))
        let low = try enqueue(server, count: 1, queue: "low")
        let high = try enqueue(server, count: 2, queue: "high")
        let worker = session(queues: ["high", "low"])
        try worker.register(on: redis)

        let info = try #require(try python(server, """
            workers = Worker.all(connection=connection)
            print(json.dumps([{"name": w.name, "queues": w.queue_names(), "state": w.get_state()} for w in workers]))
            """) as? [[String: Any]])
        #expect(info.count == 1)
        #expect(info.first?["name"] as? String == "w1")
        #expect(info.first?["queues"] as? [String] == ["high", "low"])

        let first = try #require(try worker.claim(on: redis))
        #expect(first.id == high[0])
        #expect(first.queue == "high")
        #expect(first.function == "buildcat.blender.render_frames")
        #expect(first.keywordArguments.member("scene")?.text == "files/a.blend")
        #expect(first.payloadProblem == nil)
        let started = try #require(try python(server, """
            job = Job.fetch(args[0], connection=connection, serializer=JSONSerializer)
            from rq.registry import StartedJobRegistry
            print(json.dumps({"status": job.get_status(), "worker": job.worker_name,
                              "started": StartedJobRegistry("high", connection=connection).get_job_ids()}))
            """, [first.id]) as? [String: Any])
        #expect(started["status"] as? String == "started")
        #expect(started["worker"] as? String == "w1")
        #expect(started["started"] as? [String] == [first.id])

        // Scripts run by digest; a server that forgets them (SCRIPT FLUSH, a restart) is given them again.
        try redis.run(["SCRIPT", "FLUSH"])
        #expect(try worker.finish(first, returning: .object([("frames", .array([.integer(0)])), ("ok", .bool(true))]), on: redis))
        let second = try #require(try worker.claim(on: redis))
        #expect(second.id == high[1])
        #expect(try worker.fail(second, reason: "Traceback: something\nRenderError: frame 0 was not written", on: redis) == .failed)
        let third = try #require(try worker.claim(on: redis))
        #expect(third.id == low[0])
        #expect(try worker.claim(on: redis) == nil)

        let results = try #require(try python(server, """
            ok = Job.fetch(args[0], connection=connection, serializer=JSONSerializer)
            bad = Job.fetch(args[1], connection=connection, serializer=JSONSerializer)
            from rq.registry import FailedJobRegistry, FinishedJobRegistry
            print(json.dumps({"ok_status": ok.get_status(), "value": ok.return_value(),
                              "ok_type": ok.latest_result().type.name,
                              "bad_status": bad.get_status(), "bad_type": bad.latest_result().type.name,
                              "bad_text": bad.latest_result().exc_string, "bad_exc_info": bad.exc_info,
                              "finished": FinishedJobRegistry("high", connection=connection).get_job_ids(),
                              "failed": FailedJobRegistry("high", connection=connection).get_job_ids()}))
            """, [first.id, second.id]) as? [String: Any])
        #expect(results["ok_status"] as? String == "finished")
        #expect(results["ok_type"] as? String == "SUCCESSFUL")
        #expect((results["value"] as? [String: Any])?["ok"] as? Bool == true)
        #expect(results["bad_status"] as? String == "failed")
        #expect(results["bad_type"] as? String == "FAILED")
        #expect(results["bad_text"] as? String == "Traceback: something\nRenderError: frame 0 was not written")
        #expect(results["bad_exc_info"] as? String == "Traceback: something\nRenderError: frame 0 was not written")
        #expect(results["finished"] as? [String] == [first.id])
        #expect(results["failed"] as? [String] == [second.id])

        try worker.unregister(on: redis)
        let after = try #require(try python(server, "print(json.dumps(len(Worker.all(connection=connection))))") as? Int)
        #expect(after == 0)
    }

    @Test func aNameIsRefusedWhileItsWorkerLivesAndTakenOverWhenItsProcessIsGone() throws {
        let server = try RedisServer()
        let redis = try RedisConnection(url: try #require(RedisURL(server.url)))
        let worker = session()
        try worker.register(on: redis)
        #expect(throws: RedisError.self) { try worker.register(on: redis) }  // this process lives
        var host = [CChar](repeating: 0, count: 256)
        gethostname(&host, host.count)
        let hostName = host.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        try redis.run(["HSET", worker.key, "hostname", "another-host", "pid", 999_999])
        #expect(throws: RedisError.self) { try worker.register(on: redis) }  // cannot tell: refuse
        try redis.run(["HSET", worker.key, "hostname", hostName, "pid", 999_999])
        try worker.register(on: redis)  // this host, no such process: stale
        #expect(try redis.run(["HGET", worker.key, "pid"]).text == String(getpid()))
        try worker.unregister(on: redis)
        try worker.register(on: redis)  // after a clean death the name is free at once
    }

    @Test func retriesAsRQsRetrySaysThenFails() throws {
        let server = try RedisServer()
        let redis = try RedisConnection(url: try #require(RedisURL(server.url)))
        let ids = try enqueue(server, count: 1, retries: 2)
        let worker = session()
        try worker.register(on: redis)
        for attempt in 0..<2 {
            let job = try #require(try worker.claim(on: redis), "attempt \(attempt)")
            #expect(job.id == ids[0])
            #expect(job.retriesLeft == 2 - attempt)
            #expect(try worker.fail(job, reason: "boom \(attempt)", on: redis) == .queued)
        }
        let last = try #require(try worker.claim(on: redis))
        #expect(try worker.fail(last, reason: "boom 2", on: redis) == .failed)
        #expect(try worker.claim(on: redis) == nil)
        let status = try python(server, "print(json.dumps(Job.fetch(args[0], connection=connection).get_status()))", ids) as? String
        #expect(status == "failed")
    }

    @Test func aRetryWithAnIntervalWaitsInTheScheduledRegistry() throws {
        let server = try RedisServer()
        let redis = try RedisConnection(url: try #require(RedisURL(server.url)))
        let ids = try enqueue(server, count: 1, retries: 1, interval: 1)
        let worker = session()
        let job = try #require(try worker.claim(on: redis))
        #expect(try worker.fail(job, reason: "boom", on: redis) == .scheduled)
        #expect(try worker.claim(on: redis) == nil)
        #expect(try worker.maintain(on: redis).dueMoved == 0)
        usleep(1_200_000)
        #expect(try worker.maintain(on: redis).dueMoved == 1)
        #expect(try worker.claim(on: redis)?.id == ids[0])
    }

    @Test func abandonedJobsAreRetriedThenFailedAsAbandoned() throws {
        let server = try RedisServer()
        let redis = try RedisConnection(url: try #require(RedisURL(server.url)))
        let ids = try enqueue(server, count: 2, retries: 1)
        // A worker with a 1-second lifetime claims a job and "dies" (stops heartbeating).
        let dying = session("dying", ttl: 1)
        try dying.register(on: redis)
        let job = try #require(try dying.claim(on: redis))
        let survivor = session("survivor", ttl: 1)
        #expect(try survivor.maintain(on: redis).abandoned.isEmpty, "not expired yet")
        usleep(1_500_000)
        let recovered = try survivor.maintain(on: redis)
        #expect(recovered.abandoned.map(\.job) == [job.id])
        #expect(recovered.abandoned.map(\.outcome) == [.queued])
        // The dead worker cannot finish what is no longer its own.
        #expect(try dying.finish(job, returning: .null, on: redis) == false)
        #expect(try dying.fail(job, reason: "late", on: redis) == .lost)
        // Its retry used, the second abandonment fails it, with a reason.
        #expect(try dying.claim(on: redis)?.id == ids[1])
        let again = try #require(try dying.claim(on: redis))
        #expect(again.id == job.id)
        usleep(1_500_000)
        let second = try survivor.maintain(on: redis)
        #expect(Set(second.abandoned.map(\.job)) == Set(ids))
        let failed = try #require(try python(server, """
            job = Job.fetch(args[0], connection=connection, serializer=JSONSerializer)
            print(json.dumps([job.get_status(), job.latest_result().exc_string]))
            """, [job.id]) as? [String])
        #expect(failed[0] == "failed")
        #expect(failed[1].contains("abandoned: its worker dying stopped sending heartbeats"))
        // A heartbeat tells the dead worker it lost its job.
        #expect(try dying.heartbeat(on: redis, running: again).jobKept == false)
    }

    @Test func aRedisYoungerThanALifetimeAbandonsNothing() throws {
        let server = try RedisServer()
        let redis = try RedisConnection(url: try #require(RedisURL(server.url)))
        _ = try enqueue(server, count: 1)
        let job = try #require(try session("a", ttl: 1).claim(on: redis))
        usleep(1_200_000)
        // Restarted (without persistence here: the entry is put back as an AOF would restore it).
        let score = try #require(try redis.run(["ZSCORE", "rq:wip:render", "\(job.id):\(job.execution)"]).text)
        server.stop()
        try server.start()
        let fresh = try RedisConnection(url: try #require(RedisURL(server.url)))
        try fresh.run(["ZADD", "rq:wip:render", score, "\(job.id):\(job.execution)"])
        try fresh.run(["HSET", RQJob.key(job.id), "status", "started"])
        #expect(try session("b", ttl: 5).maintain(on: fresh).abandoned.isEmpty, "its worker gets a lifetime to heartbeat again")
        // Once the restarted Redis has lived a lifetime, an execution still not extended is abandoned.
        usleep(1_200_000)
        #expect(try session("c", ttl: 1).maintain(on: fresh).abandoned.map(\.job) == [job.id])
    }

    @Test func aJobHandedBackGoesToTheFrontWithItsRetriesUntouched() throws {
        let server = try RedisServer()
        let redis = try RedisConnection(url: try #require(RedisURL(server.url)))
        let ids = try enqueue(server, count: 2, retries: 1)
        let worker = session()
        let job = try #require(try worker.claim(on: redis))
        #expect(try worker.heartbeat(on: redis, running: job) == (registered: false, jobKept: true))
        #expect(try worker.handBack(job, on: redis) == .queued)
        let again = try #require(try worker.claim(on: redis))
        #expect(again.id == ids[0])
        #expect(again.retriesLeft == 1)
    }

    @Test func aBlockingClaimWakesForANewJobAndStuckIntermediateJobsGoBack() throws {
        let server = try RedisServer()
        let redis = try RedisConnection(url: try #require(RedisURL(server.url)))
        let worker = session()
        #expect(try worker.claim(on: redis, wait: 1) == nil)
        let ids = try enqueue(server, count: 1)
        #expect(try worker.claim(on: redis, wait: 1)?.id == ids[0])

        // A worker died after moving a job into the intermediate list, before starting it.
        let stuck = try enqueue(server, count: 1)
        try redis.run(["LMOVE", "rq:queue:render", "rq:queue:render:intermediate", "LEFT", "RIGHT"])
        #expect(try worker.maintain(on: redis).intermediateMoved == 0, "first seen")
        try redis.run(["SET", "rq:queue:render:intermediate:first_seen:\(stuck[0])", Int(Date().timeIntervalSince1970) - 120])
        #expect(try worker.maintain(on: redis).intermediateMoved == 1)
        #expect(try worker.claim(on: redis)?.id == stuck[0])
    }

    @Test func payloadsThatAreNotRQsJSONAreReportedNotGuessed() throws {
        var job = RQClaimedJob(queue: "q", id: "j", execution: "e", function: nil, keywordArguments: .null, payloadProblem: nil,
                               timeout: nil, retriesLeft: nil, description: "", resultTTL: nil, failureTTL: nil, startedAt: 0)
        RQWorkerSession.decodePayload(nil, into: &job)
        #expect(job.payloadProblem?.contains("no data") == true)
        RQWorkerSession.decodePayload([0x80, 0x04, 0x95], into: &job)
        #expect(job.payloadProblem?.contains("zlib") == true)
        RQWorkerSession.decodePayload(ZlibCompressor().compress(Array("not json".utf8)), into: &job)
        #expect(job.payloadProblem?.contains("pickle") == true)
        RQWorkerSession.decodePayload(ZlibCompressor().compress(Array(#"["f", null, [1], {}]"#.utf8)), into: &job)
        #expect(job.function == "f")
        #expect(job.payloadProblem?.contains("positional") == true)
    }

    @Test func base64RoundTrips() {
        for length in 0..<10 {
            let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 * 37 + 250) }
            #expect(Base64.decode(Base64.encode(bytes)) == bytes)
            #expect(String(decoding: Base64.encode(bytes), as: UTF8.self) == Data(bytes).base64EncodedString())
        }
    }
}
