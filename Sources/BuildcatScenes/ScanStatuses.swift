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
    func prefetch(_ paths: [(index: Int, path: FilePath)]) {
        var start = 0
        while start < paths.count {
            let batch = Array(paths[start..<min(start + Self.batchSize, paths.count)])
            start += Self.batchSize
            // Below the layers read ahead: the scanner waits on those, and on these only at the end.
            DispatchQueue.global(qos: .utility).async(group: group) { [self] in
                let statuses = directories.statuses(count: batch.count) { batch[$0].path }
                batches.withLock { $0.append((batch.map(\.index), statuses)) }
            }
        }
    }

    /// Records statuses the scanner has already.
    func record(_ known: [(index: Int, status: FileStatus?)]) {
        guard !known.isEmpty else { return }
        batches.withLock { $0.append((known.map(\.index), known.map(\.status))) }
    }

    /// Waits for every stat, then gives each reference's status by index: nil for one never
    /// asked for, `.some(nil)` for one whose file is not there (or cannot be stat'ed).
    func statuses(count: Int) -> [FileStatus??] {
        group.wait()
        var byIndex = [FileStatus??](repeating: nil, count: count)
        batches.withLock { batches in
            for batch in batches {
                for (index, status) in zip(batch.indices, batch.statuses) { byIndex[index] = .some(status) }
            }
        }
        return byIndex
    }
}

/// The statuses a scan needs: of the files it links, stat'ed at once (only regular ones are read
/// next), and of every other single-file reference, stat'ed on other cores while the scan goes on.
struct ScanStatuses {
    private let prefetch = FileStatusPrefetch()
    private var linked: [ByteKey: FileStatus?] = [:]

    /// Takes the references one scanned file added (by their indices in the scan's result), and
    /// the files it links.
    /// - Parameter known: the statuses the format found as it read, by reference
    ///   (`SceneFileScan.statuses`); nil when they are to be found here.
    mutating func add(_ references: ArraySlice<SceneReference>, linking linkedPaths: [FilePath], known: [FileStatus?]?) {
        if let known {
            var found: [(index: Int, status: FileStatus?)] = []
            found.reserveCapacity(references.count)
            for (offset, index) in references.indices.enumerated() where references[index].pattern == .file && references[index].unresolvable == nil {
                found.append((index, known[offset]))
                if references[index].kind == .layer || references[index].kind == .library {
                    linked[ByteKey(references[index].resolved)] = .some(known[offset])
                }
            }
            prefetch.record(found)
            // The format says its linked files are among its references; should one not be, it is stat'ed.
            for path in linkedPaths where linked[ByteKey(path)] == nil {
                linked[ByteKey(path)] = .some(try? FileSystem.statusIfPresent(of: path))
            }
            return
        }
        for path in linkedPaths {
            let key = ByteKey(path)
            if linked[key] == nil { linked[key] = .some(try? FileSystem.statusIfPresent(of: path)) }
        }
        var known: [(index: Int, status: FileStatus?)] = []
        var unknown: [(index: Int, path: FilePath)] = []
        for index in references.indices where references[index].pattern == .file && references[index].unresolvable == nil {
            let links = references[index].kind == .layer || references[index].kind == .library
            if links, let status = linked[ByteKey(references[index].resolved)] {
                known.append((index, status))
            } else {
                unknown.append((index, references[index].resolved))
            }
        }
        prefetch.record(known)
        prefetch.prefetch(unknown)
    }

    /// Whether a linked file (one `add` was told of) is a regular file, to be read.
    func isRegularFile(linked path: FilePath) -> Bool {
        (linked[ByteKey(path)] ?? nil)?.isRegularFile == true
    }

    /// Waits for every stat; by reference index, as `FileStatusPrefetch.statuses`.
    func all(count: Int) -> [FileStatus??] { prefetch.statuses(count: count) }
}
