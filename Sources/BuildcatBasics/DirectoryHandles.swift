import CBuildcatLinux
import Glibc
import Synchronization
import SystemPackage

/// Stats and opens files by name in directories it keeps open, for scans that stat thousands of
/// files in a few folders.
///
/// stat(2) of an absolute path looks up every component of it again; fstatat(2) from an open
/// directory looks up one name. For 20,000 textures five folders deep that is a sixth of the
/// stats' time (33 ms against 28 ms on the 2-core CI machine; docs/benchmarks.md). The answer
/// is stat's: symbolic links are followed, and a path that cannot be stat'ed (absent, a
/// component not a directory, no permission) has no status.
public final class DirectoryHandles: Sendable {
    /// Directories kept open at most; past this a file is stat'ed by its whole path, so that a
    /// scan of files in a million folders never runs out of descriptors: an eighth of what the
    /// process may open (128 of the usual 1,024; a scan keeps two of these), at most 256.
    public static let limit: Int = {
        var limits = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limits) == 0 else { return 256 }
        return Int(min(256, max(8, limits.rlim_cur / 8)))
    }()

    private let handles = Mutex<[ByteKey: Int32]>([:])

    public init() {}

    deinit {
        handles.withLock { handles in
            for descriptor in handles.values where descriptor >= 0 { close(descriptor) }
        }
    }

    /// The status of each path's file (nil where none can be stat'ed, or where the path is nil).
    /// Paths in the same folder one after another share one look-up of the folder.
    public func statuses(count: Int, of path: (Int) -> FilePath?) -> [FileStatus?] {
        var last = LastDirectory()
        return (0..<count).map { index -> FileStatus? in
            guard let path = path(index) else { return nil }
            return path.withBytes { status(of: $0, last: &last) }
        }
    }

    /// `statuses(count:of:)` of paths kept as bytes (absolute, without NUL).
    public func statuses(count: Int, ofBytes path: (Int) -> [UInt8]?) -> [FileStatus?] {
        statuses(count: count, lending: { index, status in path(index).map { $0.withUnsafeBufferPointer(status) } })
    }

    /// `statuses(count:ofBytes:)` of paths lent one at a time: `withPath` calls the function it
    /// is given with the path's bytes and returns its answer, or returns nil for no path.
    public func statuses(count: Int, lending withPath: (_ index: Int, _ status: (UnsafeBufferPointer<UInt8>) -> FileStatus?) -> FileStatus??) -> [FileStatus?] {
        var last = LastDirectory()
        return (0..<count).map { index -> FileStatus? in
            withPath(index) { status(of: $0, last: &last) } ?? nil
        }
    }

    private func status(of path: UnsafeBufferPointer<UInt8>, last: inout LastDirectory) -> FileStatus? {
        withName(of: path, last: &last) { directory, name -> FileStatus? in
            var raw = stat()
            let result = directory < 0 ? stat(name, &raw) : fstatat(directory, name, &raw, 0)
            return result == 0 ? FileStatus(raw) : nil
        }
    }

    /// Opens a file for reading as `FileSystem.openForReading` does, by its name in its open folder.
    /// - Throws: `FileSystemError` naming the path.
    public func openForReading(_ path: FilePath) throws -> FileDescriptor {
        var last = LastDirectory()
        let descriptor = path.withBytes { bytes in
            withName(of: bytes, last: &last) { directory, name in
                directory < 0 ? open(name, O_RDONLY | O_CLOEXEC | O_NONBLOCK) : openat(directory, name, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
            }
        }
        guard descriptor >= 0 else { throw FileSystemError(operation: "open for reading", path: path, errno: currentErrno()) }
        return FileDescriptor(rawValue: descriptor)
    }

    /// The folder looked up last, kept by a caller across paths.
    private struct LastDirectory {
        var path: [UInt8] = []
        var descriptor: Int32 = -1
    }

    /// Calls `body` with the open folder of `path` and the file's name in it, or with -1 and
    /// the whole path when the folder is not kept open (each as a C string).
    private func withName<Result>(of path: UnsafeBufferPointer<UInt8>, last: inout LastDirectory, _ body: (Int32, UnsafePointer<CChar>) -> Result) -> Result {
        let slash = FilePath.lastComponentStart(of: path)
        var directory: Int32 = -1
        // Not absolute, or a folder of its own (`/`, `/a/`): the whole path.
        if slash > 1, path[0] == UInt8(ascii: "/"), slash < path.count {
            let directoryLength = slash - 1
            let same = last.path.count == directoryLength && last.path.withUnsafeBufferPointer { memcmp($0.baseAddress!, path.baseAddress!, directoryLength) == 0 }
            if !same {
                last.path = Array(UnsafeBufferPointer(rebasing: path[..<directoryLength]))
                last.descriptor = descriptor(for: last.path)
            }
            directory = last.descriptor
        }
        let given = directory < 0 ? UnsafeBufferPointer(rebasing: path[...]) : UnsafeBufferPointer(rebasing: path[slash...])
        return FilePath.withCString(of: given) { body(directory, $0) }
    }

    /// The open directory, opened now if it is not yet; -1 when it cannot be opened or too many
    /// are (then its files are stat'ed by their whole paths, which gives the same answers).
    private func descriptor(for directory: [UInt8]) -> Int32 {
        let key = ByteKey(directory)
        // At the limit, a folder not yet open is not opened (and closed again) at all.
        if let known = handles.withLock({ $0[key] ?? ($0.count < Self.limit ? nil : -1) }) { return known }
        let opened = directory.withUnsafeBufferPointer { FilePath.withCString(of: $0) { buildcat_open_directory_path($0) } }
        return handles.withLock { handles in
            // Another thread may have opened it meanwhile: keep one.
            if let known = handles[key] {
                if opened >= 0 { close(opened) }
                return known
            }
            guard handles.count < Self.limit else {
                if opened >= 0 { close(opened) }
                return -1
            }
            // A folder that cannot be opened is remembered too (-1): its files are stat'ed whole.
            handles[key] = opened
            return opened
        }
    }
}
