import BuildcatBasics
import BuildcatHash
import SystemPackage

/// Files that could not be hashed, all of them at once, so a person can fix them in one go.
public struct FilesFailedError: Error, CustomStringConvertible, Sendable {
    public var action: String
    public var failures: [FileSystemError]

    public init(action: String, failures: [FileSystemError]) {
        self.action = action
        self.failures = failures
    }

    public var description: String {
        let lines = failures.prefix(50).map { "  \($0)" }
        let more = failures.count > 50 ? ["  … and \(failures.count - 50) more"] : []
        return (["cannot \(action): \(failures.count) file(s) failed:"] + lines + more).joined(separator: "\n")
    }
}

/// What a snapshot produced, and what it did to get there.
public struct ManifestSnapshot: Sendable {
    public var manifest: Manifest
    /// Entries the walk passed over: special files and dangling symlinks.
    public var skipped: [(relativePath: [UInt8], reason: String)]
    public var statistics: HashingStatistics
}

/// Differences between a manifest and a directory, by content.
public struct ManifestDifference: Sendable, Equatable {
    /// In the directory, not in the manifest.
    public var new: [[UInt8]] = []
    /// In both, with different content (size or hash).
    public var modified: [[UInt8]] = []
    /// In the manifest, not in the directory.
    public var deleted: [[UInt8]] = []

    public var isEmpty: Bool { new.isEmpty && modified.isEmpty && deleted.isEmpty }
}

/// Makes manifests of directories and compares directories with manifests.
///
/// The set of files follows `deadline manifest snapshot` (see `DirectoryWalker`): every regular
/// file below the root, hidden names left out, symlinks followed and listed under the link's
/// path with the target's size, time and content.
public struct ManifestSnapshotter: Sendable {
    public var hashing: FileHashingService
    public var walker: DirectoryWalker

    public init(hashing: FileHashingService, walker: DirectoryWalker = DirectoryWalker()) {
        self.hashing = hashing
        self.walker = walker
    }

    /// Walks and hashes `root` into a manifest.
    /// - Throws: `FileSystemError` if the root cannot be walked; `FilesFailedError` listing every
    ///   file that could not be hashed.
    public func snapshot(root: FilePath) throws -> ManifestSnapshot {
        let absoluteRoot = try FileSystem.absolute(root)
        let listing = try walker.walk(absoluteRoot)
        let (results, statistics) = hashing.hash(listing.files.map(\.path), statuses: listing.files.map(\.status))
        var entries: [ManifestEntry] = []
        entries.reserveCapacity(listing.files.count)
        var failures: [FileSystemError] = []
        for (file, result) in zip(listing.files, results) {
            switch result {
            case .success(let fileDigest):
                entries.append(ManifestEntry(
                    path: file.relativePath, hash: fileDigest.digest, size: fileDigest.status.size,
                    mtime: fileDigest.status.modificationTimeMicroseconds))
            case .failure(let error):
                failures.append(error)
            }
        }
        guard failures.isEmpty else { throw FilesFailedError(action: "snapshot '\(displayPath(root))'", failures: failures) }
        return ManifestSnapshot(manifest: try Manifest(entries: entries), skipped: listing.skipped, statistics: statistics)
    }

    /// Compares the files under `root` with `manifest` by content: a file whose size matches is
    /// hashed (through the cache, so unchanged files cost a stat) and compared by digest.
    /// - Parameter manifestFile: where the manifest itself is; when it lies under `root` (as
    ///   `outputs/manifest.json` does), it is not a difference: no manifest can list itself.
    /// - Throws: as `snapshot(root:)`.
    public func difference(between manifest: Manifest, and root: FilePath, manifestFile: FilePath? = nil) throws -> ManifestDifference {
        let absoluteRoot = try FileSystem.absolute(root)
        var listing = try walker.walk(absoluteRoot)
        if let manifestFile, let itself = try? FileSystem.absolute(manifestFile).lexicallyNormalized() {
            listing.files.removeAll { $0.path.lexicallyNormalized() == itself }
        }
        var recorded: [[UInt8]: ManifestEntry] = [:]
        recorded.reserveCapacity(manifest.entries.count)
        for entry in manifest.entries { recorded[entry.path] = entry }

        var difference = ManifestDifference()
        var toHash: [(file: WalkedFile, expected: XXH128Digest)] = []
        for file in listing.files {
            guard let entry = recorded.removeValue(forKey: file.relativePath) else {
                difference.new.append(file.relativePath)
                continue
            }
            if entry.size != file.status.size {
                difference.modified.append(file.relativePath)
            } else {
                toHash.append((file, entry.hash))
            }
        }
        difference.deleted = recorded.keys.sorted { $0.lexicographicallyPrecedes($1) }

        let (results, _) = hashing.hash(toHash.map(\.file.path), statuses: toHash.map(\.file.status))
        var failures: [FileSystemError] = []
        for ((file, expected), result) in zip(toHash, results) {
            switch result {
            case .success(let fileDigest):
                if fileDigest.digest != expected {
                    difference.modified.append(file.relativePath)
                }
            case .failure(let error):
                failures.append(error)
            }
        }
        guard failures.isEmpty else { throw FilesFailedError(action: "compare '\(displayPath(root))'", failures: failures) }
        difference.modified.sort { $0.lexicographicallyPrecedes($1) }
        return difference
    }
}
