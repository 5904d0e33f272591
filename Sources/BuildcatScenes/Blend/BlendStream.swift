import BuildcatBasics
import CZlib
import CZstd
import Glibc
import SystemPackage

/// How a .blend file's bytes are stored on disk.
public enum BlendCompression: String, Sendable {
    case none
    /// Blender before 3.0 ("Compress" in the save options).
    case gzip
    /// Blender 3.0 and later.
    case zstd

    /// Recognises the compression from a file's first bytes.
    static func detect(_ magic: [UInt8]) -> BlendCompression? {
        if magic.starts(with: Array("BLENDER".utf8)) { return BlendCompression.none }
        if magic.starts(with: [0x1F, 0x8B]) { return .gzip }
        if magic.starts(with: [0x28, 0xB5, 0x2F, 0xFD]) { return .zstd }
        return nil
    }
}

/// Reads a .blend's uncompressed bytes front to back, whatever the compression.
///
/// Errors are `SceneError`s naming the file: a stream that ends early says it is truncated.
class BlendStream {
    let path: FilePath
    let descriptor: FileDescriptor
    /// How many uncompressed bytes have been consumed.
    fileprivate(set) var position: Int64 = 0

    init(path: FilePath, descriptor: FileDescriptor) {
        self.path = path
        self.descriptor = descriptor
    }

    deinit { try? descriptor.close() }

    /// Opens a .blend file, recognising its compression from its first bytes.
    static func open(_ path: FilePath) throws -> BlendStream {
        let descriptor = try FileSystem.openForReading(path)
        do {
            let status = try FileSystem.status(of: descriptor, path: path)
            guard status.isRegularFile else {
                throw SceneError(scene: displayPath(path), reason: "it is a \(status.kindDescription), not a file")
            }
            var magic = [UInt8](repeating: 0, count: 8)
            let count = try magic.withUnsafeMutableBytes { try FileSystem.read(descriptor, into: $0, path: path) }
            _ = try descriptor.seek(offset: 0, from: .start)
            switch BlendCompression.detect(Array(magic[..<count])) {
            case .none?: return PlainBlendStream(path: path, descriptor: descriptor, size: status.size)
            case .gzip?: return try GzipBlendStream(gzip: path, descriptor: descriptor)
            case .zstd?: return try ZstdBlendStream(zstd: path, descriptor: descriptor)
            case nil: throw SceneError(scene: displayPath(path), reason: "it is not a .blend file (no BLENDER header, and not gzip or zstd)")
            }
        } catch {
            try? descriptor.close()
            throw error
        }
    }

    var compression: BlendCompression { .none }

    /// Reads exactly `count` bytes.
    func read(_ count: Int) throws -> [UInt8] {
        var bytes = [UInt8]()
        bytes.reserveCapacity(min(count, 1 << 20))  // grow with the data, not with a claimed length
        try consume(Int64(count)) { bytes.append(contentsOf: $0) }
        return bytes
    }

    /// Skips `count` bytes.
    func skip(_ count: Int64) throws {
        try consume(count) { _ in }
    }

    /// Hands the next `count` bytes to `body` in pieces; throws if the stream ends first.
    func consume(_ count: Int64, _ body: (UnsafeRawBufferPointer) -> Void) throws {
        var remaining = count
        while remaining > 0 {
            let got = try pull(max: Int(min(remaining, 1 << 20)), body)
            if got == 0 { throw truncated() }
            remaining -= Int64(got)
            position += Int64(got)
        }
    }

    /// Whether the stream has no more bytes.
    func atEnd() throws -> Bool { fatalError("overridden") }

    /// Delivers up to `max` bytes from `position` on to `body`; returns how many (0 at the end).
    func pull(max: Int, _ body: (UnsafeRawBufferPointer) -> Void) throws -> Int { fatalError("overridden") }

    func fail(_ reason: String) -> SceneError { SceneError(scene: displayPath(path), reason: reason) }

    func truncated() -> SceneError { fail("it is truncated: it ends at byte \(position) in the middle of a block") }
}

/// An uncompressed file: reads go to the file through a read-ahead window (block headers are
/// small and many), and skips cost nothing.
final class PlainBlendStream: BlendStream {
    private var buffer = [UInt8](repeating: 0, count: 1 << 16)
    /// The file offset of `buffer`'s first byte, and how many bytes of it are valid.
    private var bufferStart: Int64 = 0
    private var bufferCount = 0
    let size: Int64

    init(path: FilePath, descriptor: FileDescriptor, size: Int64) {
        self.size = size
        super.init(path: path, descriptor: descriptor)
    }

    override func skip(_ count: Int64) throws {
        guard count >= 0, count <= size - position else { throw truncated() }
        position += count
    }

    override func atEnd() throws -> Bool { position >= size }

    override func pull(max: Int, _ body: (UnsafeRawBufferPointer) -> Void) throws -> Int {
        let start = position
        if start < bufferStart || start >= bufferStart + Int64(bufferCount) {
            if try fillWindow(at: start) == 0 { return 0 }
        }
        let from = Int(start - bufferStart)
        let count = min(max, bufferCount - from)
        buffer.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[from..<from + count])) }
        return count
    }

    /// Refills the read-ahead window from `start`; returns how many bytes it holds.
    private func fillWindow(at start: Int64) throws -> Int {
        let count = try buffer.withUnsafeMutableBytes { raw -> Int in
            let result = pread(descriptor.rawValue, raw.baseAddress, raw.count, off_t(start))
            guard result >= 0 else { throw FileSystemError(operation: "read", path: path, errno: currentErrno()) }
            return result
        }
        bufferStart = start
        bufferCount = count
        return count
    }

    /// Reads `count` bytes at an absolute offset, for a second pass that fetches only the
    /// blocks it needs.
    func read(at start: Int64, count: Int) throws -> [UInt8] {
        guard start >= 0, count >= 0, count <= size - start else {
            throw fail("a block at byte \(start) of \(count) bytes runs past the end of the file")
        }
        // Small reads go through the read-ahead window: the blocks a scan wants (IDs, small
        // structs) sit close together, so one read serves many.
        if count <= buffer.count / 4 {
            if start < bufferStart || start + Int64(count) > bufferStart + Int64(bufferCount) {
                let filled = try fillWindow(at: start)
                guard filled >= count else { throw fail("it is truncated at byte \(start + Int64(filled))") }
            }
            let from = Int(start - bufferStart)
            return Array(buffer[from..<from + count])
        }
        var bytes = [UInt8](repeating: 0, count: count)
        var filled = 0
        while filled < count {
            let result = bytes.withUnsafeMutableBytes { pread(descriptor.rawValue, $0.baseAddress! + filled, count - filled, off_t(start) + off_t(filled)) }
            guard result > 0 else {
                if result == 0 { throw fail("it is truncated at byte \(start + Int64(filled))") }
                throw FileSystemError(operation: "read", path: path, errno: currentErrno())
            }
            filled += result
        }
        return bytes
    }
}

/// A compressed file: decompressed in memory-bounded pieces as it is read.
class DecompressingBlendStream: BlendStream {
    /// Compressed bytes read from the file and not yet decompressed.
    var input = [UInt8](repeating: 0, count: 1 << 17)
    var inputStart = 0
    var inputEnd = 0
    var inputExhausted = false
    /// Decompressed bytes not yet delivered.
    var output = [UInt8](repeating: 0, count: 1 << 18)
    var outputStart = 0
    var outputEnd = 0
    var finished = false

    /// Refills `input` from the file when it is empty.
    func refillInput() throws {
        guard inputStart == inputEnd, !inputExhausted else { return }
        let count = try input.withUnsafeMutableBytes { try FileSystem.read(descriptor, into: $0, path: path) }
        inputStart = 0
        inputEnd = count
        if count == 0 { inputExhausted = true }
    }

    /// Decompresses more into `output` (which is empty when called); sets `finished` at the end.
    func decompressMore() throws { fatalError("overridden") }

    /// How far the file may expand: Blender's files compress a few times, never a hundred, so
    /// more is a decompression bomb that would fill the disk with its temporary copy.
    lazy var expansionLimit: Int64 = {
        var raw = stat()
        let compressed = fstat(descriptor.rawValue, &raw) == 0 ? Int64(raw.st_size) : 0
        return max(256 << 20, compressed * 100)
    }()
    private var expanded: Int64 = 0

    override func atEnd() throws -> Bool {
        while outputStart == outputEnd && !finished {
            try decompressMore()
            expanded += Int64(outputEnd)
            if expanded > expansionLimit {
                throw fail("it decompresses to more than \(expansionLimit) bytes, over 100 times its size; Blender never writes such files")
            }
        }
        return outputStart == outputEnd
    }

    override func pull(max: Int, _ body: (UnsafeRawBufferPointer) -> Void) throws -> Int {
        if try atEnd() { return 0 }
        let count = min(max, outputEnd - outputStart)
        output.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[outputStart..<outputStart + count])) }
        outputStart += count
        return count
    }
}

final class GzipBlendStream: DecompressingBlendStream {
    private var stream = z_stream()

    override var compression: BlendCompression { .gzip }

    init(gzip path: FilePath, descriptor: FileDescriptor) throws {
        super.init(path: path, descriptor: descriptor)
        // 16 + MAX_WBITS: expect a gzip header.
        guard inflateInit2_(&stream, 16 + MAX_WBITS, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw fail("zlib could not start decompressing")
        }
    }

    deinit { inflateEnd(&stream) }

    override func decompressMore() throws {
        outputStart = 0
        outputEnd = 0
        while outputEnd == 0 && !finished {
            try refillInput()
            let available = inputEnd - inputStart
            if available == 0 && inputExhausted {
                throw fail("the gzip stream is truncated")
            }
            let result = input.withUnsafeMutableBufferPointer { inputBuffer in
                output.withUnsafeMutableBufferPointer { outputBuffer -> Int32 in
                    stream.next_in = inputBuffer.baseAddress! + inputStart
                    stream.avail_in = UInt32(available)
                    stream.next_out = outputBuffer.baseAddress!
                    stream.avail_out = UInt32(outputBuffer.count)
                    return inflate(&stream, Z_NO_FLUSH)
                }
            }
            inputStart = inputEnd - Int(stream.avail_in)
            outputEnd = output.count - Int(stream.avail_out)
            switch result {
            case Z_STREAM_END: finished = true
            case Z_OK, Z_BUF_ERROR: break
            default: throw fail("the gzip data is corrupt (zlib error \(result))")
            }
        }
    }
}

final class ZstdBlendStream: DecompressingBlendStream {
    private let context: OpaquePointer

    override var compression: BlendCompression { .zstd }

    init(zstd path: FilePath, descriptor: FileDescriptor) throws {
        guard let context = ZSTD_createDCtx() else { throw SceneError(scene: displayPath(path), reason: "zstd could not start decompressing") }
        // A decompression window larger than 128 MiB is refused: Blender writes far smaller ones,
        // and a hostile file must not make us allocate gigabytes.
        ZSTD_DCtx_setParameter(context, ZSTD_d_windowLogMax, 27)
        self.context = context
        super.init(path: path, descriptor: descriptor)
    }

    deinit { ZSTD_freeDCtx(context) }

    override func decompressMore() throws {
        outputStart = 0
        outputEnd = 0
        while outputEnd == 0 && !finished {
            try refillInput()
            if inputStart == inputEnd && inputExhausted {
                finished = true  // every frame ended cleanly (a frame cut short is caught below)
                if lastFrameIncomplete { throw fail("the zstd stream is truncated") }
                break
            }
            var inBuffer = ZSTD_inBuffer()
            var outBuffer = ZSTD_outBuffer()
            let hint = input.withUnsafeMutableBytes { inputRaw in
                output.withUnsafeMutableBytes { outputRaw -> Int in
                    inBuffer = ZSTD_inBuffer(src: inputRaw.baseAddress! + inputStart, size: inputEnd - inputStart, pos: 0)
                    outBuffer = ZSTD_outBuffer(dst: outputRaw.baseAddress!, size: outputRaw.count, pos: 0)
                    return ZSTD_decompressStream(context, &outBuffer, &inBuffer)
                }
            }
            if ZSTD_isError(hint) != 0 {
                throw fail("the zstd data is corrupt (\(String(cString: ZSTD_getErrorName(hint))))")
            }
            lastFrameIncomplete = hint != 0
            inputStart += inBuffer.pos
            outputEnd = outBuffer.pos
        }
    }

    private var lastFrameIncomplete = false
}
