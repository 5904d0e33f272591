import BuildcatBasics
import Glibc
import SystemPackage

/// Reads one USD layer and resolves its asset paths as USD's default resolver does. Holds no
/// state but the search path, so that layers can be read on any thread.
struct USDLayerReader: Sendable {
    /// The search path's folders (`PXR_AR_DEFAULT_SEARCH_PATH`), each examined once for joining.
    private let searchFolders: [PathJoiner]
    /// The folders of the files the layers use, open: their files are stat'ed by name.
    let directories = DirectoryHandles()

    init(searchPath: [FilePath]) {
        searchFolders = searchPath.map { PathJoiner(directory: $0.bytes) }
    }

    /// What one layer holds.
    struct Layer: Sendable {
        var references: [SceneReference]
        /// By reference, the status of a single-file reference's file (nil: none there).
        var statuses: [FileStatus?]
        /// A binary crate (`PXR-USDC`), not text.
        var isCrate: Bool
        /// The USD layers it composes, to be read next, each with its status (nil: none there).
        var linkedLayers: [(path: FilePath, status: FileStatus?)]

        /// Stats each single-file reference's file here, on the thread that read the layer:
        /// the scan needs them all, and a layer's files are mostly in one folder.
        /// - Parameter known: by reference, the status found while resolving it (a search
        ///   path is looked for), not stat'ed again; nil where none was.
        init(references: [SceneReference], known: [FileStatus??], isCrate: Bool, directories: DirectoryHandles) {
            self.references = references
            self.isCrate = isCrate
            var statuses = directories.statuses(count: references.count, lending: { index, status in
                guard references[index].pattern == .file && known[index] == nil else { return nil }
                return .some(references[index].withResolvedBytes(status))
            })
            for index in known.indices { if let status = known[index] { statuses[index] = status } }
            self.statuses = statuses
            // Fields read in place: a closure over each reference would copy it whole.
            linkedLayers = references.indices.compactMap { index in
                guard references[index].kind == .layer else { return nil }
                let path = references[index].resolvedBytes
                guard path.withUnsafeBufferPointer({ FilePath.hasExtension($0, in: USDFormat.layerExtensions) }) else { return nil }
                return (FilePath(bytes: path), statuses[index])
            }
        }
    }

    /// - Parameter status: the layer's status, when the layer that names it stat'ed it.
    func read(_ path: FilePath, status: FileStatus? = nil) throws -> Layer {
        let bytes = try FileSystem.readAll(path, regularOnly: true, directories: directories, knownStatus: status)
        // The folder, from the path's bytes: `removeLastComponent` parses the whole path.
        let directory = PathJoiner(directory: path.withBytes { path in
            let slash = FilePath.lastComponentStart(of: path)
            return Array(path[..<(slash <= 1 ? slash : slash - 1)])  // `/` itself keeps its slash
        })
        if bytes.starts(with: USDCrate.magic) {
            let (references, known) = try crateReferences(USDCrate(bytes, path: path), path: path, directory: directory)
            return Layer(references: references, known: known, isCrate: true, directories: directories)
        }
        guard bytes.starts(with: Array("#usda ".utf8)) else {
            throw SceneError(scene: displayPath(path), reason: "it is neither a USD text layer (#usda) nor a crate file (PXR-USDC)")
        }
        let found: [USDALexer.AssetPath]
        do {
            found = try USDALexer(bytes: bytes).assetPaths()
        } catch {
            throw SceneError(scene: displayPath(path), reason: "\(error.reason) (line \(USDFormat.line(of: error.offset, in: bytes)))")
        }
        var references: [SceneReference] = []
        var known: [FileStatus??] = []
        references.reserveCapacity(found.count)
        known.reserveCapacity(found.count)
        // Layers use few keys, each for many paths: what a key means is worked out once per run
        // of it. Keys are compared in place (a slice of the layer each counted it twice).
        var lastKey: Range<Int>? = nil
        var lastField = ""
        var lastIsLayer = false
        bytes.withUnsafeBufferPointer { bytes in
            var lines = LineCounter(bytes: UnsafeRawBufferPointer(bytes))
            for asset in found {
                asset.withValue(in: bytes) { value in
                    guard !value.isEmpty else { return }
                    let key = UnsafeBufferPointer(rebasing: bytes[asset.keyRange])
                    if lastKey.map({ $0.count != key.count || memcmp(bytes.baseAddress! + $0.lowerBound, key.baseAddress!, key.count) != 0 }) ?? true {
                        lastKey = asset.keyRange
                        lastField = key.isEmpty ? "asset path" : String(decoding: key, as: UTF8.self)
                        lastIsLayer = USDFormat.isLayerKey(key)
                    }
                    let (found, status) = reference(value, isLayer: lastIsLayer, field: lastField, in: path, directory: directory,
                                                    block: Self.lineBlock(lines.line(of: asset.range.lowerBound)),
                                                    location: FieldLocation(offset: Int64(asset.range.lowerBound), capacity: asset.range.count))
                    references.append(found)
                    known.append(status)
                }
            }
        }
        return Layer(references: references, known: known, isCrate: false, directories: directories)
    }

    /// `line 12`: what a text layer's references give as their block (an interpolated string
    /// each was a twentieth of reading a layer).
    static func lineBlock(_ line: Int) -> String {
        var digits = 1
        var power = 10
        while line >= power && digits < 19 { digits += 1; power &*= 10 }
        guard line >= 0, digits < 19 else { return "line \(line)" }
        return String(unsafeUninitializedCapacity: 5 + digits) { buffer in
            buffer[0] = UInt8(ascii: "l")
            buffer[1] = UInt8(ascii: "i")
            buffer[2] = UInt8(ascii: "n")
            buffer[3] = UInt8(ascii: "e")
            buffer[4] = UInt8(ascii: " ")
            var rest = line
            for position in stride(from: 4 + digits, through: 5, by: -1) {
                buffer[position] = UInt8(ascii: "0") + UInt8(rest % 10)
                rest /= 10
            }
            return 5 + digits
        }
    }

    /// The paths in a crate: every asset-path value of its FIELDS table (defaults, arrays, time
    /// samples, dictionaries, sublayers, reference and payload list ops), missing or not. A crate
    /// older than 0.4, whose FIELDS are not read, gives the tokens instead that name a file that
    /// exists or a USD layer.
    /// - Returns: the references, and by reference the status found while resolving it (nil
    ///   where none was looked for).
    private func crateReferences(_ crate: USDCrate, path: FilePath, directory: PathJoiner) throws -> (references: [SceneReference], known: [FileStatus??]) {
        var references: [SceneReference] = []
        var known: [FileStatus??] = []
        var seen: Set<[UInt8]> = []
        func add(_ value: [UInt8], block: String, onlyIfUsed: Bool) {
            guard !value.isEmpty, seen.insert(value).inserted else { return }
            var (found, status) = value.withUnsafeBufferPointer {
                reference($0, isLayer: false, field: "asset path", in: path, directory: directory, block: block, location: FieldLocation(offset: -1, capacity: value.count))
            }
            let isLayer = found.resolvedBytes.withUnsafeBufferPointer { FilePath.hasExtension($0, in: Self.layerOrPackageExtensions) }
            if onlyIfUsed && !isLayer && found.pattern != .udim {
                status = status ?? .some(Self.status(of: found.resolvedBytes))
                guard status??.isRegularFile == true else { return }
            }
            found.kind = isLayer ? .layer : .asset
            references.append(found)
            known.append(status)
        }
        if let assetPaths = crate.assetPaths {
            for value in assetPaths { add(value, block: "asset field", onlyIfUsed: false) }
        } else {
            for token in crate.tokens where Self.looksLikePath(token) { add(token, block: "token table", onlyIfUsed: true) }
        }
        return (references, known)
    }

    private static let layerOrPackageExtensions = USDFormat.layerExtensions + [Array("usdz".utf8)]

    /// The reference `raw` makes, resolved as USD's default resolver resolves it: anchored
    /// (`./`, `../`) relative to the layer, as a `<UDIM>` pattern is; otherwise by `resolve`.
    /// - Parameters:
    ///   - isLayer: whether the path is the value of one of `USDFormat.layerKeys`.
    ///   - field: the key as text (`asset path` when there is none).
    /// - Returns: the reference, and the status of its file when resolving it stat'ed it.
    private func reference(_ raw: UnsafeBufferPointer<UInt8>, isLayer: Bool, field: String, in path: FilePath, directory: PathJoiner, block: String,
                           location: FieldLocation) -> (reference: SceneReference, status: FileStatus??) {
        let tiled = UDIM.hasToken(raw)
        let kind: AssetKind = isLayer ? .layer : .asset
        let pattern: ReferencePattern = tiled ? .udim : .file
        // Anchored (nearly every path a tool writes): joined on the stack and copied into the
        // reference, with no array made for either path.
        if raw.first != UInt8(ascii: "/") && (Self.isAnchored(raw) || tiled) {
            let reference = directory.withJoined(raw) { resolved in
                SceneReference(scene: path, block: block, field: field, raw: raw, kind: kind, pattern: pattern, resolvedBytes: resolved, location: location)
            }
            return (reference, nil)
        }
        let resolved = resolve(Array(raw), directory: directory)
        let reference = resolved.bytes.withUnsafeBufferPointer {
            SceneReference(scene: path, block: block, field: field, raw: raw, kind: kind, pattern: pattern, resolvedBytes: $0, location: location)
        }
        return (reference, resolved.status)
    }

    /// The rest of USD's default resolver, for a path neither anchored nor a pattern: absolute as
    /// it is; a search path relative to the layer if there, else in the search path's folders,
    /// else (missing) relative to the layer.
    /// - Returns: the path, and for a search path the status of what was found (`.some(nil)`:
    ///   nothing), which need not be stat'ed again.
    private func resolve(_ raw: [UInt8], directory: PathJoiner) -> (bytes: [UInt8], status: FileStatus??) {
        if raw.first == UInt8(ascii: "/") { return (FilePath.normalizedJoinBytes([], raw), nil) }
        let relative = directory.join(raw)
        if let status = Self.status(of: relative) { return (relative, status) }
        for folder in searchFolders {
            let candidate = folder.join(raw)
            if let status = Self.status(of: candidate) { return (candidate, status) }
        }
        return (relative, .some(nil))
    }

    /// The status of the file at `path` (followed if a link); nil when there is none or it
    /// cannot be stat'ed.
    private static func status(of path: [UInt8]) -> FileStatus? {
        (try? FileSystem.statusIfPresent(of: FilePath(bytes: path))) ?? nil
    }

    /// `./…` or `../…`.
    private static func isAnchored(_ raw: UnsafeBufferPointer<UInt8>) -> Bool {
        let dot = UInt8(ascii: "."), slash = UInt8(ascii: "/")
        guard raw.count >= 2, raw[0] == dot else { return false }
        return raw[1] == slash || (raw.count >= 3 && raw[1] == dot && raw[2] == slash)
    }

    /// Whether a token of an old crate looks like a file name: `x.png`, `./a/b.usd`; not `1.5`,
    /// not `inputs:file`.
    static func looksLikePath(_ token: [UInt8]) -> Bool {
        guard token.count > 2, token.contains(UInt8(ascii: ".")), !token.contains(0x0A),
              let last = token.last, last != UInt8(ascii: "/"), last != UInt8(ascii: ".") else { return false }
        // A file name with an extension: `x.png`, `./a/b.usd`; not `1.5`, not `inputs:file`.
        guard let dot = token.lastIndex(of: UInt8(ascii: ".")), dot > 0, dot < token.count - 1 else { return false }
        let extensionBytes = token[(dot + 1)...]
        return extensionBytes.count <= 8 && extensionBytes.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x30 && $0 <= 0x39) }
            && !token.contains(UInt8(ascii: ":")) && !extensionBytes.allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
    }
}
