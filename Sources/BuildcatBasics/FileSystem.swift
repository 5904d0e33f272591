import CBuildcatLinux
import Glibc
import SystemPackage

/// File-system calls as throwing functions whose errors name the path and the reason.
///
/// Paths are `FilePath`s, which keep a name's bytes as they are: a name that is not UTF-8 can be
/// opened again, unlike after a trip through `String` or `URL`.
public enum FileSystem {
    /// The buffer size for streaming reads and writes: large enough to amortise system calls,
    /// small enough to stay in cache (FIELD-NOTES: 1–8 MiB beat both smaller and much larger).
    public static let streamBufferSize = 4 << 20

    /// Opens an existing file for reading; open(2) with `O_CLOEXEC` and `O_NONBLOCK`.
    ///
    /// `O_NONBLOCK` keeps a FIFO from blocking the open until a writer appears, so that callers
    /// can fstat the descriptor and refuse it; it changes nothing for regular files.
    public static func openForReading(_ path: FilePath, followSymlinks: Bool = true) throws -> FileDescriptor {
        var options: FileDescriptor.OpenOptions = [.closeOnExec, .nonBlocking]
        if !followSymlinks { options.insert(.noFollow) }
        do {
            return try FileDescriptor.open(path, .readOnly, options: options, retryOnInterrupt: true)
        } catch let errno as Errno {
            throw FileSystemError(operation: "open for reading", path: path, errno: errno)
        }
    }

    /// Reads into `buffer` until it is full or the file ends; returns the number of bytes read.
    public static func read(
        _ descriptor: FileDescriptor, into buffer: UnsafeMutableRawBufferPointer, path: FilePath
    ) throws -> Int {
        var filled = 0
        while filled < buffer.count {
            let count: Int
            do {
                count = try descriptor.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[filled...]))
            } catch let errno as Errno {
                throw FileSystemError(operation: "read", path: path, errno: errno)
            }
            if count == 0 { break }
            filled += count
        }
        return filled
    }

    /// Writes all of `bytes`, retrying short writes.
    public static func write(_ descriptor: FileDescriptor, _ bytes: UnsafeRawBufferPointer, path: FilePath) throws {
        do {
            _ = try descriptor.writeAll(bytes)
        } catch let errno as Errno {
            throw FileSystemError(operation: "write", path: path, errno: errno)
        }
    }

    /// Flushes a file's data and metadata to its device; fsync(2).
    public static func sync(_ descriptor: FileDescriptor, path: FilePath) throws {
        guard fsync(descriptor.rawValue) == 0 else {
            throw FileSystemError(operation: "flush to disk", path: path, errno: currentErrno())
        }
    }

    /// Opens a directory itself (not a file in it), for fsync and syncfs.
    static func openDirectory(_ path: FilePath) throws -> FileDescriptor {
        do {
            return try FileDescriptor.open(path, .readOnly, options: [.directory, .closeOnExec])
        } catch let errno as Errno {
            throw FileSystemError(operation: "open directory", path: path, errno: errno)
        }
    }

    /// Flushes a directory, so that names just created or renamed in it survive a crash.
    public static func syncDirectory(_ path: FilePath) throws {
        let descriptor = try openDirectory(path)
        defer { try? descriptor.close() }
        // Some network file systems refuse fsync on a directory; their renames are synchronous.
        if fsync(descriptor.rawValue) != 0 && Glibc.errno != EINVAL && Glibc.errno != ENOTSUP {
            throw FileSystemError(operation: "flush directory", path: path, errno: currentErrno())
        }
    }

    /// Creates a directory and any missing parents, like `mkdir -p`.
    public static func createDirectories(_ path: FilePath, permissions: FilePermissions = [.ownerReadWriteExecute, .groupReadWriteExecute, .otherReadExecute]) throws {
        if let status = try statusIfPresent(of: path) {
            guard status.isDirectory else {
                throw FileSystemError(.notADirectory, operation: "create directory", path: displayPath(path),
                                      detail: "a \(status.kindDescription) is in the way")
            }
            return
        }
        var parent = path
        if parent.removeLastComponent(), !parent.isEmpty, parent != path {
            try createDirectories(parent, permissions: permissions)
        }
        let result = path.withPlatformString { mkdir($0, permissions.rawValue) }
        if result != 0 && Glibc.errno != EEXIST {
            throw FileSystemError(operation: "create directory", path: path, errno: currentErrno())
        }
    }

    /// Removes a file, ignoring one that is already gone; unlink(2).
    /// Opens (creating) `path` and takes an exclusive `flock` on it; closing the descriptor
    /// releases it.
    public static func lockExclusively(_ path: FilePath) throws -> FileDescriptor {
        let descriptor: FileDescriptor
        do {
            descriptor = try FileDescriptor.open(path, .readWrite, options: [.create, .closeOnExec],
                                                 permissions: [.ownerReadWrite, .groupRead, .otherRead])
        } catch let errno as Errno {
            throw FileSystemError(operation: "open lock file", path: path, errno: errno)
        }
        while flock(descriptor.rawValue, LOCK_EX) != 0 {
            if Glibc.errno == EINTR { continue }
            let error = FileSystemError(operation: "lock", path: path, errno: currentErrno())
            try? descriptor.close()
            throw error
        }
        return descriptor
    }

    public static func removeFile(_ path: FilePath) throws {
        let result = path.withPlatformString { unlink($0) }
        if result != 0 && Glibc.errno != ENOENT {
            throw FileSystemError(operation: "remove", path: path, errno: currentErrno())
        }
    }

    /// Removes an empty directory; one that is not there is not an error.
    public static func removeEmptyDirectory(_ path: FilePath) throws {
        let result = path.withPlatformString { rmdir($0) }
        if result != 0 && Glibc.errno != ENOENT {
            throw FileSystemError(operation: "remove the directory", path: path, errno: currentErrno())
        }
    }

    /// Reads a whole small file (configuration, manifests, caches, scene layers) into memory.
    /// - Parameter regularOnly: refuse anything but a regular file (a FIFO, a device), found
    ///   by the descriptor's status, so that no stat of the path is needed first.
    /// - Parameter directories: open folders to open the file by its name in (a scan reads
    ///   thousands of layers from a few folders).
    /// - Parameter knownStatus: the file's status when the caller stat'ed it; a regular file's
    ///   is used instead of stat'ing the open file again.
    public static func readAll(_ path: FilePath, regularOnly: Bool = false, directories: DirectoryHandles? = nil, knownStatus: FileStatus? = nil) throws -> [UInt8] {
        let descriptor = try directories?.openForReading(path) ?? openForReading(path)
        defer { try? descriptor.close() }
        func check(_ status: FileStatus) throws {
            if regularOnly && !status.isRegularFile {
                throw FileSystemError(.notRegularFile, operation: "read", path: displayPath(path), detail: "it is a \(status.kindDescription), not a regular file")
            }
        }
        // A regular file the caller stat'ed moments ago is not stat'ed again (a scan reads
        // thousands of layers whose statuses it has), as long as the read agrees with it.
        let trusted = knownStatus.flatMap { $0.isRegularFile ? $0 : nil }
        var status = try trusted ?? status(of: descriptor, path: path)
        try check(status)
        let size = max(Int(status.size), 0)
        // One byte more than the size, to see the end in the same read: a regular file's read
        // comes back short only at its end. Scans read thousands of layers; each call counts.
        var bytes = [UInt8](repeating: 0, count: size + 1)
        let filled = try bytes.withUnsafeMutableBytes { buffer -> Int in
            do {
                return try descriptor.read(into: buffer, retryOnInterrupt: true)
            } catch let errno as Errno {
                throw FileSystemError(operation: "read", path: path, errno: errno)
            }
        }
        // Not the size it was: it changed since (it may even be a pipe now), so it is stat'ed
        // after all. (A folder fails the read; the file is opened non-blocking.)
        if trusted != nil && filled != size {
            status = try self.status(of: descriptor, path: path)
            try check(status)
        }
        bytes.removeSubrange(filled...)
        // (Linux hands out at most 0x7ffff000 bytes per read, whatever is left.)
        if status.isRegularFile && filled <= size && filled < 0x7fff_f000 { return bytes }
        // The file grew since fstat, or has no size of its own (/proc, a pipe): read to the end.
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = try chunk.withUnsafeMutableBytes { try read(descriptor, into: $0, path: path) }
            if count == 0 { break }
            bytes.append(contentsOf: chunk[..<count])
        }
        return bytes
    }

    /// Writes `bytes` to `path` atomically: readers see the old file or the new one, never a
    /// mixture, and after a crash the name holds one of the two complete files.
    ///
    /// The bytes go to a temporary file beside the destination, which is flushed, renamed over
    /// the destination and the directory flushed.
    /// - Parameter synced: flush the file and its directory to disk (the default); without, a
    ///   crash may lose the new file (never half of it): for state that can be rebuilt.
    public static func writeAtomically(_ bytes: some Collection<UInt8>, to path: FilePath, permissions: FilePermissions = [.ownerReadWrite, .groupRead, .otherRead],
                                       synced: Bool = true) throws {
        let temporary = temporarySibling(of: path)
        let descriptor: FileDescriptor
        do {
            descriptor = try FileDescriptor.open(
                temporary, .writeOnly, options: [.create, .exclusiveCreate, .closeOnExec], permissions: permissions)
        } catch let errno as Errno {
            throw FileSystemError(operation: "create", path: temporary, errno: errno)
        }
        var renamed = false
        defer {
            try? descriptor.close()
            if !renamed { try? removeFile(temporary) }
        }
        let contiguous = Array(bytes)
        try contiguous.withUnsafeBytes { try write(descriptor, $0, path: temporary) }
        if synced { try sync(descriptor, path: temporary) }
        let result = temporary.withPlatformString { from in path.withPlatformString { to in rename(from, to) } }
        guard result == 0 else { throw FileSystemError(operation: "rename into place", path: path, errno: currentErrno()) }
        renamed = true
        guard synced else { return }
        var directory = path
        directory.removeLastComponent()
        try syncDirectory(directory.isEmpty ? "." : directory)
    }

    /// A name for a temporary file in the same directory as `path`, unique to this process and call.
    public static func temporarySibling(of path: FilePath) -> FilePath {
        var directory = path
        let last = path.lastComponent.map { displayPath(FilePath(root: nil, [$0])) } ?? "file"
        directory.removeLastComponent()
        return directory.appending(".\(last).\(temporaryTag()).tmp")
    }

    /// A tag that no other process or call uses at the same time: pid and random bits.
    public static func temporaryTag() -> String {
        "\(getpid())-\(String(UInt64.random(in: 0...UInt64.max), radix: 36))"
    }
}

/// The calling thread's errno as swift-system's `Errno`.
public func currentErrno() -> Errno {
    Errno(rawValue: Glibc.errno)
}

extension FileSystem {
    /// The current working directory; getcwd(3).
    public static func currentDirectory() throws -> FilePath {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard getcwd(&buffer, buffer.count) != nil else {
            throw FileSystemError(operation: "find the current directory", path: ".", errno: currentErrno())
        }
        return buffer.withUnsafeBufferPointer { FilePath(platformString: $0.baseAddress!) }
    }

    /// `path` made absolute against the current directory, without resolving symlinks.
    public static func absolute(_ path: FilePath) throws -> FilePath {
        path.isAbsolute ? path.lexicallyNormalized() : try currentDirectory().pushing(path).lexicallyNormalized()
    }
}

extension FileSystem {
    /// Flushes every file of the file system that holds `path` to its device in one go; syncfs(2).
    ///
    /// One call replaces an fsync per file when many files were just written: one journal commit
    /// instead of thousands.
    public static func syncFileSystem(containing path: FilePath) throws {
        let descriptor = try openDirectory(path)
        defer { try? descriptor.close() }
        guard buildcat_syncfs(descriptor.rawValue) == 0 else {
            throw FileSystemError(operation: "flush the file system of", path: path, errno: currentErrno())
        }
    }
}
