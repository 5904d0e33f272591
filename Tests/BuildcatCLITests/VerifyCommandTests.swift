import BuildcatBasics
import BuildcatTestSupport
import Foundation
import Glibc
import SystemPackage
import Testing

/// `buildcat verify`: the worker's check, by hand.
@Suite struct VerifyCommandTests {
    func staged(_ directory: TemporaryDirectory) throws -> (share: FilePath, submission: String, root: FilePath) {
        let share = directory("share")
        try FileSystem.createDirectories(share)
        _ = try buildcat(["store", "init", "--share", share.string], cache: directory("cache"))
        // A copy of the fixtures, so that changing a staged file (a hard link to its object)
        // cannot touch anything but this test's store.
        let project = directory("project")
        #expect(try run("/bin/cp", ["-r", StageAndSubmitCommandTests.fixtures.string, project.string]).status == 0)
        let output = try buildcat(["stage", "--share", share.string, "--json", project.appending("linked.blend").string], cache: directory("cache"))
        let report = try #require(try JSONSerialization.jsonObject(with: Data(output.standardOutput)) as? [String: Any], "\(output.standardError)")
        let submission = try #require(report["submission"] as? String)
        return (share, submission, share.appending("buildcat/submissions").appending(submission))
    }

    func verify(_ share: FilePath, _ submission: String, _ directory: TemporaryDirectory, _ extra: [String] = []) throws -> ProcessOutput {
        try buildcat(["verify", "--share", share.string] + extra + [submission], cache: directory("cache"))
    }

    @Test func anIntactSubmissionPassesAndIsThenCheckedFromTheCache() throws {
        let directory = TemporaryDirectory()
        let (share, submission, _) = try staged(directory)
        let first = try verify(share, submission, directory)
        #expect(first.status == 0, "\(first.stdoutText)\(first.standardError)")
        #expect(first.stdoutText.contains("6 file(s)"))
        #expect(first.stdoutText.contains("intact"))
        try shell("sleep 2.1")  // the cache records no file changed in the last 2 s
        _ = try verify(share, submission, directory)
        let cached = try verify(share, submission, directory, ["--json"])
        let report = try #require(try JSONSerialization.jsonObject(with: Data(cached.standardOutput)) as? [String: Any])
        #expect(report["intact"] as? Bool == true)
        #expect(report["files_from_cache"] as? Int == 6)
        let full = try verify(share, submission, directory, ["--full", "--json"])
        #expect((try JSONSerialization.jsonObject(with: Data(full.standardOutput)) as? [String: Any])?["files_from_cache"] as? Int == 0)
    }

    @Test func aFlippedByteADeletedFileAndATruncatedOneAreEachNamed() throws {
        let directory = TemporaryDirectory()
        let (share, submission, root) = try staged(directory)
        let texture = root.appending("files/assets/textures/wood.png")
        var bytes = try FileSystem.readAll(texture)
        bytes[bytes.count / 2] ^= 0x40
        #expect(chmod(texture.string, 0o644) == 0)
        try writeFile(texture, bytes)
        try FileSystem.removeFile(root.appending("files/lib/lib_b.blend"))
        let plate = root.appending("files/assets/plates/bg.0004.png")
        #expect(chmod(plate.string, 0o644) == 0)
        #expect(truncate(plate.string, 10) == 0)
        let output = try verify(share, submission, directory)
        #expect(output.status == 1)
        #expect(output.stdoutText.contains("files/assets/textures/wood.png: content hashes to"))
        #expect(output.stdoutText.contains("files/lib/lib_b.blend: missing"))
        #expect(output.stdoutText.contains("files/assets/plates/bg.0004.png: 10 bytes, but the manifest says"))
        #expect(output.stdoutText.contains("3 problem(s)"))
    }

    @Test func anEditedManifestIsCaughtByItsOwnHash() throws {
        let directory = TemporaryDirectory()
        let (share, submission, root) = try staged(directory)
        let manifest = root.appending("manifest.json")
        var text = String(decoding: try FileSystem.readAll(manifest), as: UTF8.self)
        text = text.replacingOccurrences(of: "\"size\":97", with: "\"size\":98")
        try FileSystem.writeAtomically(Array(text.utf8), to: manifest)
        let output = try verify(share, submission, directory)
        #expect(output.status == 1)
        #expect(output.stdoutText.contains("manifest.json: its XXH3-128 is"))
        #expect(output.stdoutText.contains("the manifest was changed"))
    }

    @Test func anUnknownSubmissionExits2() throws {
        let directory = TemporaryDirectory()
        let share = directory("share")
        try FileSystem.createDirectories(share)
        _ = try buildcat(["store", "init", "--share", share.string], cache: directory("cache"))
        let output = try verify(share, "20990101-000000-deadbeef", directory)
        #expect(output.status == 2)
        #expect(output.standardError.contains("no submission 20990101-000000-deadbeef"))
    }
}
