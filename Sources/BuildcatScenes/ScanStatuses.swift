import BuildcatBasics
import Dispatch
import Synchronization
import SystemPackage

/// Stats the files of single-file references on other threads while the scanner goes on
/// reading scene files.
///
/// A stage of 2,000 layers and 20,000 textures spent a third of its scan stat'ing textures
/// after the last layer was read; now those stats run while the layers are still being read.
final class FileStatusPrefetch: Sendable {
    /// References stat'ed per task: enough to amortise handing a task to a thread, few enough
    /// that one scene with 100,000 references still spreads over every core.
    private static let batchSize = 256

    private let group = DispatchGroup()
    private let directories = DirectoryHandles()
    private let batches = Mutex<[(indices: [Int], statuses: [FileStatus?])]>([])

    /// Starts stat'ing the files the given references (by index) stand for.
    func prefetch(_ paths: [(index: Int, path: [UInt8])]) {
        var start = 0
        while start < paths.count {
            let batch = Array(paths[start..<min(start + Self.batchSize, paths.count)])
            start += Self.batchSize
            // Below the layers read ahead: the scanner waits on those, and on these only at the end.
            DispatchQueue.global(qos: .utility).async(group: group) { [self] in
                let statuses = directories.statuses(count: batch.count, ofBytes: { batch[$0].path })
                batches.withLock { $0.append((batch.map(\.index), statuses)) }
            }
        }
    }

    /// Waits for every stat; then by reference index, the status of each file stat'ed here
    /// (nil for one that is not there or cannot be stat'ed).
    func all() -> [Int: FileStatus?] {
        group.wait()
        return batches.withLock { batches in
            var byIndex: [Int: FileStatus?] = [:]
            byIndex.reserveCapacity(batches.reduce(0) { $0 + $1.indices.count })
            for batch in batches {
                for (index, status) in zip(batch.indices, batch.statuses) { byIndex[index] = .some(status) }
            }
            return byIndex
        }
    }
}

/// The statuses a scan needs: of the files it links, stat'ed at once (only regular ones are read
/// next), and of every other single-file reference, stat'ed on other cores while the scan goes
/// on — unless the format stat'ed them as it read (`SceneFileScan.statuses`).
struct ScanStatuses {
    private let prefetch = FileStatusPrefetch()
    private var linked: [ByteKey: FileStatus?] = [:]
    /// By reference index, the statuses known of files the scan linked (the others are stat'ed).
    private var linkedByIndex: [Int: FileStatus?] = [:]

    /// Takes the references one scanned file added, the first at `firstIndex` in the scan's
    /// result, and the files it links.
    /// - Parameters:
    ///   - known: the statuses the format found as it read, by reference
    ///     (`SceneFileScan.statuses`); nil when they are to be found here.
    ///   - knownLinked: those of the linked files (`SceneFileScan.linkedStatuses`), when the
    ///     format gives them: then nothing is looked up (a layer's references were each looked
    ///     at, and its links in a table, a second time for each of a large stage's layers).
    /// - Returns: by linked file, whether it is a regular file, to be read.
    mutating func add(_ references: [SceneReference], firstIndex: Int, linking linkedFiles: [(path: FilePath, part: LinkedPart)],
                      known: [FileStatus?]?, knownLinked: [FileStatus?]? = nil) -> [Bool] {
        if let knownLinked { return knownLinked.map { $0?.isRegularFile == true } }
        if let known {
            for offset in references.indices where Self.linksFile(references[offset]) {
                linked[ByteKey(references[offset].resolvedBytes)] = .some(known[offset])
            }
        }
        // Linked files not known yet (all of them, unless the format stat'ed its references) are
        // stat'ed now: only regular ones are read next.
        let regular = linkedFiles.map { file -> Bool in
            let path = file.path
            let key = ByteKey(path)
            if linked[key] == nil { linked[key] = .some(try? FileSystem.statusIfPresent(of: path)) }
            return (linked[key] ?? nil)?.isRegularFile == true
        }
        if known == nil { prefetchStatuses(of: references, firstIndex: firstIndex) }
        return regular
    }

    /// Records the statuses of the linked files among `references`, and starts stat'ing the others.
    private mutating func prefetchStatuses(of references: [SceneReference], firstIndex: Int) {
        var unknown: [(index: Int, path: [UInt8])] = []
        for offset in references.indices {
            guard references[offset].pattern == .file && references[offset].unresolvable == nil else { continue }
            if Self.linksFile(references[offset]), let status = linked[ByteKey(references[offset].resolvedBytes)] {
                linkedByIndex[firstIndex + offset] = .some(status)
            } else {
                unknown.append((firstIndex + offset, references[offset].resolvedBytes))
            }
        }
        prefetch.prefetch(unknown)
    }

    /// Whether the reference names one file the scan links (a library, a layer).
    private static func linksFile(_ reference: SceneReference) -> Bool {
        (reference.kind == .layer || reference.kind == .library) && reference.pattern == .file && reference.unresolvable == nil
    }

    /// Waits for every stat; then by reference index, the status of each file stat'ed here or
    /// linked (nil for one that is not there or cannot be stat'ed). The statuses the formats
    /// found are not kept here: they are the caller's, with the references.
    consuming func all() -> [Int: FileStatus?] {
        var stated = prefetch.all()
        stated.merge(linkedByIndex) { stat, _ in stat }
        return stated
    }
}

/// The status of each single-file reference's file, by reference index: asked in order of index.
struct ScanStatusTable {
    /// One scanned file's statuses, as its format found them, by reference from `firstIndex` on.
    struct Run {
        var firstIndex: Int
        var statuses: [FileStatus?]
    }

    let runs: [Run]
    /// The statuses found by the scan itself, by index.
    let stated: [Int: FileStatus?]
    /// Where `status(of:)` last looked: indices are asked in order (each then costs one step).
    private var run = 0
    private var lastIndex = 0

    init(runs: [Run], stated: [Int: FileStatus?]) {
        self.runs = runs
        self.stated = stated
    }

    /// The status of the file of the single-file reference at `index` (nil: none there).
    mutating func status(of index: Int) -> FileStatus? {
        if index < lastIndex { run = 0 }
        lastIndex = index
        while run < runs.count && runs[run].firstIndex + runs[run].statuses.count <= index { run += 1 }
        if run < runs.count && index >= runs[run].firstIndex { return runs[run].statuses[index - runs[run].firstIndex] }
        return stated[index] ?? nil
    }
}
