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
    ///   - paths: only these manifest paths (a chunk's frames of a sequence); nil for all.
    /// - Throws: `SubmitError` when the submission or its records cannot be read.
    public func verify(_ submission: String, expectedManifestHash: String? = nil, paths: Set<[UInt8]>? = nil) throws -> VerificationReport {
        let submitter = Submitter(store: store)
        let recorded = try submitter.record(submission).manifestHash
        let root = store.root.appending("submissions").appending(submission)
        var report = VerificationReport(submission: submission)
        let manifestPath = root.appending("manifest.json")
        let manifestBytes: [UInt8]
        do {
            manifestBytes = try FileSystem.readAll(manifestPath)
        } catch {
            report.problems.append(VerificationProblem(path: "manifest.json", kind: .missing, detail: "\(error)"))
            return report
        }
        let actual = XXH128Hasher.digest(of: manifestBytes).hex
        let expected = expectedManifestHash ?? recorded
        guard actual == expected else {
            report.problems.append(VerificationProblem(path: "manifest.json", kind: .hash,
                detail: "its XXH3-128 is \(actual), but the submission was queued with \(expected): the manifest was changed"))
            return report
        }
        let files = root.appending("files")
        let make = {
            let manifest = try Manifest.decode(manifestBytes, source: displayPath(manifestPath))
            return ManifestMemo.Prepared(entries: manifest.entries, paths: manifest.entries.map { files.appending(relativeBytes: $0.path) })
        }
        var prepared = try memo?.prepared("\(files.string)\u{0}\(actual)", make: make) ?? make()
        if let paths {
            let kept = prepared.entries.indices.filter { paths.contains(prepared.entries[$0].path) }
            prepared = ManifestMemo.Prepared(entries: kept.map { prepared.entries[$0] }, paths: kept.map { prepared.paths[$0] })
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
}
