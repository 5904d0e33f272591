import BuildcatBasics
import Glibc
import SystemPackage

/// USD layers: text (`.usda`) and binary crate (`.usdc`) files. Every asset path is a
/// reference; sublayers, references, payloads and value clips (`assetPaths`,
/// `manifestAssetPath`) are layers, followed when they are USD files; a `.usdz` package is one
/// asset (what is inside it is the package's own).
///
/// Paths resolve as USD's default resolver resolves them: anchored (`./`, `../`) relative to
/// the layer that holds them; a search path (`textures/a.png`) relative to that layer when the
/// file is there, else in `$PXR_AR_DEFAULT_SEARCH_PATH`'s folders; `<UDIM>` stands for tiles.
///
/// A text layer is rewritten in place of each path (longer or shorter as needed). A crate is
/// staged as it is when every path in it stays valid in the checkout (relative, and pointing
/// inside the project); otherwise rewriting it is refused, naming the path: Buildcat does not
/// write crate files, and will not leave a path pointing outside the checkout.
public final class USDFormat: SceneFormat {
    public let name = "usd"
    private var scanned: Set<ByteKey> = []
    /// The crates among them: staged as they are, never rewritten.
    private var crates: Set<ByteKey> = []
    private let reader: USDLayerReader
    /// Layers read ahead of the scan: each layer a scanned one links, read and resolved on
    /// another core while the scan goes on (a stage of 2,000 layers is read on every core).
    private let readAhead = ReadAhead<Result<USDLayerReader.Layer, any Error>>()
    /// The layers the scan took from the read-ahead, kept as long as the format is. Memory is
    /// freed into the malloc heap of the thread that allocated it, under that heap's lock, and
    /// the reading thread, allocating all the while, holds its lock often: freed by the scan as
    /// it went, a 2,000-layer stage's layers made one thread or the other sleep on that lock
    /// some fifty times a scan (one in every forty layers). `buildcat scan` exits without
    /// freeing its formats; a stage frees them once, when no thread reads.
    private var taken: [USDLayerReader.Layer] = []

    /// Names under which a layer lists other layers.
    static let layerKeys: [[UInt8]] = ["subLayers", "references", "payload", "payloads", "assetPaths", "manifestAssetPath"].map { Array($0.utf8) }
    static let layerExtensions: [[UInt8]] = ["usd", "usda", "usdc"].map { Array($0.utf8) }

    /// Whether `key` (the name an asset path is the value of) is one of `layerKeys`: compared
    /// as bytes, since hashing an array hashes it byte by byte.
    static func isLayerKey(_ key: UnsafeBufferPointer<UInt8>) -> Bool {
        layerKeys.contains { $0.count == key.count && $0.elementsEqual(key) }
    }

    public init(environment: [String: String] = currentEnvironment()) {
        reader = USDLayerReader(searchPath: (environment["PXR_AR_DEFAULT_SEARCH_PATH"] ?? "").split(separator: ":").map { FilePath(String($0)) })
    }

    public func recognizes(_ path: FilePath, firstBytes: [UInt8]) -> Bool {
        firstBytes.starts(with: Array("#usda ".utf8)) || firstBytes.starts(with: USDCrate.magic) || claims(name: path)
    }

    /// `scan` tells a text layer from a crate by its first bytes, and refuses anything else.
    public func claims(name path: FilePath) -> Bool {
        path.hasExtension(in: Self.layerExtensions)
    }

    /// A crate is never rewritten: rewriting it was refused, or every path in it stays valid.
    public func stagingNote(for path: FilePath) -> String? {
        crates.contains(ByteKey(path)) ? "a binary USD layer, staged as it is (every path in it stays valid in the checkout)" : nil
    }

    public func relativeReference(_ relativePath: [UInt8]) -> [UInt8] {
        relativePath.starts(with: Array("../".utf8)) ? relativePath : Array("./".utf8) + relativePath
    }

    public func scan(_ path: FilePath, part: LinkedPart) throws -> SceneFileScan {
        // A layer is always composed whole: what another layer names of it is a prim path.
        let key = ByteKey(path)
        guard scanned.insert(key).inserted else { return SceneFileScan(references: [], linked: []) }
        let layer: USDLayerReader.Layer
        if let readEarlier = readAhead.take(key) {
            layer = try readEarlier.get()  // what it links was started when it was read
            taken.append(layer)
        } else {
            layer = try reader.read(path)
            // The scan goes on with these soon: read them, and what they link, on the other cores.
            for linked in layer.linkedLayers { Self.readAhead(linked.path, status: linked.status, reader: reader, into: readAhead) }
        }
        if layer.isCrate { crates.insert(key) }
        let linked = layer.linkedLayers.map { (path: $0.path, part: LinkedPart.whole) }
        return SceneFileScan(references: layer.references, linked: linked, statuses: layer.statuses,
                             linkedStatuses: layer.linkedLayers.map(\.status))
    }

    public func startReading(_ path: FilePath) {
        Self.readAhead(path, status: nil, reader: reader, into: readAhead)
    }

    /// - Parameter status: the layer's status, from the stat of the reference that named it.
    private static func readAhead(_ path: FilePath, status: FileStatus?, reader: USDLayerReader, into readAhead: ReadAhead<Result<USDLayerReader.Layer, any Error>>) {
        readAhead.start(ByteKey(path)) {
            let layer = Result { try reader.read(path, status: status) }
            for linked in (try? layer.get())?.linkedLayers ?? [] { Self.readAhead(linked.path, status: linked.status, reader: reader, into: readAhead) }
            return layer
        }
    }

    public func rewrite(_ path: FilePath, changes: [ReferenceChange], to output: FilePath) throws {
        let bytes = try FileSystem.readAll(path)
        var directory = path
        directory.removeLastComponent()
        if bytes.starts(with: USDCrate.magic) {
            // Staged as it is, when every path means in the checkout what it meant here.
            for change in changes where change.newRaw != change.reference.raw {
                let was = change.reference.resolved
                let now = (FilePath(bytes: change.newRaw).isAbsolute ? FilePath(bytes: change.newRaw) : directory.appending(relativeBytes: change.newRaw)).lexicallyNormalized()
                if change.reference.raw.starts(with: [UInt8(ascii: "/")]) || now != was {
                    throw SceneError(scene: displayPath(path), reason: """
                        it is a binary USD layer whose path '\(displayBytes(change.reference.raw))' would have to become \
                        '\(displayBytes(change.newRaw))' to stay inside the checkout, and Buildcat does not write crate \
                        files: save the layer as .usda, or keep what it uses inside the project with relative paths
                        """)
                }
            }
            try FileSystem.writeAtomically(bytes, to: output)
            return
        }
        var result: [UInt8] = []
        result.reserveCapacity(bytes.count + changes.count * 32)
        var position = 0
        for change in changes.sorted(by: { $0.reference.firstLocation!.offset < $1.reference.firstLocation!.offset }) {
            let location = change.reference.firstLocation!
            let start = Int(location.offset)
            let end = start + location.capacity
            guard start >= position, end <= bytes.count else {
                throw SceneError(scene: displayPath(path), reason: "the asset path '\(displayBytes(change.reference.raw))' is no longer where the scan found it")
            }
            guard !change.newRaw.contains(0x0A), !change.newRaw.contains(0) else {
                throw SceneError(scene: displayPath(path), reason: "the new path for '\(displayBytes(change.reference.raw))' holds a line break or NUL")
            }
            let triple = start >= 3 && bytes[(start - 3)..<start].elementsEqual([0x40, 0x40, 0x40])
            if triple || !change.newRaw.contains(UInt8(ascii: "@")) {
                result += bytes[position..<start]
                result += triple ? Self.escapeTriple(change.newRaw) : change.newRaw
                position = end
            } else {
                // A path with '@' in it needs the triple delimiters: replace the single ones too.
                result += bytes[position..<(start - 1)]
                result += [0x40, 0x40, 0x40] + Self.escapeTriple(change.newRaw) + [0x40, 0x40, 0x40]
                position = end + 1
            }
        }
        result += bytes[position...]
        try FileSystem.writeAtomically(result, to: output)
    }

    static func escapeTriple(_ value: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        var index = 0
        while index < value.count {
            if value[index...].starts(with: [0x40, 0x40, 0x40]) {
                out += Array("\\@@@".utf8)
                index += 3
            } else {
                out.append(value[index])
                index += 1
            }
        }
        return out
    }

    static func line(of offset: Int, in bytes: [UInt8]) -> Int {
        1 + bytes.withUnsafeBytes { LineCounter.newlines(in: UnsafeRawBufferPointer(rebasing: $0[..<min(max(offset, 0), bytes.count)])) }
    }
}

/// Line numbers of increasing offsets in one pass (counting from the start for each of
/// thousands of paths in a layer was quadratic), sixteen bytes at a time (byte by byte, counting
/// lines was a tenth of reading a layer).
///
/// It reads the bytes in place, valid while it is used (a counted array was counted up and down
/// again for every path).
struct LineCounter {
    let bytes: UnsafeRawBufferPointer
    private var offset = 0
    private var line = 1

    init(bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    mutating func line(of target: Int) -> Int {
        if target < offset { offset = 0; line = 1 }
        let end = min(target, bytes.count)
        guard offset < end else { return line }
        line += Self.newlines(in: UnsafeRawBufferPointer(rebasing: bytes[offset..<end]))
        offset = end
        return line
    }

    /// How many bytes of `bytes` are a line feed.
    static func newlines(in bytes: UnsafeRawBufferPointer) -> Int {
        ByteScan.count(UInt8(ascii: "\n"), in: bytes)
    }
}
