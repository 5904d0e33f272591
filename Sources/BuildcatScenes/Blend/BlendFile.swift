import BuildcatBasics
import CBuildcatLinux
import Glibc
import Synchronization
import SystemPackage

/// The first bytes of a .blend: pointer size, byte order, Blender version and header layout.
public struct BlendHeader: Sendable, Equatable {
    public var pointerSize: Int
    public var isLittleEndian: Bool
    /// Blender's version as three digits: 304 for 3.4, 500 for 5.0.
    public var version: Int
    /// 0: the classic 12-byte header (`BLENDER-v304`); 1: Blender 5's 17-byte header
    /// (`BLENDER17-01v0500`) with 32-byte block headers.
    public var formatVersion: Int
    public var size: Int

    var blockHeaderSize: Int { formatVersion >= 1 ? 32 : (pointerSize == 8 ? 24 : 20) }

    static func parse(_ bytes: [UInt8]) -> BlendHeader? {
        guard bytes.count >= 12, bytes.starts(with: Array("BLENDER".utf8)) else { return nil }
        func digits(_ range: Range<Int>) -> Int? {
            guard range.upperBound <= bytes.count, bytes[range].allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
            return Int(String(decoding: bytes[range], as: UTF8.self))
        }
        func endian(_ byte: UInt8) -> Bool? { byte == UInt8(ascii: "v") ? true : byte == UInt8(ascii: "V") ? false : nil }
        if bytes[7] == UInt8(ascii: "-") || bytes[7] == UInt8(ascii: "_") {
            guard let little = endian(bytes[8]), let version = digits(9..<12) else { return nil }
            return BlendHeader(pointerSize: bytes[7] == UInt8(ascii: "-") ? 8 : 4, isLittleEndian: little, version: version, formatVersion: 0, size: 12)
        }
        // BLENDER17-01v0500: header size, '-', format version, byte order, Blender version.
        guard let headerSize = digits(7..<9), headerSize == 17, bytes.count >= 17, bytes[9] == UInt8(ascii: "-"),
              let format = digits(10..<12), format == 1, let little = endian(bytes[12]), let version = digits(13..<17)
        else { return nil }
        return BlendHeader(pointerSize: 8, isLittleEndian: little, version: version, formatVersion: format, size: 17)
    }
}

/// One block of a .blend: a header naming what it holds, and where its data is.
public struct BlendBlock: Sendable {
    /// The block code: a two-letter ID code (`IM`, `LI`, `OB`…) padded with NULs, or `DATA`,
    /// `DNA1`, `ENDB`, `GLOB`, `REND`, `TEST`.
    public var code: UInt32
    public var sdnaIndex: Int
    /// The address the data had in memory when saved; pointers in other blocks refer to it.
    public var oldAddress: UInt64
    public var length: Int64
    public var count: Int64
    /// Where the block's data starts in the uncompressed file.
    public var offset: Int64
    /// The index of the ID block this block belongs to (itself for an ID block); `DATA` blocks
    /// follow their ID and their addresses are only unique within it.
    public var owner: Int

    public var codeString: String {
        let bytes = Swift.withUnsafeBytes(of: code.littleEndian) { Array($0) }.prefix { $0 != 0 }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func code(_ text: String) -> UInt32 {
        var value: UInt32 = 0
        for (index, byte) in text.utf8.prefix(4).enumerated() { value |= UInt32(byte) << (8 * index) }
        return value
    }

    static let data = code("DATA")
    static let dna = code("DNA1")
    static let end = code("ENDB")

    /// Whether this is an ID block (a data-block a user sees: image, object, library…).
    var isID: Bool {
        let low = code & 0xFFFF
        return code >> 16 == 0 && low != 0 && code != Self.data
    }
}

/// A .blend file opened for reading: its header, its SDNA, and an index of its blocks.
///
/// Opening reads every block header but only the `DNA1` block's data; other blocks are read
/// when asked for, so a large file with few paths costs little memory. A compressed file is
/// decompressed once, as it is indexed, into an unnamed temporary file, and read from there.
public final class BlendFile {
    public let path: FilePath
    public let header: BlendHeader
    public let sdna: SDNA
    public let blocks: [BlendBlock]
    public let compression: BlendCompression
    /// The uncompressed bytes: the file itself, or its decompressed copy.
    let storage: PlainBlendStream
    private var addressIndex: [UInt64: [Int]] = [:]
    var pointerOffsetCache: [String: [(offset: Int, depth: Int)]] = [:]

    /// The largest `DNA1` block accepted: real ones are well under a megabyte.
    static let maximumSDNASize = 64 << 20

    public init(path: FilePath) throws {
        self.path = path
        let stream = try BlendStream.open(path)
        compression = stream.compression
        var copy: TemporaryCopy?
        if stream.compression != .none { copy = try TemporaryCopy(for: path) }
        func take(_ count: Int) throws -> [UInt8] {
            let bytes = try stream.read(count)
            try copy?.append(bytes)
            return bytes
        }
        func pass(_ count: Int64) throws {
            if let copy {
                try stream.consume(count) { chunk in copy.appendIgnoringErrors(chunk) }
                try copy.checkErrors()
            } else {
                try stream.skip(count)
            }
        }
        let scene = displayPath(path)
        var headerBytes = try take(12)
        if headerBytes.count >= 9, headerBytes[7] == UInt8(ascii: "1") { headerBytes += try take(5) }
        guard let header = BlendHeader.parse(headerBytes) else {
            throw SceneError(scene: scene, reason: "it has a BLENDER header this reader does not know: \(displayBytes(headerBytes))")
        }
        self.header = header

        var blocks: [BlendBlock] = []
        var dnaBytes: [UInt8]?
        var owner = -1
        while true {
            if try stream.atEnd() {
                throw SceneError(scene: scene, reason: "it is truncated: it ends at byte \(stream.position) without an ENDB block")
            }
            let raw = try take(header.blockHeaderSize)
            let block = try Self.parseBlockHeader(raw, header: header, offset: stream.position, owner: &owner, index: blocks.count, scene: scene)
            if block.code == BlendBlock.end {
                // A compressed stream must also end cleanly: a cut in its last frames is damage
                // even when every block arrived.
                if stream.compression != .none { while try !stream.atEnd() { _ = try stream.pull(max: 1 << 20) { _ in } } }
                break
            }
            if block.code == BlendBlock.dna {
                guard block.length <= Self.maximumSDNASize else {
                    throw SceneError(scene: scene, reason: "its DNA1 block claims \(block.length) bytes, far more than any Blender writes")
                }
                dnaBytes = try take(Int(block.length))
            } else {
                try pass(block.length)
            }
            blocks.append(block)
        }
        guard let dnaBytes else { throw SceneError(scene: scene, reason: "it has no DNA1 block describing its structs") }
        do {
            sdna = try Self.parsedSDNA(dnaBytes, header: header)
        } catch {
            throw SceneError(scene: scene, reason: "its DNA1 block is malformed: \(error)")
        }
        self.blocks = blocks
        if let copy {
            storage = try copy.finish()
        } else {
            storage = stream as! PlainBlendStream
        }
        for (index, block) in blocks.enumerated() { addressIndex[block.oldAddress, default: []].append(index) }
    }

    /// SDNAs already parsed, by their bytes: every file a Blender version saves carries the
    /// same one, and a shot with fifty libraries should parse it once, not fifty times.
    private static let sdnaCache = Mutex<[SDNAKey: SDNA]>([:])

    private struct SDNAKey: Hashable, Sendable {
        var bytes: [UInt8]
        var pointerSize: Int
        var littleEndian: Bool

        /// Hashes a sample of the bytes: hashing all of a 300 KB block byte by byte cost more
        /// than the scan it saved. Equality still compares every byte.
        func hash(into hasher: inout Hasher) {
            hasher.combine(bytes.count)
            hasher.combine(pointerSize)
            let step = max(1, bytes.count / 64)
            for index in stride(from: 0, to: bytes.count, by: step) { hasher.combine(bytes[index]) }
        }
    }

    private static func parsedSDNA(_ bytes: [UInt8], header: BlendHeader) throws(SDNAError) -> SDNA {
        let key = SDNAKey(bytes: bytes, pointerSize: header.pointerSize, littleEndian: header.isLittleEndian)
        if let cached = sdnaCache.withLock({ $0[key] }) { return cached }
        let parsed = try SDNA(bytes, pointerSize: header.pointerSize, littleEndian: header.isLittleEndian)
        sdnaCache.withLock { cache in
            if cache.count >= 16 { cache.removeAll() }  // a handful of Blender versions at most
            cache[key] = parsed
        }
        return parsed
    }

    private static func parseBlockHeader(_ raw: [UInt8], header: BlendHeader, offset: Int64, owner: inout Int, index: Int, scene: String) throws -> BlendBlock {
        var reader = BlendReader(bytes: raw, littleEndian: header.isLittleEndian, pointerSize: header.pointerSize)
        let code = UInt32(littleEndian: raw.withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) })
        reader.offset = 4
        var block: BlendBlock
        if header.formatVersion >= 1 {
            let sdna = Int(reader.int32()!)
            let old = reader.uint64()!
            let length = Int64(bitPattern: reader.uint64()!)
            let count = Int64(bitPattern: reader.uint64()!)
            block = BlendBlock(code: code, sdnaIndex: sdna, oldAddress: old, length: length, count: count, offset: offset, owner: owner)
        } else {
            let length = Int64(reader.int32()!)
            let old = header.pointerSize == 8 ? reader.uint64()! : UInt64(reader.uint32()!)
            let sdna = Int(reader.int32()!)
            let count = Int64(reader.int32()!)
            block = BlendBlock(code: code, sdnaIndex: sdna, oldAddress: old, length: length, count: count, offset: offset, owner: owner)
        }
        guard code & 0xFF != 0 else {
            throw SceneError(scene: scene, reason: "the block at byte \(offset - Int64(raw.count)) has no code: this is not block data")
        }
        guard block.length >= 0, block.count >= 0 else {
            throw SceneError(scene: scene, reason: "the block at byte \(offset - Int64(raw.count)) has a negative length or count")
        }
        if block.isID {
            owner = index
            block.owner = index
        }
        return block
    }

    /// The struct a block holds, if its SDNA index names one.
    public func structOf(_ block: BlendBlock) -> SDNA.Struct? {
        sdna.structAt(block.sdnaIndex)
    }

    /// The data of a block.
    public func data(of block: BlendBlock) throws -> [UInt8] {
        guard block.length <= Int64(Int32.max) else {
            throw SceneError(scene: displayPath(path), reason: "a \(block.codeString) block claims \(block.length) bytes")
        }
        return try storage.read(at: block.offset, count: Int(block.length))
    }

    /// The block a pointer refers to: preferably one belonging to the same ID as `from`.
    public func block(at address: UInt64, from owner: Int) -> Int? {
        guard address != 0, let candidates = addressIndex[address] else { return nil }
        return candidates.first { blocks[$0].owner == owner } ?? candidates.first
    }

    /// A reader over one struct in a block's data.
    func reader(_ data: [UInt8]) -> BlendReader {
        BlendReader(bytes: data, littleEndian: header.isLittleEndian, pointerSize: header.pointerSize)
    }
}

/// Reads integers, pointers and C strings from a block's bytes, answering nil past the end.
struct BlendReader {
    let bytes: [UInt8]
    let littleEndian: Bool
    let pointerSize: Int
    var offset = 0

    mutating func uint64() -> UInt64? { integer(8).map { $0 } }
    mutating func uint32() -> UInt32? { integer(4).map { UInt32($0) } }
    mutating func int32() -> Int32? { integer(4).map { Int32(bitPattern: UInt32($0)) } }

    private mutating func integer(_ size: Int) -> UInt64? {
        guard let value = integer(at: offset, size: size) else { return nil }
        offset += size
        return value
    }

    func integer(at position: Int, size: Int) -> UInt64? {
        guard position >= 0, size <= 8, bytes.count - position >= size else { return nil }
        var value: UInt64 = 0
        for index in 0..<size {
            let byte = UInt64(bytes[position + index])
            value |= littleEndian ? byte << (8 * index) : byte << (8 * (size - 1 - index))
        }
        return value
    }

    func pointer(at position: Int) -> UInt64? { integer(at: position, size: pointerSize) }

    /// The NUL-terminated bytes of a char array field.
    func cString(at position: Int, capacity: Int) -> [UInt8]? {
        guard position >= 0, capacity >= 0, bytes.count - position >= capacity else { return nil }
        let field = bytes[position..<position + capacity]
        return Array(field.prefix { $0 != 0 })
    }
}

/// The decompressed bytes of a compressed .blend, in an unnamed temporary file.
private final class TemporaryCopy {
    let descriptor: FileDescriptor
    let source: FilePath
    private var size: Int64 = 0
    private var pendingError: (any Error)?

    init(for source: FilePath) throws {
        self.source = source
        let directory = FilePath(getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp")
        let fd = directory.withPlatformString { buildcat_open_tmpfile($0, 0o600) }
        guard fd >= 0 else {
            throw FileSystemError(operation: "create a temporary file to decompress '\(displayPath(source))' in", path: directory, errno: currentErrno())
        }
        descriptor = FileDescriptor(rawValue: fd)
    }

    func append(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try appendChunk($0) }
    }

    func appendIgnoringErrors(_ chunk: UnsafeRawBufferPointer) {
        guard pendingError == nil else { return }
        do { try appendChunk(chunk) } catch { pendingError = error }
    }

    func checkErrors() throws {
        if let pendingError { throw pendingError }
    }

    /// Bytes not yet written: block headers and small blocks come a few bytes at a time, and a
    /// write each would cost more than the decompression.
    private var pending: [UInt8] = []

    private func appendChunk(_ chunk: UnsafeRawBufferPointer) throws {
        size += Int64(chunk.count)
        if chunk.count >= 1 << 16 {
            try flush()
            try FileSystem.write(descriptor, chunk, path: temporaryName)
            return
        }
        pending.append(contentsOf: chunk)
        if pending.count >= 1 << 20 { try flush() }
    }

    private var temporaryName: FilePath { FilePath("(temporary copy of \(displayPath(source)))") }

    private func flush() throws {
        guard !pending.isEmpty else { return }
        try pending.withUnsafeBytes { try FileSystem.write(descriptor, $0, path: temporaryName) }
        pending.removeAll(keepingCapacity: true)
    }

    /// Hands the descriptor to a stream that reads the copy (and closes it).
    func finish() throws -> PlainBlendStream {
        try flush()
        finished = true
        return PlainBlendStream(path: source, descriptor: descriptor, size: size)
    }

    private var finished = false

    deinit {
        if !finished { try? descriptor.close() }
    }
}
