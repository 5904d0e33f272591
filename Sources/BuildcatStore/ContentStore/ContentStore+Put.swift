import BuildcatBasics
import BuildcatHash
import CBuildcatLinux
import Glibc
import SystemPackage

/// What storing one file did.
public struct PutResult: Sendable, Equatable {
    public enum Outcome: Sendable, Equatable {
        /// A new object was written.
        case stored
        /// The store already had this content; nothing was written.
        case alreadyPresent
    }

    public var digest: XXH128Digest
    public var size: Int64
    public var outcome: Outcome
}

/// Files and bytes a series of puts stored anew, and found already present.
public struct PutTally: Sendable, Equatable {
    public var filesStored = 0
    public var bytesStored: Int64 = 0
    public var filesPresent = 0
    public var bytesPresent: Int64 = 0

    public init() {}

    public mutating func add(_ put: PutResult) {
        if put.outcome == .stored {
            filesStored += 1
            bytesStored += put.size
        } else {
            filesPresent += 1
            bytesPresent += put.size
        }
    }
}

/// A file's content either found in the store or copied into a temporary object not yet named.
enum StagedPut {
    case present(PutResult)
    case copied(TemporaryObject, digest: XXH128Digest, size: Int64)
}

extension ContentStore {
    /// How many files `putAll` copies before it flushes them together and names them.
    public static let putBatchSize = 256

    /// Stores the content of the file at `path`.
    ///
    /// With a `known` digest whose status still matches the open file (from the hash cache), the
    /// file is not read at all when the store has the content, and otherwise copied inside the
    /// kernel (reflink or `copy_file_range`). Without one, the file is read once, hashed while it
    /// is copied into a temporary file, and the temporary file is discarded if the store turns
    /// out to have the content already. The new object is flushed to disk before it is named.
    /// - Throws: `FileSystemError` naming the source or the share and the reason: the source is
    ///   not a regular file or changed while being read; the share is full or read-only.
    public func put(file path: FilePath, known: FileDigest? = nil, buffer: StreamBuffer) throws -> PutResult {
        try namingTheShare(path) {
            switch try stage(file: path, known: known, buffer: buffer) {
            case .present(let result):
                return result
            case .copied(let temporary, let digest, let size):
                defer { temporary.discard() }
                try temporary.finish(permissions: Self.objectPermissions, sync: true)
                let outcome = try name(temporary, as: digest, syncDirectory: true)
                return PutResult(digest: digest, size: size, outcome: outcome)
            }
        }
    }

    /// Stores many files on all cores, taking digests from `cache` where it has them and
    /// recording the ones it computes.
    ///
    /// Files are copied in batches; each batch is flushed with one `syncfs` before its objects
    /// are named, and the names once more at the end, instead of an fsync per object, which on
    /// a journaling file system costs a commit each. Writeback of each copy starts as soon as it
    /// is written.
    /// - Returns: per file, in order, what storing it did or why it failed.
    /// - Parameter progress: called (from any thread) as each file is done, with its size.
    public func putAll(_ paths: [FilePath], cache: HashCache?, threads: Int = Parallel.processorCount,
                       progress: (@Sendable (Int64) -> Void)? = nil) -> [Result<PutResult, FileSystemError>] {
        var results: [Result<PutResult, FileSystemError>] = []
        results.reserveCapacity(paths.count)
        for start in stride(from: 0, to: paths.count, by: Self.putBatchSize) {
            let batch = Array(paths[start..<min(paths.count, start + Self.putBatchSize)])
            results += putBatch(batch, cache: cache, threads: threads, progress: progress)
        }
        // The new names themselves, durable before anyone is told they exist: once for all
        // batches (each batch's data was flushed before its objects were named).
        guard results.contains(where: { (try? $0.get().outcome) == .stored }) else { return results }
        do {
            try FileSystem.syncFileSystem(containing: objectsDirectory)
        } catch {
            let failure = Self.fileSystemError(error, storing: objectsDirectory)
            return results.map { $0.flatMap { $0.outcome == .stored ? .failure(failure) : .success($0) } }
        }
        return results
    }

    private func putBatch(_ paths: [FilePath], cache: HashCache?, threads: Int, progress: (@Sendable (Int64) -> Void)?) -> [Result<PutResult, FileSystemError>] {
        let staged = Parallel.map(count: paths.count, threads: threads, makeContext: { StreamBuffer() }) { index, buffer -> Result<StagedPut, FileSystemError> in
            let path = paths[index]
            return Result {
                try namingTheShare(path) {
                    let key = try FileSystem.absolute(path).bytes
                    var known: FileDigest?
                    if let cache, let status = try? FileSystem.status(of: path), status.isRegularFile,
                       let digest = cache.digest(forPath: key, status: status) {
                        known = FileDigest(digest: digest, status: status)
                    }
                    let started = wallClockNanoseconds()
                    let result = try stage(file: path, known: known, buffer: buffer)
                    if case .copied(let temporary, _, _) = result {
                        try temporary.finish(permissions: Self.objectPermissions, sync: false)
                    }
                    if known == nil, let cache, let status = try? FileSystem.status(of: path) {
                        cache.record(path: key, status: status, digest: result.digest, readStartNanoseconds: started)
                    }
                    progress?(result.size)
                    return result
                }
            }.mapError { Self.fileSystemError($0, storing: path) }
        }
        guard staged.contains(where: { if case .success(.copied) = $0 { true } else { false } }) else {
            return staged.map { $0.map(\.presentResult!) }
        }
        var flushError: FileSystemError?
        do {
            try FileSystem.syncFileSystem(containing: temporaryDirectory)
        } catch {
            flushError = error as? FileSystemError
        }
        var results: [Result<PutResult, FileSystemError>] = []
        for (path, item) in zip(paths, staged) {
            switch item {
            case .failure(let error):
                results.append(.failure(error))
            case .success(.present(let result)):
                results.append(.success(result))
            case .success(.copied(let temporary, let digest, let size)):
                defer { temporary.discard() }
                if let flushError {
                    results.append(.failure(flushError))
                    continue
                }
                results.append(Result {
                    try namingTheShare(path) {
                        PutResult(digest: digest, size: size, outcome: try name(temporary, as: digest, syncDirectory: false))
                    }
                }.mapError { Self.fileSystemError($0, storing: path) })
            }
        }
        return results
    }

    private static func fileSystemError(_ error: any Error, storing path: FilePath) -> FileSystemError {
        error as? FileSystemError ?? FileSystemError(.other, operation: "store", path: displayPath(path), detail: "\(error)")
    }

    /// Finds the content in the store or copies it into a temporary object.
    func stage(file path: FilePath, known: FileDigest?, buffer: StreamBuffer) throws -> StagedPut {
        let source = try FileSystem.openForReading(path)
        defer { try? source.close() }
        let before = try FileSystem.status(of: source, path: path)
        guard before.isRegularFile else {
            throw FileSystemError(.notRegularFile, operation: "store", path: displayPath(path),
                                  detail: "it is a \(before.kindDescription); only regular files can be stored")
        }
        if let known, known.status.isUnchanged(comparedTo: before) {
            if try contains(known.digest) {
                return .present(PutResult(digest: known.digest, size: before.size, outcome: .alreadyPresent))
            }
            let temporary = try TemporaryObject(in: temporaryDirectory, allowUnnamed: allowsUnnamedTemporaryFiles)
            do {
                try copyInKernel(from: source, sourcePath: path, to: temporary, size: before.size, buffer: buffer)
                try checkUnchanged(source, path: path, before: before)
            } catch {
                temporary.discard()
                throw error
            }
            return .copied(temporary, digest: known.digest, size: before.size)
        }
        let temporary: TemporaryObject
        do {
            temporary = try TemporaryObject(in: temporaryDirectory, allowUnnamed: allowsUnnamedTemporaryFiles)
        } catch let error as FileSystemError where error.code == .readOnly {
            // A share mounted read-only can still answer whether it has the content.
            let hashed = try XXH128Hasher.hashFile(at: path, buffer: buffer)
            guard try contains(hashed.digest) else { throw error }
            return .present(PutResult(digest: hashed.digest, size: hashed.status.size, outcome: .alreadyPresent))
        }
        do {
            let digest = try copyHashing(from: source, path: path, before: before, to: temporary, buffer: buffer)
            if try contains(digest) {
                temporary.discard()
                return .present(PutResult(digest: digest, size: before.size, outcome: .alreadyPresent))
            }
            return .copied(temporary, digest: digest, size: before.size)
        } catch {
            temporary.discard()
            throw error
        }
    }

    /// Copies the source into the temporary object in one pass, hashing what it copies.
    private func copyHashing(from source: FileDescriptor, path: FilePath, before: FileStatus, to temporary: TemporaryObject, buffer: StreamBuffer) throws -> XXH128Digest {
        let hasher = XXH128Hasher()
        let copied = try hasher.update(reading: source, path: path, buffer: buffer) { try temporary.write($0) }
        guard copied == before.size else { throw changedWhileReading(path) }
        try checkUnchanged(source, path: path, before: before)
        return hasher.finalize()
    }

    /// Links a finished temporary object under its digest's name, never replacing an object.
    private func name(_ temporary: TemporaryObject, as digest: XXH128Digest, syncDirectory: Bool) throws -> PutResult.Outcome {
        let final = objectPath(for: digest)
        var directory = final
        directory.removeLastComponent()
        let created = try FileSystem.statusIfPresent(of: directory) == nil
        if created { try FileSystem.createDirectories(directory) }
        let linked = try temporary.link(as: final)
        if syncDirectory {
            try FileSystem.syncDirectory(directory)
            if created { try FileSystem.syncDirectory(objectsDirectory) }
        }
        return linked ? .stored : .alreadyPresent
    }

    /// Runs `body`, rewording a full or read-only share's error to name the file being stored and
    /// the share, rather than a temporary file.
    private func namingTheShare<T>(_ path: FilePath, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as FileSystemError where error.code == .noSpace || error.code == .readOnly {
            throw FileSystemError(error.code, operation: "store '\(displayPath(path))' on the share", path: displayPath(share),
                                  errno: error.errno, detail: error.detail)
        }
    }

    private func checkUnchanged(_ source: FileDescriptor, path: FilePath, before: FileStatus) throws {
        let after = try FileSystem.status(of: source, path: path)
        guard after.isUnchanged(comparedTo: before) else { throw changedWhileReading(path) }
    }

    private func changedWhileReading(_ path: FilePath) -> FileSystemError {
        FileSystemError(.changedWhileReading, operation: "store", path: displayPath(path),
                        detail: "the file changed while it was being copied; try again when nothing writes to it")
    }

    /// Copies a whole file without passing it through this process where the kernel can:
    /// a reflink (unless `allowClone` is false), then `copy_file_range`, then reads and writes.
    /// - Returns: whether the copy is a reflink (shares the source's blocks).
    @discardableResult
    func copyInKernel(from source: FileDescriptor, sourcePath: FilePath, to temporary: TemporaryObject, size: Int64, buffer: StreamBuffer, allowClone: Bool = true) throws -> Bool {
        if allowClone && buildcat_ficlone(temporary.descriptor.rawValue, source.rawValue) == 0 { return true }
        var remaining = size
        var useCopyFileRange = true
        while remaining > 0 && useCopyFileRange {
            let copied = buildcat_copy_file_range(source.rawValue, temporary.descriptor.rawValue, Int(min(remaining, 1 << 30)))
            if copied > 0 {
                remaining -= Int64(copied)
            } else if copied == 0 {
                throw changedWhileReading(sourcePath)  // the file ended early: it was truncated
            } else if [EXDEV, EINVAL, EOPNOTSUPP, ENOSYS, EBADF].contains(Glibc.errno) && remaining == size {
                useCopyFileRange = false
            } else if Glibc.errno == EINTR {
                continue
            } else {
                throw FileSystemError(operation: "copy into", path: temporary.displayPath, errno: currentErrno())
            }
        }
        while remaining > 0 {
            let count = try FileSystem.read(source, into: buffer.bytes, path: sourcePath)
            if count == 0 { throw changedWhileReading(sourcePath) }
            try temporary.write(UnsafeRawBufferPointer(rebasing: buffer.bytes[..<count]))
            remaining -= Int64(count)
        }
        return false
    }
}

extension StagedPut {
    var digest: XXH128Digest {
        switch self {
        case .present(let result): result.digest
        case .copied(_, let digest, _): digest
        }
    }

    var size: Int64 {
        switch self {
        case .present(let result): result.size
        case .copied(_, _, let size): size
        }
    }

    var presentResult: PutResult? {
        if case .present(let result) = self { return result }
        return nil
    }
}
