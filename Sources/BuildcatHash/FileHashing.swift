import BuildcatBasics
import CBuildcatLinux
import SystemPackage

/// The digest of a file and the status it had while it was read.
public struct FileDigest: Sendable, Equatable {
    public var digest: XXH128Digest
    public var status: FileStatus

    public init(digest: XXH128Digest, status: FileStatus) {
        self.digest = digest
        self.status = status
    }
}

/// A reusable, page-aligned buffer for streaming reads; one per thread.
public final class StreamBuffer {
    public let bytes: UnsafeMutableRawBufferPointer

    public init(size: Int = FileSystem.streamBufferSize) {
        bytes = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 4096)
    }

    deinit { bytes.deallocate() }
}

@available(*, unavailable)
extension StreamBuffer: Sendable {}

extension XXH128Hasher {
    /// Hashes an open file from its current offset to its end, handing each chunk also to
    /// `forEachChunk` (say to copy it while it is in cache: one read serves both).
    /// - Returns: the number of bytes hashed.
    @discardableResult
    public func update(
        reading descriptor: FileDescriptor, path: FilePath, buffer: StreamBuffer,
        forEachChunk: (UnsafeRawBufferPointer) throws -> Void = { _ in }
    ) throws -> Int64 {
        _ = buildcat_advise_sequential(descriptor.rawValue)
        var total: Int64 = 0
        while true {
            let count = try FileSystem.read(descriptor, into: buffer.bytes, path: path)
            if count == 0 { break }
            let chunk = UnsafeRawBufferPointer(rebasing: buffer.bytes[..<count])
            update(chunk)
            try forEachChunk(chunk)
            total += Int64(count)
            if count < buffer.bytes.count { break }
        }
        return total
    }

    /// Hashes the file at `path` and reports the status it had while being read.
    ///
    /// The file is stat'ed before and after reading through the same descriptor; if it changed
    /// in between, the digest would describe no version of it, so that is an error.
    /// - Throws: `FileSystemError` naming the path: cannot open or read, not a regular file,
    ///   or changed while being read.
    public static func hashFile(at path: FilePath, buffer: StreamBuffer) throws -> FileDigest {
        let descriptor = try FileSystem.openForReading(path)
        defer { try? descriptor.close() }
        let before = try FileSystem.status(of: descriptor, path: path)
        guard before.isRegularFile else {
            throw FileSystemError(.notRegularFile, operation: "hash", path: displayPath(path),
                                  detail: "it is a \(before.kindDescription), not a regular file")
        }
        let hasher = XXH128Hasher()
        let count = try hasher.update(reading: descriptor, path: path, buffer: buffer)
        let after = try FileSystem.status(of: descriptor, path: path)
        guard after.isUnchanged(comparedTo: before), count == before.size else {
            throw FileSystemError(.changedWhileReading, operation: "hash", path: displayPath(path),
                                  detail: "the file changed while it was being read; try again when nothing writes to it")
        }
        return FileDigest(digest: hasher.finalize(), status: before)
    }
}
