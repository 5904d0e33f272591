import BuildcatBasics
@testable import BuildcatFarm
import BuildcatHash
import BuildcatStore
import BuildcatTestSupport
import SystemPackage
import Testing

/// `outputs/manifest.json` from chunks' parts: whole when a batch is in, never behind by more
/// than half before, and written a bounded number of times per entry (linear, not chunks × frames).
@Suite struct OutputManifestTests {
    func entries(_ frames: ClosedRange<Int>, prefix: String = "frame_") -> [ManifestEntry] {
        frames.map { frame in
            ManifestEntry(path: Array("\(prefix)\(String(frame).leftPadded4).png".utf8), hash: XXH128Hasher.digest(of: Array("\(prefix)\(frame)".utf8)),
                          size: Int64(100 + frame), mtime: 1_700_000_000_000_000)
        }
    }

    func recorded(_ root: FilePath) throws -> [String] {
        let manifest = try Manifest.decode(try FileSystem.readAll(root.appending("manifest.json")), source: "manifest.json")
        return manifest.entries.map { String(decoding: $0.path, as: UTF8.self) }
    }

    @Test func aBatchOfChunksEndsWholeAndIsWrittenLinearly() throws {
        let directory = TemporaryDirectory()
        let root = directory("outputs")
        let outputs = OutputManifest(root: root)
        let batch = OutputManifest.Batch(id: "job-0", jobs: 200)
        var entriesWritten = 0
        for chunk in 0..<200 {
            let folded = try outputs.add(entries((2 * chunk + 1)...(2 * chunk + 2)), job: "job-\(chunk)", batch: batch)
            let done = 2 * (chunk + 1)
            if folded { entriesWritten += try recorded(root).count }
            // Never behind by more than half of what is done.
            #expect(try recorded(root).count * 2 >= done)
        }
        #expect(try recorded(root).count == 400)
        #expect(try DirectoryWalker.names(in: root.appending(".parts")) == [Array("state.json".utf8)])
        // Every fold rewrites what is in; each entry is rewritten a few times, not once a chunk
        // (once a chunk would be 40,200 entries written).
        #expect(entriesWritten <= 4 * 400, "\(entriesWritten) entries written for 400 frames")
    }

    @Test func aChunkRunAgainCountsOnceAndBatchesInterleave() throws {
        let directory = TemporaryDirectory()
        let root = directory("outputs")
        let outputs = OutputManifest(root: root)
        let first = OutputManifest.Batch(id: "a-0", jobs: 3)
        let second = OutputManifest.Batch(id: "b-0", jobs: 2)
        try outputs.add(entries(1...5), job: "a-0", batch: first)
        try outputs.add(entries(1...4, prefix: "other_"), job: "b-0", batch: second)
        try outputs.add(entries(6...10), job: "a-1", batch: first)
        try outputs.add(entries(6...10), job: "a-1", batch: first)  // run again: not a third chunk
        try outputs.add(entries(11...15), job: "a-2", batch: first)
        #expect(try recorded(root).filter { $0.hasPrefix("frame_") }.count == 15)
        try outputs.add(entries(5...8, prefix: "other_"), job: "b-1", batch: second)
        #expect(try recorded(root).count == 15 + 8)
    }

    @Test func jobsWithoutABatchFoldAtOnceAndHostileIDsStayInside() throws {
        let directory = TemporaryDirectory()
        let root = directory("outputs")
        let outputs = OutputManifest(root: root)
        for (index, job) in ["../../escape", "state", ".hidden", "plain-id_1"].enumerated() {
            #expect(try outputs.add(entries((index + 1)...(index + 1)), job: job, batch: nil))
            #expect(try recorded(root).count == index + 1)
        }
        #expect((try FileSystem.statusIfPresent(of: directory("escape.json"))) == nil)
        #expect(OutputManifest.partName("../../escape") == "x-2e2e2f2e2e2f657363617065.json")
        #expect(OutputManifest.partName("plain-id_1") == "plain-id_1.json")
        #expect(OutputManifest.Batch(.object([("batch", .text("../x")), ("batch_jobs", .integer(2))])) == nil)
        #expect(OutputManifest.Batch(.object([("batch", .text("abc")), ("batch_jobs", .integer(0))])) == nil)
        #expect(OutputManifest.Batch(.object([("batch", .text("abc")), ("batch_jobs", .integer(2))])) == OutputManifest.Batch(id: "abc", jobs: 2))
    }

    @Test func aLostOrDamagedStateCostsOnlyAFold() throws {
        let directory = TemporaryDirectory()
        let root = directory("outputs")
        let outputs = OutputManifest(root: root)
        let batch = OutputManifest.Batch(id: "j-0", jobs: 10)
        for chunk in 0..<6 { try outputs.add(entries((chunk + 1)...(chunk + 1)), job: "j-\(chunk)", batch: batch) }
        try writeFile(root.appending(".parts/state.json"), "{not json")
        for chunk in 6..<10 { try outputs.add(entries((chunk + 1)...(chunk + 1)), job: "j-\(chunk)", batch: batch) }
        #expect(try recorded(root).count == 10)
    }
}

private extension String {
    var leftPadded4: String { String(repeating: "0", count: max(0, 4 - count)) + self }
}
