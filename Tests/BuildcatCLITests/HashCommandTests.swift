import BuildcatBasics
import BuildcatTestSupport
import SystemPackage
import Testing

@Suite struct HashCommandTests {
    func makeTree(_ directory: TemporaryDirectory) throws -> FilePath {
        let root = directory("tree")
        try writeFile(root.appending("empty"), [])
        try writeFile(root.appending("one"), "x")
        try writeFile(root.appending("with space"), "s p a c e")
        try writeFile(root.appending("sub/deeper/big.bin"), (0..<5_000_001).map { UInt8(truncatingIfNeeded: $0 &* 13) })
        try writeFile(root.appending("😀 emoji"), "smile")
        try writeFile(root.appending(relativeBytes: [0x62, 0x61, 0x64, 0xFF]), "not utf-8")
        try writeFile(root.appending(".hidden"), "hidden")
        return root
    }

    @Test func outputIsXxhsumsAndEachChecksTheOther() throws {
        let xxhsum = try TestEnvironment.program("xxhsum", package: "xxhash")
        let directory = TemporaryDirectory()
        let root = try makeTree(directory)
        let ours = try buildcat(["hash", "."], cache: directory("cache"), currentDirectory: root)
        #expect(ours.status == 0)
        let lines = ours.stdoutText.split(separator: "\n")
        #expect(lines.count == 7)

        // xxhsum over the same files, named the same way, in the same order (the bytes of the
        // names pass through find and xargs untouched).
        let theirs = try shell("cd \"$ROOT\" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 \"$XXHSUM\" -H2", ["ROOT": root.string, "XXHSUM": xxhsum])
        #expect(theirs.status == 0)
        #expect(ours.standardOutput == theirs.standardOutput)

        // Each tool checks the other's list.
        try writeFile(directory("ours.sum"), ours.standardOutput)
        try writeFile(directory("theirs.sum"), theirs.standardOutput)
        let xxhsumChecks = try run(xxhsum, ["-H2", "-c", directory("ours.sum").string], currentDirectory: root)
        #expect(xxhsumChecks.status == 0, "\(xxhsumChecks.stdoutText)")
        let weCheck = try buildcat(["hash", "--check", directory("theirs.sum").string], cache: directory("cache"), currentDirectory: root)
        #expect(weCheck.status == 0)
        #expect(weCheck.stdoutText.split(separator: "\n").allSatisfy { $0.hasSuffix(": OK") })

        // A changed file fails the check, naming it.
        try writeFile(root.appending("one"), "y")
        let failed = try buildcat(["hash", "-c", directory("theirs.sum").string], cache: directory("cache"), currentDirectory: root)
        #expect(failed.status == 1)
        #expect(failed.stdoutText.contains("./one: FAILED"))
    }

    @Test func aMissingFileIsNamedAndTheOthersStillPrinted() throws {
        let directory = TemporaryDirectory()
        let root = try makeTree(directory)
        let output = try buildcat(["hash", root.appending("one").string, root.appending("nope").string], cache: directory("cache"))
        #expect(output.status == 1)
        #expect(output.stdoutText.contains("one"))
        #expect(output.standardError.contains("nope"))
        #expect(output.standardError.contains("No such file or directory"))
    }

    @Test func aNameThatIsNotUTF8OnTheCommandLineIsOpenedByItsBytes() throws {
        let directory = TemporaryDirectory()
        let root = try makeTree(directory)
        let output = try shell("cd \"$ROOT\" && \"$BUILDCAT\" hash \"$(printf 'bad\\377')\"",
                               ["ROOT": root.string, "BUILDCAT": TestEnvironment.buildcat, "BUILDCAT_CACHE_DIR": directory("cache").string])
        #expect(output.status == 0, "\(output.standardError)")
        #expect(output.standardOutput.suffix(5) == [0x62, 0x61, 0x64, 0xFF, 0x0A])

        // Two names that differ only in such bytes cannot be told apart once decoded: refused.
        try writeFile(root.appending(relativeBytes: [0x62, 0x61, 0x64, 0xFE]), "other")
        let ambiguous = try shell("cd \"$ROOT\" && \"$BUILDCAT\" hash \"$(printf 'bad\\377')\" \"$(printf 'bad\\376')\"",
                                  ["ROOT": root.string, "BUILDCAT": TestEnvironment.buildcat, "BUILDCAT_CACHE_DIR": directory("cache").string])
        #expect(ambiguous.status == 64)
        #expect(ambiguous.standardError.contains("differ only in bytes that are not UTF-8"))
    }

    @Test func theSecondRunTakesUnchangedFilesFromTheCache() throws {
        let directory = TemporaryDirectory()
        let root = try makeTree(directory)
        let cache = directory("cache")
        // The cache does not record files changed in the last 2 s (their next change could keep
        // every time stamp): age the tree first.
        try shell("sleep 2.1")
        let first = try buildcat(["hash", root.string], cache: cache)
        let cacheFile = cache.appending("hashes-v1.bin")
        #expect(try FileSystem.statusIfPresent(of: cacheFile) != nil)
        // Replace one file's content behind the cache's back, keeping size and mtime: ctime differs.
        let target = root.appending("with space")
        let before = try FileSystem.status(of: target)
        try writeFile(target, "S P A C E")
        try setModificationTime(target, nanoseconds: before.modificationTimeNanoseconds)
        let second = try buildcat(["hash", root.string], cache: cache)
        #expect(first.stdoutText != second.stdoutText)
        let expected = try buildcat(["hash", "--no-cache", root.string], cache: cache)
        #expect(second.stdoutText == expected.stdoutText)
    }
}
