import BuildcatBasics
import BuildcatTestSupport
import Foundation
import SystemPackage
import Testing

/// Staging a USD shot: usd-core resolves every dependency of the staged, rewritten stage
/// inside the checkout.
@Suite struct USDStagingTests {
    static let fixtures = FilePath(TestEnvironment.packageRoot).appending("fixtures/usd")

    func share(_ directory: TemporaryDirectory) throws -> FilePath {
        let share = directory("share")
        try FileManager.default.createDirectory(atPath: share.string, withIntermediateDirectories: true)
        #expect(try buildcat(["store", "init", "--share", share.string], cache: directory("cache")).status == 0)
        return share
    }

    @Test func usdResolvesEveryDependencyOfTheStagedShotInsideTheCheckout() throws {
        let directory = TemporaryDirectory()
        let share = try share(directory)
        // The project is a copy, with a texture outside it (under _external/ once staged).
        let project = directory("project")
        try FileManager.default.copyItem(atPath: Self.fixtures.string, toPath: project.string)
        try writeFile(directory("elsewhere/outside.png"), "outside")
        let shot = try String(contentsOfFile: project.appending("shot.usda").string, encoding: .utf8)
        try FileSystem.removeFile(project.appending("shot.usda"))
        try writeFile(project.appending("shot.usda"), shot.replacingOccurrences(of: "custom asset sky = @textures/sky.exr@",
                                                                                with: "custom asset sky = @\(directory("elsewhere/outside.png").string)@"))
        let staged = try buildcat(["stage", "--share", share.string, "--allow-missing", "--json", project.appending("shot.usda").string], cache: directory("cache"))
        #expect(staged.status == 0, "\(staged.standardError)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(staged.standardOutput)) as? [String: Any])
        let checkout = share.appending("\(try #require(report["directory"] as? String))/files")
        #expect((report["notes"] as? [String])?.contains { $0.hasPrefix("assets/hero.usdc: a binary USD layer, staged as it is") } == true)

        let script = directory("deps.py")
        try writeFile(script, """
            import json, sys
            from pxr import UsdUtils
            layers, assets, unresolved = UsdUtils.ComputeAllDependencies(sys.argv[1])
            print(json.dumps({"layers": [l.realPath for l in layers], "assets": list(assets), "unresolved": list(unresolved)}))
            """)
        let output = try run(TestEnvironment.peersVenv + "/bin/python", [script.string, checkout.appending("shot.usda").string])
        #expect(output.status == 0, "\(output.standardError)")
        let dependencies = try #require(try JSONSerialization.jsonObject(with: Data(output.standardOutput)) as? [String: [String]])
        let resolved = (dependencies["layers"] ?? []) + (dependencies["assets"] ?? [])
        #expect(resolved.count == 27, "\(resolved)")
        for path in resolved {
            #expect(path.hasPrefix(checkout.string + "/"), "\(path) is outside the checkout")
            #expect(FileManager.default.fileExists(atPath: path), "\(path)")
        }
        #expect(resolved.contains(checkout.string + "/_external" + directory("elsewhere/outside.png").string))
        #expect(dependencies["unresolved"] == [checkout.string + "/textures/missing.png"])
    }

    @Test func aCrateThatWouldNeedRewritingIsRefusedNamingThePath() throws {
        let directory = TemporaryDirectory()
        let share = try share(directory)
        try writeFile(directory("outside/tex.png"), "tex")
        try writeFile(directory("project/shot.usda"), "#usda 1.0\ndef \"A\" (\n    prepend references = @./crate.usdc@\n)\n{\n}\n")
        let made = try run(TestEnvironment.peersVenv + "/bin/python", ["-c", """
            import sys
            from pxr import Sdf
            layer = Sdf.Layer.CreateAnonymous(".usda")
            layer.ImportFromString('#usda 1.0\\ndef "A"\\n{\\n    asset t = @' + sys.argv[2] + '@\\n}\\n')
            layer.Export(sys.argv[1])
            """, directory("project/crate.usdc").string, directory("outside/tex.png").string])
        #expect(made.status == 0, "\(made.standardError)")
        let staged = try buildcat(["stage", "--share", share.string, directory("project/shot.usda").string], cache: directory("cache"))
        #expect(staged.status == 1)
        #expect(staged.standardError.contains("crate.usdc"))
        #expect(staged.standardError.contains("Buildcat does not write crate files"))
        #expect(staged.standardError.contains(directory("outside/tex.png").string))
    }
}
