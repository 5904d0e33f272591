import Glibc
import SystemPackage

/// What stat(2) says of a file, reduced to what Buildcat decides with.
public struct FileStatus: Sendable, Equatable {
    public var device: UInt64
    public var inode: UInt64
    public var mode: UInt32
    public var linkCount: UInt64
    public var size: Int64
    /// Modification time in nanoseconds since the epoch (negative before 1970).
    public var modificationTimeNanoseconds: Int64
    /// Status-change time in nanoseconds since the epoch; no tool can set it back.
    public var changeTimeNanoseconds: Int64

    public init(_ raw: stat) {
        device = UInt64(raw.st_dev)
        inode = UInt64(raw.st_ino)
        mode = UInt32(raw.st_mode)
        linkCount = UInt64(raw.st_nlink)
        size = Int64(raw.st_size)
        modificationTimeNanoseconds = Self.nanoseconds(raw.st_mtim)
        changeTimeNanoseconds = Self.nanoseconds(raw.st_ctim)
    }

    public var isRegularFile: Bool { mode & UInt32(S_IFMT) == UInt32(S_IFREG) }
    public var isDirectory: Bool { mode & UInt32(S_IFMT) == UInt32(S_IFDIR) }
    public var isSymbolicLink: Bool { mode & UInt32(S_IFMT) == UInt32(S_IFLNK) }

    /// Modification time in whole microseconds, rounded down as Deadline's manifests round it
    /// (`st_mtime_ns // 1000`, so 1969-12-31 23:59:59.9999995 is -1, not 0).
    public var modificationTimeMicroseconds: Int64 {
        let (quotient, remainder) = modificationTimeNanoseconds.quotientAndRemainder(dividingBy: 1000)
        return remainder < 0 ? quotient - 1 : quotient
    }

    /// A word for the kind of file, for messages.
    public var kindDescription: String {
        switch mode & UInt32(S_IFMT) {
        case UInt32(S_IFREG): "regular file"
        case UInt32(S_IFDIR): "directory"
        case UInt32(S_IFLNK): "symbolic link"
        case UInt32(S_IFIFO): "FIFO"
        case UInt32(S_IFSOCK): "socket"
        case UInt32(S_IFCHR): "character device"
        case UInt32(S_IFBLK): "block device"
        default: "special file"
        }
    }

    /// Whether `other` describes the same, unchanged file: same identity, size and times.
    public func isUnchanged(comparedTo other: FileStatus) -> Bool {
        device == other.device && inode == other.inode && size == other.size
            && modificationTimeNanoseconds == other.modificationTimeNanoseconds
            && changeTimeNanoseconds == other.changeTimeNanoseconds
    }

    static func nanoseconds(_ time: timespec) -> Int64 {
        Int64(time.tv_sec) &* 1_000_000_000 &+ Int64(time.tv_nsec)
    }
}

extension FileSystem {
    /// The status of the file at `path`; stat(2), or lstat(2) when `followSymlinks` is false.
    /// - Throws: `FileSystemError` naming the path.
    public static func status(of path: FilePath, followSymlinks: Bool = true) throws -> FileStatus {
        var raw = stat()
        let result = path.withPlatformString { followSymlinks ? stat($0, &raw) : lstat($0, &raw) }
        guard result == 0 else { throw FileSystemError(operation: "read the status of", path: path, errno: currentErrno()) }
        return FileStatus(raw)
    }

    /// The status of the file at `path`, or nil if nothing is there.
    public static func statusIfPresent(of path: FilePath, followSymlinks: Bool = true) throws -> FileStatus? {
        var raw = stat()
        let result = path.withPlatformString { followSymlinks ? stat($0, &raw) : lstat($0, &raw) }
        if result == 0 { return FileStatus(raw) }
        // Absence is an answer here, not an error (and building one per absent file is costly).
        if Glibc.errno == ENOENT { return nil }
        throw FileSystemError(operation: "read the status of", path: path, errno: currentErrno())
    }

    /// The status of the file at `relativePath` below an open directory, or nil if nothing is
    /// there (or ENOTDIR: a file where a folder should be); fstatat(2). Much cheaper than a
    /// stat of the whole path when many files below one deep directory are checked: the kernel
    /// walks only the part below it.
    public static func statusIfPresent(relativePath: [UInt8], in directory: FileDescriptor) -> FileStatus? {
        var raw = stat()
        let result = relativePath.withUnsafeBufferPointer { FilePath.withCString(of: $0) { fstatat(directory.rawValue, $0, &raw, 0) } }
        return result == 0 ? FileStatus(raw) : nil
    }

    /// The status of an open file; fstat(2).
    public static func status(of descriptor: FileDescriptor, path: FilePath) throws -> FileStatus {
        var raw = stat()
        guard fstat(descriptor.rawValue, &raw) == 0 else {
            throw FileSystemError(operation: "read the status of", path: path, errno: currentErrno())
        }
        return FileStatus(raw)
    }
}
