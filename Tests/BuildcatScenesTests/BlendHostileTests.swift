import BuildcatBasics
@testable import BuildcatScenes
import BuildcatTestSupport
import CZstd
import SystemPackage
import Testing

/// Broken and hostile .blend files: a clear error naming the file, never a crash or a hang.
@Suite struct BlendHostileTests {
    static let fixtures = BlendScanTests.fixtures

    /// Opens and scans a file; returns what the error says, or nil if the file was read.
    static func scanError(_ path: FilePath) -> String? {
        do {
            _ = try SceneScanner().scan([path])
            return nil
        } catch {
            return "\(error)"
        }
    }

    @Test func truncatedAtEveryBlockBoundaryIsAnErrorNamingTheFile() throws {
        let directory = TemporaryDirectory()
        let source = Self.fixtures.appending("basic.blend")
        let bytes = try FileSystem.readAll(source)
        let file = try BlendFile(path: source)
        // Cut at each block header, and inside each block's header and data.
        var cuts: Set<Int> = [0, 5, 11]
        for block in file.blocks {
            let start = Int(block.offset) - file.header.blockHeaderSize
            cuts.formUnion([start, start + 7, Int(block.offset) + Int(block.length) / 2])
        }
        let target = directory("cut.blend")
        for cut in cuts.sorted() where cut < bytes.count {
            try writeFile(target, Array(bytes[..<cut]))
            let error = Self.scanError(target)
            #expect(error != nil, "a file cut at \(cut) of \(bytes.count) bytes was accepted")
            #expect((error ?? "").contains("cut.blend"))
        }
    }

    @Test(arguments: ["compressed.blend", "basic-gzip.blend"])
    func aTruncatedCompressedFileIsAnError(scene: String) throws {
        let directory = TemporaryDirectory()
        let bytes = try FileSystem.readAll(Self.fixtures.appending(scene))
        for fraction in [0.1, 0.5, 0.9, 0.999] {
            try writeFile(directory("cut.blend"), Array(bytes[..<Int(Double(bytes.count) * fraction)]))
            let error = Self.scanError(directory("cut.blend"))
            #expect(error?.contains("cut.blend") == true, "\(scene) cut at \(fraction): \(error ?? "accepted")")
        }
    }

    /// Bytes flipped all over the file: whatever it reads or refuses, it must not crash, and
    /// what it refuses it names.
    @Test func flippedBytesNeverCrash() throws {
        let directory = TemporaryDirectory()
        let bytes = try FileSystem.readAll(Self.fixtures.appending("basic.blend"))
        var generator = SplitMix(seed: 42)
        for round in 0..<300 {
            var damaged = bytes
            for _ in 0..<(1 + round % 8) {
                let position = Int(generator.next() % UInt64(damaged.count))
                damaged[position] ^= UInt8(truncatingIfNeeded: generator.next() | 1)
            }
            try writeFile(directory("flipped.blend"), damaged)
            if let error = Self.scanError(directory("flipped.blend")) {
                #expect(error.contains("flipped.blend"))
            }
        }
    }

    @Test func aBlockLongerThanTheFileIsRefused() throws {
        let directory = TemporaryDirectory()
        var bytes = try FileSystem.readAll(Self.fixtures.appending("basic.blend"))
        // The first block's length field (bytes 4–7 of its header, just after the 12-byte header).
        bytes.replaceSubrange(16..<20, with: [0xFF, 0xFF, 0xFF, 0x7F])
        try writeFile(directory("long.blend"), bytes)
        let error = Self.scanError(directory("long.blend"))
        #expect((error ?? "").contains("truncated"))
    }

    @Test func absurdSDNACountsAreRefusedWithoutAllocatingThem() throws {
        let directory = TemporaryDirectory()
        let source = Self.fixtures.appending("basic.blend")
        var bytes = try FileSystem.readAll(source)
        let file = try BlendFile(path: source)
        let dna = try #require(file.blocks.first { $0.code == BlendBlock.dna })
        // The NAME count follows "SDNA" "NAME".
        let countOffset = Int(dna.offset) + 8
        bytes.replaceSubrange(countOffset..<countOffset + 4, with: [0xFF, 0xFF, 0xFF, 0x7F])
        try writeFile(directory("sdna.blend"), bytes)
        let error = Self.scanError(directory("sdna.blend"))
        #expect((error ?? "").contains("DNA1"))
    }

    /// A tiny zstd file that claims one enormous block of zeros: refused once it expands past
    /// a hundred times its size, before it fills the disk with its decompressed copy.
    @Test func aDecompressionBombIsRefused() throws {
        let directory = TemporaryDirectory()
        var plain = Array("BLENDER-v304".utf8)
        plain += Array("DATA".utf8) + [0x00, 0x00, 0x00, 0x30] + [UInt8](repeating: 0, count: 16)  // 768 MiB of data
        let context = try #require(ZSTD_createCCtx())
        defer { ZSTD_freeCCtx(context) }
        var compressed = [UInt8](repeating: 0, count: 1 << 20)
        var written = 0
        func compress(_ input: [UInt8], end: Bool) {
            input.withUnsafeBytes { raw in
                var inBuffer = ZSTD_inBuffer(src: raw.baseAddress, size: raw.count, pos: 0)
                repeat {
                    compressed.withUnsafeMutableBytes { out in
                        var outBuffer = ZSTD_outBuffer(dst: out.baseAddress! + written, size: out.count - written, pos: 0)
                        _ = ZSTD_compressStream2(context, &outBuffer, &inBuffer, end ? ZSTD_e_end : ZSTD_e_continue)
                        written += outBuffer.pos
                    }
                } while inBuffer.pos < inBuffer.size
            }
        }
        compress(plain, end: false)
        let zeros = [UInt8](repeating: 0, count: 1 << 20)
        for _ in 0..<400 { compress(zeros, end: false) }
        compress([], end: true)
        try writeFile(directory("bomb.blend"), Array(compressed[..<written]))
        let error = Self.scanError(directory("bomb.blend"))
        #expect(error?.contains("bomb.blend") == true)
        #expect(error?.contains("decompresses to more than") == true, "\(error ?? "accepted")")
    }

    @Test func notABlendFileIsSaidSo() throws {
        let directory = TemporaryDirectory()
        try writeFile(directory("text.blend"), "just some text")
        #expect((Self.scanError(directory("text.blend")) ?? "").contains("not a .blend file"))
        try writeFile(directory("empty.blend"), [])
        #expect(Self.scanError(directory("empty.blend")) != nil)
    }
}

/// A small deterministic random generator, so a failing round can be repeated.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
