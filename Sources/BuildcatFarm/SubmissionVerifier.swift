import BuildcatBasics
import BuildcatHash
import BuildcatStore
import Synchronization
import SystemPackage

/// One file of a checkout that is not what its manifest says.
public struct VerificationProblem: Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        case missing
        case size
        case hash
        case unreadable
    }

    public var path: String
    public var kind: Kind
    public var detail: String

    public var description: String { "\(path): \(detail)" }
}

/// What checking a submission found.
public struct VerificationReport: Sendable {
    public var submission: String
    public var files = 0
    public var bytes: Int64 = 0
    /// Files whose digest came from the verification cache, not from reading them.
    public var filesFromCache = 0
    /// Files of image sequences that the chunk's frames do not show, not checked.
    public var filesNotNeeded = 0
    public var problems: [VerificationProblem] = []
    public var isIntact: Bool { problems.isEmpty }
}

/// Manifests already read, with each entry's path in its checkout: a worker keeps one, so the
/// chunks of a submission it runs one after another parse its manifest once. Keyed by the
/// checkout and the manifest's digest, which is checked against the file on every job.
public final class ManifestMemo: Sendable {
    struct Prepared: Sendable {
        var entries: [ManifestEntry]
        var paths: [FilePath]
    }

    private let state = Mutex<[String: Prepared]>([:])
    private let capacity: Int

    public init(capacity: Int = 8) { self.capacity = capacity }

    func prepared(_ key: String, make: () throws -> Prepared) rethrows -> Prepared {
        if let known = state.withLock({ $0[key] }) { return known }
        let made = try make()
        state.withLock { memo in
            if memo.count >= capacity { memo.removeAll() }  // a few submissions at a time; simple beats clever
            memo[key] = made
        }
        return made
    }
}

/// Proves, by hash, that a submission's checkout is what was staged (DESIGN.md "Worker"): the
/// manifest's own XXH3-128 is the one recorded (or the job's), and every file the manifest
/// lists exists with its size and digest. A verification cache keyed by device, inode, size,
/// mtime and ctime makes checking an unchanged checkout cost a stat per file.
public struct SubmissionVerifier {
    public var store: ContentStore
    public var cache: HashCache?
    public var memo: ManifestMemo?

    public init(store: ContentStore, cache: HashCache?, memo: ManifestMemo? = nil) {
        self.store = store
        self.cache = cache
        self.memo = memo
    }

    /// - Parameters:
    ///   - expectedManifestHash: the manifest's digest as the job carries it; nil to take the one
    ///     `submission.json` recorded.
    ///   - frames: the frames a chunk renders: with `expectedSequencesHash`, files of image
    ///     sequences that these frames do not show are not checked (`SequenceFrames`).
    ///   - expectedSequencesHash: `sequences.json`'s digest as the job carries it.
    /// - Throws: `SubmitError` when the submission or its records cannot be read.
    public func verify(_ submission: String, expectedManifestHash: String? = nil,
                       frames: [Int]? = nil, expectedSequencesHash: String? = nil) throws -> VerificationReport {
        let submitter = Submitter(store: store)
        let recorded = try submitter.record(submission).manifestHash
        let root = store.root.appending("submissions").appending(submission)
        var report = VerificationReport(submission: submission)
        let manifestPath = root.appending("manifest.json")
        let expected = expectedManifestHash ?? recorded
        guard let manifestBytes = Self.readRecord("manifest.json", in: root, hashing: expected, what: "manifest", into: &report) else { return report }
        let files = root.appending("files")
        let make = {
            let manifest = try Manifest.decode(manifestBytes, source: displayPath(manifestPath))
            return ManifestMemo.Prepared(entries: manifest.entries, paths: manifest.entries.map { files.appending(relativeBytes: $0.path) })
        }
        var prepared = try memo?.prepared("\(files.string)\u{0}\(expected)", make: make) ?? make()
        if let frames, let expectedSequencesHash {
            let recordPath = root.appending("sequences.json")
            guard let bytes = Self.readRecord("sequences.json", in: root, hashing: expectedSequencesHash, what: "record", into: &report) else { return report }
            let skipped = try SequenceFrames.decode(bytes, source: displayPath(recordPath)).unneededPaths(forFrames: frames)
            if !skipped.isEmpty {
                let kept = prepared.entries.indices.filter { !skipped.contains(prepared.entries[$0].path) }
                report.filesNotNeeded = prepared.entries.count - kept.count
                prepared = ManifestMemo.Prepared(entries: kept.map { prepared.entries[$0] }, paths: kept.map { prepared.paths[$0] })
            }
        }
        let entries = prepared.entries
        let checkoutPaths = prepared.paths
        // A stat per file, on all cores, relative to files/ (the share's path can be deep): with
        // a warm verification cache that is the whole check.
        let directory = try? FileDescriptor.open(files, .readOnly, options: [.directory, .closeOnExec])
        defer { try? directory?.close() }
        let statuses = Parallel.map(count: entries.count, makeContext: {}) { index, _ -> FileStatus? in
            guard let directory else { return nil }
            return FileSystem.statusIfPresent(relativePath: entries[index].path, in: directory)
        }
        func shown(_ entry: ManifestEntry) -> String { "files/" + displayBytes(entry.path) }
        var toHash: [Int] = []
        toHash.reserveCapacity(entries.count)
        for (index, entry) in entries.enumerated() {
            report.files += 1
            report.bytes += entry.size
            guard let status = statuses[index], status.isRegularFile else {
                report.problems.append(VerificationProblem(path: shown(entry), kind: .missing, detail: "missing (the manifest lists \(entry.size) bytes, \(entry.hash.hex))"))
                continue
            }
            guard status.size == entry.size else {
                report.problems.append(VerificationProblem(path: shown(entry), kind: .size, detail: "\(status.size) bytes, but the manifest says \(entry.size)"))
                continue
            }
            toHash.append(index)
        }
        let (results, statistics) = FileHashingService(cache: cache).hash(toHash.map { checkoutPaths[$0] }, statuses: toHash.map { statuses[$0]! })
        report.filesFromCache = statistics.filesFromCache
        for (index, result) in zip(toHash, results) {
            let entry = entries[index]
            switch result {
            case .success(let digest) where digest.digest == entry.hash:
                continue
            case .success(let digest):
                report.problems.append(VerificationProblem(path: shown(entry), kind: .hash, detail: "content hashes to \(digest.digest.hex), but the manifest says \(entry.hash.hex)"))
            case .failure(let error):
                report.problems.append(VerificationProblem(path: shown(entry), kind: .unreadable, detail: "\(error)"))
            }
        }
        return report
    }

    /// Reads one of a submission's records and checks its XXH3-128 against the one the job (or
    /// `submission.json`) carries; nil, with the problem reported, when it is missing or differs.
    private static func readRecord(_ name: String, in root: FilePath, hashing expected: String, what: String,
                                   into report: inout VerificationReport) -> [UInt8]? {
        let bytes: [UInt8]
        do {
            bytes = try FileSystem.readAll(root.appending(name))
        } catch {
            report.problems.append(VerificationProblem(path: name, kind: .missing, detail: "\(error)"))
            return nil
        }
        let actual = XXH128Hasher.digest(of: bytes).hex
        guard actual == expected else {
            report.problems.append(VerificationProblem(path: name, kind: .hash,
                detail: "its XXH3-128 is \(actual), but the submission was queued with \(expected): the \(what) was changed"))
            return nil
        }
        return bytes
    }
}
