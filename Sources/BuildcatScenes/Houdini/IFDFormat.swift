import BuildcatBasics
import SystemPackage

/// Mantra scene descriptions (`.ifd`, text): the geometry `ray_detail` loads (not `stdin`),
/// the assets `ray_loadotl` loads, and the file-valued strings of `ray_property` and
/// `ray_procedural` (shader textures, procedural inputs); images Mantra writes (`ray_image`, and
/// the properties of image planes) are outputs and left out. Variables are Houdini's, with the
/// IFD's own `setenv NAME = "value"` lines first (see `HoudiniFormat`).
public final class IFDFormat: SceneFormat {
    public let name = "ifd"
    private var scanned: Set<[UInt8]> = []
    private let houdini: HoudiniFormat
    /// For rewriting: frame tokens taken out of paths to expand them, by scene and offset.
    private var frameTokens: [[UInt8]: [Int64: (token: [UInt8], digits: [UInt8])]] = [:]

    public init(environment: [String: String] = currentEnvironment()) {
        houdini = HoudiniFormat(environment: environment)
    }

    public func recognizes(_ path: FilePath, firstBytes: [UInt8]) -> Bool {
        path.extension == "ifd" || firstBytes.starts(with: Array("ray_version".utf8))
    }

    public func relativeReference(_ relativePath: [UInt8]) -> [UInt8] { Array("$HIP/".utf8) + relativePath }

    struct Word {
        var text: [UInt8]
        var range: Range<Int>
        var quoted: Bool
    }

    public func scan(_ path: FilePath, part: LinkedPart) throws -> SceneFileScan {
        guard scanned.insert(path.bytes).inserted else { return SceneFileScan(references: [], linked: []) }
        let bytes = try FileSystem.readAll(path)
        guard !bytes.contains(0) else {
            throw SceneError(scene: displayPath(path), reason: "it is a binary IFD (or not an IFD); only text IFDs are read")
        }
        var directory = path
        directory.removeLastComponent()
        var variables: [String: String] = [:]
        var objectType = ""
        var references: [SceneReference] = []
        var lineNumber = 0
        var lineStart = 0
        while lineStart < bytes.count {
            lineNumber += 1
            let lineEnd = bytes[lineStart...].firstIndex(of: 0x0A) ?? bytes.count
            defer { lineStart = lineEnd + 1 }
            let words = Self.words(bytes, lineStart..<lineEnd)
            guard let command = words.first?.text else { continue }
            var candidates: [(Word, String)] = []
            switch String(decoding: command, as: UTF8.self) {
            case "setenv":
                // setenv NAME = "value"
                if words.count >= 4, words[2].text == [UInt8(ascii: "=")] {
                    variables[String(decoding: words[1].text, as: UTF8.self)] = String(decoding: words[3].text, as: UTF8.self)
                }
            case "ray_start":
                objectType = words.count > 1 ? String(decoding: words[1].text, as: UTF8.self) : ""
            case "ray_end":
                objectType = ""
            case "ray_detail":
                if let file = words.last, words.count >= 3, file.text != Array("stdin".utf8), !file.text.starts(with: [UInt8(ascii: "-")]) {
                    candidates.append((file, "ray_detail"))
                }
            case "ray_loadotl":
                if let file = words.last, words.count >= 2 { candidates.append((file, "ray_loadotl")) }
            case "ray_property", "ray_procedural":
                // An image plane's settings and image properties name outputs.
                guard objectType != "plane", words.count < 2 || words[1].text != Array("image".utf8) else { break }
                for word in words.dropFirst(2) where word.quoted && HoudiniFormat.looksLikeFile(word.text) && !HoudiniFormat.isHoudinisOwn(word.text) {
                    candidates.append((word, String(decoding: command, as: UTF8.self)))
                }
            default:
                break
            }
            for (word, field) in candidates where !word.text.starts(with: Array("op:".utf8)) && !word.text.starts(with: Array("opdef:".utf8)) {
                let expanded = houdini.expand(word.text, directory: directory, hipName: String(path.stem ?? ""), node: nil, globals: variables)
                var reference = SceneReference(scene: path, block: "line \(lineNumber)", field: field, raw: word.text, kind: .asset,
                                               pattern: expanded.pattern, resolved: FilePath.normalizedJoin(directory.bytes, expanded.path),
                                               locations: [FieldLocation(offset: Int64(word.range.lowerBound), capacity: word.range.count)])
                reference.unresolvable = expanded.unresolvable
                if let frame = expanded.frameToken { frameTokens[path.bytes, default: [:]][Int64(word.range.lowerBound)] = frame }
                references.append(reference)
            }
        }
        return SceneFileScan(references: references, linked: [])
    }

    /// The words of a line: bare, or quoted ("…" or '…', with backslash escapes); `#` starts a comment.
    static func words(_ bytes: [UInt8], _ line: Range<Int>) -> [Word] {
        var words: [Word] = []
        var index = line.lowerBound
        while index < line.upperBound {
            let byte = bytes[index]
            if byte == 0x20 || byte == 0x09 || byte == 0x0D { index += 1; continue }
            if byte == UInt8(ascii: "#") && words.isEmpty { break }
            if byte == UInt8(ascii: "\"") {
                guard let (text, contents, end) = TextScenes.quotedString(bytes, at: index, end: line.upperBound) else { break }
                words.append(Word(text: text, range: contents, quoted: true))
                index = end
                continue
            }
            if byte == UInt8(ascii: "'"), let close = bytes[(index + 1)..<line.upperBound].firstIndex(of: UInt8(ascii: "'")) {
                words.append(Word(text: Array(bytes[(index + 1)..<close]), range: (index + 1)..<close, quoted: true))
                index = close + 1
                continue
            }
            let start = index
            while index < line.upperBound, ![0x20, 0x09, 0x0D].contains(bytes[index]) { index += 1 }
            words.append(Word(text: Array(bytes[start..<index]), range: start..<index, quoted: false))
        }
        return words
    }

    public func rewrite(_ path: FilePath, changes: [ReferenceChange], to output: FilePath) throws {
        let tokens = frameTokens[path.bytes] ?? [:]
        try TextScenes.rewrite(path, changes: changes, to: output) { change, bytes, start in
            var value = change.newRaw
            if let frame = tokens[Int64(start)], let at = TextScenes.lastRangeInName(of: frame.digits, in: value) { value.replaceSubrange(at, with: frame.token) }
            let quoted = start > 0 && bytes[start - 1] == UInt8(ascii: "\"")
            return HoudiniParms.encode(value, quoted: quoted)
        }
    }
}
