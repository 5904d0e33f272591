import BuildcatBasics
import BuildcatTestSupport
import Foundation
import SystemPackage
import Testing

/// Every scene format stages with no other change: the staged, rewritten scene, scanned again
/// where it lies in the checkout, uses only files inside the checkout, all there but those
/// missing (or unresolvable) to begin with.
@Suite struct SceneFormatStagingTests {
    static let fixtures = FilePath(TestEnvironment.packageRoot).appending("fixtures")

    static let scenes: [(String, [String: String])] = [
        ("houdini/shot.hip", ["JOB": fixtures.appending("houdini/job").string]),
        ("houdini/shot.ifd", [:]),
        ("maya/scene.ma", ["BUILDCAT_FIXTURE_ENV": fixtures.appending("maya/env").string]),
        ("nuke/comp.nk", [:]),
        ("mesh/crate.obj", [:]),
        ("mesh/options.obj", [:]),
        ("mesh/crate.gltf", [:]),
        ("mesh/crate.glb", [:]),
        ("usd/shot.usda", [:]),
        ("render/shot.blend", [:]),
    ]

    func json(_ output: ProcessOutput) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(output.standardOutput)) as? [String: Any], "\(output.standardError)")
    }

    @Test(arguments: scenes)
    func theStagedSceneUsesOnlyTheCheckout(_ scene: String, _ environment: [String: String]) throws {
        let directory = TemporaryDirectory()
        let share = directory("share")
        try FileManager.default.createDirectory(atPath: share.string, withIntermediateDirectories: true)
        let cache = directory("cache")
        #expect(try buildcat(["store", "init", "--share", share.string], cache: cache).status == 0)
        let source = Self.fixtures.appending(scene)
        let project = FilePath(root: nil, source.components.dropLast()).string
        let before = try json(try buildcat(["scan", "--json", source.string], cache: cache, environment: environment))
        let staged = try buildcat(["stage", "--share", share.string, "--project", "/" + project, "--allow-missing", "--json", source.string],
                                  cache: cache, environment: environment)
        #expect(staged.status == 0, "\(staged.standardError)")
        let report = try json(staged)
        let checkout = share.appending(try #require(report["directory"] as? String)).appending("files")
        let stagedScene = checkout.appending(source.lastComponent!.string)
        // Scanned where it lies, with nothing of the original environment to lean on.
        let after = try json(try buildcat(["scan", "--json", stagedScene.string], cache: cache))
        let assets = try #require(after["assets"] as? [[String: Any]])
        let missing = try #require(after["missing"] as? [[String: Any]])
        for asset in assets {
            let path = try #require(asset["path"] as? String)
            #expect(path.hasPrefix(checkout.string + "/"), "\(scene): \(path) is outside the checkout")
        }
        #expect(assets.count == (before["assets"] as? [Any])?.count, "\(scene): the same files")
        #expect(missing.count == (before["missing"] as? [Any])?.count, "\(scene): missing before, missing after, no more")
        for entry in missing where entry["unresolvable"] == nil {
            #expect((entry["path"] as? String)?.hasPrefix(checkout.string + "/") == true, "\(scene): \(entry["path"] ?? "")")
        }
    }

    @Test func aSceneNoWorkerRendersIsStagedButNotQueued() throws {
        let directory = TemporaryDirectory()
        let share = directory("share")
        try FileManager.default.createDirectory(atPath: share.string, withIntermediateDirectories: true)
        #expect(try buildcat(["store", "init", "--share", share.string], cache: directory("cache")).status == 0)
        let server = try RedisServer()
        let output = try buildcat(["stage-and-submit", "--share", share.string, "--redis", server.url, "--frames", "1", "--allow-missing",
                                   Self.fixtures.appending("nuke/comp.nk").string], cache: directory("cache"))
        #expect(output.status == 1)
        #expect(output.standardError.contains("is not a Blender scene"), "\(output.standardError)")
        let submissions = try FileManager.default.contentsOfDirectory(atPath: share.appending("buildcat/submissions").string)
        #expect(submissions.count == 1, "staged all the same")
        let queued = try run(TestEnvironment.peersVenv + "/bin/rq", ["info", "--url", server.url, "--only-queues"])
        #expect(!queued.stdoutText.contains("default"), "\(queued.stdoutText)")
    }
}
