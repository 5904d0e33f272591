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

    @Test func usdIntegerCompressionDecodes() throws {
        // 9 integers, common delta 3; codes 01 01 01 01 | 00 01 00 01 | 00; deltas 2 2 4 2 -3 -3.
        let raw: [UInt8] = [3, 0, 0, 0, 0x55, 0x44, 0x00, 0x02, 0x02, 0x04, 0x02, 0xFD, 0xFD]
        let block: [UInt8] = [0x00, 0xD0] + raw  // no chunks; one LZ4 sequence of 13 literals
        #expect(try USDIntegers.decode(block[...], count: 9) == [2, 4, 8, 10, 13, 10, 13, 10, 13])
    }
}
