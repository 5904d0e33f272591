import BuildcatBasics
@testable import BuildcatScenes
import BuildcatTestSupport
import Foundation
import SystemPackage
import Testing

@Suite struct BlendRewriteTests {
    static let fixtures = BlendScanTests.fixtures

    /// What the real Blender reports for a scene: `bpy.utils.blend_paths(absolute=True)`.
    static func blenderPaths(_ scene: FilePath) throws -> [String] {
        let blender = try TestEnvironment.program("blender", package: "blender")
        let script = "import bpy, json, sys; sys.stdout.write('PATHS ' + json.dumps(sorted(bpy.utils.blend_paths(absolute=True))) + '\\n')"
        let output = try run(blender, ["-b", "--factory-startup", scene.string, "--python-expr", script])
        #expect(output.status == 0, "\(output.standardError)")
        let line = try #require(output.stdoutText.split(separator: "\n").first { $0.hasPrefix("PATHS ") })
        return try #require(try JSONSerialization.jsonObject(with: Data(line.dropFirst(6).utf8)) as? [String])
    }

    /// Moves every file a scene uses into a new layout, rewrites the scene to match, and asks
    /// Blender what the rewritten scene uses: exactly the new paths, all of them there.
    @Test(arguments: ["basic.blend", "compressed.blend"])
    func aRewrittenSceneOpensInBlenderWithExactlyTheNewPaths(scene: String) throws {
        let directory = TemporaryDirectory()
        let source = Self.fixtures.appending(scene)
        let result = try SceneScanner().scan([source])
        let missing = Set(result.missing)
        var changes: [ReferenceChange] = []
        var expected: [String] = []
        var stripDirectories: [FieldLocation: String] = [:]
        for (index, reference) in result.references.enumerated() where !reference.locations.isEmpty {
            let name = reference.resolved.lastComponent!.string
            var folder = "moved/\(index)"
            if reference.locations.count == 2 {  // strip elements share their strip's directory
                folder = stripDirectories[reference.locations[0], default: "moved/strip\(index)"]
                stripDirectories[reference.locations[0]] = folder
            }
            changes.append(ReferenceChange(reference, to: Array("//\(folder)/\(name)".utf8)))
            // Blender's list leaves point caches out; our own scan of the result checks them.
            if reference.kind != .pointCache { expected.append(directory.path.appending("\(folder)/\(name)").string) }
            if missing.contains(index) { continue }
            for asset in result.assets where asset.reference == index {
                let relative = reference.pattern == .directory
                    ? name + "/" + String(asset.file.path.string.dropFirst(reference.resolved.string.count + 1))
                    : asset.file.path.lastComponent!.string
                try writeFile(directory.path.appending("\(folder)/\(relative)"), try FileSystem.readAll(asset.file.path))
            }
        }
        let rewritten = directory("scene.blend")
        try BlendRewriter.rewrite(source, changes: changes, to: rewritten)
        #expect(try FileSystem.status(of: rewritten).size == (try BlendFile(path: source)).storage.size)

        let reported = try Self.blenderPaths(rewritten)
        #expect(reported == expected.sorted())
        let rescanned = try SceneScanner().scan([rewritten])
        let newRaws = Set(changes.map { String(decoding: $0.newRaw, as: UTF8.self) })
        for reference in rescanned.references where !reference.locations.isEmpty {
            #expect(newRaws.contains(String(decoding: reference.raw, as: UTF8.self)), "\(reference.block) still holds \(displayBytes(reference.raw))")
        }
        #expect(rescanned.assets.contains { $0.file.path.string.hasSuffix("cloth_000001_00.bphys") })
        let missingPaths = Set(result.missing.map { result.references[$0].resolved.lastComponent!.string })
        for path in expected where !missingPaths.contains(FilePath(path).lastComponent!.string) && !path.contains("<UDIM>") {
            #expect(FileManager.default.fileExists(atPath: path), "\(path) is not there")
        }
    }

    @Test func aValueLongerThanItsFieldIsAnErrorNotATruncation() throws {
        let directory = TemporaryDirectory()
        let source = Self.fixtures.appending("basic.blend")
        let reference = try #require(try SceneScanner().scan([source]).references.first { $0.block == "IM wood" })
        let long = Array(("//" + String(repeating: "x", count: 1022)).utf8)
        let error = #expect(throws: SceneError.self) {
            try BlendRewriter.rewrite(source, changes: [ReferenceChange(reference, to: long)], to: directory("out.blend"))
        }
        #expect(error?.description.contains("IM wood name[1024]") == true)
        #expect(error?.description.contains("at most 1023") == true)
        #expect(try FileSystem.statusIfPresent(of: directory("out.blend")) == nil)
        // The longest value that fits is written whole.
        let fits = Array(("//" + String(repeating: "y", count: 1021)).utf8)
        try BlendRewriter.rewrite(source, changes: [ReferenceChange(reference, to: fits)], to: directory("out.blend"))
        let again = try #require(try SceneScanner().scan([directory("out.blend")]).references.first { $0.block == "IM wood" })
        #expect(again.raw == fits)
    }

    @Test func onlyTheChangedFieldsDiffer() throws {
        let directory = TemporaryDirectory()
        let source = Self.fixtures.appending("basic.blend")
        let reference = try #require(try SceneScanner().scan([source]).references.first { $0.block == "IM wood" })
        try BlendRewriter.rewrite(source, changes: [ReferenceChange(reference, to: Array("//a.png".utf8))], to: directory("out.blend"))
        let before = try FileSystem.readAll(source)
        let after = try FileSystem.readAll(directory("out.blend"))
        #expect(before.count == after.count)
        let location = reference.locations[0]
        let differing = zip(before, after).enumerated().filter { $0.element.0 != $0.element.1 }.map(\.offset)
        #expect(differing.allSatisfy { Int64($0) >= location.offset && Int64($0) < location.offset + Int64(location.capacity) })
        #expect(!differing.isEmpty)
    }
}

@Suite struct SceneRewriterTests {
    /// A scene and its libraries, each rewritten into its own file through one call.
    @Test func librariesAreRewrittenEachInItsOwnFile() throws {
        let directory = TemporaryDirectory()
        let scene = BlendScanTests.fixtures.appending("linked.blend")
        let result = try SceneScanner().scan([scene])
        let changes = result.references.map { ReferenceChange($0, to: Array("//elsewhere/\($0.resolved.lastComponent!.string)".utf8)) }
        var outputs: [String: FilePath] = [:]
        try SceneRewriter.rewrite(changes) { source in
            let target = directory.path.appending("out-" + source.lastComponent!.string)
            outputs[source.lastComponent!.string] = target
            return target
        }
        #expect(Set(outputs.keys) == ["linked.blend", "lib_a.blend", "lib_b.blend"])
        // Each changed field holds its new value in its own file's copy (same offsets: these
        // fixtures are not compressed).
        for change in changes {
            let output = try #require(outputs[change.reference.scene.lastComponent!.string])
            let bytes = try FileSystem.readAll(output)
            let location = try #require(change.reference.locations.first)
            let field = bytes[Int(location.offset)..<Int(location.offset) + location.capacity]
            #expect(Array(field.prefix { $0 != 0 }) == change.newRaw, "\(change.reference.block) in \(output)")
        }
    }
}
