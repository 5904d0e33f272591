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

    /// Waits for every stat, then puts each status at its reference's index (`.some(nil)` for
    /// a file that is not there or cannot be stat'ed).
    func fill(_ byIndex: inout [FileStatus??]) {
        group.wait()
        batches.withLock { batches in
            for batch in batches {
                for (index, status) in zip(batch.indices, batch.statuses) { byIndex[index] = .some(status) }
            }
        }
    }
}

/// The statuses a scan needs: of the files it links, stat'ed at once (only regular ones are read
/// next), and of every other single-file reference, stat'ed on other cores while the scan goes
/// on — unless the format stat'ed them as it read (`SceneFileScan.statuses`).
struct ScanStatuses {
    private let prefetch = FileStatusPrefetch()
    private var linked: [ByteKey: FileStatus?] = [:]
    /// By reference index: the status known so far (`.some(nil)`: nothing there); nil for one
    /// not known yet (being stat'ed, or not a single file).
    private var byIndex: [FileStatus??] = []

    /// Takes the references one scanned file added, the first at `firstIndex` in the scan's
    /// result, and the files it links.
    /// - Parameter known: the statuses the format found as it read, by reference
    ///   (`SceneFileScan.statuses`); nil when they are to be found here.
    /// - Returns: by linked file, whether it is a regular file, to be read.
    mutating func add(_ references: [SceneReference], firstIndex: Int, linking linkedPaths: [FilePath], known: [FileStatus?]?) -> [Bool] {
        precondition(firstIndex == byIndex.count)
        if let known {
            for offset in references.indices {
                guard references[offset].pattern == .file && references[offset].unresolvable == nil else {
                    byIndex.append(nil)
                    continue
                }
                byIndex.append(.some(known[offset]))
                if references[offset].kind == .layer || references[offset].kind == .library {
                    linked[ByteKey(references[offset].resolvedBytes)] = .some(known[offset])
                }
            }
        }
        // Linked files not known yet (all of them, unless the format stat'ed its references) are
        // stat'ed now: only regular ones are read next.
        let regular = linkedPaths.map { path -> Bool in
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
            byIndex.append(nil)
            guard references[offset].pattern == .file && references[offset].unresolvable == nil else { continue }
            let links = references[offset].kind == .layer || references[offset].kind == .library
            if links, let status = linked[ByteKey(references[offset].resolvedBytes)] {
                byIndex[firstIndex + offset] = .some(status)
            } else {
                unknown.append((firstIndex + offset, references[offset].resolvedBytes))
            }
        }
        prefetch.prefetch(unknown)
    }

    /// Waits for every stat; then by reference index, the status of a single-file reference's
    /// file (`.some(nil)`: nothing there), nil for other references.
    consuming func all() -> [FileStatus??] {
        prefetch.fill(&byIndex)
        return byIndex
    }
}
