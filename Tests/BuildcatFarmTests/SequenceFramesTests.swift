import BuildcatBasics
import BuildcatFarm
import BuildcatScenes
import Testing

/// Which files of image sequences a chunk's frames leave out of the check.
@Suite struct SequenceFramesTests {
    func paths(_ names: [String]) -> Set<[UInt8]> { Set(names.map { Array($0.utf8) }) }

    @Test func leavesOutOnlyFilesNoFrameOfTheChunkShows() throws {
        let plate = SequenceFrames.Sequence(users: [SequenceUser(start: 101, length: 10, offset: 1000, cyclic: false)],
                                            files: (1001...1010).map { (Array("plate.\($0).exr".utf8), $0) })
        let frames = SequenceFrames(sequences: [plate])
        // Scene frame 105 shows 1005; 1004 and 1006 are kept for motion blur.
        #expect(frames.unneededPaths(forFrames: [105]) == paths((1001...1010).filter { ![1004, 1005, 1006].contains($0) }.map { "plate.\($0).exr" }))
        // Before the start Blender holds the first image's number less one, after the end the last.
        #expect(!frames.unneededPaths(forFrames: [500]).contains(Array("plate.1010.exr".utf8)))
        // A second user of the same files needs others: this one loops every 10 frames from
        // scene frame 3, so frames 104–106 show its images 2–4.
        let looping = SequenceUser(start: 3, length: 10, offset: 1000, cyclic: true)
        let shared = SequenceFrames(sequences: [plate, SequenceFrames.Sequence(users: [looping], files: plate.files)])
        #expect(shared.unneededPaths(forFrames: [105]) == paths([1001, 1007, 1008, 1009, 1010].map { "plate.\($0).exr" }))
        // A user that plays no images cannot say which: every file is kept.
        let silent = SequenceFrames(sequences: [SequenceFrames.Sequence(users: [SequenceUser(start: 1, length: 0, offset: 0, cyclic: false)], files: plate.files)])
        #expect(silent.unneededPaths(forFrames: [3]).isEmpty)
    }

    @Test func roundTripsThroughJSONAndRefusesWhatIsNotARecord() throws {
        let record = SequenceFrames(sequences: [SequenceFrames.Sequence(users: [SequenceUser(start: -5, length: 3, offset: 2, cyclic: true)],
                                                                       files: [([0x66, 0xFF, 0x2E, 0x70], 7)])])
        #expect(try SequenceFrames.decode(record.json(), source: "s.json") == record)
        #expect(throws: (any Error).self) { try SequenceFrames.decode(Array(#"{"sequences":[{"users":[{}],"files":[]}]}"#.utf8), source: "s.json") }
        #expect(throws: (any Error).self) { try SequenceFrames.decode(Array("[]".utf8), source: "s.json") }
    }
}
