import BuildcatBasics
import BuildcatHash
import BuildcatScenes
import BuildcatStore
import Glibc
import Synchronization
import SystemPackage

/// What a staging found, copied and wrote.
public struct StageReport: Sendable {
    public var submission: String
    /// The submission's directory relative to the share root: `buildcat/submissions/<id>`.
    public var directory: String
    /// The scenes as the job names them: paths inside `files/`.
    public var scenes: [String]
    public var filesFound = 0
    public var bytesFound: Int64 = 0
    /// What the store copied anew, and what it had already.
    public var tally = PutTally()
    public var filesCopied: Int { tally.filesStored }
    public var bytesCopied: Int64 { tally.bytesStored }
    public var filesPresent: Int { tally.filesPresent }
    public var bytesPresent: Int64 { tally.bytesPresent }
    /// The XXH3-128 of `manifest.json`, which travels in every job.
    public var manifestHash: String = ""
    /// The XXH3-128 of `sequences.json`, when the scenes have image sequences whose frames are
    /// known (see `SequenceFrames`); it travels in every job too.
    public var sequencesHash: String?
    /// Missing references, each as `path (raw, in scene, block field)`, when allowed.
    public var missing: [String] = []
    /// Whether an earlier submission with exactly this content was found and is reported
    /// instead of a new one (nothing was written).
    public var reused = false
    /// What a person should know about how something was staged (a binary USD layer staged as
    /// it is, …).
    public var notes: [String] = []
}

/// How far a staging is: its phase, and for the copying phase files and bytes done of all.
public struct StageProgress: Sendable {
    public enum Phase: String, Sendable {
        case scanning = "scanning"
        case storing = "storing"
        case checkout = "writing the checkout"
    }

    public var phase: Phase
    public var filesDone = 0
    public var filesTotal = 0
    public var bytesDone: Int64 = 0
    public var bytesTotal: Int64 = 0

    public init(phase: Phase, filesDone: Int = 0, filesTotal: Int = 0, bytesDone: Int64 = 0, bytesTotal: Int64 = 0) {
        self.phase = phase
        self.filesDone = filesDone
        self.filesTotal = filesTotal
        self.bytesDone = bytesDone
        self.bytesTotal = bytesTotal
    }
}

/// A staging that cannot go on, and why; nothing was written for it.
public struct StageError: Error, CustomStringConvertible, Sendable {
    public var message: String
    /// Every missing file, when that is the reason.
    public var missing: [String]

    public var description: String {
        guard !missing.isEmpty else { return message }
        return ([message] + missing.map { "  \($0)" }).joined(separator: "\n")
    }
}

/// Stages scenes onto the share (DESIGN.md "Staging"): scan, refuse if anything is missing,
/// store every file by content (through the hash cache), build the checkout in the project's
/// layout, rewrite the scenes to point into it, and write `manifest.json` and `submission.json`.
public struct Stager {
    public var store: ContentStore
    public var project: FilePath?
    public var cache: HashCache?
    public var allowMissing = false
    public var dryRun = false
    /// Told of progress, from any thread: what is being done, and how far it is.
    public var progress: (@Sendable (StageProgress) -> Void)?

    public init(store: ContentStore, project: FilePath? = nil, cache: HashCache? = nil) {
        self.store = store
        self.project = project
        self.cache = cache
    }

    public func stage(_ scenes: [FilePath], submission: String = Stager.newSubmissionID()) throws -> StageReport {
        guard !scenes.isEmpty else { throw StageError(message: "no scene to stage", missing: []) }
        let absoluteScenes = try scenes.map { try FileSystem.absolute($0) }
        var projectRoot = project ?? absoluteScenes[0]
        if project == nil { projectRoot.removeLastComponent() }
        let layout = try CheckoutLayout(project: projectRoot)
        progress?(StageProgress(phase: .scanning))
        let formats = makeSceneFormats()  // shared by the scan and the rewrite: each file read once
        let scan = try SceneScanner().scan(absoluteScenes, formats: formats)

        let directory = "buildcat/submissions/\(submission)"
        var report = StageReport(submission: submission, directory: directory,
                                 scenes: absoluteScenes.map { String(decoding: layout.checkoutPath(for: $0), as: UTF8.self) })
        report.missing = scan.missing.map { describe(scan.references[$0]) }
        if !report.missing.isEmpty && !allowMissing {
            throw StageError(message: "\(report.missing.count) file(s) the scene(s) use are missing; nothing was staged (--allow-missing stages the rest):", missing: report.missing)
        }

        // Every file once, however many references use it; scene files are staged rewritten.
        let sceneKeys = Set(scan.scenes.map { $0.path.bytes })
        var assets: [(source: FilePath, checkout: [UInt8], status: FileStatus)] = []
        var seen: Set<[UInt8]> = []
        for asset in scan.assets where !sceneKeys.contains(asset.file.pathBytes) && seen.insert(asset.file.pathBytes).inserted {
            assets.append((asset.file.path, layout.checkoutPath(for: asset.file.path), asset.file.status))
        }
        report.filesFound = assets.count + scan.scenes.count
        var sizes: [[UInt8]: Int64] = [:]
        for asset in scan.assets { sizes[asset.file.pathBytes] = asset.file.size }
        for scene in scan.scenes { sizes[scene.path.bytes] = (try? FileSystem.status(of: scene.path).size) ?? 0 }
        report.bytesFound = sizes.values.reduce(0, +)
        if dryRun { return report }

        try store.checkInitialized()
        let buffer = StreamBuffer()

        // What makes this staging what it is: every file's checkout path and content, the
        // scenes by their content as authored (their rewriting follows from the layout).
        let sceneSources = try scan.scenes.map { scene in
            (checkout: layout.checkoutPath(for: scene.path), digest: try sourceDigest(of: scene.path, buffer: buffer))
        }
        // Staged before, unchanged (every digest from the hash cache, none read): the earlier
        // submission is this one. Building a second checkout of the same files would cost a
        // hard link per file and copy nothing.
        if let cached = cachedDigests(assets.map { ($0.source, $0.status) }) {
            let key = stagingKey(assets: zip(assets.map(\.checkout), cached).map { ($0, $1) }, scenes: sceneSources.map { ($0.checkout, $0.digest) })
            if let earlier = try earlierStaging(key, report: report) { return earlier }
        }

        // The scenes rewritten to point into the checkout, in a scratch folder on the share.
        let temporaryDirectory = store.temporaryDirectory.appending("stage-\(submission)")
        try FileSystem.createDirectories(temporaryDirectory)
        defer { _ = try? removeTree(temporaryDirectory) }
        let rewrittenScenes = try rewriteScenes(scan, layout: layout, into: temporaryDirectory, formats: formats)
        for scene in scan.scenes {
            if let note = formats.first(where: { $0.name == scene.format })?.stagingNote(for: scene.path) {
                report.notes.append("\(String(decoding: layout.checkoutPath(for: scene.path), as: UTF8.self)): \(note)")
            }
        }
        let sceneDigests = try rewrittenScenes.map { try XXH128Hasher.hashFile(at: $0.file, buffer: buffer) }

        let submissionRoot = store.share.appending(directory)
        let files = submissionRoot.appending("files")
        if try FileSystem.statusIfPresent(of: submissionRoot) != nil {
            throw StageError(message: "submission \(submission) already exists at '\(displayPath(submissionRoot))'", missing: [])
        }
        do {
            var entries: [ManifestEntry] = []
            var folders: Set<[UInt8]> = []
            // 1. Assets into the store, on all cores, then into the checkout.
            let counter = ProgressCounter(total: StageProgress(phase: .storing, filesTotal: assets.count, bytesTotal: report.bytesFound), report: progress)
            var onEachFile: (@Sendable (Int64) -> Void)?
            if progress != nil { onEachFile = { @Sendable bytes in counter.add(bytes) } }
            let puts = store.putAll(assets.map(\.source), cache: cache, progress: onEachFile)
            progress?(StageProgress(phase: .checkout))
            var failures: [FileSystemError] = []
            var assetDigests: [([UInt8], XXH128Digest)] = []
            for ((_, checkout, _), result) in zip(assets, puts) {
                switch result {
                case .success(let put):
                    report.tally.add(put)
                    assetDigests.append((checkout, put.digest))
                    entries.append(try place(put, at: checkout, in: files, folders: &folders, buffer: buffer))
                case .failure(let error):
                    failures.append(error)
                }
            }
            guard failures.isEmpty else { throw FilesFailedError(action: "stage", failures: failures) }

            // 2. The rewritten scenes, stored like the rest.
            for (scene, digest) in zip(rewrittenScenes, sceneDigests) {
                let put = try store.put(file: scene.file, known: digest, buffer: buffer)
                report.tally.add(put)
                entries.append(try place(put, at: scene.checkout, in: files, folders: &folders, buffer: buffer))
            }

            // 3. The manifest of files/, the submission record, and the index entry that lets
            // an unchanged re-staging find this submission.
            let manifest = try Manifest(entries: entries)
            let manifestBytes = manifest.canonicalJSON()
            try FileSystem.writeAtomically(manifestBytes, to: submissionRoot.appending("manifest.json"))
            report.manifestHash = XXH128Hasher.digest(of: manifestBytes).hex
            let sequenceFrames = SequenceFrames(scan: scan) { layout.checkoutPath(for: $0.file.path) }
            if !sequenceFrames.isEmpty {
                let bytes = sequenceFrames.json()
                try FileSystem.writeAtomically(bytes, to: submissionRoot.appending("sequences.json"))
                report.sequencesHash = XXH128Hasher.digest(of: bytes).hex
            }
            try FileSystem.writeAtomically(submissionRecord(report, project: layout.project), to: submissionRoot.appending("submission.json"))
            let key = stagingKey(assets: assetDigests, scenes: sceneSources.map { ($0.checkout, $0.digest) })
            try FileSystem.createDirectories(stagingIndex)
            try FileSystem.writeAtomically(Array(submission.utf8), to: stagingIndex.appending(key.hex))
        } catch {
            // Nothing half-made under the submission's name: objects stay (they are valid and
            // shared), the checkout and records go.
            _ = try? removeTree(submissionRoot)
            throw error
        }
        return report
    }

    /// `<share>/buildcat/index/stagings/<key>`: which submission holds a given content.
    private var stagingIndex: FilePath { store.root.appending("index").appending("stagings") }

    /// Every scene file rewritten to point into the checkout, into `folder`; a scene with no
    /// reference to change is copied as it is.
    private func rewriteScenes(_ scan: ScanResult, layout: CheckoutLayout, into folder: FilePath, formats: [any SceneFormat]) throws -> [(checkout: [UInt8], file: FilePath)] {
        var rewritten: [[UInt8]: FilePath] = [:]
        for (index, scene) in scan.scenes.enumerated() {
            rewritten[scene.path.bytes] = folder.appending("scene-\(index).\(scene.path.extension ?? "scene")")
        }
        // Each scene's format writes its relative paths its own way.
        var formatOfScene: [[UInt8]: any SceneFormat] = [:]
        for scene in scan.scenes { formatOfScene[scene.path.bytes] = formats.first { $0.name == scene.format } }
        var changes: [ReferenceChange] = []
        for reference in scan.references where reference.isPlaced && reference.unresolvable == nil {
            let from = layout.checkoutPath(for: reference.scene)
            let to = layout.checkoutPath(for: reference.resolved)
            let relative = CheckoutLayout.relativePath(from: from, to: to)
            let text = formatOfScene[reference.scene.bytes]?.relativeReference(relative) ?? CheckoutLayout.blendRelative(from: from, to: to)
            changes.append(ReferenceChange(reference, to: text))
        }
        try SceneRewriter.rewrite(changes, output: { rewritten[$0.bytes]! }, formats: formats)
        return try scan.scenes.map { scene in
            let copy = rewritten[scene.path.bytes]!
            if try FileSystem.statusIfPresent(of: copy) == nil { try copyFile(scene.path, to: copy) }
            return (layout.checkoutPath(for: scene.path), copy)
        }
    }

    /// The digests of all files if the hash cache has every one, judged by the status the scan
    /// saw (no reads, no further stat).
    private func cachedDigests(_ files: [(path: FilePath, status: FileStatus)]) -> [XXH128Digest]? {
        guard let cache else { return nil }
        var digests: [XXH128Digest] = []
        digests.reserveCapacity(files.count)
        for (path, status) in files {
            guard let absolute = try? FileSystem.absolute(path), let digest = cache.digest(forPath: absolute.bytes, status: status) else { return nil }
            digests.append(digest)
        }
        return digests
    }

    /// A scene file's digest as authored, through the hash cache (recorded for the next time).
    private func sourceDigest(of scene: FilePath, buffer: StreamBuffer) throws -> XXH128Digest {
        let (results, _) = FileHashingService(cache: cache).hash([try FileSystem.absolute(scene)])
        return try results[0].get().digest
    }

    /// What a checkout holds, as one digest: every path with its content's digest, in order.
    /// The version in the prefix changes whenever the rewriting rules do, so that a staging made
    /// by an older Buildcat is never taken for one this version would make.
    private func stagingKey(assets: [([UInt8], XXH128Digest)], scenes: [([UInt8], XXH128Digest)]) -> XXH128Digest {
        var text: [UInt8] = Array("buildcat-staging-2 rewrite-1\n".utf8)
        for (path, digest) in (assets + scenes).sorted(by: { $0.0.lexicographicallyPrecedes($1.0) }) {
            text += digest.hexBytes + [0x20] + path + [0x0A]
        }
        return XXH128Hasher.digest(of: text)
    }

    /// The report for an earlier submission with exactly this content, if the index names one
    /// that is still whole on the share.
    private func earlierStaging(_ key: XXH128Digest, report: StageReport) throws -> StageReport? {
        guard let idBytes = try? FileSystem.readAll(stagingIndex.appending(key.hex)),
              let id = String(validating: idBytes, as: UTF8.self), !id.isEmpty, !id.contains("/") else { return nil }
        let root = store.root.appending("submissions").appending(id)
        guard let manifestBytes = try? FileSystem.readAll(root.appending("manifest.json")),
              (try? FileSystem.statusIfPresent(of: root.appending("submission.json"))) != nil else { return nil }
        var earlier = report
        earlier.submission = id
        earlier.directory = "buildcat/submissions/\(id)"
        earlier.manifestHash = XXH128Hasher.digest(of: manifestBytes).hex
        earlier.reused = true
        earlier.tally = PutTally()
        earlier.tally.filesPresent = report.filesFound
        earlier.tally.bytesPresent = report.bytesFound
        return earlier
    }

    /// Materializes an object in the checkout and returns its manifest entry. Each folder of the
    /// checkout is made once (`folders` remembers them).
    private func place(_ put: PutResult, at checkout: [UInt8], in files: FilePath, folders: inout Set<[UInt8]>, buffer: StreamBuffer) throws -> ManifestEntry {
        let target = files.appending(relativeBytes: checkout)
        var folder = target
        folder.removeLastComponent()
        if folders.insert(folder.bytes).inserted { try FileSystem.createDirectories(folder) }
        let status: FileStatus
        do {
            status = try store.materializeFile(put.digest, at: target, createParents: false, buffer: buffer).status
        } catch let error as FileSystemError where error.code == .exists {
            status = try FileSystem.status(of: target)  // two references to one file: placed once
        }
        return ManifestEntry(path: checkout, hash: put.digest, size: status.size, mtime: status.modificationTimeMicroseconds)
    }

    private func describe(_ reference: SceneReference) -> String {
        let origin = "written '\(displayBytes(reference.raw))' in \(displayPath(reference.scene)), \(reference.block) \(reference.field)"
        if let reason = reference.unresolvable { return "cannot be resolved: \(reason) (\(origin))" }
        return "\(displayPath(reference.resolved)) (\(origin))"
    }

    private func submissionRecord(_ report: StageReport, project: FilePath) -> [UInt8] {
        var user = "unknown"
        if let name = getenv("USER") { user = String(cString: name) }
        let record = JSONValue.object([
            ("id", .text(report.submission)),
            ("created", .text(utcTimestamp(nanosecondsSinceEpoch: wallClockNanoseconds()))),
            ("user", .text(user)), ("host", .text(hostName())),
            ("project", .string(FileNameEncoding.utf16(fromFileName: project.bytes))),
            ("scenes", .array(report.scenes.map { .text($0) })),
            ("manifest", .text("manifest.json")), ("manifest_xxh128", .text(report.manifestHash)),
            ("files", .integer(Int64(report.filesFound))), ("bytes", .integer(report.bytesFound)),
            ("missing", .array(report.missing.map { .text($0) })),
        ] + (report.sequencesHash.map { [("sequences", .text("sequences.json")), ("sequences_xxh128", .text($0))] } ?? []))
        return record.serialized() + [UInt8(ascii: "\n")]
    }

    /// A submission id that sorts by time and does not collide: `20261130-083015-3f9a1c`.
    public static func newSubmissionID() -> String {
        let stamp = utcTimestamp(nanosecondsSinceEpoch: wallClockNanoseconds())  // 2026-11-30T08:30:15Z
        let compact = String(stamp.filter { $0.isNumber || $0 == "T" }.map { $0 == "T" ? "-" : $0 })
        let random = String(UInt32.random(in: 0...UInt32.max), radix: 16)
        return "\(compact)-\(String(repeating: "0", count: 8 - random.count))\(random)"
    }
}

/// Counts files and bytes done on several threads and reports them.
private final class ProgressCounter: Sendable {
    private let state: Mutex<StageProgress>
    private let report: (@Sendable (StageProgress) -> Void)?

    init(total: StageProgress, report: (@Sendable (StageProgress) -> Void)?) {
        state = Mutex(total)
        self.report = report
    }

    func add(_ bytes: Int64) {
        let now = state.withLock { progress -> StageProgress in
            progress.filesDone += 1
            progress.bytesDone += bytes
            return progress
        }
        report?(now)
    }
}

/// Copies a file (small: scene files that need no change).
func copyFile(_ source: FilePath, to target: FilePath) throws {
    try FileSystem.writeAtomically(try FileSystem.readAll(source), to: target)
}

/// Removes a directory tree (checkouts hold read-only files; their directories are writable).
func removeTree(_ path: FilePath) throws {
    guard let status = try FileSystem.statusIfPresent(of: path, followSymlinks: false) else { return }
    if status.isDirectory {
        for name in try DirectoryWalker.names(in: path) {
            try removeTree(path.appending(FilePath.Component(bytes: name)))
        }
        guard path.withPlatformString({ rmdir($0) }) == 0 else {
            throw FileSystemError(operation: "remove directory", path: path, errno: currentErrno())
        }
    } else {
        try FileSystem.removeFile(path)
    }
}
