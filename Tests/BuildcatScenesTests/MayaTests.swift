import BuildcatBasics
@testable import BuildcatScenes
import BuildcatTestSupport
import Foundation
import SystemPackage
import Testing

/// Maya ASCII: a fixture built to the format by tools/fixtures/make_maya.py, and the real
/// scenes of the shared samples, read in place.
@Suite struct MayaTests {
    static let fixtures = FilePath(TestEnvironment.packageRoot).appending("fixtures/maya")
    static let environment = ["BUILDCAT_FIXTURE_ENV": fixtures.appending("env").string]

    @Test func findsTheFixturesReferencesAsRecorded() throws {
        let expected = try ExpectedReference.load(Self.fixtures.appending("scene.ma.expected.json"))
        let result = try SceneScanner().scan([Self.fixtures.appending("scene.ma")], formats: [MayaAsciiFormat(environment: Self.environment)])
        #expect(result.scenes.map { String($0.path.string.dropFirst(Self.fixtures.string.count + 1)) } == ["scene.ma", "assets/prop.ma"])
        ExpectedReference.check(result, against: expected, fixtures: Self.fixtures, scene: "scene.ma")
    }

    /// The files each shared sample uses, found in place (none of them exists here).
    static let samples: [(String, [String])] = [
        ("maya/StandardSurfaceTextured.ma", ["../textures/RGB.png", "../textures/RGBA.png", "../textures/Mono.png", "../textures/MonoA.png",
                                            "../textures/normalSpiral.png", "../textures/normalSpiralA.png"]),
        ("maya/anim_001.ma", ["/scenes/rhino_model_textured/waking_animation/rhino_rig_001.ma"]),
        ("maya/UsdExportUDIMTest.ma", ["UdimTest_1001_color.png"]),
        ("maya/InstancerDrawTest.ma", ["./CubeModel.usda", "./nCache/"]),
        ("maya/referenced_layers.ma", ["ref.ma", "/Users/rmvh/work/deadline/deadline-cloud-for-maya/job_bundle_output_tests/renderman/scene/scene_file_to_reference.ma"]),
        ("maya/renderman.ma", ["/Users/rmvh/work/deadline/deadline-cloud-for-maya/job_bundle_output_tests/renderman/scene/scene_file_to_reference.mb",
                               "/Users/rmvh/work/deadline/deadline-cloud-for-maya/job_bundle_output_tests/renderman/scene/deadline_logo_48x48.png"]),
    ]

    @Test(arguments: samples)
    func findsTheFilesOfTheSharedSamples(_ sample: String, _ files: [String]) throws {
        let result = try SceneScanner().scan([TestEnvironment.samples.appending(sample)], formats: [MayaAsciiFormat(environment: [:])])
        #expect(Set(result.references.map { String(decoding: $0.raw, as: UTF8.self) }) == Set(files))
        // Old paths a reference node remembers (.fn[n]) and Maya's own files (<MAYA_RESOURCES>) are not used.
        #expect(!result.references.contains { String(decoding: $0.raw, as: UTF8.self).contains("MAYA_RESOURCES") || $0.field.hasPrefix(".fn[") })
        if sample.hasSuffix("UsdExportUDIMTest.ma") { #expect(result.references.first?.pattern == .udim) }
    }

    @Test func aRewrittenSceneChangesOnlyItsPathsAndKeepsItsTokens() throws {
        let directory = TemporaryDirectory()
        let scene = Self.fixtures.appending("scene.ma")
        let format = MayaAsciiFormat(environment: Self.environment)
        let result = try SceneScanner().scan([scene], formats: [format])
        let changes = result.references.filter { $0.scene == scene && $0.unresolvable == nil }.map { reference in
            ReferenceChange(reference, to: Array("moved \"quoted\"/".utf8) + Array(reference.resolved.lastComponent!.string.utf8))
        }
        try format.rewrite(scene, changes: changes, to: directory("scene.ma"))
        let again = try MayaAsciiFormat(environment: Self.environment).scan(directory("scene.ma"), part: .whole)
        let raws = again.references.map { String(decoding: $0.raw, as: UTF8.self) }
        #expect(raws.contains("moved \"quoted\"/skin_1001_color.png"), "a UDIM tile's name is written back: \(raws)")
        #expect(raws.contains("moved \"quoted\"/fx.<f>.png"), "a frame token is written back: \(raws)")
        #expect(raws.contains("moved \"quoted\"/wood diffuse.png"))
        #expect(raws.filter { $0 == "moved \"quoted\"/prop.ma" }.count == 2, "both lines of the reference")
        #expect(raws.contains("${BUILDCAT_FIXTURE_UNSET}/x.png"))
        #expect(again.references.count == result.references.filter { $0.scene == scene }.count)
    }

    @Test func brokenScenesAreErrorsNamingTheFile() throws {
        let directory = TemporaryDirectory()
        try writeFile(directory("open.ma"), "//Maya ASCII 2024 scene\ncreateNode file -n \"f\";\n\tsetAttr \".ftn\" -type \"string\" \"never closed;\n")
        try writeFile(directory("binary.ma"), "Maya binary, really\n")
        for (name, reason) in [("open.ma", "never closed (line 3)"), ("binary.ma", "not a Maya ASCII file")] {
            #expect {
                try SceneScanner().scan([directory(name)], formats: [MayaAsciiFormat(environment: [:])])
            } throws: { error in "\(error)".contains(name) && "\(error)".contains(reason) }
        }
        let bytes = try FileSystem.readAll(Self.fixtures.appending("scene.ma"))
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<300 {
            var damaged = bytes
            for _ in 0..<4 { damaged[Int.random(in: 0..<damaged.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator) }
            _ = try? MayaStatements.parse(damaged)
        }
    }
}
