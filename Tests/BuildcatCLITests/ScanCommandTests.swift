import BuildcatBasics
import BuildcatTestSupport
import Foundation
import SystemPackage
import Testing

@Suite struct ScanCommandTests {
    static let fixtures = FilePath(TestEnvironment.packageRoot).appending("fixtures/blend")

    @Test func jsonListsScenesAssetsAndMissingAndExits3WhenSomethingIsMissing() throws {
        let directory = TemporaryDirectory()
        let output = try buildcat(["scan", "--json", Self.fixtures.appending("basic.blend").string], cache: directory("cache"))
        #expect(output.status == 3)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(output.standardOutput)) as? [String: Any])
        let scenes = try #require(object["scenes"] as? [[String: Any]])
        #expect(scenes.count == 1)
        #expect(scenes[0]["format"] as? String == "blend")
        let assets = try #require(object["assets"] as? [[String: Any]])
        let plate = assets.filter { ($0["path"] as? String)?.hasSuffix("bg.0003.png") == true && $0["kind"] as? String == "image" }
        #expect(plate.count == 1)
        #expect(plate.first?["frames"] as? [Int] == [3])
        #expect(plate.first?["raw"] as? String == "//assets/plates/bg.0001.png")
        #expect((plate.first?["scene"] as? String)?.hasSuffix("basic.blend") == true)
        #expect(plate.first?["field"] as? String == "name[1024]")
        #expect(plate.first?["size"] as? Int == 97)
        let missing = try #require(object["missing"] as? [[String: Any]])
        #expect(Set(missing.compactMap { $0["raw"] as? String }) == ["/nonexistent/buildcat/abs.png", "//assets/textures/missing.png"])
    }

    @Test func theTreeMarksMissingFilesAndExits0WhenNothingIs() throws {
        let directory = TemporaryDirectory()
        let linked = try buildcat(["scan", "--project", Self.fixtures.string, Self.fixtures.appending("linked.blend").string], cache: directory("cache"))
        #expect(linked.status == 0)
        #expect(linked.stdoutText.contains("library: lib/lib_b.blend"))
        #expect(linked.stdoutText.contains("3 scene(s), 5 reference(s)"))
        let basic = try buildcat(["scan", Self.fixtures.appending("basic.blend").string], cache: directory("cache"))
        #expect(basic.status == 3)
        #expect(basic.stdoutText.contains("abs.png  [MISSING]  IM absolute missing"))
    }

    /// Most entries are written in one go from pieces kept as JSON; a path that needs escaping
    /// (a quote, a backslash, bytes that are not UTF-8) is written field by field, and both
    /// ways give the same JSON as Python's `json.dumps` of names decoded with surrogateescape.
    @Test func namesThatNeedEscapingAreWrittenAsPythonWouldBesidePlainOnes() throws {
        let directory = TemporaryDirectory()
        let odd: [UInt8] = Array("we\"ir\\d".utf8) + [0xFF] + Array(".png".utf8)
        try writeFile(directory.path.appending(relativeBytes: odd), "odd")
        try writeFile(directory("plain.png"), "plain!")
        let layer: [UInt8] = Array("#usda 1.0\ndef \"A\" {\n    asset inputs:file = @./".utf8) + odd
            + Array("@\n    asset inputs:other = @./plain.png@\n}\n".utf8)
        try writeFile(directory("stage.usda"), layer)
        let output = try buildcat(["scan", "--json", directory("stage.usda").string], cache: directory("cache"))
        #expect(output.status == 0, "\(output.standardError)")
        let object = try JSONParser.parse(Array(output.standardOutput))
        guard case .array(let assets)? = object.member("assets") else { Issue.record("no assets"); return }
        #expect(assets.count == 2)
        let expectedName = Array("we\"ir\\d".utf16) + [0xDCFF] + Array(".png".utf16)
        guard case .string(let path)? = assets.first?.member("path"), case .string(let raw)? = assets.first?.member("raw") else {
            Issue.record("no path"); return
        }
        #expect(Array(path.suffix(expectedName.count)) == expectedName)
        #expect(raw == Array("./".utf16) + expectedName)
        #expect(assets.first?.member("size") == .integer(3))
        #expect(assets.last?.member("raw")?.text == "./plain.png")
        #expect(assets.last?.member("size") == .integer(6))
        #expect(assets.last?.member("field")?.text == "inputs:other")
        #expect(assets.last?.member("block")?.text == "line 4")
        #expect(assets.first?.member("scene") == assets.last?.member("scene"))
        // The escapes themselves, as Python writes them.
        #expect(output.stdoutText.contains(#"we\"ir\\d\udcff.png"#))
    }

    /// A scene's path is checked for escapes once for a run of its references: a layer whose
    /// name needs them, between two plain ones, has its own (escaped) scene in every entry.
    @Test func aSceneNameThatNeedsEscapingIsEscapedBetweenPlainOnes() throws {
        let directory = TemporaryDirectory()
        for name in ["root", "we\"ird", "plain"] { try writeFile(directory("tex_\(name).png"), name) }
        try writeFile(directory("stage.usda"), "#usda 1.0\n(\n    subLayers = [@./we\"ird.usda@, @./plain.usda@]\n)\ndef \"A\" { asset inputs:file = @./tex_root.png@ }\n")
        try writeFile(directory("we\"ird.usda"), "#usda 1.0\ndef \"B\" { asset inputs:file = @./tex_we\"ird.png@ }\n")
        try writeFile(directory("plain.usda"), "#usda 1.0\ndef \"C\" { asset inputs:file = @./tex_plain.png@ }\n")
        let output = try buildcat(["scan", "--json", directory("stage.usda").string], cache: directory("cache"))
        #expect(output.status == 0, "\(output.standardError)")
        let object = try JSONParser.parse(Array(output.standardOutput))
        guard case .array(let assets)? = object.member("assets") else { Issue.record("no assets"); return }
        let textures = assets.filter { $0.member("raw")?.text?.hasPrefix("./tex_") == true }
        #expect(textures.map { $0.member("raw")?.text } == ["./tex_root.png", "./tex_we\"ird.png", "./tex_plain.png"])
        #expect(textures.map { $0.member("scene")?.text } == ["stage.usda", "we\"ird.usda", "plain.usda"].map { directory($0).string })
        #expect(output.stdoutText.contains(#"we\"ird.usda","block""#))
    }

    /// The scan keeps folders open to stat their files by name; under a small open-file limit,
    /// with layers and textures in more folders than it may keep, it says the same as without.
    @Test func aStageInManyFoldersScansTheSameUnderALowOpenFileLimit() throws {
        let directory = TemporaryDirectory()
        let folders = 60
        for index in 0..<folders {
            let next = index + 1 < folders ? "(\n    subLayers = [@../f\(index + 1)/layer.usda@]\n)\n" : ""
            try writeFile(directory("stage/f\(index)/layer.usda"), "#usda 1.0\n\(next)def \"A\" { asset inputs:file = @../t\(index)/tex.png@ }\n")
            if index % 3 != 0 { try writeFile(directory("stage/t\(index)/tex.png"), Array(repeating: UInt8(index), count: index)) }
        }
        let root = directory("stage/f0/layer.usda").string
        let plain = try buildcat(["scan", "--json", root], cache: directory("cache"))
        #expect(plain.status == 3)
        let limited = try shell("ulimit -n 40 && exec \"$BUILDCAT\" scan --json \"$ROOT\"", ["BUILDCAT": TestEnvironment.buildcat, "ROOT": root])
        #expect(limited.status == 3, "\(limited.standardError)")
        #expect(limited.standardOutput.elementsEqual(plain.standardOutput))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(plain.standardOutput)) as? [String: Any])
        #expect((object["scenes"] as? [Any])?.count == folders)
        #expect((object["missing"] as? [Any])?.count == folders / 3)
    }

    /// The layers named on the command line start being read while it is parsed (`EarlyScan`),
    /// by a guess at which arguments are scenes: a guess that is wrong (an option's value that
    /// looks like a layer, a folder or a broken one) must change nothing, and a broken scene
    /// that is asked for fails as it would have.
    @Test func argumentsReadEarlyChangeNothingButTheScenesAskedFor() throws {
        let directory = TemporaryDirectory()
        try writeFile(directory("good.usda"), "#usda 1.0\ndef \"A\" { asset inputs:file = @./tex.png@ }\n")
        try writeFile(directory("tex.png"), "png")
        try writeFile(directory("broken.usda"), "not a layer")
        try writeFile(directory("folder.usda/inside.txt"), "a folder named like a layer")
        let alone = try buildcat(["scan", "--json", directory("good.usda").string], cache: directory("cache"))
        #expect(alone.status == 0, "\(alone.standardError)")
        for project in ["broken.usda", "folder.usda", "good.usda"] {
            let output = try buildcat(["scan", "--project", directory(project).string, "--json", directory("good.usda").string], cache: directory("cache"))
            #expect(output.status == 0, "--project \(project): \(output.standardError)")
            #expect(output.standardOutput == alone.standardOutput, "--project \(project)")
        }
        let tree = try buildcat(["scan", "--project", directory("broken.usda").string, directory("good.usda").string], cache: directory("cache"))
        #expect(tree.status == 0 && tree.stdoutText.contains("tex.png"), "\(tree.standardError)")
        let broken = try buildcat(["scan", "--json", directory("broken.usda").string], cache: directory("cache"))
        #expect(broken.status == 2)
        #expect(broken.standardError.contains("broken.usda") && broken.standardError.contains("neither a USD text layer"), "\(broken.standardError)")
        let both = try buildcat(["scan", "--json", directory("good.usda").string, directory("broken.usda").string], cache: directory("cache"))
        #expect(both.status == 2 && both.standardError.contains("broken.usda"))
    }

    @Test func anUnreadableSceneExits2WithTheReason() throws {
        let directory = TemporaryDirectory()
        try writeFile(directory("broken.blend"), "BLENDER-v304 and then nothing useful")
        let output = try buildcat(["scan", directory("broken.blend").string], cache: directory("cache"))
        #expect(output.status == 2)
        #expect(output.standardError.contains("broken.blend"))
        let absent = try buildcat(["scan", directory("absent.blend").string], cache: directory("cache"))
        #expect(absent.status == 2)
        #expect(absent.standardError.contains("No such file or directory"))
    }
}
