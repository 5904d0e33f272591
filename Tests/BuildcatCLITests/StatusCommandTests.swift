import BuildcatBasics
import BuildcatTestSupport
import Foundation
import Glibc
import SystemPackage
import Testing

/// `buildcat status` against what the real rq did: queued jobs, a job an RQ worker failed, and a
/// live RQ worker.
@Suite struct StatusCommandTests {
    @Test func queuesWorkersAndFailuresAsRQLeftThem() throws {
        let server = try RedisServer()
        let directory = TemporaryDirectory()
        let python = TestEnvironment.peersVenv + "/bin/python"
        let rq = TestEnvironment.peersVenv + "/bin/rq"
        try writeFile(directory("enqueue.py"), """
            import sys
            from redis import Redis
            from rq import Queue
            from rq.serializers import JSONSerializer
            connection = Redis.from_url(sys.argv[1])
            for frame in range(3):
                Queue("render", connection=connection, serializer=JSONSerializer).enqueue("buildcat.blender.render_frames", frames=[frame])
            Queue("broken", connection=connection, serializer=JSONSerializer).enqueue("os.path.no_such_function")
            """)
        #expect(try run(python, [directory("enqueue.py").string, server.url]).status == 0)
        // An RQ worker runs the broken queue once and fails its job.
        let burst = try run(rq, ["worker", "--burst", "--url", server.url, "--serializer", "rq.serializers.JSONSerializer", "broken"],
                            environment: TestEnvironment.environment(["PYTHONPATH": ""]))
        #expect(burst.status == 0, "\(burst.standardError)")
        // And one stays up, listening on a queue of its own.
        let worker = Process()
        worker.executableURL = URL(fileURLWithPath: rq)
        worker.arguments = ["worker", "--url", server.url, "--name", "farm-node-1", "idle"]
        worker.standardOutput = FileHandle.nullDevice
        worker.standardError = FileHandle.nullDevice
        try worker.run()
        // SIGKILL: a child of Foundation's Process inherits this thread's blocked signals, so
        // the RQ worker would not see SIGINT or SIGTERM.
        defer { kill(worker.processIdentifier, SIGKILL); worker.waitUntilExit() }

        var status: [String: Any] = [:]
        for _ in 0..<100 {
            let output = try buildcat(["status", "--json", "--redis", server.url], cache: directory("cache"))
            #expect(output.status == 0, "\(output.standardError)")
            status = try #require(try JSONSerialization.jsonObject(with: Data(output.standardOutput)) as? [String: Any])
            if (status["workers"] as? [[String: Any]])?.isEmpty == false { break }
            usleep(100_000)
        }
        let queues = try #require(status["queues"] as? [[String: Any]])
        let render = try #require(queues.first { $0["name"] as? String == "render" })
        #expect(render["queued"] as? Int == 3)
        let broken = try #require(queues.first { $0["name"] as? String == "broken" })
        #expect(broken["failed"] as? Int == 1)
        let workers = try #require(status["workers"] as? [[String: Any]])
        #expect(workers.contains { $0["name"] as? String == "farm-node-1" && ($0["queues"] as? [String]) == ["idle"] })
        let failures = try #require(status["failures"] as? [[String: Any]])
        #expect(failures.count == 1)
        #expect((failures.first?["reason"] as? String)?.contains("no_such_function") == true, "\(failures)")

        let table = try buildcat(["status", "--redis", server.url], cache: directory("cache"))
        #expect(table.stdoutText.contains("render"))
        #expect(table.stdoutText.contains("recent failures"))
    }

    @Test func anUnreachableRedisExits4() throws {
        let port = try RedisServer.freePort()
        let output = try buildcat(["status", "--redis", "redis://127.0.0.1:\(port)/0"], cache: TemporaryDirectory().path)
        #expect(output.status == 4)
        #expect(output.standardError.contains("refused"))
    }
}
