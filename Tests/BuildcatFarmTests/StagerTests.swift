import BuildcatBasics
@testable import BuildcatFarm
import BuildcatHash
import BuildcatStore
import BuildcatTestSupport
import Foundation
import SystemPackage
import Testing

@Suite struct CheckoutLayoutTests {
    @Test func projectFilesKeepTheirPlaceAndOthersGoUnderExternal() throws {
        let layout = try CheckoutLayout(project: "/projects/shot010")
        #expect(layout.checkoutPath(for: "/projects/shot010/tex/wood.png") == Array("tex/wood.png".utf8))
        #expect(layout.checkoutPath(for: "/projects/shot010/../library/tree.blend") == Array("_external/projects/library/tree.blend".utf8))
        #expect(layout.checkoutPath(for: "/mnt/textures/a.png") == Array("_external/mnt/textures/a.png".utf8))
    }

    @Test func relativePathsAreBlenders() {
        func relative(_ from: String, _ to: String) -> String {
            String(decoding: CheckoutLayout.blendRelative(from: Array(from.utf8), to: Array(to.utf8)), as: UTF8.self)
        }
        #expect(relative("shot.blend", "tex/wood.png") == "//tex/wood.png")
        #expect(relative("lib/a.blend", "tex/wood.png") == "//../tex/wood.png")
        #expect(relative("lib/a.blend", "lib/b.blend") == "//b.blend")
        #expect(relative("a/b/c.blend", "_external/mnt/x.png") == "//../../_external/mnt/x.png")
    }
}

/// Staging real Blender fixtures, checked by opening the staged scene in the real Blender.
@Suite struct StagerTests {
    static let fixtures = FilePath(TestEnvironment.packageRoot).appending("fixtures/blend")

    func store(_ directory: TemporaryDirectory) throws -> ContentStore {
        let store = ContentStore(share: directory("share"))
        try FileSystem.createDirectories(store.share)
        try store.initialize()
        return store
    }

    /// What Blender reports the staged scene uses, and which of those files are missing.
    static func blenderPaths(_ scene: FilePath) throws -> (paths: [String], missing: [String]) {
        let blender = try TestEnvironment.program("blender", package: "blender")
        let script = """
            import bpy, json, os, sys
            paths = sorted(bpy.utils.blend_paths(absolute=True))
            missing = [p for p in paths if '<UDIM>' not in p and not os.path.exists(p)]
            sys.stdout.write('PATHS ' + json.dumps({'paths': paths, 'missing': missing}) + '\\n')
            """
        let output = try run(blender, ["-b", "--factory-startup", scene.string, "--python-expr", script])
        let line = try #require(output.stdoutText.split(separator: "\n").first { $0.hasPrefix("PATHS ") }, "\(output.standardError)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.dropFirst(6).utf8)) as? [String: [String]])
        return (object["paths"]!, object["missing"]!)
    }

    @Test func aStagedShotOpensInBlenderWithEveryFileInsideTheCheckout() throws {
        let directory = TemporaryDirectory()
        let store = try store(directory)
        let report = try Stager(store: store).stage([Self.fixtures.appending("linked.blend")])
        #expect(report.scenes == ["linked.blend"])
        #expect(report.filesFound == 6)  // 3 textures, the shot and its 2 libraries
        #expect(report.filesCopied == 6)
        let checkout = store.share.appending(report.directory).appending("files")
        let (paths, missing) = try Self.blenderPaths(checkout.appending("linked.blend"))
        #expect(paths.count == 5)
        #expect(paths.allSatisfy { $0.hasPrefix(checkout.string + "/") }, "\(paths)")
        #expect(missing.isEmpty, "\(missing)")

        // The manifest describes files/ exactly, and its hash is the one reported.
        let manifestBytes = try FileSystem.readAll(store.share.appending(report.directory).appending("manifest.json"))
        #expect(XXH128Hasher.digest(of: manifestBytes).hex == report.manifestHash)
        let manifest = try Manifest.decode(manifestBytes, source: "manifest.json")
        let snapshot = try ManifestSnapshotter(hashing: FileHashingService(cache: nil)).snapshot(root: checkout).manifest
        #expect(manifest == snapshot)
        let record = try #require(try JSONSerialization.jsonObject(with: Data(try FileSystem.readAll(store.share.appending(report.directory).appending("submission.json")))) as? [String: Any])
        #expect(record["manifest_xxh128"] as? String == report.manifestHash)
        #expect(record["scenes"] as? [String] == ["linked.blend"])
    }

    @Test func restagingCopiesNothing() throws {
        let directory = TemporaryDirectory()
        let store = try store(directory)
        let scene = Self.fixtures.appending("linked.blend")
        _ = try Stager(store: store).stage([scene])
        let again = try Stager(store: store).stage([scene])
        #expect(again.filesCopied == 0)
        #expect(again.filesPresent == 6)
    }

    /// Staged again with every digest in the hash cache and nothing changed: the earlier
    /// submission is the answer, and nothing is written. A changed file makes a new one.
    @Test func anUnchangedRestagingFindsTheEarlierSubmission() throws {
        let directory = TemporaryDirectory()
        let store = try store(directory)
        let project = directory("project")
        #expect(try run("/bin/cp", ["-r", Self.fixtures.string, project.string]).status == 0)
        let cache = HashCache(directory: directory("cache"), racyWindowNanoseconds: 0)
        let scene = project.appending("linked.blend")
        let first = try Stager(store: store, cache: cache).stage([scene])
        #expect(!first.reused)
        let again = try Stager(store: store, cache: cache).stage([scene])
        #expect(again.reused)
        #expect(again.submission == first.submission)
        #expect(again.manifestHash == first.manifestHash)
        #expect(again.filesCopied == 0 && again.filesPresent == first.filesFound)
        #expect(try DirectoryWalker.names(in: store.root.appending("submissions")).count == 1)

        try writeFile(project.appending("assets/textures/wood.png"), "repainted")
        let changed = try Stager(store: store, cache: cache).stage([scene])
        #expect(!changed.reused)
        #expect(changed.submission != first.submission)
        #expect(changed.filesCopied == 1)
    }

    @Test func missingFilesAreAllListedAndNothingIsStaged() throws {
        let directory = TemporaryDirectory()
        let store = try store(directory)
        let error = #expect(throws: StageError.self) { try Stager(store: store).stage([Self.fixtures.appending("basic.blend")]) }
        #expect(error?.missing.count == 2)
        #expect(error?.description.contains("abs.png") == true)
        #expect(error?.description.contains("missing.png") == true)
        #expect((try? DirectoryWalker().walk(store.objectsDirectory).files.count) == 0)
        #expect((try? DirectoryWalker.names(in: store.root).contains(Array("submissions".utf8))) != true)
    }

    @Test func withMissingAllowedEverythingElseIsInsideTheCheckout() throws {
        let directory = TemporaryDirectory()
        let store = try store(directory)
        var stager = Stager(store: store)
        stager.allowMissing = true
        let report = try stager.stage([Self.fixtures.appending("basic.blend")])
        #expect(report.missing.count == 2)
        let checkout = store.share.appending(report.directory).appending("files")
        let (paths, missing) = try Self.blenderPaths(checkout.appending("basic.blend"))
        #expect(paths.allSatisfy { $0.hasPrefix(checkout.string + "/") }, "\(paths)")
        #expect(Set(missing.map { FilePath($0).lastComponent!.string }) == ["abs.png", "missing.png"])
    }
}
