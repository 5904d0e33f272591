import BuildcatBasics
import BuildcatScenes
import BuildcatTestSupport
import Foundation
import SystemPackage
import Testing

/// Which file of an image sequence a scene frame shows, and who shows it.
@Suite struct SequenceUserTests {
    @Test func mapsSceneFramesToFileNumbersAsBlenderDoes() {
        let plain = SequenceUser(start: 1, length: 3, offset: 0, cyclic: false)
        #expect((-1...5).map { plain.fileNumber(atSceneFrame: $0) } == [0, 0, 1, 2, 3, 3, 3])
        // A plate numbered 1001–1100 that starts at scene frame 101.
        let plate = SequenceUser(start: 101, length: 100, offset: 1000, cyclic: false)
        #expect(plate.fileNumber(atSceneFrame: 101) == 1001)
        #expect(plate.fileNumber(atSceneFrame: 150) == 1050)
        #expect(plate.fileNumber(atSceneFrame: 300) == 1100)
        let loop = SequenceUser(start: 1, length: 4, offset: 10, cyclic: true)
        #expect((1...9).map { loop.fileNumber(atSceneFrame: $0) } == [11, 12, 13, 14, 11, 12, 13, 14, 11])
        #expect(loop.fileNumber(atSceneFrame: 0) == 14)
        #expect(SequenceUser(start: 1, length: 0, offset: 5, cyclic: false).fileNumber(atSceneFrame: 3) == nil)
    }

    @Test func theRenderFixturesSequenceHasOneKnownUser() throws {
        let scene = FilePath(TestEnvironment.packageRoot).appending("fixtures/render/shot.blend")
        let result = try SceneScanner().scan([scene])
        let sequence = try #require(result.references.first { $0.pattern == .frameSequence })
        #expect(sequence.resolved.lastComponent?.string == "glow_0001.png")
        #expect(sequence.sequenceUsers == [SequenceUser(start: 1, length: 3, offset: 0, cyclic: false)])
        #expect(result.references.filter { $0.pattern != .frameSequence }.allSatisfy { $0.sequenceUsers == nil })
    }

    @Test func aSequenceWithUsersNotAllFoundIsUnknown() throws {
        // basic.blend's sequence image is not shown by any node: its users are not known.
        let scene = FilePath(TestEnvironment.packageRoot).appending("fixtures/blend/basic.blend")
        let result = try SceneScanner().scan([scene])
        let sequences = result.references.filter { $0.pattern == .frameSequence && $0.kind == .image }
        #expect(!sequences.isEmpty)
        #expect(sequences.allSatisfy { $0.sequenceUsers == nil })
    }
}
