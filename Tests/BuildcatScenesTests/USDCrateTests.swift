import BuildcatBasics
@testable import BuildcatScenes
import BuildcatTestSupport
import Foundation
import SystemPackage
import Testing

/// A USD crate's asset fields, read from its FIELDS table: crates made by usd-core.
@Suite struct USDCrateTests {
    @Test func aCratesAssetFieldsAreFoundEvenWhenTheirFilesAreMissing() throws {
        let directory = TemporaryDirectory()
        try writeFile(directory("tex/present.png"), "png")
        let layer = """
            #usda 1.0
            def "A"
            {
                asset missing = @./tex/missing.png@
                asset present = @./tex/present.png@
                asset[] array = [@./tex/one.png@, @./tex/two.png@]
                string text = "./tex/not_an_asset.png"
            }

            """
        try writeFile(directory("layer.usda"), layer)
        let made = try run(TestEnvironment.peersVenv + "/bin/python", ["-c", """
            import sys
            from pxr import Sdf
            layer = Sdf.Layer.FindOrOpen(sys.argv[1])
            layer.Export(sys.argv[2])
            """, directory("layer.usda").string, directory("layer.usdc").string])
        #expect(made.status == 0, "\(made.standardError)")
        let crate = try USDCrate(try FileSystem.readAll(directory("layer.usdc")), path: directory("layer.usdc"))
        #expect(Set(crate.assetPaths ?? []) == Set(["./tex/missing.png", "./tex/present.png", "./tex/one.png", "./tex/two.png"].map { Array($0.utf8) }))
        let result = try SceneScanner().scan([directory("layer.usdc")], formats: [USDFormat(environment: [:])])
        #expect(Set(result.references.map { $0.resolved.lastComponent!.string }) == ["missing.png", "present.png", "one.png", "two.png"])
        #expect(result.missing.count == 3)
    }

    /// Paths only a full reading of the crate's values finds — time samples, value-clip
    /// dictionaries, nested custom data, reference and payload list ops (one with custom data,
    /// one deleted) — against what USD says (the fixture's record).
    @Test func everyValueHoldingAPathIsReadAsUSDReadsIt() throws {
        let fixtures = FilePath(TestEnvironment.packageRoot).appending("fixtures/usd")
        let record = try JSONDecoder().decode(USDTests.Record.self, from: Data(contentsOf: URL(fileURLWithPath: fixtures.appending("crates/animated.usdc.dependencies.json").string)))
        let result = try SceneScanner().scan([fixtures.appending("crates/animated.usdc")], formats: [USDFormat(environment: [:])])
        func relative(_ path: FilePath) -> String { String(path.string.dropFirst(fixtures.string.count + 1)) }
        #expect(Set(result.scenes.map { relative($0.path) }) == Set(record.layers))
        #expect(Set(result.assets.map { relative($0.file.path) }).subtracting(record.layers) == Set(record.assets))
        #expect(Set(result.missing.map { relative(result.references[$0].resolved) }) == Set(record.unresolved))
    }

    /// Dictionaries point at their values by offsets: a crate whose dictionary holds itself
    /// twice over must end, not recurse forever or 2^depth times — and say it is damaged.
    @Test func aDictionaryThatHoldsItselfEnds() {
        let dictionary: UInt64 = 31 << 48
        var bytes: [UInt8] = []
        func append(_ value: UInt64, _ width: Int) { for index in 0..<width { bytes.append(UInt8(truncatingIfNeeded: value >> (8 * UInt64(index)))) } }
        append(2, 8)                      // two entries
        append(0, 4); append(8, 8)        // key 0; its rep 8 bytes on, at 20
        append(dictionary, 8)             // the dictionary itself
        append(0, 4); append(8, 8)        // key 0; its rep at 40
        append(dictionary, 8)
        append((12 << 48) | (1 << 62), 8) // a stray inlined asset path after it
        func read(_ rep: UInt64, tokens: [[UInt8]] = [], stringTokens: [Int] = []) -> CrateValueReader {
            var reader = CrateValueReader(numbers: CrateNumbers(bytes: bytes), tokens: tokens, stringTokens: stringTokens, payloadsHaveLayerOffsets: true)
            reader.collect(rep)
            return reader
        }
        func assetPaths(_ rep: UInt64, tokens: [[UInt8]] = [], stringTokens: [Int] = []) -> [[UInt8]] {
            read(rep, tokens: tokens, stringTokens: stringTokens).assetPaths
        }
        #expect(assetPaths(dictionary, tokens: [Array("a.png".utf8)], stringTokens: [0]).isEmpty)
        #expect(read(dictionary, tokens: [Array("a.png".utf8)], stringTokens: [0]).damage?.contains("holds itself") == true)
        #expect(read(UInt64(31 << 48) | 0xFFFF_FFFF_FFFF).damage?.contains("past the end") == true)
        #expect(read(UInt64(47 << 48) | 1_000).damage?.contains("not in the STRINGS table") == true)
        // Offsets past either end, and counts larger than the file, are nothing.
        // List ops read over the same bytes (headers and counts that are other things) end too.
        let hostile: [(type: UInt64, flags: UInt64, payload: UInt64)] = [
            (31, 0, 0xFFFF_FFFF_FFFF), (46, 0, 3), (12, 1 << 63, 1), (35, 0, 0), (35, 0, 8), (55, 0, 20), (50, 0, 12), (47, 0, 1_000),
        ]
        for rep in hostile.map({ $0.type << 48 | $0.flags | $0.payload }) {
            #expect(assetPaths(rep).isEmpty)
        }
    }

    /// A crate keeps one copy of a value the fields share: 100,000 fields holding one array of
    /// paths are that array once, not damage and not 200,000 paths.
    @Test func aValueManyFieldsShareIsReadOnce() {
        var bytes: [UInt8] = [2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0]  // two STRINGS indices: 0, 1
        bytes += [UInt8](repeating: 0, count: 8)
        var reader = CrateValueReader(numbers: CrateNumbers(bytes: bytes), tokens: [Array("a.png".utf8), Array("b.png".utf8)],
                                      stringTokens: [0, 1], payloadsHaveLayerOffsets: true)
        for _ in 0..<100_000 { reader.collect(UInt64(12 << 48) | (1 << 63)) }
        #expect(reader.damage == nil)
        #expect(reader.assetPaths == [Array("a.png".utf8), Array("b.png".utf8)])
    }

    @Test func usdIntegerCompressionDecodes() throws {
        // 9 integers, common delta 3; codes 01 01 01 01 | 00 01 00 01 | 00; deltas 2 2 4 2 -3 -3.
        let raw: [UInt8] = [3, 0, 0, 0, 0x55, 0x44, 0x00, 0x02, 0x02, 0x04, 0x02, 0xFD, 0xFD]
        let block: [UInt8] = [0x00, 0xD0] + raw  // no chunks; one LZ4 sequence of 13 literals
        #expect(try USDIntegers.decode(block[...], count: 9) == [2, 4, 8, 10, 13, 10, 13, 10, 13])
    }
}
