import BuildcatBasics
@testable import BuildcatHash
import BuildcatTestSupport
import Glibc
import SystemPackage
import Testing

@Suite struct HashCacheTests {
    /// A file whose status-change time is older than the racy window, so the cache may record it.
    func settledFile(_ directory: TemporaryDirectory, _ name: String, _ text: String) throws -> FilePath {
        let path = directory(name)
        try writeFile(path, text)
        return path
    }

    @Test func anUnchangedFileIsNotReadTwice() throws {
        let directory = TemporaryDirectory()
        let cacheDirectory = directory("cache")
        let files = try (0..<20).map { try settledFile(directory, "file\($0)", "text \($0)") }
        let first = HashCache(directory: cacheDirectory, racyWindowNanoseconds: 0)
        let (results1, statistics1) = FileHashingService(cache: first).hash(files)
        #expect(statistics1.filesRead == 20)
        try first.save()

        let second = HashCache(directory: cacheDirectory, racyWindowNanoseconds: 0)
        #expect(second.loadProblem == nil)
        #expect(second.count == 20)
        let (results2, statistics2) = FileHashingService(cache: second).hash(files)
        #expect(statistics2.filesRead == 0)
        #expect(statistics2.filesFromCache == 20)
        #expect(try results1.map { try $0.get().digest } == results2.map { try $0.get().digest })
    }

    @Test func aRewrittenFileWithItsOldTimesIsReadAgain() throws {
        let directory = TemporaryDirectory()
        let file = try settledFile(directory, "scene.blend", "version one")
        try setModificationTime(file, nanoseconds: 1_000_000_000_000_000_000)
        let cache = HashCache(directory: directory("cache"), racyWindowNanoseconds: 0)
        _ = FileHashingService(cache: cache).hash([file])

        // Same size, same mtime restored: only the status-change time tells it apart.
        try writeFile(file, "version two")
        try setModificationTime(file, nanoseconds: 1_000_000_000_000_000_000)
        let (results, statistics) = FileHashingService(cache: cache).hash([file])
        #expect(statistics.filesRead == 1)
        #expect(try results[0].get().digest == XXH128Hasher.digest(of: Array("version two".utf8)))
    }

    @Test func aFileChangedJustBeforeHashingIsNotRecorded() throws {
        let directory = TemporaryDirectory()
        let file = try settledFile(directory, "fresh", "just written")
        let cache = HashCache(directory: directory("cache"))  // the default window of 2 s
        _ = FileHashingService(cache: cache).hash([file])
        #expect(cache.count == 0)
        let (_, statistics) = FileHashingService(cache: cache).hash([file])
        #expect(statistics.filesRead == 1)
    }

    @Test(arguments: ["truncate", "flip", "garbage", "empty", "extend"])
    func aDamagedCacheFileIsRebuiltNotTrusted(damage: String) throws {
        let directory = TemporaryDirectory()
        let cacheDirectory = directory("cache")
        let files = try (0..<10).map { try settledFile(directory, "f\($0)", "content \($0)") }
        let cache = HashCache(directory: cacheDirectory, racyWindowNanoseconds: 0)
        _ = FileHashingService(cache: cache).hash(files)
        try cache.save()

        let cacheFile = cacheDirectory.appending(HashCache.fileName)
        var bytes = try FileSystem.readAll(cacheFile)
        switch damage {
        case "truncate": bytes.removeLast(7)
        case "flip": bytes[bytes.count - 20] ^= 0x01  // inside a digest: only the checksum can tell
        case "garbage": bytes = Array("not a cache at all".utf8)
        case "empty": bytes = []
        default: bytes += [0, 1, 2]
        }
        try writeFile(cacheFile, bytes)

        let reloaded = HashCache(directory: cacheDirectory, racyWindowNanoseconds: 0)
        #expect(reloaded.loadProblem != nil)
        #expect(reloaded.loadProblem?.contains(cacheFile.string) == true)
        #expect(reloaded.count == 0)
        let (results, statistics) = FileHashingService(cache: reloaded).hash(files)
        #expect(statistics.filesRead == 10)
        for (index, result) in results.enumerated() {
            #expect(try result.get().digest == XXH128Hasher.digest(of: Array("content \(index)".utf8)))
        }
        try reloaded.save()
        let rebuilt = HashCache(directory: cacheDirectory, racyWindowNanoseconds: 0)
        #expect(rebuilt.loadProblem == nil)
        #expect(rebuilt.count == 10)
    }

    @Test func concurrentSavesMergeInsteadOfLosingEntries() throws {
        let directory = TemporaryDirectory()
        let cacheDirectory = directory("cache")
        let a = try settledFile(directory, "a", "aaa")
        let b = try settledFile(directory, "b", "bbb")
        // Both load the empty cache, each learns one file, both save.
        let first = HashCache(directory: cacheDirectory, racyWindowNanoseconds: 0)
        let second = HashCache(directory: cacheDirectory, racyWindowNanoseconds: 0)
        _ = FileHashingService(cache: first).hash([a])
        _ = FileHashingService(cache: second).hash([b])
        try first.save()
        try second.save()
        #expect(HashCache(directory: cacheDirectory).count == 2)
    }
}
