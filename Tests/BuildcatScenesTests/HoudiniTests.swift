import BuildcatBasics
@testable import BuildcatScenes
import BuildcatTestSupport
import Foundation
import SystemPackage
import Testing

/// Houdini scenes: a fixture built to the format by tools/fixtures/make_houdini.py, and the
/// real scenes in the shared samples, read in place.
@Suite struct HoudiniTests {
    static let fixtures = FilePath(TestEnvironment.packageRoot).appending("fixtures/houdini")

    func scan(_ path: FilePath, environment: [String: String] = [:]) throws -> ScanResult {
        try SceneScanner().scan([path], formats: [HoudiniFormat(environment: environment)])
    }

    @Test func findsTheFixturesFileParametersAsRecorded() throws {
        let expected = try ExpectedReference.load(Self.fixtures.appending("shot.hip.expected.json"))
        let result = try scan(Self.fixtures.appending("shot.hip"), environment: ["JOB": Self.fixtures.appending("job").string])
        ExpectedReference.check(result, against: expected, fixtures: Self.fixtures, scene: "shot.hip")
        // $JOB from the scene's variables when the environment has none: the artist's machine.
        let fromScene = try scan(Self.fixtures.appending("shot.hip"))
        #expect(fromScene.references[4].resolved == FilePath("/home/artist/shots/assets/tree.abc"))
    }

    /// The input files of each shared sample, found in place (none of them exists here).
    static let samples: [(String, [String])] = [
        ("houdini/crowd_city_procedural_houdini_scene.hip", ["$HIP/map.jpg"]),
        ("houdini/ShadowHost_scene.hip", ["$HIP/shadowhost/Assets/Graphic/Map/terrain3.obj", "$HIP/FBX_Cailloux_01.fbx",
                                          "$HIP/FBX_Cristaux_01.fbx", "$HIP/FBX_Rochers_01.fbx", "$HIP/FBX_algue_01.fbx"]),
        ("houdini/pdg.hip", ["$HIP/slate.txt"]),
        ("houdini/TOPs_Postshot_Sequence_V001.hip", []),
        ("houdini/TornadoExport.hipnc", ["$HIP/Car.fbx", "./sdf$F4.simdata"]),
        ("houdini/knitting_pattern.hiplc", ["$HIP/filename.$F4.rs"]),
    ]

    @Test(arguments: samples)
    func findsTheInputsOfTheSharedSamples(_ sample: String, _ inputs: [String]) throws {
        let path = TestEnvironment.samples.appending(sample)
        let result = try scan(path)
        #expect(Set(result.references.map { String(decoding: $0.raw, as: UTF8.self) }) == Set(inputs))
        // Outputs are not inputs: no render, cache or debug file is listed.
        #expect(!result.references.contains { ["vm_picture", "sopoutput", "explicitcachename", "debughip"].contains($0.field) })
    }

    @Test func frameTokensAndVariablesExpandAsHoudiniReadsThem() {
        let format = HoudiniFormat(environment: ["SHOT": "sh010"])
        func expand(_ text: String, node: String? = "geo1") -> HoudiniFormat.Expanded {
            format.expand(Array(text.utf8), directory: FilePath("/p"), hipName: "scene", node: node, globals: ["ASSET": "tree"])
        }
        #expect(String(decoding: expand("$HIP/$SHOT/$ASSET.$F4.bgeo").path, as: UTF8.self) == "/p/sh010/tree.0001.bgeo")
        #expect(expand("$HIP/a.$F.png").pattern == .frameSequence)
        #expect(String(decoding: expand("${HIP}/$HIPNAME.$OS.${F3}.exr").path, as: UTF8.self) == "/p/scene.geo1.001.exr")
        #expect(String(decoding: expand("$HIP/sim.$SF.sim").path, as: UTF8.self) == "/p/sim.1.sim")
        #expect(String(decoding: expand("$HIP/t.%(UDIM)d.rat").path, as: UTF8.self) == "/p/t.<UDIM>.rat")
        #expect(expand("$HIP/t.%(UDIM)d.rat").pattern == .udim)
        #expect(expand("$HIP/$OS.png", node: nil).unresolvable?.contains("does not record") == true)
        #expect(expand("$HIP/%(CHANNEL)s.rat").unresolvable != nil)
        #expect(expand("$NOPE/x.png").unresolvable?.contains("$NOPE") == true)
    }

    @Test func aRewrittenArchiveChangesOnlyItsValuesAndKeepsFrameTokens() throws {
        let directory = TemporaryDirectory()
        let shot = Self.fixtures.appending("shot.hip")
        let format = HoudiniFormat(environment: ["JOB": Self.fixtures.appending("job").string])
        let result = try SceneScanner().scan([shot], formats: [format])
        let changes = result.references.filter { $0.unresolvable == nil }.map { reference in
            ReferenceChange(reference, to: Array("$HIP/moved (1)/".utf8) + Array(reference.resolved.lastComponent!.string.utf8))
        }
        try format.rewrite(shot, changes: changes, to: directory("shot.hip"))
        let again = try SceneScanner().scan([directory("shot.hip")], formats: [HoudiniFormat(environment: [:])])
        let raws = again.references.map { String(decoding: $0.raw, as: UTF8.self) }
        #expect(raws.contains("$HIP/moved (1)/cache.$F4.bgeo.sc"), "the frame token is put back: \(raws)")
        #expect(raws.contains("$HIP/moved (1)/skin.<UDIM>.exr"))
        #expect(raws.contains("$HIP/moved (1)/wood diffuse.png"))
        #expect(raws.contains("$HIP/tex/`chs(\"../name\")`.png"), "unresolvable values are left alone")
        // The archive is whole: every section where its header says, the same names in order.
        let before = try HoudiniArchive(try FileSystem.readAll(shot), path: shot)
        let after = try HoudiniArchive(try FileSystem.readAll(directory("shot.hip")), path: directory("shot.hip"))
        #expect(before.sections.map(\.name) == after.sections.map(\.name))
    }

    @Test func aProtectedFileIsStagedAsItIsOrRefusedWhenAPathMustChange() throws {
        let directory = TemporaryDirectory()
        let sample = TestEnvironment.samples.appending("houdini/TornadoExport.hipnc")
        let format = HoudiniFormat(environment: [:])
        let result = try SceneScanner().scan([sample], formats: [format])
        let same = result.references.map { ReferenceChange($0, to: $0.raw) }
        try format.rewrite(sample, changes: same, to: directory("same.hipnc"))
        #expect(try FileSystem.readAll(directory("same.hipnc")) == FileSystem.readAll(sample))
        let moved = result.references.map { ReferenceChange($0, to: Array("$HIP/elsewhere/x.fbx".utf8)) }
        #expect {
            try format.rewrite(sample, changes: moved, to: directory("moved.hipnc"))
        } throws: { error in
            "\(error)".contains("TornadoExport.hipnc") && "\(error)".contains("Apprentice or Indie")
        }
    }

    @Test func aMantraSceneDescriptionsInputsAsRecorded() throws {
        let expected = try ExpectedReference.load(Self.fixtures.appending("shot.ifd.expected.json"))
        let format = IFDFormat(environment: [:])
        let result = try SceneScanner().scan([Self.fixtures.appending("shot.ifd")], formats: [format])
        ExpectedReference.check(result, against: expected, fixtures: Self.fixtures, scene: "shot.ifd")
        // Rewritten: the new paths read back, outputs and expressions untouched.
        let directory = TemporaryDirectory()
        let changes = result.references.filter { $0.unresolvable == nil }.map {
            ReferenceChange($0, to: format.relativeReference(Array("staged files/".utf8) + Array($0.resolved.lastComponent!.string.utf8)))
        }
        try format.rewrite(Self.fixtures.appending("shot.ifd"), changes: changes, to: directory("shot.ifd"))
        let again = try IFDFormat(environment: [:]).scan(directory("shot.ifd"), part: .whole).references
        #expect(again.map { String(decoding: $0.raw, as: UTF8.self) }.prefix(3) == ["$HIP/staged files/studio_shaders.hda", "$HIP/staged files/hero.bgeo.sc", "$HIP/staged files/hero_diffuse.rat"])
        let text = try String(contentsOfFile: directory("shot.ifd").string, encoding: .utf8)
        #expect(text.contains("ray_image \"$HIP/render/shot.$F4.exr\""))
        #expect(text.contains("\"$HIP/staged files/fur.$F4.bgeo.sc\""), "the frame token is put back")
    }

    @Test func damagedArchivesAreErrorsNamingTheFile() throws {
        let bytes = try FileSystem.readAll(Self.fixtures.appending("shot.hip"))
        for length in stride(from: 1, to: bytes.count - 1, by: 13) {
            #expect(throws: SceneError.self) { try HoudiniArchive(Array(bytes[..<length]), path: FilePath("cut.hip")) }
        }
        var wrong = bytes
        wrong[70] = UInt8(ascii: "9")  // not an octal digit
        #expect(throws: SceneError.self) { try HoudiniArchive(wrong, path: FilePath("wrong.hip")) }
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<300 {
            var damaged = bytes
            for _ in 0..<3 { damaged[Int.random(in: 0..<damaged.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator) }
            if let archive = try? HoudiniArchive(damaged, path: FilePath("damaged.hip")) {
                for section in archive.sections { _ = HoudiniParms.values(in: damaged, body: section.body) }
            }
        }
    }
}
