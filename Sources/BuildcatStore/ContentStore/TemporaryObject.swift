import BuildcatBasics
import CBuildcatLinux
import Glibc
import SystemPackage

/// A file being written in the store's `tmp/` directory, that becomes an object only by `link`.
///
/// Where the file system supports it, the file is unnamed (`O_TMPFILE`): if the process dies
/// before linking it, the kernel frees it and nothing is left behind. Elsewhere (NFS, SMB) it
/// has a unique name, `put-<pid>-<random>.tmp`, removed on every path but a kill; `audit` and
/// `gc` find what a kill leaves.
final class TemporaryObject {
    let descriptor: FileDescriptor
    /// The temporary name, or nil for an unnamed file.
    let namedPath: FilePath?
    let directory: FilePath
    private var isClosed = false
    /// Whether the temporary name no longer exists (renamed away, removed, or never had one).
    private var temporaryNameIsGone: Bool

    /// The path to name in messages.
    var displayPath: FilePath { namedPath ?? directory }

    init(in directory: FilePath, allowUnnamed: Bool = true) throws {
        self.directory = directory
        let unnamed = allowUnnamed ? directory.withPlatformString { buildcat_open_tmpfile($0, 0o600) } : -1
        if !allowUnnamed { Glibc.errno = EOPNOTSUPP }
        if unnamed >= 0 {
            descriptor = FileDescriptor(rawValue: unnamed)
            namedPath = nil
            temporaryNameIsGone = true
            return
        }
        let reason = Glibc.errno
        guard [EOPNOTSUPP, EISDIR, EINVAL, ENOENT].contains(reason) || reason == ENOTSUP else {
            throw FileSystemError(operation: "create a temporary file in", path: directory, errno: Errno(rawValue: reason))
        }
        if reason == ENOENT {
            throw FileSystemError(operation: "create a temporary file in", path: directory, errno: .noSuchFileOrDirectory)
        }
        let path = directory.appending("put-\(FileSystem.temporaryTag()).tmp")
        do {
            descriptor = try FileDescriptor.open(
                path, .readWrite, options: [.create, .exclusiveCreate, .closeOnExec], permissions: [.ownerReadWrite])
        } catch let errno as Errno {
            throw FileSystemError(operation: "create temporary file", path: path, errno: errno)
        }
        namedPath = path
        temporaryNameIsGone = false
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        try FileSystem.write(descriptor, bytes, path: displayPath)
    }

    /// Gives the file its final mode and, with `sync`, flushes it to the device before it gets a
    /// name. Without `sync` it only starts the writeback: the caller flushes the whole file
    /// system (one syncfs for many objects) before naming it.
    func finish(permissions: FilePermissions, sync: Bool) throws {
        guard fchmod(descriptor.rawValue, permissions.rawValue) == 0 else {
            throw FileSystemError(operation: "set the mode of", path: displayPath, errno: currentErrno())
        }
        if sync {
            try FileSystem.sync(descriptor, path: displayPath)
        } else {
            _ = buildcat_start_writeback(descriptor.rawValue)
        }
    }

    /// Gives the file the name `final`, unless something already has that name.
    /// - Returns: true if linked; false if `final` existed (the file is then discarded).
    func link(as final: FilePath) throws -> Bool {
        defer { discard() }
        if namedPath == nil {
            let result = final.withPlatformString { buildcat_link_tmpfile(descriptor.rawValue, AT_FDCWD, $0) }
            if result == 0 { return true }
            if Glibc.errno == EEXIST { return false }
            throw FileSystemError(operation: "link the new object as", path: final, errno: currentErrno())
        }
        let temporary = namedPath!
        var result = temporary.withPlatformString { from in
            final.withPlatformString { to in buildcat_rename_noreplace(AT_FDCWD, from, AT_FDCWD, to) }
        }
        if result == 0 { temporaryNameIsGone = true; return true }
        if Glibc.errno == EEXIST { return false }
        guard [EINVAL, ENOSYS].contains(Glibc.errno) else {
            throw FileSystemError(operation: "rename the new object to", path: final, errno: currentErrno())
        }
        // No RENAME_NOREPLACE here (some network file systems): link(2) also refuses to replace.
        result = temporary.withPlatformString { from in final.withPlatformString { to in Glibc.link(from, to) } }
        if result == 0 { return true }  // discard() unlinks the temporary name
        if Glibc.errno == EEXIST { return false }
        guard [EPERM, EOPNOTSUPP, EMLINK].contains(Glibc.errno) else {
            throw FileSystemError(operation: "link the new object as", path: final, errno: currentErrno())
        }
        // Neither: a plain rename. Replacing an object with identical content harms no reader.
        result = temporary.withPlatformString { from in final.withPlatformString { to in rename(from, to) } }
        guard result == 0 else { throw FileSystemError(operation: "rename the new object to", path: final, errno: currentErrno()) }
        temporaryNameIsGone = true
        return true
    }

    /// Closes the file and removes its temporary name; safe to call more than once.
    func discard() {
        if !isClosed {
            isClosed = true
            try? descriptor.close()
        }
        if let namedPath, !temporaryNameIsGone {
            temporaryNameIsGone = true
            try? FileSystem.removeFile(namedPath)
        }
    }
}
