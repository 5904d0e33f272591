import BuildcatBasics
import BuildcatHash
@testable import BuildcatStore
import BuildcatTestSupport
import Glibc
import SystemPackage
import Testing

@Suite struct ContentStoreTests {
    func makeStore(_ directory: TemporaryDirectory, unnamed: Bool = true) throws -> ContentStore {
        var store = ContentStore(share: directory("share"))
        store.allowsUnnamedTemporaryFiles = unnamed
        try FileSystem.createDirectories(store.share)
        try store.initialize()
        return store
    }

    func entries(_ directory: FilePath) throws -> [String] {
        try DirectoryWalker(includeHidden: true, followSymlinks: false).walk(directory).files.map { displayBytes($0.relativePath) }
    }

    @Test(arguments: [true, false])
    func putStoresOnceReadOnlyAndLeavesNoTemporaryFiles(unnamed: Bool) throws {
        let directory = TemporaryDirectory()
        let store = try makeStore(directory, unnamed: unnamed)
        let source = directory("texture.png")
        let content = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        try writeFile(source, content)
        let buffer = StreamBuffer(size: 65_536)

        let first = try store.put(file: source, buffer: buffer)
        #expect(first.outcome == .stored)
        #expect(first.digest == XXH128Hasher.digest(of: content))
        #expect(first.size == 300_000)
        let object = store.objectPath(for: first.digest)
        #expect(try FileSystem.readAll(object) == content)
        #expect(try FileSystem.status(of: object).mode & 0o777 == 0o444)
        #expect(ContentStore.relativeObjectPath(for: first.digest) == "buildcat/objects/\(first.digest.hex.prefix(2))/\(first.digest.hex.dropFirst(2))")

        let second = try store.put(file: source, buffer: buffer)
        #expect(second.outcome == .alreadyPresent)
        #expect(try entries(store.temporaryDirectory).isEmpty)
        #expect(try entries(store.objectsDirectory).count == 1)
    }

    @Test func aKnownDigestIsCopiedInTheKernelAndNotReadWhenPresent() throws {
        let directory = TemporaryDirectory()
        let store = try makeStore(directory)
        let source = directory("plate.exr")
        try writeFile(source, String(repeating: "pixels", count: 10_000))
        let buffer = StreamBuffer(size: 4096)
        let known = try XXH128Hasher.hashFile(at: source, buffer: buffer)
        let put = try store.put(file: source, known: known, buffer: buffer)
        #expect(put.outcome == .stored)
        #expect(try store.verify(known.digest, buffer: buffer) == .intact(size: 60_000))
        #expect(try store.put(file: source, known: known, buffer: buffer).outcome == .alreadyPresent)
    }

    @Test func aStaleKnownDigestIsIgnoredAndTheFileHashed() throws {
        let directory = TemporaryDirectory()
        let store = try makeStore(directory)
        let source = directory("notes.txt")
        try writeFile(source, "old")
        let buffer = StreamBuffer(size: 4096)
        let stale = try XXH128Hasher.hashFile(at: source, buffer: buffer)
        try writeFile(source, "new")
        let put = try store.put(file: source, known: stale, buffer: buffer)
        #expect(put.digest == XXH128Hasher.digest(of: Array("new".utf8)))
        #expect(!(try store.contains(stale.digest)))
    }

    @Test func specialFilesAreRefused() throws {
        let directory = TemporaryDirectory()
        let store = try makeStore(directory)
        let fifo = directory("pipe")
        #expect(mkfifo(fifo.string, 0o600) == 0)
        let error = #expect(throws: FileSystemError.self) { try store.put(file: fifo, buffer: StreamBuffer(size: 4096)) }
        #expect(error?.code == .notRegularFile)
        #expect(error?.description.contains("FIFO") == true)
    }

    @Test func verifyFindsCorruptAndMissingObjects() throws {
        let directory = TemporaryDirectory()
        let store = try makeStore(directory)
        let source = directory("a")
        try writeFile(source, "original")
        let buffer = StreamBuffer(size: 4096)
        let put = try store.put(file: source, buffer: buffer)
        let object = store.objectPath(for: put.digest)
        #expect(chmod(object.string, 0o644) == 0)
        try writeFile(object, "tampered")
        #expect(try store.verify(put.digest, buffer: buffer) == .corrupt(actual: XXH128Hasher.digest(of: Array("tampered".utf8)), size: 8))
        #expect(try store.verify(.empty, buffer: buffer) == .missing)
    }

    @Test(arguments: [MaterializeMethod.auto, .link, .copy])
    func materializeMakesAReadOnlyFileAndNeverReplaces(method: MaterializeMethod) throws {
        let directory = TemporaryDirectory()
        let store = try makeStore(directory)
        let source = directory("src")
        try writeFile(source, "object body")
        let buffer = StreamBuffer(size: 4096)
        let put = try store.put(file: source, buffer: buffer)
        let target = directory("checkout/deep/dir/file.png")
        let used = try store.materialize(put.digest, at: target, method: method, buffer: buffer)
        #expect(method == .auto ? [.clone, .link].contains(used) : used == method)
        #expect(try FileSystem.readAll(target) == Array("object body".utf8))
        #expect(try FileSystem.status(of: target).mode & 0o777 == 0o444)
        let again = #expect(throws: FileSystemError.self) { try store.materialize(put.digest, at: target, method: method, buffer: buffer) }
        #expect(again?.code == .exists)
        let absent = #expect(throws: FileSystemError.self) { try store.materialize(.empty, at: directory("other"), buffer: buffer) }
        #expect(absent?.description.contains("has no object \(XXH128Digest.empty.hex)") == true)
    }

    @Test func anUninitialisedShareIsRefusedWithAdvice() throws {
        let directory = TemporaryDirectory()
        let store = ContentStore(share: directory.path)
        let error = #expect(throws: FileSystemError.self) { try store.checkInitialized() }
        #expect(error?.description.contains("buildcat store init") == true)
    }
}
