import BuildcatBasics
import SystemPackage

/// One scene file the scan read.
public struct ScannedScene: Sendable {
    public var path: FilePath
    public var format: String
}

/// An existing file a reference stands for.
public struct ScannedAsset: Sendable {
    /// Index into `ScanResult.references`.
    public var reference: Int
    public var file: ReferencedFile
}

/// Everything a set of scenes uses.
public struct ScanResult: Sendable {
    public var scenes: [ScannedScene] = []
    public var references: [SceneReference] = []
    /// Every existing file, once per reference that stands for it.
    public var assets: [ScannedAsset] = []
    /// Indices into `references` of the references whose files do not exist, or that cannot be
    /// resolved (`SceneReference.unresolvable` says why).
    public var missing: [Int] = []
}

/// Scans scenes for every file they use, following the scene files they link (Blender
/// libraries…) recursively, each through its format.
///
/// Each linked file is read once however many files link it, and cycles end. A reference to a
/// linked file is reported once, and never to one of the scenes asked for.
public struct SceneScanner {
    public init() {}

    /// - Throws: `SceneError` or `FileSystemError` when a scene, or a linked file that exists,
    ///   cannot be read. A linked file that does not exist is a missing reference, not an error.
    /// - Parameter formats: the formats to read with; pass the same ones to `SceneRewriter` to
    ///   rewrite without reading the files again.
    public func scan(_ scenes: [FilePath], formats: [any SceneFormat] = makeSceneFormats()) throws -> ScanResult {
        var result = ScanResult()
        var opened: Set<ByteKey> = []
        var reportedLinks: Set<ByteKey> = []
        var pending: [(path: FilePath, part: LinkedPart)] = try scenes.map { (try FileSystem.absolute($0), .whole) }.reversed()
        let asked = Set(pending.map { ByteKey($0.path) })
        var linkedBack: Set<ByteKey> = []
        var statuses = ScanStatuses()
        var expansion = Expansion()
        // References that name a sequence's users, found as each file is merged.
        var sequenceHolders: [Int] = []

        while let (path, part) = pending.popLast() {
            let format = try BuildcatScenes.format(for: path, among: formats)
            if opened.insert(ByteKey(path)).inserted {
                result.scenes.append(ScannedScene(path: path, format: format.name))
            }
            let found = try format.scan(path, part: part)
            var kept = found.references
            var keptStatuses = found.statuses
            if found.references.contains(where: { $0.kind == .library }) {
                kept = []
                keptStatuses = found.statuses.map { _ in [] }
                for (offset, reference) in found.references.enumerated() {
                    if reference.kind == .library {
                        let target = ByteKey(reference.resolvedBytes)
                        if asked.contains(target) { linkedBack.insert(target) }
                        // Once per place it is written (a library read again for more of its parts
                        // reports its links again); every place, for rewriting.
                        let place = reference.scene.bytes + [0] + reference.resolvedBytes + [0] + Array(String(reference.firstLocation?.offset ?? -1).utf8)
                        guard !asked.contains(target), reportedLinks.insert(ByteKey(place)).inserted else { continue }
                    }
                    kept.append(reference)
                    keptStatuses?.append(found.statuses![offset])
                }
            }
            let first = result.references.count
            let regular = statuses.add(kept, firstIndex: first, linking: found.linked, known: keptStatuses,
                                       knownLinked: found.linkedStatuses)
            result.references.append(contentsOf: kept)
            for offset in kept.indices where kept[offset].sequenceUsers != nil { sequenceHolders.append(first + offset) }
            expansion.expand(&result, from: first, statuses: keptStatuses)
            for index in found.linked.indices.reversed() where regular[index] {
                pending.append(found.linked[index])
            }
        }
        // A sequence's users are those in the file that holds it. That is all of them only in a
        // scene asked for that no other file links: a library's image may be shown by a node of
        // the file that links it, and a scene linked back may lend its images the same way.
        for index in sequenceHolders {
            let scene = ByteKey(result.references[index].scene)
            if !asked.contains(scene) || linkedBack.contains(scene) { result.references[index].sequenceUsers = nil }
        }
        expansion.finish(&result, stated: statuses.all())
        return result
    }
}

/// Finds the files each reference stands for, and which are missing, in the order of the
/// references. A scanned file whose format stat'ed its files as it read is expanded as soon as
/// the scan has merged it, while its references are still in the processor's caches (one pass
/// over all of them at the end missed the cache on every one, on one core). From the first file
/// whose format did not, every file is expanded at the end, once every stat is done.
private struct Expansion {
    private var listings = DirectoryListings()
    /// The statuses the formats found, of the files left for the end.
    private var runs: [ScanStatusTable.Run] = []
    /// The references before this are expanded.
    private var expanded = 0
    /// A file was left for the end: every one after it is too, to keep the order.
    private var deferring = false

    /// Expands the references from `first` on (one scanned file's), given their statuses by
    /// reference (`SceneFileScan.statuses`; nil when the scan stats them).
    mutating func expand(_ result: inout ScanResult, from first: Int, statuses: [FileStatus?]?) {
        guard !deferring, let statuses else {
            deferring = true
            if let statuses { runs.append(ScanStatusTable.Run(firstIndex: first, statuses: statuses)) }
            return
        }
        precondition(first == expanded)
        Self.makeRoom(in: &result.assets, for: result.references.count - first)
        statuses.withUnsafeBufferPointer { statuses in
            for index in first..<result.references.count {
                expand(&result, index, status: statuses[index - first])
            }
        }
        expanded = result.references.count
    }

    /// Grows `assets` for `more` entries (about one a reference) eight times over while it is
    /// small, twice over past 64 MB: each growth copies every entry into memory faulted in
    /// anew, and doubling faulted in twice the final array (a thousand pages of a large USD
    /// stage's scan, a third of all its faults, on the thread every file passes through).
    /// Capacity not yet written costs address space only.
    private static func makeRoom(in assets: inout [ScannedAsset], for more: Int) {
        let needed = assets.count + more
        guard assets.capacity < needed else { return }
        let factor = assets.capacity * MemoryLayout<ScannedAsset>.stride < 64 << 20 ? 8 : 2
        assets.reserveCapacity(max(needed, assets.capacity * factor, 1024))
    }

    /// Expands every reference not expanded yet.
    /// - Parameter stated: by reference index, the statuses the scan found itself
    ///   (`ScanStatuses`); the formats' are kept here.
    mutating func finish(_ result: inout ScanResult, stated: [Int: FileStatus?]) {
        var statuses = ScanStatusTable(runs: runs, stated: stated)
        for index in expanded..<result.references.count {
            expand(&result, index, status: statuses.status(of: index))
        }
        expanded = result.references.count
    }

    /// - Parameter status: for a single-file reference, its file's (nil: none there).
    private mutating func expand(_ result: inout ScanResult, _ index: Int, status: FileStatus?) {
        // Fields read in place: copying each reference whole costs more than the rest.
        if result.references[index].unresolvable != nil {
            result.missing.append(index)
        } else if result.references[index].pattern == .file {
            if let status, status.isRegularFile {
                result.assets.append(ScannedAsset(reference: index, file: ReferencedFile(fileOf: result.references[index], status: status)))
            } else {
                result.missing.append(index)
            }
        } else {
            let files = listings.files(for: result.references[index])
            if files.isEmpty && result.references[index].pattern != .directory { result.missing.append(index) }
            result.assets += files.map { ScannedAsset(reference: index, file: $0) }
        }
    }
}

/// Directory listings made once and indexed by numbered-name pattern, so that thousands of
/// sequence and UDIM references into one folder cost one listing, not one each.
struct DirectoryListings {
    private var numbered: [[UInt8]: [NumberedKey: [(name: [UInt8], number: Int)]]] = [:]

    struct NumberedKey: Hashable {
        var head: [UInt8]
        var tail: [UInt8]
    }

    mutating func files(for reference: SceneReference) -> [ReferencedFile] {
        let path = reference.resolved
        switch reference.pattern {
        case .file:
            guard let status = try? FileSystem.status(of: path), status.isRegularFile else { return [] }
            return [ReferencedFile(path: path, status: status, frame: nil)]
        case .directory:
            guard (try? FileSystem.status(of: path))?.isDirectory == true,
                  let listing = try? DirectoryWalker(includeHidden: true).walk(path) else { return [] }
            return listing.files
                .filter { file in reference.fileNamePrefix.map { file.relativePath.starts(with: $0) } ?? true }
                .map { ReferencedFile(path: $0.path, status: $0.status, frame: nil) }
        case .frameSequence, .udim:
            var directory = path
            guard let name = directory.lastComponent.map({ FilePath(root: nil, [$0]).bytes }) else { return [] }
            directory.removeLastComponent()
            let key: NumberedKey
            if reference.pattern == .udim {
                guard let (head, tail) = Self.splitAtToken(name) else { return [] }
                key = NumberedKey(head: head, tail: tail)
            } else {
                guard let split = Self.splitAtLastNumber(name) else {
                    // No number to vary: the one file it names.
                    guard let status = try? FileSystem.status(of: path), status.isRegularFile else { return [] }
                    return [ReferencedFile(path: path, status: status, frame: nil)]
                }
                key = NumberedKey(head: split.head, tail: split.tail)
            }
            let matches = index(of: directory)[key] ?? []
            return matches.compactMap { match -> ReferencedFile? in
                if reference.pattern == .udim && !(1001...2000).contains(match.number) { return nil }
                if let range = reference.frameRange, !range.contains(match.number) { return nil }
                let file = directory.appending(FilePath.Component(bytes: match.name))
                guard let status = try? FileSystem.status(of: file), status.isRegularFile else { return nil }
                return ReferencedFile(path: file, status: status, frame: reference.pattern == .frameSequence ? match.number : nil)
            }
        }
    }

    private mutating func index(of directory: FilePath) -> [NumberedKey: [(name: [UInt8], number: Int)]] {
        let key = directory.bytes
        if let cached = numbered[key] { return cached }
        var index: [NumberedKey: [(name: [UInt8], number: Int)]] = [:]
        if let names = try? DirectoryWalker.names(in: directory) {
            for name in names {
                guard let split = Self.splitAtLastNumber(name) else { continue }
                index[NumberedKey(head: split.head, tail: split.tail), default: []].append((name, split.number))
            }
        }
        for key in index.keys { index[key]!.sort { $0.number < $1.number } }
        numbered[key] = index
        return index
    }

    /// `bg.0001.png` → (`bg.`, 1, `.png`): the last run of digits, as Blender finds frame numbers.
    static func splitAtLastNumber(_ name: [UInt8]) -> (head: [UInt8], number: Int, tail: [UInt8])? {
        guard let last = name.lastIndex(where: { $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        var first = last
        while first > 0 && name[first - 1] >= 0x30 && name[first - 1] <= 0x39 { first -= 1 }
        guard last - first < 18, let number = Int(String(decoding: name[first...last], as: UTF8.self)) else { return nil }
        return (Array(name[..<first]), number, Array(name[(last + 1)...]))
    }

    /// `skin.<UDIM>.png` → (`skin.`, `.png`).
    static func splitAtToken(_ name: [UInt8]) -> (head: [UInt8], tail: [UInt8])? {
        for token in UDIM.tokens {
            if let start = name.indices.first(where: { name[$0...].starts(with: token) }) {
                return (Array(name[..<start]), Array(name[(start + token.count)...]))
            }
        }
        return nil
    }
}
