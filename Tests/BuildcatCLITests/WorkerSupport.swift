import BuildcatBasics
import BuildcatTestSupport
import Foundation
import Glibc
import SystemPackage
import Testing

/// A farm for one test: a real Redis, an initialised share, a private cache, and workers run
/// as the `buildcat` binary in the background.
final class TestFarm: @unchecked Sendable {
    let directory = TemporaryDirectory()
    var server: RedisServer
    var share: FilePath { directory("share") }
    var cache: FilePath { directory("cache") }
    /// The stand-in Blender's record of its invocations: one JSON line per run.
    var standInRecord: FilePath { directory("blender-runs.jsonl") }
    private var workers = 0

    static let renderScene = FilePath(TestEnvironment.packageRoot).appending("fixtures/render/shot.blend")

    init() throws {
        server = try RedisServer(["--appendonly", "yes"])
        try FileManager.default.createDirectory(atPath: share.string, withIntermediateDirectories: true)
        let initialised = try BuildcatCLITests.buildcat(["store", "init", "--share", share.string], cache: cache)
        guard initialised.status == 0 else { throw ProcessFailure(description: initialised.standardError) }
        try writeFile(directory("stand-in-blender"), Self.standInBlender)
        chmod(directory("stand-in-blender").string, 0o755)
    }

    var environment: [String: String] {
        ["BUILDCAT_SHARE": share.string, "BUILDCAT_REDIS": server.url, "BUILDCAT_CACHE_DIR": cache.string]
    }

    /// Runs buildcat to completion with the farm's environment.
    @discardableResult
    func buildcat(_ arguments: [String], environment extra: [String: String] = [:]) throws -> ProcessOutput {
        try BuildcatCLITests.buildcat(arguments, cache: cache, environment: environment.merging(extra) { $1 })
    }

    /// Stages the render fixture and queues its frames; returns the submission and job ids.
    func stageAndSubmit(_ extra: [String] = [], scene: FilePath = TestFarm.renderScene) throws -> (submission: String, jobs: [String]) {
        let output = try buildcat(["stage-and-submit", "--json"] + extra + [scene.string])
        guard output.status == 0,
              let report = try JSONSerialization.jsonObject(with: Data(output.standardOutput)) as? [String: Any],
              let submission = report["submission"] as? String, let jobs = report["jobs"] as? [String] else {
            throw ProcessFailure(description: "stage-and-submit failed: \(output.standardError)")
        }
        return (submission, jobs)
    }

    /// Starts `buildcat worker` in the background.
    func startWorker(_ arguments: [String] = [], standIn: Bool = true, sleep: Double = 0, name: String? = nil) throws -> BackgroundProcess {
        workers += 1
        var environment = TestEnvironment.environment(self.environment)
        if standIn {
            environment["BUILDCAT_BLENDER"] = directory("stand-in-blender").string
            environment["STANDIN_RECORD"] = standInRecord.string
            environment["STANDIN_SLEEP"] = String(sleep)
        }
        return try BackgroundProcess(TestEnvironment.buildcat, ["worker", "--name", name ?? "test-worker-\(workers)"] + arguments,
                                     environment: environment, output: directory("worker-\(workers).log"))
    }

    /// Runs a worker in burst mode to the end.
    func burst(_ arguments: [String] = [], standIn: Bool = true) throws -> (status: Int32?, log: String) {
        let worker = try startWorker(["--burst"] + arguments, standIn: standIn)
        let status = worker.wait(seconds: 180)
        return (status, worker.text)
    }

    func submissionDirectory(_ submission: String) -> FilePath { share.appending("buildcat/submissions/\(submission)") }

    /// The stand-in's runs so far: each one's arguments.
    func standInRuns() -> [[String]] {
        guard let text = try? String(contentsOfFile: standInRecord.string, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String] }
    }

    /// Reads a job as RQ sees it: status and latest result, through Python's RQ.
    func rqJob(_ id: String) throws -> [String: Any] {
        let script = directory("fetch.py")
        try writeFile(script, """
            import json, sys
            from redis import Redis
            from rq.job import Job
            from rq.serializers import JSONSerializer
            job = Job.fetch(sys.argv[2], connection=Redis.from_url(sys.argv[1]), serializer=JSONSerializer)
            result = job.latest_result()
            print(json.dumps({"status": job.get_status(), "result": result.return_value if result else None,
                              "error": result.exc_string if result else None,
                              "type": result.type.name if result else None}))
            """)
        let output = try run(TestEnvironment.peersVenv + "/bin/python", [script.string, server.url, id])
        guard output.status == 0 else { throw ProcessFailure(description: output.standardError) }
        return try JSONSerialization.jsonObject(with: Data(output.standardOutput)) as? [String: Any] ?? [:]
    }

    /// A Blender for the tests that cannot wait for renders or need to be killed in one: it
    /// records its arguments, sleeps $STANDIN_SLEEP seconds, and writes each frame of `-f` to
    /// `-o`'s pattern as Blender names PNG frames.
    static let standInBlender = """
        #!/usr/bin/env python3
        import json, os, re, sys, time
        args = sys.argv[1:]
        with open(os.environ["STANDIN_RECORD"], "a") as record:
            record.write(json.dumps(args) + "\\n")
        with open(os.path.join(os.path.dirname(os.environ["STANDIN_RECORD"]), "stand-in.pid"), "w") as pid:
            pid.write(str(os.getpid()))
        time.sleep(float(os.environ.get("STANDIN_SLEEP", "0")))
        pattern = args[args.index("-o") + 1]
        for frame in args[args.index("-f") + 1].split(","):
            run = re.search(r"#+(?!.*#)", pattern)
            path = pattern[:run.start()] + str(int(frame)).zfill(run.end() - run.start()) + pattern[run.end():] + ".png"
            with open(path, "w") as out:
                out.write("frame %s of %s\\n" % (frame, args[args.index("-b") + 4]))
            print("Saved:", path, flush=True)
        """
}
