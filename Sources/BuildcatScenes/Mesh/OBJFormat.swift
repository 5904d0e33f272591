import BuildcatBasics
import SystemPackage

/// Wavefront OBJ meshes and their MTL material libraries: `mtllib` names the libraries (read in
/// turn), and a library's `map_*`, `bump`, `disp`, `decal`, `refl` and `norm` statements name
/// textures after their options (`-bm 0.5`, `-o 1 1 1`, `-type sphere`, …). Paths are relative
/// to the file that names them. A texture's name runs to the end of its line (spaces and all);
/// `mtllib` may list several libraries, so a name with spaces is one only when that file exists.
public final class OBJFormat: SceneFormat {
    public let name = "obj"
    private var scanned: Set<[UInt8]> = []

    /// Texture statements of MTL files (lower-cased).
    static let textureStatements: Set<String> = [
        "map_ka", "map_kd", "map_ks", "map_ns", "map_d", "map_tr", "map_bump", "bump", "disp", "decal", "refl",
        "map_aat", "map_pr", "map_pm", "map_ps", "map_ke", "map_norm", "norm", "map_refl", "map_disp", "map_kt",
    ]
    /// Options and how many arguments each takes at most (numbers; `-o`, `-s`, `-t` take 1 to 3).
    static let options: [String: Int] = [
        "-blendu": 1, "-blendv": 1, "-bm": 1, "-boost": 1, "-cc": 1, "-clamp": 1, "-imfchan": 1, "-mm": 2,
        "-o": 3, "-s": 3, "-t": 3, "-texres": 1, "-type": 1,
    ]

    public init() {}

    public func recognizes(_ path: FilePath, firstBytes: [UInt8]) -> Bool {
        ["obj", "mtl"].contains(path.extension?.lowercased() ?? "")
    }

    public func relativeReference(_ relativePath: [UInt8]) -> [UInt8] { relativePath }

    public func scan(_ path: FilePath, part: LinkedPart) throws -> SceneFileScan {
        guard scanned.insert(path.bytes).inserted else { return SceneFileScan(references: [], linked: []) }
        let bytes = try FileSystem.readAll(path)
        guard !bytes.contains(0) else { throw SceneError(scene: displayPath(path), reason: "it is not an OBJ or MTL text file (it holds NUL bytes)") }
        var directory = path
        directory.removeLastComponent()
        let isLibrary = path.extension?.lowercased() == "mtl"
        var references: [SceneReference] = []
        var lineNumber = 0
        var lineStart = 0
        while lineStart < bytes.count {
            lineNumber += 1
            var lineEnd = bytes[lineStart...].firstIndex(of: 0x0A) ?? bytes.count
            let next = lineEnd + 1
            while lineEnd > lineStart && (bytes[lineEnd - 1] == 0x0D || bytes[lineEnd - 1] == 0x20 || bytes[lineEnd - 1] == 0x09) { lineEnd -= 1 }
            defer { lineStart = next }
            var words = Self.words(bytes, lineStart..<lineEnd)
            guard let keyword = words.first.map({ String(decoding: bytes[$0], as: UTF8.self).lowercased() }) else { continue }
            words.removeFirst()
            var names: [Range<Int>] = []
            if !isLibrary && keyword == "mtllib" {
                // Several libraries, or one name with spaces: the whole rest if that file exists.
                guard let first = words.first, let last = words.last else { continue }
                let whole = first.lowerBound..<last.upperBound
                let exists = (try? FileSystem.statusIfPresent(of: directory.appending(relativeBytes: Array(bytes[whole])))) != nil
                names = exists || words.count == 1 ? [whole] : words
            } else if isLibrary && Self.textureStatements.contains(keyword) {
                // Options first; the file name is the rest.
                var index = 0
                while index < words.count, let arguments = Self.options[String(decoding: bytes[words[index]], as: UTF8.self).lowercased()] {
                    index += 1
                    var taken = 0
                    while taken < arguments, index < words.count, Self.isOptionArgument(bytes[words[index]]) { index += 1; taken += 1 }
                }
                guard index < words.count else { continue }
                names = [words[index].lowerBound..<words[words.count - 1].upperBound]
            } else {
                continue
            }
            for range in names {
                let raw = Array(bytes[range]).map { $0 == UInt8(ascii: "\\") ? UInt8(ascii: "/") : $0 }
                references.append(SceneReference(
                    scene: path, block: "line \(lineNumber)", field: keyword, raw: Array(bytes[range]),
                    kind: keyword == "mtllib" ? .library : .image, pattern: UDIM.hasToken(raw) ? .udim : .file,
                    resolved: FilePath.normalizedJoin(directory.bytes, raw),
                    locations: [FieldLocation(offset: Int64(range.lowerBound), capacity: range.count)]))
            }
        }
        let linked = references.filter { $0.kind == .library }.map { (path: $0.resolved, part: LinkedPart.whole) }
        return SceneFileScan(references: references, linked: linked)
    }

    /// An option's argument: a number, or one of the words options take.
    static func isOptionArgument(_ word: ArraySlice<UInt8>) -> Bool {
        let text = String(decoding: word, as: UTF8.self).lowercased()
        return Double(text) != nil || ["on", "off", "r", "g", "b", "m", "l", "z", "sphere", "cube_top", "cube_bottom",
                                       "cube_front", "cube_back", "cube_left", "cube_right"].contains(text)
    }

    private static func words(_ bytes: [UInt8], _ line: Range<Int>) -> [Range<Int>] {
        var words: [Range<Int>] = []
        var index = line.lowerBound
        while index < line.upperBound {
            while index < line.upperBound && (bytes[index] == 0x20 || bytes[index] == 0x09) { index += 1 }
            let start = index
            while index < line.upperBound && bytes[index] != 0x20 && bytes[index] != 0x09 { index += 1 }
            if index > start { words.append(start..<index) }
            if start < line.upperBound && bytes[start] == UInt8(ascii: "#") && words.count == 1 { return [] }  // a comment line
        }
        return words
    }

    public func rewrite(_ path: FilePath, changes: [ReferenceChange], to output: FilePath) throws {
        try TextScenes.rewrite(path, changes: changes, to: output) { change, _, _ in change.newRaw }
    }
}
