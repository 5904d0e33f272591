import BuildcatBasics
@testable import BuildcatQueue
import BuildcatRedis
import BuildcatTestSupport
import Foundation
import Testing

/// Jobs we enqueue, read by the real RQ from PyPI: `rq info` and `Job.fetch`.
@Suite struct RQEnqueueTests {
    static var python: String { TestEnvironment.peersVenv + "/bin/python" }

    @Test func timestampsAreRQs() {
        #expect(rqTimestamp(nanosecondsSinceEpoch: 1_796_025_740_123_456_789) == "2026-11-30T08:02:20.123456Z")
        #expect(rqTimestamp(nanosecondsSinceEpoch: 0) == "1970-01-01T00:00:00.000000Z")
    }

    @Test func idsAreVersion4UUIDs() {
        let id = RQJob.newID()
        #expect(id.count == 36)
        #expect(id.split(separator: "-").map(\.count) == [8, 4, 4, 4, 12])
        #expect(Array(id)[14] == "4")
        #expect(RQJob.newID() != id)
    }

    @Test func rqReadsOurJobsAsItsOwn() throws {
        let server = try RedisServer()
        let redis = try RedisConnection(url: try #require(RedisURL(server.url)))
        let jobs = (1...3).map { chunk in
            RQJob(function: "buildcat.blender.render_frames", keywordArguments: [
                ("submission", .text("sub-1")), ("scene", .text("files/shot.blend")),
                ("frames", .array([.integer(Int64(chunk * 2 - 1)), .integer(Int64(chunk * 2))])),
                ("output", .text("outputs/frame_####")), ("manifest", .text("99aa06d3014798d86001c324468d497f")),
            ], timeout: 3600)
        }
        try RQQueue(name: "render").enqueue(jobs, on: redis)

        let script = """
            import json, sys
            from redis import Redis
            from rq import Queue
            from rq.job import Job
            from rq.serializers import JSONSerializer
            connection = Redis.from_url(sys.argv[1])
            queue = Queue("render", connection=connection, serializer=JSONSerializer)
            out = {"count": queue.count, "ids": queue.job_ids, "jobs": []}
            for job_id in queue.job_ids:
                job = Job.fetch(job_id, connection=connection, serializer=JSONSerializer)
                out["jobs"].append({"status": job.get_status(), "func": job.func_name, "args": list(job.args),
                                    "kwargs": job.kwargs, "timeout": job.timeout, "origin": job.origin,
                                    "description": job.description, "enqueued": job.enqueued_at is not None})
            print(json.dumps(out))
            """
        try writeFile(server.directory("read.py"), script)
        let output = try run(Self.python, [server.directory("read.py").string, server.url])
        #expect(output.status == 0, "\(output.standardError)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(output.standardOutput)) as? [String: Any])
        #expect(object["count"] as? Int == 3)
        #expect(object["ids"] as? [String] == jobs.map(\.id))
        let first = try #require((object["jobs"] as? [[String: Any]])?.first)
        #expect(first["status"] as? String == "queued")
        #expect(first["func"] as? String == "buildcat.blender.render_frames")
        #expect((first["args"] as? [Any])?.isEmpty == true)
        let kwargs = try #require(first["kwargs"] as? [String: Any])
        #expect(kwargs["frames"] as? [Int] == [1, 2])
        #expect(kwargs["scene"] as? String == "files/shot.blend")
        #expect(first["timeout"] as? Int == 3600)
        #expect(first["origin"] as? String == "render")
        #expect(first["enqueued"] as? Bool == true)

        // `rq info` lists the queue with its three jobs.
        let info = try run(TestEnvironment.peersVenv + "/bin/rq", ["info", "--url", server.url, "--only-queues"])
        #expect(info.status == 0, "\(info.standardError)")
        #expect(info.stdoutText.contains("render"))
        #expect(info.stdoutText.contains("3"))
    }

    /// A thousand chunks go in one round trip: a pipeline, checked by the queue's length.
    @Test func manyJobsInOneRoundTrip() throws {
        let server = try RedisServer()
        let redis = try RedisConnection(url: try #require(RedisURL(server.url)))
        let jobs = (0..<1_000).map { RQJob(function: "buildcat.blender.render_frames", keywordArguments: [("frames", .array([.integer(Int64($0))]))]) }
        let commands = RQQueue(name: "big").enqueueCommands(jobs)
        #expect(commands.count == 1 + 2 * 1_000)
        #expect(commands.firstCommand == "SADD")
        try RQQueue(name: "big").enqueue(jobs, on: redis)
        #expect(try redis.run(["LLEN", "rq:queue:big"]) == .integer(1_000))
        #expect(try redis.run(["SISMEMBER", "rq:queues", "rq:queue:big"]) == .integer(1))
        let data = try #require(try redis.run(["HGET", RQJob.key(jobs[7].id), "data"]).bytes)
        let payload = try #require(Zlib.decompress(data))
        #expect(String(decoding: payload, as: UTF8.self) == #"["buildcat.blender.render_frames",null,[],{"frames":[7]}]"#)
    }
}
