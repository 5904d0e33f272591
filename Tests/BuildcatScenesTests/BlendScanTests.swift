import BuildcatBasics
@testable import BuildcatScenes
import BuildcatTestSupport
import Foundation
import SystemPackage
import Testing

/// The scanner against what Blender itself reports for the same files (`bpy.utils.blend_paths`,
/// recorded beside each fixture by tools/fixtures/make_blend.py).
@Suite struct BlendScanTests {
    static let fixtures = FilePath(TestEnvironment.packageRoot).appending("fixtures/blend")
    /// The same scenes written by Blender 5.0 (PyPI `bpy`): its new header and block headers.
    static let fixtures5 = FilePath(TestEnvironment.packageRoot).appending("fixtures/blend5")
    static let scenes = ["basic.blend", "compressed.blend", "basic-gzip.blend", "linked.blend", "lib/lib_a.blend", "lib/lib_b.blend"]
    static let allScenes = scenes.map { ("blend", $0) } + scenes.map { ("blend5", $0) }

    static func folder(_ name: String) -> FilePath { name == "blend5" ? fixtures5 : fixtures }

    struct Record {
        var absolute: [String]
        var raw: [String]
        var missing: [String]
    }

    static func record(_ scene: String, in fixtures: FilePath) throws -> Record {
        let data = try Data(contentsOf: URL(fileURLWithPath: fixtures.appending(scene + ".paths.json").string))
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: [String]])
        func absolute(_ path: String) -> String {
            path.hasPrefix("/") ? path : fixtures.appending(path).lexicallyNormalized().string
        }
        return Record(absolute: object["absolute"]!.map(absolute).sorted(), raw: object["raw"]!.sorted(),
                      missing: object["missing"]!.map(absolute).sorted())
    }

    /// The record's raw paths without those of the given libraries (matched by resolving each raw
    /// path as Blender would from the opened scene).
    static func rawExcludingLibraries(_ record: Record, resolvedIn libraries: Set<String>, scene: FilePath) throws -> [String] {
        var directory = try FileSystem.absolute(scene)
        directory.removeLastComponent()
        return record.raw.filter { !libraries.contains(text(BlenderPath.resolve(Array($0.utf8), relativeTo: directory))) }
    }

    /// The result without the kinds Blender's `blend_paths` does not list (point caches and
    /// geometry-nodes bakes on disk), indices of `missing` and `assets` renumbered.
    static func withoutUnlistedKinds(_ result: ScanResult) -> ScanResult {
        var kept = ScanResult()
        kept.scenes = result.scenes
        var newIndex: [Int: Int] = [:]
        for (index, reference) in result.references.enumerated() where reference.kind != .pointCache && reference.kind != .geometryBake {
            newIndex[index] = kept.references.count
            kept.references.append(reference)
        }
        kept.missing = result.missing.compactMap { newIndex[$0] }
        kept.assets = result.assets.compactMap { asset in newIndex[asset.reference].map { ScannedAsset(reference: $0, file: asset.file) } }
        return kept
    }

    static func text(_ path: FilePath) -> String {
        var text = path.string
        while text.count > 1 && text.hasSuffix("/") { text.removeLast() }
        return text
    }

    @Test(arguments: allScenes)
    func referencesAreExactlyWhatBlenderReports(set: String, scene: String) throws {
        let fixtures = Self.folder(set)
        let record = try Self.record(scene, in: fixtures)
        // Point caches and geometry bakes on disk are what Blender's list leaves out (a render reads them).
        let result = Self.withoutUnlistedKinds(try SceneScanner().scan([fixtures.appending(scene)]))
        let ours = result.references.map { Self.text($0.resolved) }.sorted()
        #expect(ours == record.absolute)
        // Raw paths too, except an indirect library's: Blender shows it re-made relative to the
        // opened file, while we report the bytes the linking library holds (what a rewrite edits).
        let opened = try FileSystem.absolute(fixtures.appending(scene))
        let indirect = result.references.filter { $0.kind == .library && $0.scene != opened }
        let raw = result.references.filter { !($0.kind == .library && $0.scene != opened) }.map { String(decoding: $0.raw, as: UTF8.self) }.sorted()
        let indirectResolved = Set(indirect.map { Self.text($0.resolved) })
        let expectedRaw = try Self.rawExcludingLibraries(record, resolvedIn: indirectResolved, scene: opened)
        #expect(raw == expectedRaw)
        let missing = Set(result.missing.map { Self.text(result.references[$0].resolved) })
        #expect(missing == Set(record.missing))
    }

    @Test func patternsExpandToTheFilesThatExist() throws {
        let result = try SceneScanner().scan([Self.fixtures.appending("basic.blend")])
        func files(_ block: String) -> [(String, Int?)] {
            result.assets.filter { result.references[$0.reference].block == block }
                .map { ($0.file.path.lastComponent!.string, $0.file.frame) }
        }
        #expect(files("IM skin").map(\.0) == ["skin.1001.png", "skin.1002.png", "skin.1011.png"])
        #expect(files("IM plate").map(\.0) == ["bg.0001.png", "bg.0002.png", "bg.0003.png", "bg.0004.png"])
        #expect(files("IM plate").map(\.1) == [1, 2, 3, 4])
        #expect(files("VO smoke").map(\.1) == [1, 2, 3])
        #expect(files("OB Domain").map(\.0) == ["config_0001.uni"])
        #expect(files("SQ plates").map(\.0) == ["bg.0001.png", "bg.0002.png", "bg.0003.png"])
        // The external cloth cache: its frames, named after the cache.
        #expect(files("OB Cloth").map(\.0) == ["cloth_000001_00.bphys"])
        // A packed image is inside the .blend: not a reference.
        #expect(!result.references.contains { $0.block == "IM packed" })
    }

    /// Blender 5's geometry-nodes bakes on disk: the custom directory of one bake, and the
    /// modifier's directory for the other.
    @Test func geometryNodeBakesOnDiskAreFound() throws {
        let result = try SceneScanner().scan([Self.fixtures5.appending("basic.blend")])
        let bakes = result.references.filter { $0.kind == .geometryBake }
        #expect(Set(bakes.map { String(decoding: $0.raw, as: UTF8.self) }) == ["//assets/bakes/custom", "//assets/bakes/modifier"])
        #expect(bakes.allSatisfy { $0.block == "OB Baked: bakes" })
        let files = result.assets.filter { result.references[$0.reference].kind == .geometryBake }
        #expect(files.count == 2)
    }

    @Test func referencesSayWhereTheyCameFrom() throws {
        let result = try SceneScanner().scan([Self.fixtures.appending("basic.blend")])
        let wood = try #require(result.references.first { $0.block == "IM wood" })
        #expect(wood.field == "name[1024]")
        #expect(wood.kind == .image)
        #expect(wood.raw == Array("//assets/textures/wood.png".utf8))
        let strip = try #require(result.references.first { $0.block == "SQ plates" })
        #expect(strip.field == "dir[768] + name[256]")
        #expect(strip.locations.count == 2)
        let cache = try #require(result.references.first { $0.kind == .meshCache })
        #expect(cache.block == "OB Plane: anim cache")
    }

    @Test func aLibraryIsReadForWhatIsLinkedFromItOnly() throws {
        let result = try SceneScanner().scan([Self.fixtures.appending("linked.blend")])
        #expect(result.scenes.count == 3)
        #expect(!result.references.contains { $0.block == "IM unused in b" })
        let fromB = try #require(result.references.first { $0.block == "IM b texture" })
        #expect(fromB.scene.lastComponent?.string == "lib_b.blend")
    }
}
