import BuildcatBasics
@testable import BuildcatScenes
import BuildcatTestSupport
import Foundation
import SystemPackage
import Testing

/// OBJ/MTL and glTF: files exported by the real Blender (tools/fixtures/make_mesh.py), with
/// an MTL of texture options and a .glb with external images built to their specifications.
@Suite struct MeshTests {
    static let fixtures = FilePath(TestEnvironment.packageRoot).appending("fixtures/mesh")

    func scan(_ name: String) throws -> ScanResult {
        try SceneScanner().scan([Self.fixtures.appending(name)], formats: [OBJFormat(), GLTFFormat()])
    }

    func names(_ result: ScanResult) -> [String] {
        result.references.map { String($0.resolved.string.dropFirst(Self.fixtures.string.count + 1)) }
    }

    @Test func objFollowsItsLibraryToTheTexturesBlenderWrote() throws {
        let result = try scan("crate.obj")
        #expect(result.scenes.map { $0.path.lastComponent!.string } == ["crate.obj", "crate.mtl"])
        #expect(names(result) == ["crate.mtl", "textures/crate diffuse.png", "textures/crate_rough.png"])
        #expect(result.missing.isEmpty)
    }

    @Test func mtlOptionsAreNotFileNames() throws {
        let result = try scan("options.obj")
        #expect(names(result) == ["options.mtl", "textures/crate diffuse.png", "textures/crate_rough.png", "textures/missing_spec.png", "textures/crate_rough.png"])
        #expect(result.missing.map { names(result)[$0] } == ["textures/missing_spec.png"])
        #expect(result.references.map(\.field) == ["mtllib", "map_kd", "bump", "map_ks", "refl"])
    }

    @Test func gltfAndGlbURIsArePercentDecodedAndDataURIsSkipped() throws {
        let gltf = try scan("crate.gltf")
        #expect(Set(names(gltf)) == ["textures/crate diffuse.png", "textures/crate_rough.png", "crate.bin"])
        let glb = try scan("crate.glb")
        #expect(names(glb) == ["textures/crate diffuse.png", "textures/crate_rough.png"])
        #expect(glb.references.first.map { String(decoding: $0.raw, as: UTF8.self) } == "textures/crate%20diffuse.png")

        let directory = TemporaryDirectory()
        try writeFile(directory("inline.gltf"), #"{"asset":{"version":"2.0"},"buffers":[{"uri":"data:application/octet-stream;base64,AAAA","byteLength":3}],"images":[{"uri":"t%C3%A9x\/a%20b.png"},{"uri":"https://example.com/x.png"}]}"#)
        let inline = try SceneScanner().scan([directory("inline.gltf")], formats: [GLTFFormat()])
        #expect(inline.references.count == 2)
        #expect(inline.references[0].resolved == directory("téx/a b.png"))
        #expect(inline.references[1].unresolvable?.contains("URL") == true)
    }

    @Test(arguments: ["crate.obj", "crate.gltf", "crate.glb"])
    func aRewrittenFileChangesOnlyItsPaths(_ name: String) throws {
        let directory = TemporaryDirectory()
        let file = Self.fixtures.appending(name)
        let format: any SceneFormat = name.hasSuffix(".obj") ? OBJFormat() : GLTFFormat()
        let found = try format.scan(file, part: .whole).references
        let changes = found.map { ReferenceChange($0, to: format.relativeReference(Array("moved/é/".utf8) + Array($0.resolved.lastComponent!.string.utf8))) }
        try format.rewrite(file, changes: changes, to: directory(name))
        let fresh: any SceneFormat = name.hasSuffix(".obj") ? OBJFormat() : GLTFFormat()
        let again = try fresh.scan(directory(name), part: .whole).references
        #expect(again.map(\.resolved) == found.map { directory("moved/é/" + $0.resolved.lastComponent!.string) })
        if name.hasSuffix(".glb") {
            // The binary chunk is intact and every length adds up (the scan above checked the header).
            let before = try FileSystem.readAll(file)
            let after = try FileSystem.readAll(directory(name))
            #expect(after.count % 4 == 0)
            #expect(before.suffix(800) == after.suffix(800))
        }
    }

    @Test func brokenFilesAreErrorsNamingTheFile() throws {
        let directory = TemporaryDirectory()
        var glb = try FileSystem.readAll(Self.fixtures.appending("crate.glb"))
        try writeFile(directory("cut.glb"), Array(glb.dropLast(10)))
        glb[4] = 1
        try writeFile(directory("v1.glb"), glb)
        try writeFile(directory("bad.gltf"), #"{"images":[{"uri": "a.png"}"#)
        try writeFile(directory("escape.gltf"), #"{"images":[{"uri": "a%zz.png"}]}"#)
        try writeFile(directory("binary.obj"), [0x6D, 0x74, 0x00, 0x01])
        for (name, reason) in [("cut.glb", "its header says"), ("v1.glb", "version 1"), ("bad.gltf", "JSON is not valid"),
                               ("escape.gltf", "broken percent escape"), ("binary.obj", "NUL bytes")] {
            #expect {
                try SceneScanner().scan([directory(name)], formats: [OBJFormat(), GLTFFormat()])
            } throws: { error in "\(error)".contains(name) && "\(error)".contains(reason) }
        }
    }
}
