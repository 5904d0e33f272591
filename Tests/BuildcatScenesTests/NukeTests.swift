import BuildcatBasics
@testable import BuildcatScenes
import BuildcatTestSupport
import Foundation
import SystemPackage
import Testing

/// Nuke scripts: a fixture built to the format by tools/fixtures/make_nuke.py, and the real
/// scripts of the shared samples, read in place.
@Suite struct NukeTests {
    static let fixtures = FilePath(TestEnvironment.packageRoot).appending("fixtures/nuke")

    @Test func findsTheFixturesReadsAsRecorded() throws {
        let expected = try ExpectedReference.load(Self.fixtures.appending("comp.nk.expected.json"))
        let result = try SceneScanner().scan([Self.fixtures.appending("comp.nk")], formats: [NukeFormat()])
        ExpectedReference.check(result, against: expected, fixtures: Self.fixtures, scene: "comp.nk")
        #expect(result.references.first?.frameRange == 1...3)
    }

    /// What each shared sample reads: (raw value, unresolvable).
    static let samples: [(String, [String], Int)] = [
        ("nuke/example.nk", ["[file dirname [value root.name]]/bunny_CryptoObject.exr", "[file dirname [value root.name]]/bunny_CryptoAsset.exr",
                             "[file dirname [value root.name]]/testGrid_CryptoObject.exr", "[file dirname [value root.name]]/bunny_CryptoMaterial.exr"], 4),
        ("nuke/group-read.nk", ["colorbars.png"], 0),
        ("nuke/multi-load-save.nk", ["some_exrs_####.exr", "input_seq_####.jpg"], 0),
        ("nuke/ocio.nk", [], 0),
        ("nuke/scene.nk", ["render/key.####.exr", "render/key_proxy.####.exr", "render/back.####.exr", "render/back_proxy.####.exr",
                           "render/final.####.exr", "render/final_proxy.####.exr", "render/preview.####.jpg"], 0),
        ("nuke/scene_stereo.nk", ["render/key_%v.%04d.exr", "render/key_proxy_%v.%04d.exr", "render/back_%v.%04d.exr", "render/back_proxy_%v.%04d.exr",
                                  "render/final_%v.%04d.exr", "render/final_proxy_%v.%04d.exr", "render/preview_%v.%04d.jpg",
                                  "render/final_proxy.%04d.exr", "render/preview_l.%04d.jpg"], 0),
    ]

    @Test func stereoPathsAreOnePerViewOfTheScript() throws {
        let result = try SceneScanner().scan([TestEnvironment.samples.appending("nuke/scene_stereo.nk")], formats: [NukeFormat()])
        let key = result.references.filter { $0.raw == Array("render/key_%v.%04d.exr".utf8) }
        #expect(key.map { $0.resolved.lastComponent!.string } == ["key_l.0001.exr", "key_r.0001.exr"])
        #expect(key.map(\.locations.count) == [1, 0], "the first view's reference rewrites the knob")
        #expect(NukeFormat.viewNames(Array("{{left #ff0000} {right #00ff00}}".utf8)) == [Array("left".utf8), Array("right".utf8)])
        #expect(NukeFormat.viewNames(nil) == [Array("main".utf8)])
    }

    @Test(arguments: samples)
    func findsTheReadsOfTheSharedSamples(_ sample: String, _ reads: [String], _ unresolvable: Int) throws {
        let result = try SceneScanner().scan([TestEnvironment.samples.appending(sample)], formats: [NukeFormat()])
        #expect(Set(result.references.map { String(decoding: $0.raw, as: UTF8.self) }) == Set(reads))
        #expect(result.references.filter { $0.unresolvable != nil }.count == unresolvable)
        // Write nodes' files are outputs.
        #expect(!result.references.contains { $0.block.hasPrefix("Write") })
    }

    @Test func aRewrittenScriptChangesOnlyItsPathsAndKeepsItsSequenceTokens() throws {
        let directory = TemporaryDirectory()
        let script = Self.fixtures.appending("comp.nk")
        let format = NukeFormat()
        let result = try SceneScanner().scan([script], formats: [format])
        let changes = result.references.filter { $0.unresolvable == nil }.map { reference in
            ReferenceChange(reference, to: Array("moved [1]/".utf8) + Array(reference.resolved.lastComponent!.string.utf8))
        }
        try format.rewrite(script, changes: changes, to: directory("comp.nk"))
        let again = try NukeFormat().scan(directory("comp.nk"), part: .whole)
        let raws = again.references.map { String(decoding: $0.raw, as: UTF8.self) }
        #expect(raws.contains("moved [1]/bg.####.exr"), "\(raws)")
        #expect(raws.contains("moved [1]/fg_%04d.dpx"))
        #expect(raws.contains("moved [1]/shot cam.abc"))
        #expect(raws.contains("[getenv PLATES]/bg.####.exr"))
        #expect(again.references.count == result.references.count)
        // A bracket in a new path is written escaped, as Nuke writes one in a quoted value.
        let text = try String(contentsOfFile: directory("comp.nk").string, encoding: .utf8)
        #expect(text.contains("file \"moved \\[1]/bg.####.exr\""))
    }

    @Test func brokenScriptsAreErrorsNamingTheLine() throws {
        let directory = TemporaryDirectory()
        try writeFile(directory("open.nk"), "Root {\n name x\n}\nRead {\n file \"plates/a.exr\n}\n")
        try writeFile(directory("unclosed.nk"), "Root {\n name x\n}\nRead {\n file a.exr\n")
        for (name, reason) in [("open.nk", "never closed (line 5)"), ("unclosed.nk", "Read node is never closed (line 4)")] {
            #expect {
                try SceneScanner().scan([directory(name)], formats: [NukeFormat()])
            } throws: { error in "\(error)".contains(name) && "\(error)".contains(reason) }
        }
        // Found by tools/fuzz/run (scenes): a padding too wide to be one overflowed.
        try writeFile(directory("wide.nk"), "Read {\n file a.%99999999999999999999999d.exr\n name R\n}\nRead {\n file b.\(String(repeating: "#", count: 5000)).exr\n}\n")
        let wide = try SceneScanner().scan([directory("wide.nk")], formats: [NukeFormat()])
        #expect(wide.references.map(\.pattern) == [.file, .file])
        let bytes = try FileSystem.readAll(Self.fixtures.appending("comp.nk"))
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<300 {
            var damaged = bytes
            for _ in 0..<4 { damaged[Int.random(in: 0..<damaged.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator) }
            _ = try? NukeScript.nodes(in: damaged)
        }
    }
}
