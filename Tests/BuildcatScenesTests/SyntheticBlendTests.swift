import BuildcatBasics
@testable import BuildcatScenes
import BuildcatTestSupport
import SystemPackage
import Testing

/// Layouts Debian's Blender does not write: 4-byte pointers, big-endian files, and Blender 5's
/// 17-byte header with 32-byte block headers, built byte by byte from the format's rules.
@Suite struct SyntheticBlendTests {
    struct Layout: CustomStringConvertible, Sendable {
        var pointerSize: Int
        var littleEndian: Bool
        var formatVersion: Int
        var description: String { "\(pointerSize * 8)-bit \(littleEndian ? "little" : "big")-endian, format \(formatVersion)" }
    }

    /// A .blend with one Image struct per path: `ID id; char name[1024]; short source;
    /// PackedFile *packedfile`, described by a DNA1 block of its own.
    static func build(_ layout: Layout, images: [(name: String, path: String, packed: Bool)]) -> [UInt8] {
        var out: [UInt8] = []
        func integer(_ value: UInt64, _ size: Int) {
            for index in 0..<size {
                let shift = layout.littleEndian ? 8 * index : 8 * (size - 1 - index)
                out.append(UInt8(truncatingIfNeeded: value >> UInt64(shift)))
            }
        }
        func text(_ string: String) { out += Array(string.utf8) }
        func padded(_ bytes: [UInt8], _ size: Int) -> [UInt8] { bytes + [UInt8](repeating: 0, count: size - bytes.count) }
        let pointer = layout.pointerSize
        let idSize = 2 * pointer + 66
        let imageSize = idSize + 1024 + 2 + pointer

        func blockHeader(_ code: String, length: Int, address: UInt64, sdna: Int, count: Int) {
            text(String(code.prefix(4)))
            out += [UInt8](repeating: 0, count: 4 - min(4, code.utf8.count))
            if layout.formatVersion == 1 {
                integer(UInt64(sdna), 4)
                integer(address, 8)
                integer(UInt64(length), 8)
                integer(UInt64(count), 8)
            } else {
                integer(UInt64(length), 4)
                integer(address, pointer)
                integer(UInt64(sdna), 4)
                integer(UInt64(count), 4)
            }
        }

        text("BLENDER")
        if layout.formatVersion == 1 {
            text("17-01" + (layout.littleEndian ? "v" : "V") + "0500")
        } else {
            text((pointer == 8 ? "-" : "_") + (layout.littleEndian ? "v" : "V") + "304")
        }
        for (index, image) in images.enumerated() {
            var data: [UInt8] = []
            let saved = out
            out = []
            integer(0, pointer)
            integer(0, pointer)
            data += out + padded(Array(("IM" + image.name).utf8), 66)
            out = []
            integer(1, 2)  // source: 1, a single file
            let source = out
            out = []
            integer(image.packed ? 0xBEEF : 0, pointer)
            let packed = out
            data += padded(Array(image.path.utf8), 1024) + source + packed
            out = saved
            blockHeader("IM", length: data.count, address: UInt64(0x1000 + index * 0x800), sdna: 1, count: 1)
            out += data
        }
        // DNA1: NAME, TYPE, TLEN, STRC, each section 4-byte aligned.
        var dna: [UInt8] = []
        let saved = out
        out = []
        func align() { while out.count % 4 != 0 { out.append(0) } }
        text("SDNANAME")
        let names = ["*next", "*prev", "name[66]", "id", "name[1024]", "source", "*packedfile"]
        integer(UInt64(names.count), 4)
        for name in names { text(name); out.append(0) }
        align()
        text("TYPE")
        let types = ["char", "short", "int", "ID", "Image", "PackedFile", "void"]
        integer(UInt64(types.count), 4)
        for type in types { text(type); out.append(0) }
        align()
        text("TLEN")
        for length in [1, 2, 4, idSize, imageSize, 16, 0] { integer(UInt64(length), 2) }
        align()
        text("STRC")
        integer(2, 4)
        // struct ID { void *next, *prev; char name[66]; }
        for value in [3, 3, 6, 0, 6, 1, 0, 2] { integer(UInt64(value), 2) }
        // struct Image { ID id; char name[1024]; short source; PackedFile *packedfile; }
        for value in [4, 4, 3, 3, 0, 4, 1, 5, 5, 6] { integer(UInt64(value), 2) }
        dna = out
        out = saved
        blockHeader("DNA1", length: dna.count, address: 0, sdna: 0, count: 1)
        out += dna
        blockHeader("ENDB", length: 0, address: 0, sdna: 0, count: 0)
        return out
    }

    static let layouts = [
        Layout(pointerSize: 8, littleEndian: true, formatVersion: 0),
        Layout(pointerSize: 4, littleEndian: true, formatVersion: 0),
        Layout(pointerSize: 8, littleEndian: false, formatVersion: 0),
        Layout(pointerSize: 4, littleEndian: false, formatVersion: 0),
        Layout(pointerSize: 8, littleEndian: true, formatVersion: 1),
        Layout(pointerSize: 8, littleEndian: false, formatVersion: 1),
    ]

    @Test(arguments: layouts)
    func everyLayoutReadsTheSamePaths(layout: Layout) throws {
        let directory = TemporaryDirectory()
        let scene = directory("synthetic.blend")
        try writeFile(scene, Self.build(layout, images: [
            ("wood", "//textures/wood.png", false), ("abs", "/mnt/farm/plate.exr", false), ("inside", "//packed.png", true),
        ]))
        let file = try BlendFile(path: scene)
        #expect(file.header.pointerSize == layout.pointerSize)
        #expect(file.header.isLittleEndian == layout.littleEndian)
        #expect(file.header.version == (layout.formatVersion == 1 ? 500 : 304))
        let result = try SceneScanner().scan([scene])
        #expect(result.references.map { String(decoding: $0.raw, as: UTF8.self) } == ["//textures/wood.png", "/mnt/farm/plate.exr"])
        #expect(result.references.map(\.block) == ["IM wood", "IM abs"])
        #expect(result.references[0].resolved == directory.path.appending("textures/wood.png"))

        // Rewriting works the same in every layout.
        try BlendRewriter.rewrite(scene, changes: [ReferenceChange(result.references[0], to: Array("//t/w.png".utf8))], to: directory("out.blend"))
        #expect(try SceneScanner().scan([directory("out.blend")]).references[0].raw == Array("//t/w.png".utf8))
    }
}
