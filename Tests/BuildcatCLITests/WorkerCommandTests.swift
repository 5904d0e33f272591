import BuildcatBasics
import BuildcatTestSupport
import Foundation
import Glibc
import SystemPackage
import Testing

/// `buildcat worker` with a real Redis, the real Blender (or a stand-in where a test must
/// kill or time a render), and Python's RQ on the other side.
@Suite struct WorkerCommandTests {

    @Test func rendersAStagedShotPixelForPixelAsTheOriginalRenders() throws {
        let farm = try TestFarm()
        let (submission, jobs) = try farm.stageAndSubmit(["--frames", "1-3", "--chunk", "2"])
        #expect(jobs.count == 2)
        let worker = try farm.burst(standIn: false)
        #expect(worker.status == 0, "\(worker.log)")

        // The original scene, rendered in place with the same command line.
        let reference = farm.directory("reference")
        try FileManager.default.createDirectory(atPath: reference.string, withIntermediateDirectories: true)
        let blender = try TestEnvironment.program("blender", package: "blender")
        let original = try run(blender, ["-b", "--factory-startup", "--disable-autoexec", "-noaudio", TestFarm.renderScene.string,
                                         "-o", reference.appending("frame_####").string, "-f", "1,2,3"])
        #expect(original.status == 0)

        let outputs = farm.submissionDirectory(submission).appending("outputs")
        let comparison = farm.directory("compare.py")
        try writeFile(comparison, """
            import bpy, json, sys
            args = sys.argv[sys.argv.index("--") + 1:]
            result = {}
            for frame in (1, 2, 3):
                a = bpy.data.images.load("%s/frame_%04d.png" % (args[0], frame))
                b = bpy.data.images.load("%s/frame_%04d.png" % (args[1], frame))
                pa, pb = list(a.pixels), list(b.pixels)
                result[frame] = {"size": [list(a.size), list(b.size)], "equal": pa == pb,
                                 "differs_from_frame_1": None}
                result[frame]["pixels"] = pa
            # The sequence texture changes with the frame: the frames must differ from each other.
            result["frames_differ"] = result[1]["pixels"] != result[2]["pixels"] != result[3]["pixels"]
            for frame in (1, 2, 3): del result[frame]["pixels"]
            print("RESULT " + json.dumps(result))
            """)
        let compared = try run(blender, ["-b", "--factory-startup", "--python", comparison.string, "--", outputs.string, reference.string])
        let line = try #require(compared.stdoutText.split(separator: "\n").first { $0.hasPrefix("RESULT ") }, "\(compared.standardError)")
        let result = try #require(try JSONSerialization.jsonObject(with: Data(line.dropFirst(7).utf8)) as? [String: Any])
        for frame in ["1", "2", "3"] {
            let entry = try #require(result[frame] as? [String: Any])
            #expect(entry["equal"] as? Bool == true, "frame \(frame) differs from the original's render")
            #expect(entry["size"] as? [[Int]] == [[64, 48], [64, 48]])
        }
        #expect(result["frames_differ"] as? Bool == true)

        // The output manifest is what a snapshot of the frames says.
        let diff = try farm.buildcat(["manifest", "diff", "--root", outputs.string, outputs.appending("manifest.json").string])
        #expect(diff.status == 0, "\(diff.stdoutText)")
        // Each job's result, as Python's RQ reads it.
        let first = try farm.rqJob(jobs[0])
        #expect(first["status"] as? String == "finished")
        let value = try #require(first["result"] as? [String: Any])
        #expect(value["frames"] as? [Int] == [1, 2])
        let outputsList = try #require(value["outputs"] as? [[String: Any]])
        #expect(outputsList.map { $0["path"] as? String } == ["outputs/frame_0001.png", "outputs/frame_0002.png"])
        #expect(outputsList.allSatisfy { ($0["xxh128"] as? String)?.count == 32 })
        let verification = try #require(value["verification"] as? [String: Any])
        #expect(verification["files"] as? Int == 7)
        #expect(value["log"] as? String == "logs/\(jobs[0]).log")
        let log = try String(contentsOfFile: farm.submissionDirectory(submission).appending("logs/\(jobs[0]).log").string, encoding: .utf8)
        #expect(log.contains("Blender 3.4"))
        #expect(!log.contains("Warning: Unable to open"), "a texture was missing in the render")
    }

    @Test func pythonRQEnqueuesAndReadsAndRQInfoListsTheWorker() throws {
        let farm = try TestFarm()
        let (submission, _) = try farm.stageAndSubmit(["--frames", "1", "--queue", "unused"])
        let record = try String(contentsOfFile: farm.submissionDirectory(submission).appending("submission.json").string, encoding: .utf8)
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(record.utf8)) as? [String: Any])
        let manifestHash = try #require(parsed["manifest_xxh128"] as? String)
        let script = farm.directory("enqueue.py")
        try writeFile(script, """
            import sys
            from redis import Redis
            from rq import Queue
            from rq.serializers import JSONSerializer
            queue = Queue("python", connection=Redis.from_url(sys.argv[1]), serializer=JSONSerializer)
            job = queue.enqueue("buildcat.blender.render_frames", submission=sys.argv[2], scene="files/shot.blend",
                                frames=[4, 5], output="outputs/py_####", manifest_xxh128=sys.argv[3])
            other = queue.enqueue("os.system", "echo hostile")
            print(job.id, other.id)
            """)
        let enqueued = try run(TestEnvironment.peersVenv + "/bin/python", [script.string, farm.server.url, submission, manifestHash])
        #expect(enqueued.status == 0, "\(enqueued.standardError)")
        let ids = enqueued.stdoutText.split(separator: " ").map { String($0.filter { !$0.isNewline }) }

        let worker = try farm.startWorker(["python"], sleep: 3, name: "swift-render-1")
        #expect(try eventually {
            let info = try run(TestEnvironment.peersVenv + "/bin/rq", ["info", "--url", farm.server.url, "python"])
            return info.stdoutText.contains("swift-render-1") && info.stdoutText.contains("busy")
        }, "rq info lists the busy worker")
        #expect(try eventually { (try farm.rqJob(ids[1]))["status"] as? String == "failed" })
        worker.signal(SIGTERM)
        #expect(worker.wait(seconds: 30) == 0, "\(worker.text)")

        let done = try farm.rqJob(ids[0])
        #expect(done["status"] as? String == "finished")
        #expect((done["result"] as? [String: Any])?["frames"] as? [Int] == [4, 5])
        let refused = try farm.rqJob(ids[1])
        #expect((refused["error"] as? String)?.contains("this worker does not run 'os.system'") == true)
        #expect(farm.standInRuns().count == 1, "the unknown function ran nothing")
    }

    @Test func aChunkChecksOnlyTheSequenceFilesItsFramesShow() throws {
        let farm = try TestFarm()
        let (submission, jobs) = try farm.stageAndSubmit(["--frames", "1,3"])
        let root = farm.submissionDirectory(submission)
        #expect(FileManager.default.fileExists(atPath: root.appending("sequences.json").string))
        // Frame 3 shows glow_0003 (and, for motion blur, 0002 and 0004): the first image is not its business.
        try FileSystem.removeFile(root.appending("files/seq/glow_0001.png"))
        let worker = try farm.burst(standIn: false)
        #expect(worker.status == 0, "\(worker.log)")
        let first = try farm.rqJob(jobs[0])
        #expect(first["status"] as? String == "failed")
        #expect((first["error"] as? String)?.contains("files/seq/glow_0001.png: missing") == true)
        let third = try farm.rqJob(jobs[1])
        #expect(third["status"] as? String == "finished", "\(third)")
        let verification = ((third["result"] as? [String: Any])?["verification"] as? [String: Any]) ?? [:]
        #expect(verification["files_not_needed"] as? Int == 1)
        #expect(verification["files"] as? Int == 6)
        #expect(FileManager.default.fileExists(atPath: root.appending("outputs/frame_0003.png").string))
        #expect(!FileManager.default.fileExists(atPath: root.appending("outputs/frame_0001.png").string))
        // By hand, as a chunk of frame 3 would be checked, and as a whole.
        #expect(try farm.buildcat(["verify", submission, "--frames", "3"]).status == 0)
        #expect(try farm.buildcat(["verify", submission]).status == 1)
    }

    @Test(arguments: ["flip", "delete", "manifest", "sequences"])
    func aTamperedCheckoutFailsTheJobBeforeBlenderStarts(_ tampering: String) throws {
        let farm = try TestFarm()
        let (submission, jobs) = try farm.stageAndSubmit(["--frames", "1"])
        let root = farm.submissionDirectory(submission)
        let texture = root.appending("files/textures/checker.png")
        switch tampering {
        case "flip":
            // Objects are read-only hard links into the store: replace the file, as an editor would.
            var bytes = try FileSystem.readAll(texture)
            bytes[bytes.count / 2] ^= 0x01
            try FileSystem.removeFile(texture)
            try writeFile(texture, bytes)
        case "delete":
            try FileSystem.removeFile(texture)
        case "sequences":
            // Shifting the sequence's mapping would hide files from the check: refused.
            let record = root.appending("sequences.json")
            let text = try String(contentsOfFile: record.string, encoding: .utf8)
            try FileSystem.removeFile(record)
            try writeFile(record, text.replacingOccurrences(of: "\"offset\":0", with: "\"offset\":100"))
        default:
            let manifest = root.appending("manifest.json")
            let text = try String(contentsOfFile: manifest.string, encoding: .utf8)
            try FileSystem.removeFile(manifest)
            try writeFile(manifest, text.replacingOccurrences(of: "\"size\":", with: "\"size\": "))
        }
        let worker = try farm.burst()
        #expect(worker.status == 0, "\(worker.log)")
        #expect(farm.standInRuns().isEmpty, "Blender must not start")
        #expect(!FileManager.default.fileExists(atPath: root.appending("outputs/frame_0001.png").string))
        let job = try farm.rqJob(jobs[0])
        #expect(job["status"] as? String == "failed")
        let error = try #require(job["error"] as? String)
        #expect(error.contains("nothing was rendered") || error.contains("was changed"), "\(error)")
        switch tampering {
        case "flip": #expect(error.contains("files/textures/checker.png: content hashes to"))
        case "delete": #expect(error.contains("files/textures/checker.png: missing"))
        case "sequences": #expect(error.contains("sequences.json: its XXH3-128 is"))
        default: #expect(error.contains("manifest.json"))
        }
    }

    @Test func aWorkerKilledMidRenderLosesNoJobAndEachFrameExistsOnce() throws {
        let farm = try TestFarm()
        let (submission, jobs) = try farm.stageAndSubmit(["--frames", "1-4", "--chunk", "2", "--retries", "1"])
        let doomed = try farm.startWorker(["--heartbeat", "1"], sleep: 30, name: "doomed")
        #expect(eventually { farm.standInRuns().count == 1 }, "the first render started")
        doomed.signal(SIGKILL)
        #expect(doomed.wait(seconds: 10) == 128 + SIGKILL)
        // Its stand-in Blender dies with it (PR_SET_PDEATHSIG), so it writes no frame later.
        let orphan = try standInPid(farm)
        #expect(eventually(seconds: 10) { !FileManager.default.fileExists(atPath: "/proc/\(orphan)") })
        // The survivor runs the other chunk at once, and the doomed one's once its heartbeats
        // have been missing for three seconds.
        let survivor = try farm.startWorker(["--heartbeat", "1"], name: "survivor")
        #expect(try eventually(seconds: 60) {
            try jobs.allSatisfy { try farm.rqJob($0)["status"] as? String == "finished" }
        }, "\(survivor.text)")
        survivor.signal(SIGTERM)
        #expect(survivor.wait(seconds: 30) == 0)
        #expect(survivor.text.contains("was abandoned by its worker"))
        #expect(farm.standInRuns().count == 3, "the killed chunk ran again, once")
        let outputs = farm.submissionDirectory(submission).appending("outputs")
        let frames = try FileManager.default.contentsOfDirectory(atPath: outputs.string).filter { $0.hasPrefix("frame_") }.sorted()
        #expect(frames == ["frame_0001.png", "frame_0002.png", "frame_0003.png", "frame_0004.png"])
        let diff = try farm.buildcat(["manifest", "diff", "--root", outputs.string, outputs.appending("manifest.json").string])
        #expect(diff.status == 0, "\(diff.stdoutText)")
    }

    /// The pid the stand-in Blender recorded last.
    func standInPid(_ farm: TestFarm) throws -> Int32 {
        let text = try String(contentsOfFile: farm.directory("stand-in.pid").string, encoding: .utf8)
        return try #require(Int32(text.filter(\.isNumber)))
    }

    @Test func sigtermDuringARenderFinishesTheFrameAndExitsZero() throws {
        let farm = try TestFarm()
        let (submission, jobs) = try farm.stageAndSubmit(["--frames", "1-2"])
        let worker = try farm.startWorker([], sleep: 2)
        #expect(eventually { farm.standInRuns().count == 1 })
        worker.signal(SIGTERM)
        #expect(worker.wait(seconds: 30) == 0, "\(worker.text)")
        #expect(try farm.rqJob(jobs[0])["status"] as? String == "finished")
        #expect(try farm.rqJob(jobs[1])["status"] as? String == "queued", "the next job stays queued")
        #expect(FileManager.default.fileExists(atPath: farm.submissionDirectory(submission).appending("outputs/frame_0001.png").string))
    }

    @Test func aSecondSignalStopsBlenderAndHandsTheJobBack() throws {
        let farm = try TestFarm()
        let (_, jobs) = try farm.stageAndSubmit(["--frames", "1"])
        let worker = try farm.startWorker([], sleep: 60)
        #expect(eventually { farm.standInRuns().count == 1 })
        worker.signal(SIGTERM)
        usleep(300_000)
        worker.signal(SIGINT)
        #expect(worker.wait(seconds: 30) == 0, "\(worker.text)")
        let job = try farm.rqJob(jobs[0])
        #expect(job["status"] as? String == "queued")
        #expect(worker.text.contains("handed back"))
        // And the next worker takes it.
        #expect(try farm.burst().status == 0)
        #expect(try farm.rqJob(jobs[0])["status"] as? String == "finished")
    }

    @Test func redisRestartedWithJobsQueuedAndOneRunningLosesNone() throws {
        let farm = try TestFarm()
        let (_, jobs) = try farm.stageAndSubmit(["--frames", "1-4"])
        // Heartbeats every 3 s: the outage is shorter than the worker's lease (6 s), so the
        // running render goes on (a longer one is the lease test's).
        let worker = try farm.startWorker(["--heartbeat", "3"], sleep: 3)
        #expect(eventually { farm.standInRuns().count == 1 })
        farm.server.stop()  // SIGTERM: Redis writes its append-only file and exits
        usleep(1_500_000)
        try farm.server.start(["--appendonly", "yes"])
        #expect(try eventually(seconds: 60) {
            try jobs.allSatisfy { try farm.rqJob($0)["status"] as? String == "finished" }
        }, "\(worker.text)")
        worker.signal(SIGTERM)
        #expect(worker.wait(seconds: 30) == 0)
        #expect(farm.standInRuns().count == 4, "each job ran once")
        #expect(worker.text.contains("trying again") || worker.text.contains("heartbeat"))
    }

    @Test func aFailedChunkIsRetriedAsSubmitted() throws {
        let farm = try TestFarm()
        let (_, jobs) = try farm.stageAndSubmit(["--frames", "1", "--retries", "2", "--retry-interval", "1,30"])
        try writeFile(farm.directory("failing-blender"), "#!/bin/sh\nexit 1\n")
        chmod(farm.directory("failing-blender").string, 0o755)
        let fields = try run(TestEnvironment.peersVenv + "/bin/python", ["-c", """
            import json, sys
            from redis import Redis
            from rq.job import Job
            job = Job.fetch(sys.argv[2], connection=Redis.from_url(sys.argv[1]))
            print(json.dumps([job.retries_left, job.retry_intervals]))
            """, farm.server.url, jobs[0]])
        #expect(fields.stdoutText.contains("[2, [1, 30]]"), "\(fields.standardError)")
        // First failure: scheduled 1 s later; the next worker moves it back and fails it again,
        // now scheduled 30 s later.
        #expect(try farm.burst(["--blender", farm.directory("failing-blender").string], standIn: false).status == 0)
        #expect(try farm.rqJob(jobs[0])["status"] as? String == "scheduled")
        usleep(1_200_000)
        let again = try farm.burst(["--blender", farm.directory("failing-blender").string], standIn: false)
        #expect(again.log.contains("scheduled"), "\(again.log)")
        #expect(try farm.rqJob(jobs[0])["status"] as? String == "scheduled")
        let invalid = try farm.buildcat(["submit", "x", "--frames", "1", "--retry-interval", "5"])
        #expect(invalid.status == 64)
        #expect(invalid.standardError.contains("--retry-interval needs --retries"))
    }

    @Test func aRenderPastTheJobsTimeoutIsStoppedAndFailsTheJob() throws {
        let farm = try TestFarm()
        let (_, jobs) = try farm.stageAndSubmit(["--frames", "1-2", "--timeout", "1"])
        let started = Date()
        let worker = try farm.startWorker(["--burst"], sleep: 60)
        #expect(worker.wait(seconds: 60) == 0, "\(worker.text)")
        #expect(Date().timeIntervalSince(started) < 30, "both renders were stopped after about a second")
        for job in jobs {
            let error = try #require(try farm.rqJob(job)["error"] as? String)
            #expect(error.contains("RenderTimeout: Blender was stopped: it ran longer than the job's timeout of 1 s"))
        }
    }

    @Test func hostileJobArgumentsFailTheJobAndNameTheProblem() throws {
        let farm = try TestFarm()
        let (submission, _) = try farm.stageAndSubmit(["--frames", "1", "--queue", "unused"])
        let script = farm.directory("hostile.py")
        try writeFile(script, """
            import json, sys
            from redis import Redis
            from rq import Queue
            from rq.serializers import JSONSerializer
            queue = Queue("hostile", connection=Redis.from_url(sys.argv[1]), serializer=JSONSerializer)
            good = dict(submission=sys.argv[2], scene="files/shot.blend", frames=[1], output="outputs/f_####", manifest_xxh128="0" * 32)
            cases = [dict(good, submission="../../etc"), dict(good, scene="files/../../../../etc/passwd"),
                     dict(good, output="/tmp/escape_####"), dict(good, frames=["1; rm -rf /"]), dict(good, frames=[]),
                     {k: v for k, v in good.items() if k != "scene"}]
            print(json.dumps([queue.enqueue("buildcat.blender.render_frames", **case).id for case in cases]))
            """)
        let enqueued = try run(TestEnvironment.peersVenv + "/bin/python", [script.string, farm.server.url, submission])
        let ids = try #require(try JSONSerialization.jsonObject(with: Data(enqueued.standardOutput)) as? [String], "\(enqueued.standardError)")
        #expect(try farm.burst(["hostile"]).status == 0)
        let reasons = try ids.map { try farm.rqJob($0)["error"] as? String ?? "" }
        #expect(reasons[0].contains("'../../etc' is not a submission id"))
        #expect(reasons[1].contains("is not a path inside the submission's files/"))
        #expect(reasons[2].contains("must be a path inside the submission"))
        #expect(reasons[3].contains("'frames' must be whole numbers"))
        #expect(reasons[4].contains("has no 'frames' argument"))
        #expect(reasons[5].contains("has no 'scene' argument"))
        #expect(farm.standInRuns().isEmpty)
    }

    @Test func aWorkerCutOffFromRedisStopsItsRenderBeforeTheFarmCouldGiveTheJobToAnother() throws {
        let farm = try TestFarm()
        let (_, jobs) = try farm.stageAndSubmit(["--frames", "1"])
        let worker = try farm.startWorker(["--heartbeat", "1"], sleep: 6)
        #expect(eventually { farm.standInRuns().count == 1 })
        farm.server.stop()
        // Two heartbeats missed: the render stops (its lease ran out) while Redis is away.
        #expect(eventually(seconds: 15) { worker.text.contains("longer than its lease") || worker.text.contains("lost Redis") }, "\(worker.text)")
        usleep(3_000_000)
        try farm.server.start(["--appendonly", "yes"])
        // Back: the job is handed back (no retry used), taken again and finished, once more.
        #expect(try eventually(seconds: 60) { try farm.rqJob(jobs[0])["status"] as? String == "finished" }, "\(worker.text)")
        worker.signal(SIGTERM)
        #expect(worker.wait(seconds: 30) == 0)
        #expect(worker.text.contains("handed back"), "\(worker.text)")
        #expect(farm.standInRuns().count == 2)
    }

    @Test func maxJobsAndBurstEndAWorkerAndASupervisorCleanly() throws {
        let farm = try TestFarm()
        let (_, jobs) = try farm.stageAndSubmit(["--frames", "1-5"])
        let limited = try farm.burst(["--max-jobs", "2"])
        #expect(limited.status == 0, "\(limited.log)")
        #expect(limited.log.contains("stopped after 2 job(s)"))
        #expect(try jobs.filter { try farm.rqJob($0)["status"] as? String == "finished" }.count == 2)
        var environment = TestEnvironment.environment(farm.environment)
        environment["BUILDCAT_BLENDER"] = farm.directory("stand-in-blender").string
        environment["STANDIN_RECORD"] = farm.standInRecord.string
        let supervisor = try BackgroundProcess(TestEnvironment.buildcat, ["workers", "-n", "2", "--burst"],
                                               environment: environment, output: farm.directory("workers.log"))
        #expect(supervisor.wait(seconds: 60) == 0, "\(supervisor.text)")
        #expect(try jobs.allSatisfy { try farm.rqJob($0)["status"] as? String == "finished" })
        #expect(farm.standInRuns().count == 5)
        let usage = try farm.buildcat(["worker", "--max-jobs", "0"])
        #expect(usage.status == 64)
        #expect(usage.standardError.contains("--max-jobs must be at least 1"))
    }

    @Test func aRenderThatFailsOrWritesNoFrameFailsTheJobWithTheLog() throws {
        let farm = try TestFarm()
        let (submission, jobs) = try farm.stageAndSubmit(["--frames", "1"])
        try writeFile(farm.directory("failing-blender"), "#!/bin/sh\necho 'Error: out of memory in frame 1'\nexit 3\n")
        chmod(farm.directory("failing-blender").string, 0o755)
        let failed = try farm.burst(["--blender", farm.directory("failing-blender").string], standIn: false)
        #expect(failed.status == 0)
        let error = try #require(try farm.rqJob(jobs[0])["error"] as? String)
        #expect(error.contains("Blender exited with status 3"))
        #expect(error.contains("Error: out of memory in frame 1"))

        let submitted = try farm.buildcat(["submit", submission, "--frames", "2", "--json"])
        let more = try #require(try JSONSerialization.jsonObject(with: Data(submitted.standardOutput)) as? [String: Any])["jobs"] as? [String] ?? []
        try writeFile(farm.directory("lazy-blender"), "#!/bin/sh\necho 'Blender quit'\n")
        chmod(farm.directory("lazy-blender").string, 0o755)
        #expect(try farm.burst(["--blender", farm.directory("lazy-blender").string], standIn: false).status == 0)
        let lazy = try #require(try farm.rqJob(more[0])["error"] as? String)
        #expect(lazy.contains("frame 2: no file frame_0002* was written"))
    }
}

/// `buildcat workers -n N`: N workers, one restarted when it dies, all stopped by one signal.
@Suite struct WorkersCommandTests {
    @Test func superviseRestartsAWorkerThatDiesAndStopsAllOnSIGTERM() throws {
        let farm = try TestFarm()
        let (_, jobs) = try farm.stageAndSubmit(["--frames", "1-6", "--retries", "2"])
        var environment = TestEnvironment.environment(farm.environment)
        environment["BUILDCAT_BLENDER"] = farm.directory("stand-in-blender").string
        environment["STANDIN_RECORD"] = farm.standInRecord.string
        environment["STANDIN_SLEEP"] = "1"
        let supervisor = try BackgroundProcess(TestEnvironment.buildcat, ["workers", "-n", "2", "--name", "node", "--heartbeat", "1"],
                                               environment: environment, output: farm.directory("workers.log"))
        /// The pid a live registered worker gives, as RQ lists workers.
        func workerPid(_ name: String) throws -> Int32? {
            let output = try run(TestEnvironment.peersVenv + "/bin/python", ["-c", """
                import sys
                from redis import Redis
                from rq import Worker
                connection = Redis.from_url(sys.argv[1])
                names = [worker.name for worker in Worker.all(connection=connection)]
                print(connection.hget("rq:worker:" + sys.argv[2], "pid").decode() if sys.argv[2] in names else "")
                """, farm.server.url, name])
            return Int32(output.stdoutText.filter(\.isNumber))
        }
        var first: Int32?
        #expect(try eventually {
            first = try workerPid("node.1")
            let second = try workerPid("node.2")
            return first != nil && second != nil
        }, "\(supervisor.text)")
        kill(try #require(first), SIGKILL)
        // Started again under its name: the killed one's registration is from this host, by a
        // process that is gone, so the new worker takes it over.
        #expect(try eventually(seconds: 60) {
            let again = try workerPid("node.1")
            return again != nil && again != first
        }, "\(supervisor.text)")
        #expect(supervisor.text.contains("was killed by signal 9; starting it again"))
        #expect(try eventually(seconds: 60) { try jobs.allSatisfy { try farm.rqJob($0)["status"] as? String == "finished" } }, "\(supervisor.text)")
        supervisor.signal(SIGTERM)
        #expect(supervisor.wait(seconds: 30) == 0, "\(supervisor.text)")
        #expect(supervisor.text.contains("all workers stopped"))
        let left = [try workerPid("node.1"), try workerPid("node.2")]
        #expect(left == [nil, nil], "both unregistered")
    }
}
