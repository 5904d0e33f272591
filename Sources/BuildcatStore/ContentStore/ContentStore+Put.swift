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

extension ContentStore {
    /// Stores the content of the file at `path`.
    ///
    /// With a `known` digest whose status still matches the open file (from the hash cache), the
    /// file is not read at all when the store has the content, and otherwise copied inside the
    /// kernel (reflink or `copy_file_range`). Without one, the file is read once, hashed while it
    /// is copied into a temporary file, and the temporary file is discarded if the store turns
    /// out to have the content already.
    /// - Throws: `FileSystemError` naming the source or the share path and the reason: the source
    ///   is not a regular file or changed while being read; the share is full or read-only.
    public func put(file path: FilePath, known: FileDigest? = nil, buffer: StreamBuffer) throws -> PutResult {
        do {
            return try putUnwrapped(file: path, known: known, buffer: buffer)
        } catch let error as FileSystemError where error.code == .noSpace || error.code == .readOnly {
            // Say which file could not be stored, and on which share, rather than the temporary name.
            throw FileSystemError(error.code, operation: "store '\(displayPath(path))' on the share", path: displayPath(share),
                                  errno: error.errno, detail: error.detail)
        }
    }

    private func putUnwrapped(file path: FilePath, known: FileDigest?, buffer: StreamBuffer) throws -> PutResult {
        let source = try FileSystem.openForReading(path)
        defer { try? source.close() }
        let before = try FileSystem.status(of: source, path: path)
        guard before.isRegularFile else {
            throw FileSystemError(.notRegularFile, operation: "store", path: displayPath(path),
                                  detail: "it is a \(before.kindDescription); only regular files can be stored")
        }
        if let known, known.status.isUnchanged(comparedTo: before) {
            if try contains(known.digest) {
                return PutResult(digest: known.digest, size: before.size, outcome: .alreadyPresent)
            }
            let temporary = try TemporaryObject(in: temporaryDirectory, allowUnnamed: allowsUnnamedTemporaryFiles)
            defer { temporary.discard() }
            try copyInKernel(from: source, sourcePath: path, to: temporary, size: before.size, buffer: buffer)
            try checkUnchanged(source, path: path, before: before)
            let outcome = try commit(temporary, as: known.digest)
            return PutResult(digest: known.digest, size: before.size, outcome: outcome)
        }
        let temporary: TemporaryObject
        do {
            temporary = try TemporaryObject(in: temporaryDirectory, allowUnnamed: allowsUnnamedTemporaryFiles)
        } catch let error as FileSystemError where error.code == .readOnly {
            // A share mounted read-only can still answer whether it has the content.
            let hashed = try XXH128Hasher.hashFile(at: path, buffer: buffer)
            guard try contains(hashed.digest) else { throw error }
            return PutResult(digest: hashed.digest, size: hashed.status.size, outcome: .alreadyPresent)
        }
        defer { temporary.discard() }
        let hasher = XXH128Hasher()
        _ = buildcat_advise_sequential(source.rawValue)
        var copied: Int64 = 0
        while true {
            let count = try FileSystem.read(source, into: buffer.bytes, path: path)
            if count == 0 { break }
            let chunk = UnsafeRawBufferPointer(rebasing: buffer.bytes[..<count])
            hasher.update(chunk)
            try temporary.write(chunk)
            copied += Int64(count)
            if count < buffer.bytes.count { break }
        }
        guard copied == before.size else { throw changedWhileReading(path) }
        try checkUnchanged(source, path: path, before: before)
        let digest = hasher.finalize()
        if try contains(digest) {
            return PutResult(digest: digest, size: before.size, outcome: .alreadyPresent)
        }
        let outcome = try commit(temporary, as: digest)
        return PutResult(digest: digest, size: before.size, outcome: outcome)
    }

    /// Stores many files on all cores, taking digests from `hashing`'s cache where it has them.
    /// - Returns: per file, in order, what storing it did or why it failed.
    public func putAll(_ paths: [FilePath], cache: HashCache?, threads: Int = Parallel.processorCount) -> [Result<PutResult, FileSystemError>] {
        Parallel.map(count: paths.count, threads: threads, makeContext: { StreamBuffer() }) { index, buffer in
            let path = paths[index]
            do {
                var known: FileDigest?
                let key = try FileSystem.absolute(path).bytes
                if let cache, let status = try? FileSystem.status(of: path), status.isRegularFile,
                   let digest = cache.digest(forPath: key, status: status) {
                    known = FileDigest(digest: digest, status: status)
                }
                let started = wallClockNanoseconds()
                let result = try put(file: path, known: known, buffer: buffer)
                if known == nil, let cache, let status = try? FileSystem.status(of: path) {
                    cache.record(path: key, status: status, digest: result.digest, readStartNanoseconds: started)
                }
                return .success(result)
            } catch let error as FileSystemError {
                return .failure(error)
            } catch {
                return .failure(FileSystemError(.other, operation: "store", path: displayPath(path), detail: "\(error)"))
            }
        }
    }

    /// Links a finished temporary object under its digest's name, never replacing an object.
    func commit(_ temporary: TemporaryObject, as digest: XXH128Digest) throws -> PutResult.Outcome {
        try temporary.finish(permissions: Self.objectPermissions)
        let final = objectPath(for: digest)
        var directory = final
        directory.removeLastComponent()
        let created = try FileSystem.statusIfPresent(of: directory) == nil
        if created { try FileSystem.createDirectories(directory) }
        let linked = try temporary.link(as: final)
        try FileSystem.syncDirectory(directory)
        if created { try FileSystem.syncDirectory(objectsDirectory) }
        return linked ? .stored : .alreadyPresent
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
    /// a reflink, then `copy_file_range`, then plain reads and writes.
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
                let errno = currentErrno()
                throw FileSystemError(operation: "copy into", path: temporary.displayPath, errno: errno)
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
