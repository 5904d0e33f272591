import BuildcatBasics
import BuildcatTestSupport
import Foundation
import SystemPackage
import Glibc
import Testing

/// The artist's commands, as separate processes, with a real Redis and the real rq.
@Suite struct StageAndSubmitCommandTests {
    static let fixtures = FilePath(TestEnvironment.packageRoot).appending("fixtures/blend")

    func share(_ directory: TemporaryDirectory) throws -> FilePath {
        let share = directory("share")
        try FileSystem.createDirectories(share)
        #expect(try buildcat(["store", "init", "--share", share.string], cache: directory("cache")).status == 0)
        return share
    }

    func json(_ output: ProcessOutput) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(output.standardOutput)) as? [String: Any], "\(output.stdoutText)\(output.standardError)")
    }

    @Test func stageAndSubmitQueuesOneJobPerChunkThatRQSees() throws {
        let directory = TemporaryDirectory()
        let share = try share(directory)
        let server = try RedisServer()
        let output = try buildcat([
            "stage-and-submit", "--share", share.string, "--redis", server.url, "--queue", "shots",
            "--frames", "1-10,20-30:5", "--chunk", "4", "--json", Self.fixtures.appending("linked.blend").string,
        ], cache: directory("cache"))
        #expect(output.status == 0, "\(output.standardError)")
        let report = try json(output)
        let submission = try #require(report["submission"] as? String)
        #expect(report["directory"] as? String == "buildcat/submissions/\(submission)")
        #expect(report["frames"] as? Int == 13)
        #expect((report["jobs"] as? [String])?.count == 4)  // 13 frames in chunks of 4
        #expect(report["files_found"] as? Int == 6)
        #expect(report["files_copied"] as? Int == 6)

        let info = try run(TestEnvironment.peersVenv + "/bin/rq", ["info", "--url", server.url, "--only-queues"])
        #expect(info.stdoutText.contains("shots"), "\(info.stdoutText)")
        let script = """
            import json, sys
            from redis import Redis
            from rq.job import Job
            from rq.serializers import JSONSerializer
            job = Job.fetch(sys.argv[2], connection=Redis.from_url(sys.argv[1]), serializer=JSONSerializer)
            print(json.dumps({"func": job.func_name, "kwargs": job.kwargs, "status": job.get_status()}))
            """
        try writeFile(directory("fetch.py"), script)
        let fetched = try json(try run(TestEnvironment.peersVenv + "/bin/python", [directory("fetch.py").string, server.url, (report["jobs"] as! [String])[3]]))
        #expect(fetched["func"] as? String == "buildcat.blender.render_frames")
        #expect(fetched["status"] as? String == "queued")
        let kwargs = try #require(fetched["kwargs"] as? [String: Any])
        #expect(kwargs["frames"] as? [Int] == [30])
        #expect(kwargs["scene"] as? String == "files/linked.blend")
        #expect(kwargs["submission"] as? String == submission)
        #expect(kwargs["output"] as? String == "outputs/frame_####")
        #expect(kwargs["manifest_xxh128"] as? String == report["manifest_xxh128"] as? String)
        // The jobs of one submit are a batch, named by the first: the output manifest is whole
        // once each has written its frames.
        let jobs = try #require(report["jobs"] as? [String])
        #expect(kwargs["batch"] as? String == jobs.first)
        #expect(kwargs["batch_jobs"] as? Int == jobs.count)
    }

    @Test func aSubmissionIsQueuedOnceUnlessAskedAgain() throws {
        let directory = TemporaryDirectory()
        let share = try share(directory)
        let server = try RedisServer()
        let staged = try json(try buildcat(["stage", "--share", share.string, "--json", Self.fixtures.appending("linked.blend").string], cache: directory("cache")))
        let submission = try #require(staged["submission"] as? String)
        let arguments = ["submit", "--share", share.string, "--redis", server.url, "--frames", "1-3", submission]
        #expect(try buildcat(arguments, cache: directory("cache")).status == 0)
        let twice = try buildcat(arguments, cache: directory("cache"))
        #expect(twice.status == 4)
        #expect(twice.standardError.contains("--again"))
        #expect(try buildcat(arguments + ["--again"], cache: directory("cache")).status == 0)
        // Other frames of the same submission are another request.
        let otherFrames = ["submit", "--share", share.string, "--redis", server.url, "--frames", "4-5", submission]
        #expect(try buildcat(otherFrames, cache: directory("cache")).status == 0)
        // Not on a terminal, progress is a plain line per phase on standard error.
        let plain = try buildcat(["stage", "--share", share.string, Self.fixtures.appending("linked.blend").string], cache: directory("fresh-cache"))
        #expect(plain.standardError.contains("scanning…\nstoring… 3 file(s)"))
        #expect(!plain.standardError.contains("\r"))
        let length = try run(try TestEnvironment.program("redis-cli", package: "redis-tools"), ["-p", String(server.port), "LLEN", "rq:queue:default"])
        #expect(length.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines) == "8")
    }

    @Test func redisDownKeepsTheStagedSubmissionAndSaysHowToQueueIt() throws {
        let directory = TemporaryDirectory()
        let share = try share(directory)
        let port = try RedisServer.freePort()
        let output = try buildcat(["stage-and-submit", "--share", share.string, "--redis", "redis://127.0.0.1:\(port)/0",
                                   "--frames", "1-4", Self.fixtures.appending("linked.blend").string], cache: directory("cache"))
        #expect(output.status == 4)
        #expect(output.standardError.contains("Connection refused"))
        #expect(output.standardError.contains("buildcat submit "))
        let submissions = try DirectoryWalker.names(in: share.appending("buildcat/submissions"))
        #expect(submissions.count == 1)
        #expect(try FileSystem.statusIfPresent(of: share.appending("buildcat/submissions").appending(FilePath.Component(bytes: submissions[0])).appending("submission.json")) != nil)
    }

    @Test func missingFilesExit3ListingEachAndStageNothing() throws {
        let directory = TemporaryDirectory()
        let share = try share(directory)
        let output = try buildcat(["stage-and-submit", "--share", share.string, "--frames", "1", Self.fixtures.appending("basic.blend").string], cache: directory("cache"))
        #expect(output.status == 3)
        #expect(output.standardError.contains("abs.png"))
        #expect(output.standardError.contains("missing.png"))
        #expect((try? DirectoryWalker.names(in: share.appending("buildcat/submissions"))) == nil)
    }

    @Test func aDryRunReportsAndWritesNothing() throws {
        let directory = TemporaryDirectory()
        let share = try share(directory)
        let output = try buildcat(["stage-and-submit", "--share", share.string, "--frames", "1-100", "--chunk", "10", "--dry-run", "--json",
                                   Self.fixtures.appending("linked.blend").string], cache: directory("cache"))
        #expect(output.status == 0, "\(output.standardError)")
        let report = try json(output)
        #expect(report["dry_run"] as? Bool == true)
        #expect(report["chunks"] as? Int == 10)
        #expect(report["files_found"] as? Int == 6)
        #expect(try DirectoryWalker().walk(share.appending("buildcat/objects")).files.isEmpty)
    }

    @Test func badFramesAreAUsageError() throws {
        let directory = TemporaryDirectory()
        let output = try buildcat(["stage-and-submit", "--share", directory.path.string, "--frames", "10-1", "x.blend"], cache: directory("cache"))
        #expect(output.status == 64)
        #expect(output.standardError.contains("ends before it starts"))
        for (pattern, reason) in [("../../etc/frame_####", "inside the submission"), ("/tmp/x####", "inside the submission"), ("outputs/final.exr", "no '#'")] {
            let bad = try buildcat(["stage-and-submit", "--share", directory.path.string, "--frames", "1", "--output", pattern, "x.blend"], cache: directory("cache"))
            #expect(bad.status == 64)
            #expect(bad.standardError.contains(reason), "\(pattern): \(bad.standardError)")
        }
    }
}

@Suite struct StagingFailureTests {
    static let fixtures = StageAndSubmitCommandTests.fixtures

    /// A copy of the linked shot (and its libraries and textures) whose texture is 8 MiB.
    func projectWithALargeTexture(_ directory: TemporaryDirectory) throws -> FilePath {
        let project = directory("project")
        let copied = try shell("cp -r \"$FIXTURES\" \"$PROJECT\" && head -c 8M /dev/urandom > \"$PROJECT/assets/textures/wood.png\"",
                               ["FIXTURES": Self.fixtures.string, "PROJECT": project.string])
        #expect(copied.status == 0)
        return project
    }

    /// The share is a 4 MiB tmpfs in a private mount namespace: staging fails, says the share is
    /// full, leaves no submission behind, and the store stays consistent.
    @Test func aFullShareFailsCleanly() throws {
        let directory = TemporaryDirectory()
        let project = try projectWithALargeTexture(directory)
        let share = directory("share")
        try FileSystem.createDirectories(share)
        let output = try shell("""
            mount -t tmpfs -o size=4m tmpfs "$SHARE" || exit 99
            "$BUILDCAT" store init --share "$SHARE" >/dev/null || exit 98
            "$BUILDCAT" stage --share "$SHARE" "$PROJECT/linked.blend"; echo "stage=$?"
            echo "submissions=$(ls "$SHARE/buildcat/submissions" 2>/dev/null | wc -l) tmp=$(find "$SHARE/buildcat/tmp" -type f | wc -l)"
            "$BUILDCAT" store verify --share "$SHARE" --all >/dev/null; echo "verify=$?"
            """, ["BUILDCAT": TestEnvironment.buildcat, "SHARE": share.string, "PROJECT": project.string,
                  "BUILDCAT_CACHE_DIR": directory("cache").string], namespace: true)
        #expect(output.stdoutText.hasSuffix("stage=1\nsubmissions=0 tmp=0\nverify=0\n"), "\(output.stdoutText)\(output.standardError)")
        #expect(output.standardError.contains("No space left on device (the file system is full)"))
        #expect(output.standardError.contains("wood.png"))
    }

    /// A FIFO where a texture should be is not a file: it is reported missing, never opened.
    @Test func aFIFOInsteadOfATextureIsNotStaged() throws {
        let directory = TemporaryDirectory()
        let project = try projectWithALargeTexture(directory)
        try FileSystem.removeFile(project.appending("assets/textures/wood.png"))
        #expect(mkfifo(project.appending("assets/textures/wood.png").string, 0o644) == 0)
        let share = directory("share")
        try FileSystem.createDirectories(share)
        _ = try buildcat(["store", "init", "--share", share.string], cache: directory("cache"))
        let output = try buildcat(["stage", "--share", share.string, project.appending("linked.blend").string], cache: directory("cache"))
        #expect(output.status == 3)
        #expect(output.standardError.contains("wood.png"))
    }

    /// A symlinked texture is followed: its content is staged, as a file.
    @Test func aSymlinkedTextureIsStagedAsItsContent() throws {
        let directory = TemporaryDirectory()
        let project = try projectWithALargeTexture(directory)
        let real = directory("elsewhere/wood.png")
        try writeFile(real, "real texture")
        try FileSystem.removeFile(project.appending("assets/textures/wood.png"))
        try makeSymlink(project.appending("assets/textures/wood.png"), to: real.string)
        let share = directory("share")
        try FileSystem.createDirectories(share)
        _ = try buildcat(["store", "init", "--share", share.string], cache: directory("cache"))
        let output = try buildcat(["stage", "--share", share.string, "--json", project.appending("linked.blend").string], cache: directory("cache"))
        #expect(output.status == 0, "\(output.standardError)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(output.standardOutput)) as? [String: Any])
        let staged = share.appending(report["directory"] as! String).appending("files/assets/textures/wood.png")
        #expect(try FileSystem.status(of: staged, followSymlinks: false).isRegularFile)
        #expect(try FileSystem.readAll(staged) == Array("real texture".utf8))
    }
}

@Suite struct ReadOnlyShareStagingTests {
    /// A share mounted read-only: staging fails with the reason and the share, writing nothing.
    @Test func aReadOnlyShareFailsWithTheReason() throws {
        let directory = TemporaryDirectory()
        let share = directory("share")
        try FileSystem.createDirectories(share)
        let output = try shell("""
            mount -t tmpfs -o size=16m tmpfs "$SHARE" || exit 99
            "$BUILDCAT" store init --share "$SHARE" >/dev/null || exit 98
            mount -o remount,ro "$SHARE" || exit 97
            "$BUILDCAT" stage --share "$SHARE" "$SCENE"; echo "stage=$?"
            echo "files=$(find "$SHARE" -type f | wc -l)"
            """, ["BUILDCAT": TestEnvironment.buildcat, "SHARE": share.string,
                  "SCENE": StageAndSubmitCommandTests.fixtures.appending("linked.blend").string,
                  "BUILDCAT_CACHE_DIR": directory("cache").string], namespace: true)
        #expect(output.stdoutText.hasSuffix("stage=1\nfiles=0\n"), "\(output.stdoutText)\(output.standardError)")
        #expect(output.standardError.contains("Read-only file system"))
        #expect(output.standardError.contains(share.string))
    }
}
