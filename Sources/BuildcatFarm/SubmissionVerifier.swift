import BuildcatBasics
import BuildcatHash
import BuildcatStore
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

/// Proves, by hash, that a submission's checkout is what was staged (DESIGN.md "Worker"): the
/// manifest's own XXH3-128 is the one recorded (or the job's), and every file the manifest
/// lists exists with its size and digest. A verification cache keyed by device, inode, size,
/// mtime and ctime makes checking an unchanged checkout cost a stat per file.
public struct SubmissionVerifier {
    public var store: ContentStore
    public var cache: HashCache?

    public init(store: ContentStore, cache: HashCache?) {
        self.store = store
        self.cache = cache
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
        let manifest = try Manifest.decode(manifestBytes, source: displayPath(manifestPath))
        let entries = manifest.entries.filter { paths?.contains($0.path) ?? true }
        let files = root.appending("files")
        var toHash: [(entry: ManifestEntry, path: FilePath, status: FileStatus)] = []
        for entry in entries {
            let path = files.appending(relativeBytes: entry.path)
            let shown = "files/" + displayBytes(entry.path)
            report.files += 1
            report.bytes += entry.size
            guard let status = try? FileSystem.statusIfPresent(of: path), status.isRegularFile else {
                report.problems.append(VerificationProblem(path: shown, kind: .missing, detail: "missing (the manifest lists \(entry.size) bytes, \(entry.hash.hex))"))
                continue
            }
            guard status.size == entry.size else {
                report.problems.append(VerificationProblem(path: shown, kind: .size, detail: "\(status.size) bytes, but the manifest says \(entry.size)"))
                continue
            }
            toHash.append((entry, path, status))
        }
        let (results, statistics) = FileHashingService(cache: cache).hash(toHash.map(\.path), statuses: toHash.map(\.status))
        report.filesFromCache = statistics.filesFromCache
        for (item, result) in zip(toHash, results) {
            let shown = "files/" + displayBytes(item.entry.path)
            switch result {
            case .success(let digest) where digest.digest == item.entry.hash:
                continue
            case .success(let digest):
                report.problems.append(VerificationProblem(path: shown, kind: .hash, detail: "content hashes to \(digest.digest.hex), but the manifest says \(item.entry.hash.hex)"))
            case .failure(let error):
                report.problems.append(VerificationProblem(path: shown, kind: .unreadable, detail: "\(error)"))
            }
        }
        return report
    }
}
