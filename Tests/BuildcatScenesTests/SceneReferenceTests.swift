import BuildcatBasics
import BuildcatTestSupport
import Glibc
@testable import BuildcatScenes
import SystemPackage
import Testing

@Suite struct SceneReferenceTests {
    private func reference(locations: [FieldLocation]) -> SceneReference {
        SceneReference(scene: "/s/a.usda", block: "line 1", field: "inputs:file", raw: Array("x.png".utf8), kind: .asset,
                       pattern: .file, resolvedBytes: Array("/s/x.png".utf8), locations: locations)
    }

    @Test func lentFieldsAreTheFieldsAndAChangeLeavesCopiesAlone() {
        var changed = reference(locations: [FieldLocation(offset: 3, capacity: 5)])
        let original = changed
        #expect(original.withRaw { Array($0) } == Array("x.png".utf8))
        changed.raw = Array("y.png".utf8)
        changed.scene = "/s/b.usda"
        #expect(changed.withRaw { Array($0) } == Array("y.png".utf8))
        // Read in place, through a pointer, each copy shows its own fields.
        for (reference, raw, scene) in [(original, "x.png", "/s/a.usda"), (changed, "y.png", "/s/b.usda")] {
            withUnsafePointer(to: reference) { pointer in
                SceneReference.inPlace(pointer) { lent in
                    #expect(Array(lent.raw) == Array(raw.utf8) && Array(lent.resolved) == Array("/s/x.png".utf8))
                    #expect(lent.scene == FilePath(scene) && lent.isInScene(FilePath(scene)) && !lent.isInScene("/s/c.usda"))
                    #expect(lent.kind == .asset && lent.block == "line 1" && lent.field == "inputs:file")
                }
            }
        }
        #expect(original.raw == Array("x.png".utf8) && original.scene == FilePath("/s/a.usda"))
        #expect(changed.locations == original.locations && changed.block == original.block)
        // prefetch(_:paths:) reads the storage's address as the reference's only stored property.
        #expect(MemoryLayout<SceneReference>.size == MemoryLayout<UnsafeRawPointer>.size)
        withUnsafePointer(to: original) { SceneReference.prefetch($0, paths: false); SceneReference.prefetch($0, paths: true) }
    }

    @Test(arguments: [0, 1, 2, 3])
    func locationsReadBackAsTheyWereGiven(count: Int) {
        let locations = (0..<count).map { FieldLocation(offset: Int64($0 * 10), capacity: $0 + 1) }
        var value = reference(locations: locations)
        #expect(value.locations == locations)
        #expect(value.isPlaced == (count > 0))
        #expect(value.firstLocation == locations.first)
        // Changed to every other count, and back.
        for other in [0, 1, 2, 3] {
            let changed = (0..<other).map { FieldLocation(offset: Int64(100 + $0), capacity: 7) }
            value.locations = changed
            #expect(value.locations == changed)
            #expect(value.isPlaced == (other > 0))
            #expect(value.firstLocation == changed.first)
        }
        value.locations = locations
        #expect(value.locations == locations)
    }

    @Test func theRareFieldsAreSetEachWithoutTheOthersAndCopiesDoNotShareChanges() {
        let original = reference(locations: [FieldLocation(offset: 1, capacity: 2), FieldLocation(offset: 5, capacity: 6)])
        #expect(original.unresolvable == nil && original.frameRange == nil && original.fileNamePrefix == nil && original.sequenceUsers == nil)
        var copy = original
        copy.unresolvable = "a variable defined nowhere"
        copy.frameRange = 1...24
        copy.fileNamePrefix = Array("cache_".utf8)
        copy.sequenceUsers = [SequenceUser(start: 1, length: 10, offset: 0, cyclic: false)]
        copy.frameRange = nil
        #expect(copy.unresolvable == "a variable defined nowhere")
        #expect(copy.frameRange == nil)
        #expect(copy.fileNamePrefix == Array("cache_".utf8))
        #expect(copy.sequenceUsers?.count == 1)
        #expect(copy.locations.count == 2)
        // The original kept what it had.
        #expect(original.unresolvable == nil && original.fileNamePrefix == nil && original.sequenceUsers == nil)
        // A copy of the copy changed again leaves the copy as it was.
        var third = copy
        third.locations = [FieldLocation(offset: 9, capacity: 1)]
        third.unresolvable = nil
        #expect(third.locations == [FieldLocation(offset: 9, capacity: 1)] && third.unresolvable == nil)
        #expect(copy.locations.count == 2 && copy.unresolvable != nil && copy.fileNamePrefix == Array("cache_".utf8))
        #expect(original.locations.count == 2)
    }

    @Test func statusesAreFoundByIndexInOrderAndOutOfOrder() {
        func status(_ size: Int64) -> FileStatus {
            var raw = stat()
            raw.st_size = Int(size)
            raw.st_mode = 0o100644  // a regular file
            return FileStatus(raw)
        }
        // Runs of statuses the formats found, with gaps between them stat'ed by the scan.
        let runs = [ScanStatusTable.Run(firstIndex: 0, statuses: [status(0), nil, status(2)]),
                    ScanStatusTable.Run(firstIndex: 5, statuses: [status(5)]),
                    ScanStatusTable.Run(firstIndex: 6, statuses: []),
                    ScanStatusTable.Run(firstIndex: 6, statuses: [nil, status(7)])]
        let stated: [Int: FileStatus?] = [3: status(3), 4: FileStatus?.none, 8: status(8)]
        let expected: [Int64?] = [0, nil, 2, 3, nil, 5, nil, 7, 8, nil]
        var table = ScanStatusTable(runs: runs, stated: stated)
        #expect((0..<10).map { table.status(of: $0)?.size } == expected)
        for index in [9, 0, 7, 3, 5, 1, 8] {
            #expect(table.status(of: index)?.size == expected[index])
        }
    }
}

@Suite struct ScanOrderTests {
    /// Scenes of a format that stats as it reads (USD) and of one the scan stats for (Blender),
    /// in either order: files are expanded as each is merged until one is left for the end, so
    /// the result must come out the same as one pass in order would give it.
    @Test(arguments: [["usd/shot.usda", "blend/linked.blend"], ["blend/linked.blend", "usd/shot.usda"]])
    func assetsAndMissingFollowTheReferencesWhateverTheFormats(scenes: [String]) throws {
        let root = FilePath(TestEnvironment.packageRoot).appending("fixtures")
        let result = try SceneScanner().scan(scenes.map { root.appending($0) })
        #expect(Set(result.scenes.map(\.format)) == ["usd", "blend"])
        // In order of reference, and every reference either has files or is missing (a folder
        // may have neither), never both.
        #expect(result.assets.map(\.reference) == result.assets.map(\.reference).sorted())
        #expect(result.missing == result.missing.sorted())
        let withFiles = Set(result.assets.map(\.reference))
        #expect(withFiles.isDisjoint(with: result.missing))
        for index in result.references.indices where result.references[index].pattern != .directory {
            #expect(withFiles.contains(index) || result.missing.contains(index))
        }
        // Each single file's status is its own.
        for asset in result.assets where result.references[asset.reference].pattern == .file {
            #expect(asset.file.status == (try FileSystem.status(of: asset.file.path)))
        }
        // The same as each scene scanned alone, in the same order.
        let alone = try scenes.map { try SceneScanner().scan([root.appending($0)]) }
        #expect(result.assets.map(\.file.pathBytes) == alone.flatMap { $0.assets.map(\.file.pathBytes) })
        #expect(result.missing.count == alone.reduce(0) { $0 + $1.missing.count })
    }
}
