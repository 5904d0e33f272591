import BuildcatBasics
import BuildcatTestSupport
import Foundation
import Glibc
import SystemPackage
import Testing

/// `buildcat store` as separate processes: races, kills, and shares that are full or read-only.
@Suite struct StoreCommandTests {
    func initializedShare(_ directory: TemporaryDirectory) throws -> FilePath {
        let share = directory("share")
        try FileSystem.createDirectories(share)
        let output = try buildcat(["store", "init", "--share", share.string], cache: directory("cache"))
        #expect(output.status == 0)
        return share
    }

    func objectFiles(_ share: FilePath) throws -> [FilePath] {
        try DirectoryWalker(includeHidden: true, followSymlinks: false).walk(share.appending("buildcat/objects")).files.map(\.path)
    }

    func temporaryFiles(_ share: FilePath) throws -> [FilePath] {
        try DirectoryWalker(includeHidden: true, followSymlinks: false).walk(share.appending("buildcat/tmp")).files.map(\.path)
    }

    /// A file of `megabytes` MiB of varied (not sparse, not repetitive) content.
    func writeLargeFile(_ path: FilePath, megabytes: Int) throws {
        let output = try shell("head -c \(megabytes)M /dev/urandom > \"$FILE\"", ["FILE": path.string])
        #expect(output.status == 0)
    }

    @Test func putThenHasVerifyAndMaterializeEndToEnd() throws {
        let directory = TemporaryDirectory()
        let share = try initializedShare(directory)
        let project = directory("project")
        try writeFile(project.appending("scene.blend"), "scene")
        try writeFile(project.appending("textures/wood.png"), "wood")
        try writeFile(project.appending("textures/copy-of-wood.png"), "wood")
        let put = try buildcat(["store", "put", "--share", share.string, project.string], cache: directory("cache"))
        #expect(put.status == 0, "\(put.standardError)")
        #expect(put.stdoutText.split(separator: "\n").count == 3)
        #expect(put.standardError.contains("stored 2 new object(s)"))
        #expect(put.standardError.contains("1 already present"))
        #expect(try objectFiles(share).count == 2)

        let digest = String(put.stdoutText.split(separator: "\n").first { $0.hasSuffix("wood.png") }!.prefix(32))
        #expect(try buildcat(["store", "has", "--share", share.string, digest], cache: directory("cache")).status == 0)
        #expect(try buildcat(["store", "verify", "--share", share.string, "--all"], cache: directory("cache")).status == 0)
        let target = directory("checkout/textures/wood.png")
        let made = try buildcat(["store", "materialize", "--share", share.string, digest, target.string], cache: directory("cache"))
        #expect(made.status == 0)
        #expect(try FileSystem.readAll(target) == Array("wood".utf8))

        // Corrupt an object behind the store's back: verify names it and fails.
        let object = try objectFiles(share).first { try FileSystem.readAll($0) == Array("wood".utf8) }!
        #expect(chmod(object.string, 0o644) == 0)
        try writeFile(object, "rot!")
        let verify = try buildcat(["store", "verify", "--share", share.string, "--all"], cache: directory("cache"))
        #expect(verify.status == 1)
        #expect(verify.stdoutText.contains("corrupt \(digest)"))
    }

    @Test func twoProcessesPuttingTheSameContentMakeOneObject() throws {
        let directory = TemporaryDirectory()
        let share = try initializedShare(directory)
        let first = directory("a/plate.exr")
        try FileSystem.createDirectories(directory("a"))
        try writeLargeFile(first, megabytes: 384)
        try FileSystem.createDirectories(directory("b"))
        let second = directory("b/plate-copy.exr")
        #expect(try shell("cp \"$A\" \"$B\"", ["A": first.string, "B": second.string]).status == 0)

        // Both start together and copy the whole file (no cache to skip it), racing to link.
        let race = try shell("""
            "$BUILDCAT" store put --no-cache --share "$SHARE" "$A" >"$OUT/1.out" 2>"$OUT/1.err" & one=$!
            "$BUILDCAT" store put --no-cache --share "$SHARE" "$B" >"$OUT/2.out" 2>"$OUT/2.err" & two=$!
            wait $one; echo "first=$?"; wait $two; echo "second=$?"
            """, ["BUILDCAT": TestEnvironment.buildcat, "SHARE": share.string, "A": first.string, "B": second.string, "OUT": directory.path.string])
        #expect(race.stdoutText == "first=0\nsecond=0\n")
        let errors = try ["1.err", "2.err"].map { String(decoding: try FileSystem.readAll(directory($0)), as: UTF8.self) }
        #expect(errors.filter { $0.contains("stored 1 new object(s)") }.count == 1, "\(errors)")
        #expect(errors.filter { $0.contains("1 already present") }.count == 1, "\(errors)")
        let objects = try objectFiles(share)
        #expect(objects.count == 1)
        let xxhsum = try run(try TestEnvironment.program("xxhsum", package: "xxhash"), ["-H2", first.string, objects[0].string])
        let digests = xxhsum.stdoutText.split(separator: "\n").map { $0.prefix(32) }
        #expect(digests.count == 2 && digests[0] == digests[1])
        #expect(objects[0].string.hasSuffix(String(digests[0].dropFirst(2))))
        #expect(try temporaryFiles(share).isEmpty)
    }

    @Test func aPutKilledPartWayLeavesNoObjectAndTheNextPutSucceeds() throws {
        let directory = TemporaryDirectory()
        let share = try initializedShare(directory)
        let source = directory("huge.mov")
        try writeLargeFile(source, megabytes: 1536)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: TestEnvironment.buildcat)
        process.arguments = ["store", "put", "--no-cache", "--share", share.string, source.string]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        // Wait until it has written a good part of the copy, then kill it without warning.
        var written = 0
        for _ in 0..<20_000 where written < 200 << 20 {
            usleep(500)
            let io = (try? FileSystem.readAll(FilePath("/proc/\(process.processIdentifier)/io"))) ?? []
            let line = String(decoding: io, as: UTF8.self).split(separator: "\n").first { $0.hasPrefix("wchar:") }
            written = Int(line?.split(separator: " ").last ?? "") ?? written
        }
        #expect(written >= 200 << 20)
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        #expect(process.terminationReason == .uncaughtSignal)
        #expect(try objectFiles(share).isEmpty)
        #expect(try temporaryFiles(share).isEmpty)  // an unnamed O_TMPFILE vanishes with the process

        let retry = try buildcat(["store", "put", "--no-cache", "--share", share.string, source.string], cache: directory("cache"))
        #expect(retry.status == 0)
        #expect(try objectFiles(share).count == 1)
        #expect(try buildcat(["store", "verify", "--share", share.string, "--all"], cache: directory("cache")).status == 0)
    }

    /// The share is a 4 MiB tmpfs in a private mount namespace (unshare), so the test needs no
    /// real full disk and leaves no mount behind.
    @Test func aFullShareGivesAClearErrorAndLeavesTheStoreConsistent() throws {
        let directory = TemporaryDirectory()
        let share = directory("share")
        try FileSystem.createDirectories(share)
        try writeLargeFile(directory("big.bin"), megabytes: 8)
        try writeFile(directory("small.txt"), "fits")
        let output = try shell("""
            set -u
            mount -t tmpfs -o size=4m tmpfs "$SHARE" || exit 99
            "$BUILDCAT" store init --share "$SHARE" >/dev/null || exit 98
            "$BUILDCAT" store put --share "$SHARE" "$BIG"; echo "big=$?"
            "$BUILDCAT" store put --share "$SHARE" "$SMALL" >/dev/null; echo "small=$?"
            echo "objects=$(find "$SHARE/buildcat/objects" -type f | wc -l) tmp=$(find "$SHARE/buildcat/tmp" -type f | wc -l)"
            "$BUILDCAT" store verify --share "$SHARE" --all >/dev/null; echo "verify=$?"
            """, [
                "BUILDCAT": TestEnvironment.buildcat, "SHARE": share.string, "BIG": directory("big.bin").string,
                "SMALL": directory("small.txt").string, "BUILDCAT_CACHE_DIR": directory("cache").string,
            ], namespace: true)
        #expect(output.stdoutText == "big=1\nsmall=0\nobjects=1 tmp=0\nverify=0\n", "\(output.stdoutText)\(output.standardError)")
        #expect(output.standardError.contains("cannot store '\(directory("big.bin").string)' on the share '\(share.string)': No space left on device (the file system is full)"))
    }

    @Test func aReadOnlyShareRefusesNewContentButConfirmsWhatItHas() throws {
        let directory = TemporaryDirectory()
        let share = directory("share")
        try FileSystem.createDirectories(share)
        try writeFile(directory("present.txt"), "already stored")
        try writeFile(directory("new.txt"), "not yet stored")
        let output = try shell("""
            set -u
            mount -t tmpfs -o size=4m tmpfs "$SHARE" || exit 99
            "$BUILDCAT" store init --share "$SHARE" >/dev/null || exit 98
            "$BUILDCAT" store put --share "$SHARE" "$PRESENT" >/dev/null 2>&1 || exit 97
            mount -o remount,ro "$SHARE" || exit 96
            "$BUILDCAT" store put --share "$SHARE" "$NEW" >/dev/null; echo "new=$?"
            "$BUILDCAT" store put --share "$SHARE" "$PRESENT" >/dev/null 2>&1; echo "present=$?"
            """, [
                "BUILDCAT": TestEnvironment.buildcat, "SHARE": share.string, "NEW": directory("new.txt").string,
                "PRESENT": directory("present.txt").string, "BUILDCAT_CACHE_DIR": directory("cache").string,
            ], namespace: true)
        #expect(output.stdoutText == "new=1\npresent=0\n", "\(output.stdoutText)\(output.standardError)")
        #expect(output.standardError.contains("cannot store '\(directory("new.txt").string)' on the share '\(share.string)': Read-only file system (the file system is mounted read-only)"))
    }
}
