import BuildcatBasics
import BuildcatHash
import CBuildcatLinux
import Glibc
import Synchronization
import SystemPackage

/// What re-hashing an object found.
public enum ObjectCheck: Sendable, Equatable {
    case intact(size: Int64)
    case missing
    /// The content no longer matches the name.
    case corrupt(actual: XXH128Digest, size: Int64)
}

/// How a file was made from an object.
public enum MaterializeMethod: String, Sendable, CaseIterable {
    /// Let the store choose: a reflink where the file system can, else a hard link, else a copy.
    case auto
    /// A reflink: a new file sharing the object's blocks (btrfs, XFS, …).
    case clone
    /// A hard link to the object itself (same file system only; read-only like the object).
    case link
    /// A full copy.
    case copy
}

extension ContentStore {
    /// Re-reads an object and checks that its content still has the digest it is named by.
    public func verify(_ digest: XXH128Digest, buffer: StreamBuffer) throws -> ObjectCheck {
        let path = objectPath(for: digest)
        let fileDigest: FileDigest
        do {
            fileDigest = try XXH128Hasher.hashFile(at: path, buffer: buffer)
        } catch let error as FileSystemError where error.code == .notFound {
            return .missing
        }
        if fileDigest.digest == digest { return .intact(size: fileDigest.status.size) }
        return .corrupt(actual: fileDigest.digest, size: fileDigest.status.size)
    }

    /// Makes the file at `target` hold the object's content. The file appears atomically and
    /// read-only; an existing file at `target` is an error, never replaced.
    /// - Parameters:
    ///   - method: `.auto` tries a reflink, then a hard link, then a copy; the others insist.
    /// - Returns: the method that was used.
    /// - Throws: `FileSystemError` if the store has no such object, `target` exists, or the
    ///   method cannot be used here (say a hard link across file systems).
    @discardableResult
    public func materialize(_ digest: XXH128Digest, at target: FilePath, method: MaterializeMethod = .auto, buffer: StreamBuffer) throws -> MaterializeMethod {
        try materializeFile(digest, at: target, method: method, createParents: true, buffer: buffer).method
    }

    /// As `materialize`, also returning the new file's status; with `createParents` false the
    /// caller has made the target's directory (a checkout makes each of its folders once).
    public func materializeFile(_ digest: XXH128Digest, at target: FilePath, method: MaterializeMethod = .auto,
                                createParents: Bool, buffer: StreamBuffer) throws -> (method: MaterializeMethod, status: FileStatus) {
        let object = objectPath(for: digest)
        let source: FileDescriptor
        do {
            source = try FileSystem.openForReading(object)
        } catch let error as FileSystemError where error.code == .notFound {
            throw FileSystemError(.notFound, operation: "materialize", path: displayPath(target),
                                  detail: "the store at '\(displayPath(share))' has no object \(digest.hex)")
        }
        defer { try? source.close() }
        let status = try FileSystem.status(of: source, path: object)
        var directory = target
        directory.removeLastComponent()
        if directory.isEmpty { directory = "." }
        if createParents {
            if try FileSystem.statusIfPresent(of: target, followSymlinks: false) != nil {
                throw FileSystemError(.exists, operation: "materialize", path: displayPath(target), errno: .fileExists)
            }
            try FileSystem.createDirectories(directory)
        }

        // A hard link is tried first where reflinks are known not to work: it fails on an
        // existing name by itself, and the object's status is the new file's.
        let targetDevice = try FileSystem.status(of: directory).device
        if method == .link || method == .auto && Self.cloneUnsupported.withLock({ $0.contains(targetDevice) }) {
            let result = object.withPlatformString { from in target.withPlatformString { to in Glibc.link(from, to) } }
            if result == 0 { return (.link, status) }
            let reason = Glibc.errno
            if reason == EEXIST { throw FileSystemError(.exists, operation: "materialize", path: displayPath(target), errno: .fileExists) }
            if method == .link || ![EXDEV, EPERM, EMLINK, EOPNOTSUPP].contains(reason) {
                throw FileSystemError(operation: "hard-link object \(digest.hex) as", path: target, errno: Errno(rawValue: reason))
            }
        }
        let cloneKnownToFail = Self.cloneUnsupported.withLock { $0.contains(targetDevice) }
        if method == .clone || method == .auto && !cloneKnownToFail {
            let temporary = try TemporaryObject(in: directory, allowUnnamed: allowsUnnamedTemporaryFiles)
            defer { temporary.discard() }
            if buildcat_ficlone(temporary.descriptor.rawValue, source.rawValue) == 0 {
                try place(temporary, at: target)
                return (.clone, try FileSystem.status(of: target))
            }
            // Remembered per file system: trying costs a new inode each time, and a checkout
            // of thousands of files on a file system without reflinks paid it thousands of times.
            if [EOPNOTSUPP, EXDEV, EINVAL, ENOTTY].contains(Glibc.errno) || Glibc.errno == ENOTSUP {
                _ = Self.cloneUnsupported.withLock { $0.insert(targetDevice) }
            }
            if method == .clone {
                throw FileSystemError(.other, operation: "clone object \(digest.hex) as", path: displayPath(target),
                                      detail: "the file system does not support reflinks here (use --method auto, link or copy)")
            }
        }
        if method == .auto || method == .link {
            let result = object.withPlatformString { from in target.withPlatformString { to in Glibc.link(from, to) } }
            if result == 0 { return (.link, status) }
            let reason = Glibc.errno
            if method == .link || ![EXDEV, EPERM, EMLINK, EOPNOTSUPP].contains(reason) {
                throw FileSystemError(operation: "hard-link object \(digest.hex) as", path: target, errno: Errno(rawValue: reason))
            }
        }
        let temporary = try TemporaryObject(in: directory, allowUnnamed: allowsUnnamedTemporaryFiles)
        defer { temporary.discard() }
        try copyInKernel(from: source, sourcePath: object, to: temporary, size: status.size, buffer: buffer, allowClone: false)
        try place(temporary, at: target)
        return (.copy, try FileSystem.status(of: target))
    }

    /// File systems (by device) where a reflink from the store failed: not tried again.
    private static let cloneUnsupported = Mutex<Set<UInt64>>([])

    private func place(_ temporary: TemporaryObject, at target: FilePath) throws {
        try temporary.finish(permissions: Self.objectPermissions, sync: true)
        guard try temporary.link(as: target) else {
            throw FileSystemError(.exists, operation: "materialize", path: displayPath(target), errno: .fileExists)
        }
    }
}
