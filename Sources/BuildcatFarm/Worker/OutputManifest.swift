import BuildcatBasics
import BuildcatStore
import SystemPackage

/// `outputs/manifest.json`: the frames of every chunk of a submission, in the manifest format,
/// kept under a lock so that chunks finishing at once on several hosts keep each other's entries.
///
/// Rewriting the whole manifest for every chunk made a submission's work grow with chunks ×
/// frames: 10,000 one-frame chunks wrote ~10 GB of manifests to the share. So each chunk writes
/// its frames as a part (`outputs/.parts/<job>.json`), and the parts are folded into
/// `manifest.json` when they hold as many entries as it does (so each entry is rewritten a few
/// times at most: linear), and whenever a batch of chunks (the jobs of one `submit`) has every
/// chunk's part: a finished render's manifest is whole. Until then, the parts hold the rest.
///
/// Jobs that name no batch (queued by other tools) fold at once, as every chunk used to.
struct OutputManifest {
    let root: FilePath

    /// The jobs queued together, from a job's `batch` and `batch_jobs` arguments.
    struct Batch: Equatable {
        var id: String
        var jobs: Int

        /// nil when the job names no batch, or a malformed one.
        init?(_ arguments: JSONValue) {
            guard let id = arguments.member("batch")?.text, !id.isEmpty, id.count <= 64,
                  id.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }),
                  case .integer(let jobs)? = arguments.member("batch_jobs"), jobs >= 1, jobs <= 10_000_000 else { return nil }
            self.id = id
            self.jobs = Int(jobs)
        }

        init(id: String, jobs: Int) {
            self.id = id
            self.jobs = jobs
        }
    }

    /// What the lock keeps beside the parts: how many entries the manifest and the parts hold,
    /// how many chunks of each open batch have not written their part yet, and which batches are
    /// in (a chunk of one run again keeps the manifest whole).
    private struct State {
        var merged = 0
        var pending = 0
        var remaining: [String: Int] = [:]
        var complete: Set<String> = []

        init() {}

        init?(_ value: JSONValue) {
            guard case .integer(let merged)? = value.member("merged"), case .integer(let pending)? = value.member("pending"),
                  case .object(let batches)? = value.member("remaining"), case .array(let complete)? = value.member("complete") else { return nil }
            self.merged = Int(clamping: merged)
            self.pending = Int(clamping: pending)
            for (id, count) in batches {
                guard case .integer(let count) = count else { return nil }
                remaining[id] = Int(clamping: count)
            }
            self.complete = Set(complete.compactMap(\.text))
        }

        var json: JSONValue {
            .object([("merged", .integer(Int64(merged))), ("pending", .integer(Int64(pending))),
                     ("remaining", .object(remaining.sorted { $0.key < $1.key }.map { ($0.key, .integer(Int64($0.value))) })),
                     ("complete", .array(complete.sorted().map { .text($0) }))])
        }
    }

    private var parts: FilePath { root.appending(".parts") }

    /// Adds one chunk's frames. Returns whether `manifest.json` was rewritten.
    @discardableResult
    func add(_ entries: [ManifestEntry], job: String, batch: Batch?) throws -> Bool {
        try FileSystem.createDirectories(parts)
        let lock = try FileSystem.lockExclusively(root.appending(".manifest.lock"))
        defer { try? lock.close() }
        let statePath = parts.appending("state.json")
        // A missing or damaged state costs a fold and a count of the batch's markers: the
        // manifest, the parts and the markers are the truth.
        var state = (try? FileSystem.readAll(statePath)).flatMap { try? JSONParser.parse($0) }.flatMap(State.init) ?? State()
        let name = Self.partName(job)
        try FileSystem.writeAtomically(try Manifest(entries: entries).canonicalJSON(), to: parts.appending(name))
        state.pending += entries.count
        let batchIsIn: Bool
        if let batch, !state.complete.contains(batch.id) {
            batchIsIn = try markDone(name, of: batch, state: &state)
        } else {
            batchIsIn = true
        }
        let folds = batchIsIn || state.pending >= state.merged
        if folds {
            state.merged = try fold()
            state.pending = 0
        }
        try FileSystem.writeAtomically(state.json.serialized(), to: statePath, synced: false)
        return folds
    }

    /// Marks a chunk of `batch` done (a file per chunk, so that one run again counts once);
    /// returns whether every chunk of the batch is.
    private func markDone(_ name: String, of batch: Batch, state: inout State) throws -> Bool {
        let markers = parts.appending("\(batch.id).done")
        try FileSystem.createDirectories(markers)
        let marker = markers.appending(name)
        let isNew = try FileSystem.statusIfPresent(of: marker) == nil
        if isNew { try FileSystem.writeAtomically([], to: marker, synced: false) }
        let remaining: Int
        if let known = state.remaining[batch.id] {
            remaining = known - (isNew ? 1 : 0)
        } else {
            // The batch's first chunk, or a state lost: count the markers (once).
            remaining = batch.jobs - (try DirectoryWalker.names(in: markers).filter { $0.first != UInt8(ascii: ".") }.count)
        }
        guard remaining <= 0 else {
            state.remaining[batch.id] = remaining
            return false
        }
        state.remaining[batch.id] = nil
        state.complete.insert(batch.id)
        for marker in try DirectoryWalker.names(in: markers) { try? FileSystem.removeFile(markers.appending(FilePath.Component(bytes: marker))) }
        try? FileSystem.removeEmptyDirectory(markers)
        return true
    }

    /// A job's part file: its id when that is a plain name (RQ's are), its bytes in hex otherwise
    /// (an id is any string to RQ, `../x` too); never `state.json`, never hidden.
    static func partName(_ job: String) -> String {
        let plain = !job.isEmpty && job.count <= 128 && job != "state" && job.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }
        return (plain ? job : "x-" + job.utf8.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()) + ".json"
    }

    /// Writes `manifest.json` with every part in it, then removes the parts; returns its entries.
    private func fold() throws -> Int {
        let path = root.appending("manifest.json")
        var byPath: [[UInt8]: ManifestEntry] = [:]
        if let bytes = try? FileSystem.readAll(path) {
            do {
                for entry in try Manifest.decode(bytes, source: displayPath(path)).entries { byPath[entry.path] = entry }
            } catch {
                throw JobFailure("RenderFailed: the output manifest is damaged, so it was not extended: \(error)")
            }
        }
        let partNames = try DirectoryWalker.names(in: parts).filter { $0.first != UInt8(ascii: ".") && $0 != Array("state.json".utf8) && $0.suffix(5).elementsEqual(".json".utf8) }
        for name in partNames {
            let partPath = parts.appending(FilePath.Component(bytes: name))
            for entry in try Manifest.decode(try FileSystem.readAll(partPath), source: displayPath(partPath)).entries { byPath[entry.path] = entry }
        }
        let manifest = try Manifest(entries: Array(byPath.values))
        try FileSystem.writeAtomically(manifest.canonicalJSON(), to: path)
        // Only once the manifest holds them: a crash before this folds them again, the same.
        for name in partNames { try? FileSystem.removeFile(parts.appending(FilePath.Component(bytes: name))) }
        return manifest.entries.count
    }
}
