import BuildcatBasics
import SystemPackage

/// glTF 2.0: the `uri` of every buffer and image, in a `.gltf` (JSON) or in the JSON chunk of a
/// `.glb`. URIs are relative to the file and percent-encoded; `data:` URIs are embedded and are
/// not files. Rewriting writes percent-encoded relative URIs; a `.glb`'s chunk and file lengths
/// are fixed (the JSON chunk padded with spaces to four bytes, as the format asks).
public final class GLTFFormat: SceneFormat {
    public let name = "gltf"
    private var scanned: Set<[UInt8]> = []
    static let glbMagic = Array("glTF".utf8)

    public init() {}

    public func recognizes(_ path: FilePath, firstBytes: [UInt8]) -> Bool {
        firstBytes.starts(with: Self.glbMagic) || ["gltf", "glb"].contains(path.extension?.lowercased() ?? "")
    }

    /// A relative URI: percent-encoded, `/`-separated.
    public func relativeReference(_ relativePath: [UInt8]) -> [UInt8] { Self.percentEncode(relativePath) }

    /// The JSON text of the file, and where it starts in the file.
    private func json(_ bytes: [UInt8], path: FilePath) throws -> (json: ArraySlice<UInt8>, offset: Int) {
        guard bytes.starts(with: Self.glbMagic) else { return (bytes[...], 0) }
        func bad(_ reason: String) -> SceneError { SceneError(scene: displayPath(path), reason: "it is not a readable glTF binary: \(reason)") }
        func uint32(_ at: Int) -> Int { Int(bytes[at]) | Int(bytes[at + 1]) << 8 | Int(bytes[at + 2]) << 16 | Int(bytes[at + 3]) << 24 }
        guard bytes.count >= 20 else { throw bad("it is shorter than its header") }
        guard uint32(4) == 2 else { throw bad("version \(uint32(4)), not 2") }
        guard uint32(8) == bytes.count else { throw bad("its header says \(uint32(8)) bytes, the file has \(bytes.count)") }
        let length = uint32(12)
        guard Array(bytes[16..<20]) == Array("JSON".utf8), 20 + length <= bytes.count else { throw bad("its first chunk is not a JSON chunk within the file") }
        return (bytes[20..<(20 + length)], 20)
    }

    public func scan(_ path: FilePath, part: LinkedPart) throws -> SceneFileScan {
        guard scanned.insert(path.bytes).inserted else { return SceneFileScan(references: [], linked: []) }
        let bytes = try FileSystem.readAll(path)
        let (text, _) = try json(bytes, path: path)
        do {
            _ = try JSONParser.parse(Array(text))
        } catch {
            throw SceneError(scene: displayPath(path), reason: "its JSON is not valid: \(error)")
        }
        var directory = path
        directory.removeLastComponent()
        var references: [SceneReference] = []
        for uri in Self.uris(in: bytes, json: text.indices) where !uri.value.starts(with: Array("data:".utf8)) {
            guard let decoded = Self.percentDecode(uri.value) else {
                throw SceneError(scene: displayPath(path), reason: "the URI '\(displayBytes(uri.value))' has a broken percent escape")
            }
            var reference = SceneReference(scene: path, block: "byte \(uri.range.lowerBound)", field: "uri", raw: uri.value,
                                           kind: .asset, pattern: .file, resolved: FilePath.normalizedJoin(directory.bytes, decoded),
                                           locations: [FieldLocation(offset: Int64(uri.range.lowerBound), capacity: uri.range.count)])
            if decoded.contains(UInt8(ascii: ":")) && !decoded.contains(UInt8(ascii: "/")) || decoded.starts(with: Array("http".utf8)) {
                reference.unresolvable = "it is a URL, not a file"
            }
            references.append(reference)
        }
        return SceneFileScan(references: references, linked: [])
    }

    /// Every `"uri": "…"` in the JSON text: the value (JSON-unescaped) and where it is written.
    static func uris(in bytes: [UInt8], json: Range<Int>) -> [(value: [UInt8], range: Range<Int>)] {
        var found: [(value: [UInt8], range: Range<Int>)] = []
        var index = json.lowerBound
        var previousString: [UInt8]?
        while index < json.upperBound {
            guard bytes[index] == UInt8(ascii: "\"") else {
                if bytes[index] != UInt8(ascii: ":") && bytes[index] > 0x20 { previousString = nil }
                index += 1
                continue
            }
            guard let (value, contents, end) = TextScenes.quotedString(bytes, at: index, end: json.upperBound) else { break }
            if previousString == Array("uri".utf8) {
                found.append((value, contents))
                previousString = nil
            } else {
                previousString = value
            }
            index = end
        }
        return found
    }

    static func percentDecode(_ text: [UInt8]) -> [UInt8]? {
        var out: [UInt8] = []
        var index = 0
        while index < text.count {
            if text[index] == UInt8(ascii: "%") {
                guard index + 2 < text.count, let byte = UInt8(String(decoding: text[(index + 1)...(index + 2)], as: UTF8.self), radix: 16) else { return nil }
                out.append(byte)
                index += 3
            } else {
                out.append(text[index])
                index += 1
            }
        }
        return out
    }

    static func percentEncode(_ path: [UInt8]) -> [UInt8] {
        let digits = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        for byte in path {
            let plain = (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || "-._~/!$&'()*+,;=:@".utf8.contains(byte)
            if plain { out.append(byte) } else { out += [UInt8(ascii: "%"), digits[Int(byte >> 4)], digits[Int(byte & 0xF)]] }
        }
        return out
    }

    public func rewrite(_ path: FilePath, changes: [ReferenceChange], to output: FilePath) throws {
        let bytes = try FileSystem.readAll(path)
        guard bytes.starts(with: Self.glbMagic) else {
            try TextScenes.rewrite(path, changes: changes, to: output) { change, _, _ in TextScenes.escaped(change.newRaw) }
            return
        }
        // A binary: rewrite the JSON chunk, then fix its length (padded with spaces) and the file's.
        let (text, offset) = try json(bytes, path: path)
        var chunk = Array(text)
        for change in changes.sorted(by: { $0.reference.firstLocation!.offset > $1.reference.firstLocation!.offset }) {
            let start = Int(change.reference.firstLocation!.offset) - offset
            chunk.replaceSubrange(start..<(start + change.reference.firstLocation!.capacity), with: TextScenes.escaped(change.newRaw))
        }
        while chunk.count % 4 != 0 { chunk.append(0x20) }
        func littleEndian(_ value: Int) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) } }
        let rest = bytes[(offset + text.count)...]
        var result = Array(bytes[0..<12]) + littleEndian(chunk.count) + Array("JSON".utf8) + chunk + rest
        result.replaceSubrange(8..<12, with: littleEndian(result.count))
        try FileSystem.writeAtomically(result, to: output)
    }
}
