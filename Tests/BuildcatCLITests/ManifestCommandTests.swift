import BuildcatBasics
import BuildcatTestSupport
import Foundation
import Glibc
import SystemPackage
import Testing

/// `buildcat manifest` against the real `deadline manifest snapshot` (PyPI `deadline`).
@Suite struct ManifestCommandTests {
    /// A tree with every corner the format has: nested folders; spaces, quotes, backslashes and
    /// control characters in names; a name from every Unicode plane; both normalisation forms
    /// of one word; names that are not UTF-8; empty, one-byte and multi-buffer files; times before
    /// 1970, at the 2038 boundary and far after; hidden files and folders; symlinks to files, to
    /// folders, out of the tree and to nowhere; a FIFO.
    static func makeCornerTree(_ root: FilePath) throws {
        let names: [String] = [
            "plain.txt", "with space.txt", "quote\"d", "single'quote", "back\\slash", "tab\tname", "new\nline",
            "del\u{7F}", "nested/a/b/c/d/deep.txt", "nested/a/sibling",
            "caf\u{E9}", "cafe\u{301}",                                  // NFC and NFD: two files
            "\u{65E5}\u{672C}\u{8A9E}", "\u{FF61}halfwidth",               // plane 0, low and high
            "\u{1F600}\u{1F3AC}", "\u{1D11E}music",                        // plane 1
            "\u{20000}\u{2A6D6}", "\u{30000}",                             // planes 2 and 3
            "\u{E0041}tag", "\u{F0000}private", "\u{10FFFD}last",          // planes 14, 15, 16
            "textures/wood diffuse.1001.png", "textures/wood diffuse.1002.png",
        ]
        for (index, name) in names.enumerated() {
            try writeFile(root.appending(name), "content of \(name) #\(index)")
        }
        // Names that are not UTF-8: an invalid byte, a truncated sequence, an overlong form, an
        // encoded surrogate, and Latin-1 from an old Windows share.
        for bytes: [UInt8] in [[0x62, 0x61, 0x64, 0xFF], [0xE2, 0x82, 0x61], [0xC0, 0xAF, 0x78], [0xED, 0xA0, 0x80], [0x6E, 0x61, 0xEF, 0x76, 0x65]] {
            try writeFile(root.appending(relativeBytes: Array("latin/".utf8) + bytes), bytes)
        }
        try writeFile(root.appending("empty"), [])
        try writeFile(root.appending("one-byte"), "1")
        try writeFile(root.appending("large.bin"), (0..<9_437_185).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 13) })
        let times: [(String, Int64)] = [
            ("time/1960", -315_619_199_876_543_211),
            ("time/just-before-1970", -500),              // -0.5 µs: rounds down to -1
            ("time/epoch", 0),
            ("time/2038-after", 2_147_483_648_000_000_001),
            ("time/2100", 4_102_444_800_500_000_000),
        ]
        for (name, nanoseconds) in times {
            try writeFile(root.appending(name), name)
            try setModificationTime(root.appending(name), nanoseconds: nanoseconds)
        }
        try writeFile(root.appending(".hidden"), "hidden file")
        try writeFile(root.appending(".git/config"), "hidden folder")
        try writeFile(root.appending("visible/.also-hidden"), "hidden in a visible folder")
        try makeSymlink(root.appending("link-to-file"), to: "plain.txt")
        try makeSymlink(root.appending("link-to-folder"), to: "nested/a")
        try makeSymlink(root.appending("dangling"), to: "nowhere")
        try writeFile(root.appending("../outside/target.txt"), "outside the root")
        try makeSymlink(root.appending("link-out"), to: "../outside/target.txt")
        #expect(mkfifo(root.appending("fifo").string, 0o600) == 0)
    }

    static func deadline(_ arguments: [String], home: FilePath) throws -> ProcessOutput {
        let executable = TestEnvironment.peersVenv + "/bin/deadline"
        guard access(executable, X_OK) == 0 else {
            throw ProcessFailure(description: "\(executable) is missing: run tools/install-deps")
        }
        return try run(executable, arguments, environment: TestEnvironment.environment([
            "AWS_EC2_METADATA_DISABLED": "true", "DEADLINE_CLOUD_TELEMETRY_OPT_OUT": "true", "HOME": home.string,
        ]))
    }

    @Test func snapshotIsByteForByteDeadlines() throws {
        let directory = TemporaryDirectory()
        let root = directory("project")
        try Self.makeCornerTree(root)
        let destination = directory("deadline-out")
        try FileSystem.createDirectories(destination)
        let theirs = try Self.deadline(["manifest", "snapshot", "--root", root.string, "--destination", destination.string], home: directory("home"))
        #expect(theirs.status == 0, "\(theirs.standardError)")
        let written = try DirectoryWalker().walk(destination).files
        #expect(written.count == 1)
        let expected = try FileSystem.readAll(try #require(written.first).path)

        let ours = try buildcat(["manifest", "snapshot", "--root", root.string, "--output", directory("ours.manifest").string], cache: directory("cache"))
        #expect(ours.status == 0, "\(ours.standardError)")
        #expect(ours.standardError.contains("skipped 2"))  // the FIFO and the dangling link
        let actual = try FileSystem.readAll(directory("ours.manifest"))
        #expect(actual == expected, "ours:\n\(String(decoding: actual, as: UTF8.self))\ndeadline:\n\(String(decoding: expected, as: UTF8.self))")

        // To standard output (not a terminal): the same bytes, nothing added.
        let piped = try buildcat(["manifest", "snapshot", "--root", root.string], cache: directory("cache"))
        #expect(piped.standardOutput == expected)
    }

    @Test func diffAgreesWithDeadlinesAndSaysSoInItsExitStatus() throws {
        let directory = TemporaryDirectory()
        let root = directory("project")
        try Self.makeCornerTree(root)
        try FileSystem.removeFile(root.appending("fifo"))
        let manifest = directory("before.manifest")
        #expect(try buildcat(["manifest", "snapshot", "--root", root.string, "-o", manifest.string], cache: directory("cache")).status == 0)
        let same = try buildcat(["manifest", "diff", "--root", root.string, manifest.string], cache: directory("cache"))
        #expect(same.status == 0)
        #expect(same.standardOutput.isEmpty)

        try writeFile(root.appending("plain.txt"), "changed, longer content")
        try writeFile(root.appending("caf\u{E9}"), "same size? no")
        try writeFile(root.appending("brand new"), "new")
        try FileSystem.removeFile(root.appending("empty"))
        let ours = try buildcat(["manifest", "diff", "--json", "--root", root.string, manifest.string], cache: directory("cache"))
        #expect(ours.status == 1)
        let theirs = try Self.deadline(["manifest", "diff", "--json", "--root", root.string, "--manifest", manifest.string], home: directory("home"))
        #expect(theirs.status == 0, "\(theirs.standardError)")
        func sets(_ bytes: [UInt8]) throws -> [String: Set<String>] {
            let object = try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: [String]] ?? [:]
            return object.mapValues(Set.init)
        }
        let ourSets = try sets(ours.standardOutput)
        #expect(ourSets == (try sets(theirs.standardOutput)))
        #expect(ourSets["modified"] == ["plain.txt", "link-to-file", "caf\u{E9}"])
        #expect(ourSets["new"] == ["brand new"])
        #expect(ourSets["deleted"] == ["empty"])

        let human = try buildcat(["manifest", "diff", "--root", root.string, manifest.string], cache: directory("cache"))
        #expect(human.stdoutText.contains("new      brand new\n"))
        #expect(human.stdoutText.contains("deleted  empty\n"))
    }

    @Test func aHostileManifestIsRefusedWithExit2() throws {
        let directory = TemporaryDirectory()
        let root = directory("project")
        try writeFile(root.appending("a"), "a")
        let hostile = directory("evil.manifest")
        try writeFile(hostile, #"{"hashAlg":"xxh128","manifestVersion":"2023-03-03","paths":[{"hash":"99aa06d3014798d86001c324468d497f","mtime":0,"path":"../../etc/passwd","size":0}],"totalSize":0}"#)
        let output = try buildcat(["manifest", "diff", "--root", root.string, hostile.string], cache: directory("cache"))
        #expect(output.status == 2)
        #expect(output.standardError.contains("evil.manifest"))
        #expect(output.standardError.contains("'..'"))
    }

    @Test func anUnreadableRootIsAnErrorNotAnEmptyManifest() throws {
        let directory = TemporaryDirectory()
        let output = try buildcat(["manifest", "snapshot", "--root", directory("absent").string, "-o", directory("m").string], cache: directory("cache"))
        #expect(output.status == 1)
        #expect(output.standardError.contains("absent"))
        #expect(try FileSystem.statusIfPresent(of: directory("m")) == nil)
    }
}
