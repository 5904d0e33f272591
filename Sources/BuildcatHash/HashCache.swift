import BuildcatBasics
internal import CBuildcatXXH3
import Glibc
import Synchronization
import SystemPackage

/// A persistent record of files already hashed, so that an unchanged file is never read twice.
///
/// An entry is keyed by the file's absolute path and trusted only while the file's device, inode,
/// size, modification time and status-change time (both in nanoseconds) are all still the same.
/// No tool can set a status-change time back, so rewriting a file and restoring its mtime still
/// misses. A file changed within `racyWindow` of being hashed is not recorded: its next change
/// could land in the same timestamp tick and leave every key equal (git's "racy clean" problem).
///
/// The cache is one file, written whole and atomically, with a checksum over its body: a file
/// that fails any check is reported and rebuilt, never trusted. Saving takes an exclusive
/// `flock` and merges with what other processes saved meanwhile, so concurrent runs lose nothing.
public final class HashCache: Sendable {
    /// Where the cache lives; the file inside is `hashes-v1.bin`.
    public let directory: FilePath
    /// How recently changed a file may be and still be recorded, in nanoseconds.
    public let racyWindowNanoseconds: Int64
    /// What went wrong loading the cache file, if it was damaged and is being rebuilt.
    public let loadProblem: String?

    private let state: Mutex<State>

    private struct State: Sendable {
        var entries: [CachePath: Entry] = [:]
        var changed: [CachePath: Entry] = [:]
    }

    struct Entry: Sendable, Equatable {
        var device: UInt64
        var inode: UInt64
        var size: Int64
        var modificationTime: Int64
        var changeTime: Int64
        var digest: XXH128Digest
        /// Days since the epoch of the last lookup or record; entries unused for long are pruned.
        var lastUsedDay: UInt32

        func matches(_ status: FileStatus) -> Bool {
            device == status.device && inode == status.inode && size == status.size
                && modificationTime == status.modificationTimeNanoseconds && changeTime == status.changeTimeNanoseconds
        }
    }

    static let fileName = "hashes-v1.bin"
    static let lockName = "hashes-v1.lock"
    static let magic = Array("BCATHC01".utf8)
    /// Entries not used for this many days are dropped when the cache is saved.
    static let retentionDays: UInt32 = 60

    /// The default place: `$BUILDCAT_CACHE_DIR`, else `$XDG_CACHE_HOME/buildcat`, else
    /// `~/.cache/buildcat`.
    public static func defaultDirectory(environment: [String: String]) -> FilePath {
        if let explicit = environment["BUILDCAT_CACHE_DIR"], !explicit.isEmpty { return FilePath(explicit) }
        if let xdg = environment["XDG_CACHE_HOME"], !xdg.isEmpty { return FilePath(xdg).appending("buildcat") }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        return FilePath(home).appending(".cache/buildcat")
    }

    /// Loads the cache from `directory`, which need not exist yet.
    ///
    /// A damaged or unreadable cache file does not fail the load: the cache starts empty, the
    /// reason is in `loadProblem`, and the next `save()` replaces the file.
    public init(directory: FilePath, racyWindowNanoseconds: Int64 = 2_000_000_000) {
        self.directory = directory
        self.racyWindowNanoseconds = racyWindowNanoseconds
        var problem: String?
        var entries: [CachePath: Entry] = [:]
        do {
            entries = try Self.load(directory.appending(Self.fileName))
        } catch {
            problem = "\(error)"
        }
        loadProblem = problem
        state = Mutex(State(entries: entries))
    }

    public var count: Int { state.withLock { $0.entries.count } }

    /// The recorded digest of the file at `absolutePath`, if its status still matches.
    public func digest(forPath absolutePath: [UInt8], status: FileStatus) -> XXH128Digest? {
        let today = Self.today()
        return state.withLock { state -> XXH128Digest? in
            guard var entry = state.entries[CachePath(absolutePath)], entry.matches(status) else { return nil }
            if entry.lastUsedDay != today {
                entry.lastUsedDay = today
                state.entries[CachePath(absolutePath)] = entry
                state.changed[CachePath(absolutePath)] = entry
            }
            return entry.digest
        }
    }

    /// The recorded digests of many files at once, under one lock (a lock per lookup from
    /// several threads cost more than the lookups): nil where a file's status no longer matches.
    public func digests(forPaths absolutePaths: [[UInt8]], statuses: [FileStatus]) -> [XXH128Digest?] {
        precondition(absolutePaths.count == statuses.count)
        let today = Self.today()
        return state.withLock { state in
            var found = [XXH128Digest?](repeating: nil, count: absolutePaths.count)
            for index in absolutePaths.indices {
                guard var entry = state.entries[CachePath(absolutePaths[index])], entry.matches(statuses[index]) else { continue }
                if entry.lastUsedDay != today {
                    entry.lastUsedDay = today
                    state.entries[CachePath(absolutePaths[index])] = entry
                    state.changed[CachePath(absolutePaths[index])] = entry
                }
                found[index] = entry.digest
            }
            return found
        }
    }

    /// Records a digest computed from a read that began at `readStartNanoseconds` (wall clock).
    /// - Returns: whether it was recorded (false when the file was too recently changed).
    @discardableResult
    public func record(path absolutePath: [UInt8], status: FileStatus, digest: XXH128Digest, readStartNanoseconds: Int64) -> Bool {
        guard readStartNanoseconds - status.changeTimeNanoseconds >= racyWindowNanoseconds,
              readStartNanoseconds - status.modificationTimeNanoseconds >= racyWindowNanoseconds
        else { return false }
        let entry = Entry(
            device: status.device, inode: status.inode, size: status.size,
            modificationTime: status.modificationTimeNanoseconds, changeTime: status.changeTimeNanoseconds,
            digest: digest, lastUsedDay: Self.today())
        state.withLock { state in
            if state.entries[CachePath(absolutePath)] != entry {
                state.entries[CachePath(absolutePath)] = entry
                state.changed[CachePath(absolutePath)] = entry
            }
        }
        return true
    }

    /// Writes what this process learned, merged with what other processes saved since it loaded.
    /// Does nothing if nothing changed.
    /// - Throws: `FileSystemError` if the cache directory or file cannot be written.
    public func save() throws {
        let changed = state.withLock { $0.changed }
        guard !changed.isEmpty else { return }
        try FileSystem.createDirectories(directory)
        let lock = try FileSystem.lockExclusively(directory.appending(Self.lockName))
        defer { try? lock.close() }  // closing releases the flock
        // Re-read under the lock: another process may have saved since we loaded.
        var merged = (try? Self.load(directory.appending(Self.fileName))) ?? [:]
        for (path, entry) in changed { merged[path] = entry }
        let oldest = Self.today() &- Self.retentionDays
        merged = merged.filter { $0.value.lastUsedDay >= oldest }
        try FileSystem.writeAtomically(Self.encode(merged), to: directory.appending(Self.fileName))
        state.withLock { state in
            state.changed.removeAll()
        }
    }

    // MARK: - File format
    //
    // header: magic "BCATHC01", entry count (u64), body length (u64), XXH3-128 of the body (16)
    // entry:  path length (u32), device, inode (u64), size, mtime ns, ctime ns (i64),
    //         digest high, low (u64), last-used day (u32), path bytes.  All little-endian.

    static let headerSize = 8 + 8 + 8 + 16
    static let entryFixedSize = 4 + 8 * 5 + 16 + 4

    static func encode(_ entries: [CachePath: Entry]) -> [UInt8] {
        var body: [UInt8] = []
        body.reserveCapacity(entries.reduce(0) { $0 + entryFixedSize + $1.key.bytes.count })
        for (key, entry) in entries {
            let path = key.bytes
            body.appendLittleEndian(UInt32(path.count))
            body.appendLittleEndian(entry.device)
            body.appendLittleEndian(entry.inode)
            body.appendLittleEndian(UInt64(bitPattern: entry.size))
            body.appendLittleEndian(UInt64(bitPattern: entry.modificationTime))
            body.appendLittleEndian(UInt64(bitPattern: entry.changeTime))
            body.appendLittleEndian(entry.digest.high)
            body.appendLittleEndian(entry.digest.low)
            body.appendLittleEndian(entry.lastUsedDay)
            body.append(contentsOf: path)
        }
        let checksum = XXH128Hasher.digest(of: body)
        var file = magic
        file.appendLittleEndian(UInt64(entries.count))
        file.appendLittleEndian(UInt64(body.count))
        file.appendLittleEndian(checksum.high)
        file.appendLittleEndian(checksum.low)
        return file + body
    }

    static func load(_ file: FilePath) throws -> [CachePath: Entry] {
        let bytes: [UInt8]
        do {
            bytes = try FileSystem.readAll(file)
        } catch let error as FileSystemError where error.code == .notFound {
            return [:]
        }
        func damaged(_ reason: String) -> FileSystemError {
            FileSystemError(.damaged, operation: "use hash cache", path: displayPath(file),
                            detail: "\(reason); it is ignored and will be rebuilt")
        }
        guard bytes.count >= headerSize, Array(bytes[0..<8]) == magic else { throw damaged("it is not a Buildcat hash cache (bad header)") }
        var reader = LittleEndianReader(bytes: bytes, offset: 8)
        let count = Int(truncatingIfNeeded: reader.uint64()!)
        let bodyLength = Int(truncatingIfNeeded: reader.uint64()!)
        let checksum = XXH128Digest(high: reader.uint64()!, low: reader.uint64()!)
        guard bodyLength == bytes.count - headerSize else { throw damaged("its length is wrong (truncated or extended)") }
        let actual = bytes.withUnsafeBytes { XXH128Hasher.digest(of: UnsafeRawBufferPointer(rebasing: $0[headerSize...])) }
        guard actual == checksum else { throw damaged("its checksum does not match its contents") }
        var entries: [CachePath: Entry] = [:]
        entries.reserveCapacity(min(count, bodyLength / entryFixedSize))
        for _ in 0..<count {
            guard let pathLength = reader.uint32(),
                  let device = reader.uint64(), let inode = reader.uint64(),
                  let size = reader.uint64(), let mtime = reader.uint64(), let ctime = reader.uint64(),
                  let high = reader.uint64(), let low = reader.uint64(), let day = reader.uint32(),
                  let path = reader.bytes(Int(pathLength))
            else { throw damaged("an entry runs past the end") }
            entries[CachePath(path)] = Entry(
                device: device, inode: inode, size: Int64(bitPattern: size),
                modificationTime: Int64(bitPattern: mtime), changeTime: Int64(bitPattern: ctime),
                digest: XXH128Digest(high: high, low: low), lastUsedDay: day)
        }
        guard reader.isAtEnd else { throw damaged("it has bytes after its last entry") }
        return entries
    }

    static func today() -> UInt32 {
        UInt32(clamping: max(0, wallClockNanoseconds() / 86_400_000_000_000))
    }
}

extension [UInt8] {
    mutating func appendLittleEndian<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }
}

/// Reads little-endian integers and byte runs from a buffer, answering nil past its end.
struct LittleEndianReader {
    let bytes: [UInt8]
    var offset: Int

    var isAtEnd: Bool { offset == bytes.count }

    mutating func uint64() -> UInt64? { integer() }
    mutating func uint32() -> UInt32? { integer() }

    mutating func bytes(_ count: Int) -> [UInt8]? {
        guard count >= 0, bytes.count - offset >= count else { return nil }
        defer { offset += count }
        return Array(bytes[offset..<offset + count])
    }

    private mutating func integer<T: FixedWidthInteger>() -> T? {
        let size = MemoryLayout<T>.size
        guard bytes.count - offset >= size else { return nil }
        var value: T = 0
        for index in 0..<size { value |= T(bytes[offset + index]) << (8 * index) }
        offset += size
        return value
    }
}

/// A path as the cache's key: compared byte for byte, hashed with XXH3-64 in one call (Swift's
/// `Hasher` takes an array of bytes one byte at a time, which was a tenth of re-verifying a
/// 10,000-file checkout).
struct CachePath: Hashable, Sendable {
    let bytes: [UInt8]

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    func hash(into hasher: inout Hasher) {
        hasher.combine(bytes.withUnsafeBytes { buildcat_xxh3_64($0.baseAddress, $0.count, 0) })
    }

    static func == (a: CachePath, b: CachePath) -> Bool { a.bytes == b.bytes }
}
