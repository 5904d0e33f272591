import CBuildcatBytes
import Glibc
import SystemPackage

/// A regular file found by a directory walk.
public struct WalkedFile: Sendable {
    /// The path below the walk's root, `/`-separated, as the bytes of the names.
    public var relativePath: [UInt8]
    /// The path to open: the root joined with `relativePath`.
    public var path: FilePath
    /// The status of the file itself (of a symlink's target when the walk follows links).
    public var status: FileStatus
}

/// What a walk found and what it passed over, and why.
public struct DirectoryListing: Sendable {
    public var files: [WalkedFile]
    /// Entries that are not regular files (FIFOs, sockets, devices) or are dangling symlinks.
    public var skipped: [(relativePath: [UInt8], reason: String)]
}

/// Walks a directory tree and lists its regular files, keeping every name's bytes.
///
/// The rules follow Deadline's `manifest snapshot` (a Python `glob("**/*")`): names starting
/// with `.` are left out unless `includeHidden`, symlinks to files and directories are followed
/// (the file is listed under the link's path), dangling links and special files are skipped. A
/// directory link that leads back to one of its own ancestors is an error, not an endless walk.
public struct DirectoryWalker: Sendable {
    public var includeHidden: Bool
    public var followSymlinks: Bool

    public init(includeHidden: Bool = false, followSymlinks: Bool = true) {
        self.includeHidden = includeHidden
        self.followSymlinks = followSymlinks
    }

    /// Lists the regular files below `root`, sorted by path bytes.
    /// - Throws: `FileSystemError` for a root that is not a directory, a directory that cannot be
    ///   read, or a symlink loop, naming the path.
    public func walk(_ root: FilePath) throws -> DirectoryListing {
        let rootStatus = try FileSystem.status(of: root)
        guard rootStatus.isDirectory else {
            throw FileSystemError(.notADirectory, operation: "walk", path: displayPath(root),
                                  detail: "it is a \(rootStatus.kindDescription), not a directory")
        }
        var listing = DirectoryListing(files: [], skipped: [])
        try walkDirectory(root, relative: [], ancestors: [Identity(rootStatus)], into: &listing)
        return listing
    }

    private struct Identity: Equatable {
        var device: UInt64
        var inode: UInt64
        init(_ status: FileStatus) { device = status.device; inode = status.inode }
    }

    private func walkDirectory(
        _ directory: FilePath, relative: [UInt8], ancestors: [Identity], into listing: inout DirectoryListing
    ) throws {
        for name in try entryNames(of: directory) {
            if !includeHidden && name.first == UInt8(ascii: ".") { continue }
            let childRelative = relative.isEmpty ? name : relative + [UInt8(ascii: "/")] + name
            let childPath = directory.appending(FilePath.Component(bytes: name))
            guard let linkStatus = try FileSystem.statusIfPresent(of: childPath, followSymlinks: false) else {
                continue  // removed while we walked
            }
            var status = linkStatus
            if linkStatus.isSymbolicLink {
                guard followSymlinks else {
                    listing.skipped.append((childRelative, "symbolic link (not followed)"))
                    continue
                }
                guard let target = try FileSystem.statusIfPresent(of: childPath) else {
                    listing.skipped.append((childRelative, "dangling symbolic link"))
                    continue
                }
                status = target
            }
            if status.isDirectory {
                let identity = Identity(status)
                if ancestors.contains(identity) {
                    throw FileSystemError(.symlinkLoop, operation: "walk", path: displayPath(childPath),
                                          detail: "the symbolic link leads back to a directory that contains it")
                }
                try walkDirectory(childPath, relative: childRelative, ancestors: ancestors + [identity], into: &listing)
            } else if status.isRegularFile {
                listing.files.append(WalkedFile(relativePath: childRelative, path: childPath, status: status))
            } else {
                listing.skipped.append((childRelative, status.kindDescription))
            }
        }
    }

    /// The names in a directory other than `.` and `..`, sorted by bytes.
    public static func names(in directory: FilePath) throws -> [[UInt8]] {
        try DirectoryWalker().entryNames(of: directory)
    }

    /// The names in a directory other than `.` and `..`, sorted by bytes.
    private func entryNames(of directory: FilePath) throws -> [[UInt8]] {
        guard let stream = directory.withPlatformString({ opendir($0) }) else {
            throw FileSystemError(operation: "list directory", path: directory, errno: currentErrno())
        }
        defer { closedir(stream) }
        var names: [[UInt8]] = []
        while true {
            Glibc.errno = 0
            guard let entry = readdir(stream) else {
                if Glibc.errno != 0 { throw FileSystemError(operation: "list directory", path: directory, errno: currentErrno()) }
                break
            }
            let name = withUnsafePointer(to: &entry.pointee.d_name) { tuple in
                tuple.withMemoryRebound(to: UInt8.self, capacity: MemoryLayout.size(ofValue: tuple.pointee)) { bytes in
                    Array(UnsafeBufferPointer(start: bytes, count: strlen(UnsafeRawPointer(bytes).assumingMemoryBound(to: CChar.self))))
                }
            }
            if name == [0x2E] || name == [0x2E, 0x2E] { continue }
            names.append(name)
        }
        return names.sorted { $0.lexicographicallyPrecedes($1) }
    }
}

extension FilePath.Component {
    /// A component from a name's bytes, which must not contain `/` or NUL.
    public init(bytes: [UInt8]) {
        self = bytes.withUnsafeBufferPointer { FilePath.withCString(of: $0) { FilePath.Component(platformString: $0)! } }
    }
}

extension FilePath {
    /// A path from its bytes, kept exactly (no decoding; repeated and trailing `/` dropped, as
    /// every `FilePath` drops them).
    ///
    /// Bytes already in that form become the path's storage as they are, followed by a NUL
    /// (`madeFromStorage`): swift-system's own path from a C string passes every byte through
    /// generic code that looks up types at run time, 2,600 instructions for a path of 60 bytes
    /// (a scan of a large USD stage makes one a layer: 2.8% of its instructions).
    public init(bytes: [UInt8]) {
        self = bytes.withUnsafeBufferPointer { bytes in
            FilePath.withCString(of: bytes) { cString in
                guard Self.madeFromStorage, Self.isKeptAsGiven(bytes) else { return FilePath(platformString: cString) }
                let storage = Array(UnsafeBufferPointer(start: UnsafeRawPointer(cString).assumingMemoryBound(to: UInt8.self), count: bytes.count + 1))
                return unsafeBitCast(storage, to: FilePath.self)
            }
        }
    }

    /// Whether a `FilePath` keeps `bytes` exactly as they are: not empty, no NUL, no `/` twice
    /// in a row, none at the end but for `/` itself.
    static func isKeptAsGiven(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        let slash = UInt8(ascii: "/")
        guard let last = bytes.last, last != slash || bytes.count == 1 else { return false }
        var previous: UInt8 = 0
        for byte in bytes {
            if byte == 0 || (byte == slash && previous == slash) { return false }
            previous = byte
        }
        return true
    }

    /// Whether a path made of its storage (`storageIsBytes`'s layout read the other way) is the
    /// path swift-system makes of the same bytes, checked once: equal, hashed alike, and read,
    /// split, shortened and lengthened alike. Where it is not, paths are made the slow way. (The
    /// array is of `UInt8`, swift-system's of its own one-byte character type: the same memory,
    /// which array code reads by the type it is called with, as `sharedStorage` reads it back.)
    static let madeFromStorage: Bool = {
        guard storageIsBytes else { return false }
        let text = "/buildcat/probe.usda"
        let made = unsafeBitCast(Array(text.utf8) + [0], to: FilePath.self)
        let real = FilePath(text)
        return made == real && made.hashValue == real.hashValue && made.string == text && made.bytes == real.bytes
            && Array(made.components) == Array(real.components) && made.removingLastComponent() == real.removingLastComponent()
            && made.appending("x") == real.appending("x") && made.lexicallyNormalized() == real
    }()

    /// Calls `body` with `bytes` as a C string, made on the stack (joining a NUL to an array
    /// made two arrays more, for each of thousands of paths).
    public static func withCString<Result>(of bytes: UnsafeBufferPointer<UInt8>, _ body: (UnsafePointer<CChar>) throws -> Result) rethrows -> Result {
        try withUnsafeTemporaryAllocation(of: CChar.self, capacity: bytes.count + 1) { cString in
            let start = cString.baseAddress!
            if let source = bytes.baseAddress { UnsafeMutableRawPointer(start).copyMemory(from: source, byteCount: bytes.count) }
            start[bytes.count] = 0
            return try body(start)
        }
    }

    /// Where the last component of a path given as bytes starts: after its last '/', or 0.
    public static func lastComponentStart(of path: UnsafeBufferPointer<UInt8>) -> Int {
        // Sixteen bytes at a time from the end (byte by byte, this was 2.5M of the 171M
        // instructions of a 2,000-layer stage's scan, which looks it up for each of 22,000 stats).
        guard let base = path.baseAddress else { return 0 }
        return buildcat_last_index_of(base, path.count, UInt8(ascii: "/")) + 1
    }

    /// `lastComponentStart(of:)` of a path kept as an array.
    public static func lastComponentStart(of path: [UInt8]) -> Int {
        path.withUnsafeBufferPointer { lastComponentStart(of: $0) }
    }

    /// Whether the last component's extension (`png` of `a.b.png`; none for `.hidden`) is one
    /// of `extensions`, compared as bytes: `extension` builds a String, and a scan asks this of
    /// every one of thousands of paths.
    public func hasExtension(in extensions: [[UInt8]]) -> Bool {
        withBytes { FilePath.hasExtension($0, in: extensions) }
    }

    /// `hasExtension(in:)` of a path given as bytes.
    public static func hasExtension(_ path: UnsafeBufferPointer<UInt8>, in extensions: [[UInt8]]) -> Bool {
        let componentStart = lastComponentStart(of: path)
        var dot = path.count
        while dot > componentStart && path[dot - 1] != UInt8(ascii: ".") { dot -= 1 }
        // No dot, or only a leading one (`.hidden`): no extension.
        guard dot - 1 > componentStart else { return false }
        let found = UnsafeBufferPointer(rebasing: path[dot...])
        return extensions.contains { $0.count == found.count && $0.elementsEqual(found) }
    }

    /// The path's bytes, exactly as the system sees them.
    public var bytes: [UInt8] {
        withBytes { Array($0) }
    }

    /// Calls `body` with the path's bytes in place (without the NUL that ends them), for reading
    /// them without copying them out.
    ///
    /// Read straight from the path's storage where its layout is the one `storageIsBytes`
    /// checked: through swift-system's `withPlatformString` (generic code, not inlinable, that
    /// looks up types at run time) each call took ~590 instructions, and a scan of a large USD
    /// stage made 18,000 of them (5% of its instructions).
    public func withBytes<Result>(_ body: (UnsafeBufferPointer<UInt8>) throws -> Result) rethrows -> Result {
        if let storage = sharedStorage {
            return try storage.withUnsafeBufferPointer { try body(UnsafeBufferPointer(rebasing: $0.dropLast())) }
        }
        return try withPlatformString { cString in
            try body(UnsafeBufferPointer(start: UnsafeRawPointer(cString).assumingMemoryBound(to: UInt8.self), count: strlen(cString)))
        }
    }

    /// The path's own storage, its bytes then a NUL, shared (not copied); nil where paths are
    /// not kept that way (see `storageIsBytes`). Read-only: nothing is ever stored into a path
    /// this way.
    var sharedStorage: [UInt8]? {
        Self.storageIsBytes ? unsafeBitCast(self, to: [UInt8].self) : nil
    }

    /// Whether a path is stored as its bytes and a NUL in one array, as swift-system 1.x keeps
    /// it (a `SystemString` of one `[SystemChar]`, a byte each), checked once on a path whose
    /// bytes are known: a later version that keeps paths otherwise is read the slow way.
    static let storageIsBytes: Bool = {
        guard MemoryLayout<FilePath>.size == MemoryLayout<[UInt8]>.size,
              MemoryLayout<FilePath>.alignment == MemoryLayout<[UInt8]>.alignment else { return false }
        let probe = FilePath("/buildcat/probe")
        let expected = Array("/buildcat/probe".utf8) + [0]
        return probe.withPlatformString { strlen($0) + 1 == expected.count } && unsafeBitCast(probe, to: [UInt8].self) == expected
    }()

    /// `relative` (or an absolute path) resolved against `directory`, with `.` and `..` taken
    /// out lexically, as bytes in and out: tens of thousands of references resolve in a few
    /// milliseconds, where `appending` then `lexicallyNormalized()` took a microsecond each.
    public static func normalizedJoin(_ directory: [UInt8], _ relative: [UInt8]) -> FilePath {
        FilePath(bytes: normalizedJoinBytes(directory, relative))
    }

    /// `normalizedJoin` as bytes, without making a `FilePath` (which examines every byte
    /// again): for paths kept as bytes. Each path ends at a NUL, as one the system is given does.
    public static func normalizedJoinBytes(_ directory: [UInt8], _ relative: [UInt8]) -> [UInt8] {
        PathJoiner(directory: directory).join(relative)
    }

    /// Joins a `/`-separated relative path given as bytes.
    public func appending(relativeBytes: [UInt8]) -> FilePath {
        var result = self
        for component in relativeBytes.split(separator: UInt8(ascii: "/")) where !component.isEmpty {
            result.append(FilePath.Component(bytes: Array(component)))
        }
        return result
    }
}

/// Joins paths to one folder as `FilePath.normalizedJoinBytes` does, the folder examined once:
/// the paths of a scene file share its folder, and a scan joins tens of thousands of them
/// (examining the folder again for each was most of the cost of joining).
public struct PathJoiner: Sendable {
    private let directory: [UInt8]
    /// Absolute and in normal form (as every scene's folder is): copied whole before a path.
    private let directoryIsNormal: Bool

    public init(directory: [UInt8]) {
        self.directory = directory
        directoryIsNormal = directory.withUnsafeBufferPointer { Self.isNormalAbsolute($0) }
    }

    /// `relative` (or an absolute path) joined to the folder, `.` and `..` taken out lexically.
    public func join(_ relative: [UInt8]) -> [UInt8] {
        // Copied into an array of the exact size: an array made uninitialized is made through the
        // standard library's unspecialized code, which looks up the array's type at run time (a
        // third of each join's instructions).
        relative.withUnsafeBufferPointer { relative in withJoined(relative) { Array($0) } }
    }

    /// Calls `body` with `join(relative)`, made on the stack and not kept.
    public func withJoined<Result>(_ relative: UnsafeBufferPointer<UInt8>, _ body: (UnsafeBufferPointer<UInt8>) throws -> Result) rethrows -> Result {
        let slash = UInt8(ascii: "/")
        let absolute = relative.first == slash
        let rooted = absolute || directory.first == slash
        // One pass into a buffer on the stack: each component is appended after a '/', and `..`
        // cuts back to the previous '/'.
        let capacity = max(1, (absolute ? 0 : directory.count) + relative.count + 1)
        return try withUnsafeTemporaryAllocation(of: UInt8.self, capacity: capacity) { buffer in
            var length = 0
            if !absolute {
                directory.withUnsafeBufferPointer { folder in
                    if directoryIsNormal {
                        // `/` itself adds nothing: each component brings its own '/'.
                        if folder.count > 1 {
                            UnsafeMutableRawPointer(buffer.baseAddress!).copyMemory(from: folder.baseAddress!, byteCount: folder.count)
                            length = folder.count
                        }
                    } else {
                        Self.append(Self.toNUL(folder), to: buffer, length: &length, rooted: rooted)
                    }
                }
            }
            Self.append(Self.toNUL(relative), to: buffer, length: &length, rooted: rooted)
            if length == 0 {
                buffer[0] = rooted ? slash : UInt8(ascii: ".")
                length = 1
            }
            return try body(UnsafeBufferPointer(rebasing: buffer[..<length]))
        }
    }

    /// A NUL ends a path the system is given: what follows it names nothing.
    private static func toNUL(_ bytes: UnsafeBufferPointer<UInt8>) -> UnsafeBufferPointer<UInt8> {
        guard let base = bytes.baseAddress, let nul = memchr(base, 0, bytes.count) else { return bytes }
        return UnsafeBufferPointer(start: base, count: UnsafeRawPointer(nul) - UnsafeRawPointer(base))
    }

    /// Appends each component of `piece` after a '/' (none before the first of a path that is
    /// not rooted); skips empty and `.` components; `..` cuts back to the previous '/'.
    private static func append(_ piece: UnsafeBufferPointer<UInt8>, to buffer: UnsafeMutableBufferPointer<UInt8>, length: inout Int, rooted: Bool) {
        let slash = UInt8(ascii: "/")
        let dot = UInt8(ascii: ".")
        var start = 0
        while start < piece.count {
            var end = start
            while end < piece.count && piece[end] != slash { end += 1 }
            let count = end - start
            if count == 0 || (count == 1 && piece[start] == dot) {
                // empty or `.`: nothing
            } else if count == 2 && piece[start] == dot && piece[start + 1] == dot {
                while length > 0 && buffer[length - 1] != slash { length -= 1 }
                if length > 0 { length -= 1 }
            } else {
                if length > 0 || rooted {
                    buffer[length] = slash
                    length += 1
                }
                UnsafeMutableRawPointer(buffer.baseAddress! + length).copyMemory(from: piece.baseAddress! + start, byteCount: count)
                length += count
            }
            start = end + 1
        }
    }

    /// Whether `path` is absolute and in the form `join` gives: no empty, `.` or `..`
    /// component, no '/' at the end but for `/` itself, no NUL.
    private static func isNormalAbsolute(_ path: UnsafeBufferPointer<UInt8>) -> Bool {
        let slash = UInt8(ascii: "/")
        let dot = UInt8(ascii: ".")
        guard let base = path.baseAddress, path.count > 0, path[0] == slash else { return false }
        if path.count == 1 { return true }
        guard path[path.count - 1] != slash, memchr(base, 0, path.count) == nil else { return false }
        for index in 0..<path.count where path[index] == slash {
            // What follows this '/': not another, not `.` or `..` as a whole component.
            let next = index + 1 < path.count ? path[index + 1] : slash
            if next == slash { return false }
            if next == dot {
                let after = index + 2 < path.count ? path[index + 2] : slash
                if after == slash { return false }
                if after == dot && (index + 3 == path.count || path[index + 3] == slash) { return false }
            }
        }
        return true
    }
}
