import BuildcatBasics
@testable import BuildcatScenes
import BuildcatTestSupport
import Foundation
import Glibc
import SystemPackage
import Testing

/// USD layers against what USD itself says (usd-core's UsdUtils.ComputeAllDependencies,
/// recorded by tools/fixtures/make_usd.py beside the fixture).
@Suite struct USDTests {
    static let fixtures = FilePath(TestEnvironment.packageRoot).appending("fixtures/usd")

    struct Record: Decodable {
        var layers: [String]
        var assets: [String]
        var unresolved: [String]
    }

    static func record() throws -> Record {
        try JSONDecoder().decode(Record.self, from: Data(contentsOf: URL(fileURLWithPath: fixtures.appending("shot.usda.dependencies.json").string)))
    }

    func relative(_ path: FilePath) -> String {
        String(path.string.dropFirst(Self.fixtures.string.count + 1))
    }

    @Test func findsWhatUSDFindsLayersAssetsAndWhatIsMissing() throws {
        let record = try Self.record()
        let result = try SceneScanner().scan([Self.fixtures.appending("shot.usda")])
        let scenes = Set(result.scenes.map { relative($0.path) })
        let files = Set(result.assets.map { relative($0.file.path) })
        // USD lists the root layer and the usdz package among its layers; we list the package as
        // a file the shot uses, and every layer we read as a scene.
        #expect(scenes.union(files) == Set(record.layers + record.assets))
        #expect(scenes == Set(record.layers.filter { !$0.hasSuffix(".usdz") }))
        #expect(Set(result.missing.map { relative(result.references[$0].resolved) }) == Set(record.unresolved))
        // Nothing from a string, a doc string or a comment.
        #expect(!result.references.contains { $0.raw.count > 0 && String(decoding: $0.raw, as: UTF8.self).contains("not_in_") })
        #expect(!result.references.contains { String(decoding: $0.raw, as: UTF8.self).contains("in_a_string") })
        // Composition arcs are layers; attributes are assets.
        let kinds = Dictionary(result.references.map { (String(decoding: $0.raw, as: UTF8.self), $0.kind) }, uniquingKeysWith: { a, _ in a })
        #expect(kinds["./layers/anim.usda"] == .layer)
        #expect(kinds["./clips/manifest.usda"] == .layer)
        #expect(kinds["./assets/package.usdz"] == .layer)
        #expect(kinds["./textures/wood.png"] == .asset)
        #expect(kinds["./textures/we@ird.png"] == .asset)
        #expect(result.references.first { $0.pattern == .udim }.map { String(decoding: $0.raw, as: UTF8.self) } == "./textures/skin.<UDIM>.png")
    }

    @Test func theLexerKnowsWhoseValueEachPathIs() throws {
        let text = """
            #usda 1.0
            (
                subLayers = [@a.usda@ (offset = 10; scale = 2), @b.usda@]
            )
            def "X" (prepend references = [@r.usda@</X>, @@@s@x.usda@@@] ) {
                asset inputs:file = @t.png@  # @comment.png@
                string s = "@string.png@"
                string t = '''multi
                @line.png@'''
                rel r = </X{v=a@b}>
                asset f.timeSamples = { 1: @u.png@, 2: @@@v\\@@@w.png@@@ }
            }
            """
        let bytes = Array(text.utf8)
        let found = try USDALexer(bytes: bytes).assetPaths()
        #expect(found.map { String(decoding: $0.value(in: bytes), as: UTF8.self) } == ["a.usda", "b.usda", "r.usda", "s@x.usda", "t.png", "u.png", "v@@@w.png"])
        #expect(found.map { String(decoding: bytes[$0.keyRange], as: UTF8.self) } == ["subLayers", "subLayers", "references", "references", "inputs:file", "f.timeSamples", "f.timeSamples"])
    }

    /// A `@@@` path is read in place unless it had `\\@@@` in it: a run of more than three `@`
    /// closes at its last three, the others belonging to the path, either way.
    @Test func tripleDelimitedPathsKeepTheirAtSignsAndUnescapeDelimiters() throws {
        let text = "#usda 1.0\ndef \"X\" {\n asset a = @@@one@two@@@@\n asset b = @@@x\\@@@y@@@@@\n asset c = @@@plain@@@\n}\n"
        let bytes = Array(text.utf8)
        let found = try USDALexer(bytes: bytes).assetPaths()
        #expect(found.map { String(decoding: $0.value(in: bytes), as: UTF8.self) } == ["one@two@", "x@@@y@@", "plain"])
        #expect(found.map { $0.unescaped != nil } == [false, true, false])
        #expect(found.map { String(decoding: bytes[$0.range], as: UTF8.self) } == ["one@two@", #"x\@@@y@@"#, "plain"])
    }

    @Test func identifiersStartWithALetterAndHoldDigitsDotsAndColons() throws {
        // Digits before a name are not part of it; digits, `.` and `:` after its first letter
        // are; bytes of UTF-8 characters are letters.
        let text = "#usda 1.0\ndef \"X\" {\n 12abc = @a@\n x.5 = @b@\n \u{FC}tf8_name = @c@\n 7 = @d@\n ns:a.b2 = [@e@]\n}\n"
        let bytes = Array(text.utf8)
        let found = try USDALexer(bytes: bytes).assetPaths()
        #expect(found.map { String(decoding: $0.value(in: bytes), as: UTF8.self) } == ["a", "b", "c", "d", "e"])
        // `7 = ` names no key of its own: the last name before it stays the key.
        #expect(found.map { String(decoding: bytes[$0.keyRange], as: UTF8.self) } == ["abc", "x.5", "\u{FC}tf8_name", "\u{FC}tf8_name", "ns:a.b2"])
    }

    /// The name a `=` gives a value is the last identifier outside strings, comments and `<…>`
    /// paths before it, however far back and however the layer's bytes fall in the lexer's
    /// sixteen-byte reads.
    @Test func theKeyIsTheLastIdentifierOutsideStringsCommentsAndPaths() throws {
        let text = """
            #usda 1.0
            def "X" {
             custom string info "doc" = @a@
             # note = @x@
             kind = @b@
             name2 </x/y.z> = @c@
             a_very_long_identifier_spanning:three.chunks_of_sixteen = @d@
             last "s" 'q' # c
             = @e@
            }
            """
        for padding in 0..<33 {  // every alignment of the layer's bytes
            let bytes = Array((String(repeating: " ", count: padding) + text).utf8)
            let found = try USDALexer(bytes: bytes).assetPaths()
            #expect(found.map { String(decoding: $0.value(in: bytes), as: UTF8.self) } == ["a", "b", "c", "d", "e"])
            #expect(found.map { String(decoding: bytes[$0.keyRange], as: UTF8.self) }
                    == ["info", "kind", "name2", "a_very_long_identifier_spanning:three.chunks_of_sixteen", "last"])
        }
    }

    @Test(arguments: [0, 1, 9, 10, 99, 100, 12_345, 999_999_999, Int.max, -3, Int.min])
    func aTextLayersBlockIsItsLine(line: Int) {
        #expect(USDLayerReader.lineBlock(line) == "line \(line)")
    }

    @Test func byteCountsHoldPast255BlocksOfSixteen() {
        // Each byte lane counts to 255 blocks before the lanes are summed: all line feeds, and
        // every other one, across several such runs and a tail.
        for length in [16 * 255, 16 * 255 + 1, 16 * 256 + 7, 10_000] {
            let all = [UInt8](repeating: 0x0A, count: length)
            #expect(all.withUnsafeBytes { LineCounter.newlines(in: $0) } == length)
            let alternate = (0..<length).map { $0 % 2 == 0 ? UInt8(0x0A) : UInt8(0x61) }
            #expect(alternate.withUnsafeBytes { LineCounter.newlines(in: $0) } == (length + 1) / 2)
        }
    }

    @Test func linesAreCountedAWordAtATime() {
        // Against a byte-by-byte count, at every length and alignment, with bytes that differ
        // from a line feed in one bit or in the high bit.
        var generator = SystemRandomNumberGenerator()
        let alphabet: [UInt8] = [0x0A, 0x0A, 0x0B, 0x08, 0x8A, 0x00, 0xFF, 0x61, 0x0A]
        for length in 0..<70 {
            let bytes = (0..<length).map { _ in alphabet.randomElement(using: &generator)! }
            for start in 0...min(length, 9) {
                let expected = bytes[start...].filter { $0 == 0x0A }.count
                #expect(bytes.withUnsafeBytes { LineCounter.newlines(in: UnsafeRawBufferPointer(rebasing: $0[start...])) } == expected)
            }
            bytes.withUnsafeBytes { buffer in
                var counter = LineCounter(bytes: buffer)
                for offset in stride(from: 0, through: length + 3, by: 5) {
                    #expect(counter.line(of: offset) == 1 + bytes[..<min(offset, length)].filter { $0 == 0x0A }.count)
                }
            }
            #expect(USDFormat.line(of: length / 2, in: bytes) == 1 + bytes[..<(length / 2)].filter { $0 == 0x0A }.count)
        }
    }

    @Test func brokenTextLayersAreErrorsNamingTheLine() throws {
        let directory = TemporaryDirectory()
        for (name, text, reason) in [
            ("open-path.usda", "#usda 1.0\ndef \"X\" {\n    asset a = @./x.png\n}\n", "not closed on its line (line 3)"),
            ("open-string.usda", "#usda 1.0\n(\n    doc = \"\"\"never closed\n)\n", "never closed (line 3)"),
            ("not-usd.usda", "hello\n", "neither a USD text layer"),
        ] {
            try writeFile(directory(name), text)
            #expect {
                try SceneScanner().scan([directory(name)])
            } throws: { error in
                "\(error)".contains(name) && "\(error)".contains(reason)
            }
        }
    }

    /// Layers are read ahead of the scan on other cores: the result is still the scan's own
    /// order, a layer linked twice is read once, a FIFO named as a layer is missing (never read,
    /// never waited on), and a broken layer deep in a chain is still the scan's error.
    @Test func layersReadAheadGiveTheScansOwnOrderEveryTime() throws {
        let directory = TemporaryDirectory()
        func layer(_ name: String, _ sublayers: [String], textures: [String] = []) throws {
            let arcs = sublayers.map { "@./\($0)@" }.joined(separator: ", ")
            let shaders = textures.map { "    asset inputs:file = @./tex/\($0)@\n" }.joined()
            try writeFile(directory(name), "#usda 1.0\n(\n    subLayers = [\(arcs)]\n)\ndef \"X\"\n{\n\(shaders)}\n")
        }
        for name in ["a.png", "b.png", "c.png"] { try writeFile(directory("tex/\(name)"), name) }
        try layer("root.usda", ["a.usda", "b.usda"])
        try layer("a.usda", ["c.usda", "shared.usda"], textures: ["a.png"])
        try layer("c.usda", [], textures: ["c.png", "gone.png"])
        try layer("shared.usda", [], textures: ["b.png"])
        try layer("b.usda", ["shared.usda", "pipe.usda", "missing.usda", "chain0.usda"], textures: ["b.png"])
        for index in 0..<40 { try layer("chain\(index).usda", index < 39 ? ["chain\(index + 1).usda"] : [], textures: ["a.png"]) }
        #expect(mkfifo(directory("pipe.usda").string, 0o644) == 0)

        let order = ["root", "a", "c", "shared", "b"] + (0..<40).map { "chain\($0)" }
        for _ in 0..<20 {
            let result = try SceneScanner().scan([directory("root.usda")])
            #expect(result.scenes.map { $0.path.lastComponent!.stem } == order)
            #expect(Set(result.missing.map { result.references[$0].resolved.lastComponent!.string }) == ["gone.png", "pipe.usda", "missing.usda"])
            // 45 layers linked (2 + 2 + 2 + 39) and 44 textures (a, c, shared, b, and one per link of the chain).
            #expect(result.assets.count == 45 + 44)
        }

        try writeFile(directory("chain30.usda"), "#usda 1.0\ndef \"X\" {\n    asset a = @./x.png\n}\n")
        #expect {
            try SceneScanner().scan([directory("root.usda")])
        } throws: { error in
            "\(error)".contains("chain30.usda") && "\(error)".contains("not closed on its line (line 3)")
        }
    }

    /// Work that starts more work holds the read-ahead; work never taken (a linked layer that
    /// is missing, a scan that failed first) must not keep it, and all it read, alive.
    @Test func readAheadWorkNeverTakenIsNotKeptAlive() async throws {
        weak var released: ReadAhead<Int>?
        do {
            let readAhead = ReadAhead<Int>()
            released = readAhead
            readAhead.start(ByteKey(Array("a".utf8))) { [readAhead] in
                readAhead.start(ByteKey(Array("b".utf8))) { 2 }
                return 1
            }
            #expect(readAhead.take(ByteKey(Array("c".utf8))) == nil)
        }
        for _ in 0..<200 where released != nil { try await Task.sleep(for: .milliseconds(10)) }
        #expect(released == nil)
    }

    @Test func aCratesTokenTableIsReadAndDamageIsAnError() throws {
        let bytes = try FileSystem.readAll(Self.fixtures.appending("assets/hero.usdc"))
        let crate = try USDCrate(bytes, path: Self.fixtures.appending("assets/hero.usdc"))
        #expect(crate.tokens.contains(Array("./tex/hero.png".utf8)))
        #expect(crate.version.minor >= 4, "a compressed token table")
        // Cut anywhere, or with flipped bytes: an error or tokens, never a crash.
        for length in stride(from: 0, to: bytes.count, by: 7) {
            #expect(throws: SceneError.self) { try USDCrate(Array(bytes[..<length]), path: FilePath("cut.usdc")).tokens.count > 0 && length < 88 }
        }
        // Damaged anywhere — the time samples' and dictionaries' offsets too — an error or
        // paths, never a crash or a hang.
        var generator = SystemRandomNumberGenerator()
        let animated = try FileSystem.readAll(Self.fixtures.appending("crates/animated.usdc"))
        for original in [bytes, animated] {
            for _ in 0..<300 {
                var damaged = original
                for _ in 0..<4 { damaged[Int.random(in: 8..<damaged.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator) }
                _ = try? USDCrate(damaged, path: FilePath("damaged.usdc"))
            }
        }
    }

    @Test func lz4BlocksDecodeAndLiesAreRefused() throws {
        // "abcabcabcabc": 3 literals, then a 9-byte match at offset 3 (4 + 5).
        let block: [UInt8] = [0x35, 0x61, 0x62, 0x63, 0x03, 0x00]
        #expect(try LZ4.decompressBlock(block[...], size: 12) == Array("abcabcabcabc".utf8))
        #expect(throws: LZ4.Error.self) { try LZ4.decompressBlock(block[...], size: 11) }
        #expect(throws: LZ4.Error.self) { try LZ4.decompressBlock([0x35, 0x61, 0x62, 0x63, 0x09, 0x00][...], size: 12) }
        #expect(throws: LZ4.Error.self) { try LZ4.decompressBlock([0xF0, 0xFF, 0xFF][...], size: 1 << 20) }
    }

    @Test func aRewrittenLayerChangesOnlyItsPaths() throws {
        let directory = TemporaryDirectory()
        let result = try SceneScanner().scan([Self.fixtures.appending("shot.usda")])
        let shot = Self.fixtures.appending("shot.usda")
        let format = USDFormat()
        let changes = result.references.filter { $0.scene == shot }.map { reference in
            ReferenceChange(reference, to: Array("./moved/".utf8) + reference.raw.drop { $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "/") } + (reference.raw.last == UInt8(ascii: "g") ? Array("@2".utf8) : []))
        }
        try format.rewrite(shot, changes: changes, to: directory("shot.usda"))
        let again = try USDFormat().scan(directory("shot.usda"), part: .whole)
        #expect(again.references.map(\.raw) == changes.map(\.newRaw))
        // Outside the paths, not a byte changed.
        func outside(_ bytes: [UInt8], _ found: [SceneReference]) -> [UInt8] {
            var out: [UInt8] = []
            var position = 0
            for reference in found.sorted(by: { $0.locations[0].offset < $1.locations[0].offset }) {
                var start = Int(reference.locations[0].offset)
                var end = start + reference.locations[0].capacity
                while start > 0 && bytes[start - 1] == UInt8(ascii: "@") { start -= 1 }
                while end < bytes.count && bytes[end] == UInt8(ascii: "@") { end += 1 }
                out += bytes[position..<start]
                position = end
            }
            return out + bytes[position...]
        }
        let before = try FileSystem.readAll(shot)
        let after = try FileSystem.readAll(directory("shot.usda"))
        #expect(outside(before, result.references.filter { $0.scene == shot }) == outside(after, again.references))
        // And USD itself reads the rewritten layer.
        let check = try run(TestEnvironment.peersVenv + "/bin/python", ["-c", "import sys; from pxr import Sdf; layer = Sdf.Layer.FindOrOpen(sys.argv[1]); print(len(layer.subLayerPaths), layer.subLayerPaths[0])", directory("shot.usda").string])
        #expect(check.stdoutText.hasPrefix("2"), "\(check.standardError)")
    }
}

@Suite struct USDSearchPathTests {
    /// A path without `./` is the layer's neighbour if that exists, else found in the search
    /// path's folders, else missing beside the layer; the status found while looking is the one
    /// the asset gets.
    @Test func searchPathsResolveBesideTheLayerThenInTheSearchPath() throws {
        let directory = TemporaryDirectory()
        try writeFile(directory("stage/tex/here.png"), "here")
        try writeFile(directory("stage/anchored.png"), "anchored!")
        try writeFile(directory("library/lib.png"), "in the library")
        try writeFile(directory("library/tex/here.png"), "shadowed: the layer's neighbour wins")
        try writeFile(directory("stage/a.usda"), """
            #usda 1.0
            def "A" {
                asset inputs:a = @tex/here.png@
                asset inputs:b = @lib.png@
                asset inputs:c = @gone.png@
                asset inputs:d = @./anchored.png@
            }

            """)
        let format = USDFormat(environment: ["PXR_AR_DEFAULT_SEARCH_PATH": "/nonexistent/folder:" + directory("library").string])
        let result = try SceneScanner().scan([directory("stage/a.usda")], formats: [format])
        let sizes = Dictionary(uniqueKeysWithValues: result.assets.map { (String(decoding: result.references[$0.reference].raw, as: UTF8.self), $0.file) })
        #expect(sizes["tex/here.png"]?.path == directory("stage/tex/here.png"))
        #expect(sizes["tex/here.png"]?.size == 4)
        #expect(sizes["lib.png"]?.path == directory("library/lib.png"))
        #expect(sizes["lib.png"]?.size == 14)
        #expect(sizes["./anchored.png"]?.size == 9)
        #expect(result.missing.map { result.references[$0].resolved } == [directory("stage/gone.png")])
    }
}
