import BuildcatBasics
import SystemPackage

/// Nuke scripts (`.nk`): the `file` knobs of the nodes that read files — Read (and its
/// `proxy`), ReadGeo, Camera, Axis, DeepRead — with `####`, `%04d` and `%d` sequences limited to
/// the node's `first`–`last` frames, and stereo paths (`%V`, `%v`) once per view of the Root's
/// `views`. A relative path is taken from the Root's `project_directory` when it is a folder,
/// else from the script's folder. A value holding a TCL or Python expression (`[…]`) is
/// reported as unresolvable: only Nuke can evaluate it. Write nodes' files are outputs.
public final class NukeFormat: SceneFormat {
    public let name = "nuke"
    private var scanned: Set<[UInt8]> = []

    static let readingClasses: [String: [String]] = [
        "Read": ["file", "proxy"], "DeepRead": ["file"], "ReadGeo": ["file"], "ReadGeo2": ["file"],
        "Camera": ["file"], "Camera2": ["file"], "Camera3": ["file"], "Camera4": ["file"],
        "Axis": ["file"], "Axis2": ["file"], "Axis3": ["file"], "Axis4": ["file"],
    ]

    public init() {}

    public func recognizes(_ path: FilePath, firstBytes: [UInt8]) -> Bool {
        path.extension == "nk" || firstBytes.starts(with: Array("#! ".utf8)) && firstBytes.contains(UInt8(ascii: "N"))
    }

    public func relativeReference(_ relativePath: [UInt8]) -> [UInt8] { relativePath }

    public func scan(_ path: FilePath, part: LinkedPart) throws -> SceneFileScan {
        guard scanned.insert(path.bytes).inserted else { return SceneFileScan(references: [], linked: []) }
        let bytes = try FileSystem.readAll(path)
        let nodes: [NukeScript.Node]
        do {
            nodes = try NukeScript.nodes(in: bytes)
        } catch {
            throw SceneError(scene: displayPath(path), reason: "\(error.reason) (line \(USDFormat.line(of: error.offset, in: bytes)))")
        }
        var directory = path
        directory.removeLastComponent()
        // Relative paths: from the project directory when the Root names a folder.
        if let project = nodes.first(where: { $0.className == Array("Root".utf8) })?.knob("project_directory"),
           !project.hasExpression, project.value.first == UInt8(ascii: "/") {
            directory = FilePath(bytes: project.value)
        }
        var references: [SceneReference] = []
        let views = Self.viewNames(nodes.first(where: { $0.className == Array("Root".utf8) })?.knob("views")?.value)
        for node in nodes {
            guard let knobs = Self.readingClasses[String(decoding: node.className, as: UTF8.self)] else { continue }
            let name = node.knob("name").map { String(decoding: $0.value, as: UTF8.self) } ?? "?"
            let first = node.knob("first").flatMap { Int(String(decoding: $0.value, as: UTF8.self)) } ?? 1
            let last = node.knob("last").flatMap { Int(String(decoding: $0.value, as: UTF8.self)) } ?? first
            for knobName in knobs {
                guard let knob = node.knob(knobName), !knob.value.isEmpty else { continue }
                // Stereo: one reference per view (%V the view's name, %v its first letter); the
                // first holds the knob's place for rewriting.
                let perView = Self.hasViewToken(knob.value) ? views.map { Self.substituteView($0, in: knob.value) } : [knob.value]
                for (viewIndex, viewValue) in perView.enumerated() {
                    var value = viewValue
                    var pattern: ReferencePattern = .file
                    if let sequence = Self.sequenceToken(in: value) {
                        let digits = Array(String(first).utf8)
                        let padded = Array(repeating: UInt8(ascii: "0"), count: max(0, sequence.width - digits.count)) + digits
                        value.replaceSubrange(sequence.range, with: padded)
                        pattern = .frameSequence
                    }
                    let locations = viewIndex == 0 ? [FieldLocation(offset: Int64(knob.range.lowerBound), capacity: knob.range.count)] : []
                    var reference = SceneReference(scene: path, block: "\(String(decoding: node.className, as: UTF8.self)) \(name)", field: knobName,
                                                   raw: knob.value, kind: .asset, pattern: pattern,
                                                   resolved: FilePath.normalizedJoin(directory.bytes, value), locations: locations)
                    if pattern == .frameSequence { reference.frameRange = min(first, last)...max(first, last) }
                    if knob.hasExpression { reference.unresolvable = "it holds a TCL or Python expression ([…]) that only Nuke evaluates" }
                    references.append(reference)
                }
            }
        }
        return SceneFileScan(references: references, linked: [])
    }

    /// `####` (the last run of `#`), `%04d` or `%d`, and the width it pads to.
    static func sequenceToken(in value: [UInt8]) -> (range: Range<Int>, width: Int)? {
        if let percent = value.lastIndex(of: UInt8(ascii: "%")), percent + 1 < value.count {
            var index = percent + 1
            var width = 0
            while index < value.count, value[index] >= 0x30, value[index] <= 0x39 {
                width = min(width * 10 + Int(value[index] - 0x30), 1_000)  // no real padding is wider
                index += 1
            }
            if index < value.count, value[index] == UInt8(ascii: "d"), width <= 32 { return (percent..<(index + 1), max(width, 1)) }
        }
        guard let last = value.lastIndex(of: UInt8(ascii: "#")) else { return nil }
        var first = last
        while first > 0 && value[first - 1] == UInt8(ascii: "#") { first -= 1 }
        guard last - first < 32 else { return nil }
        return (first..<(last + 1), last - first + 1)
    }

    /// The script's views, from the Root's `views` knob (`{{left #ff0000} {right #00ff00}}`, or
    /// one per line); Nuke's one view, `main`, when it has none.
    static func viewNames(_ knob: [UInt8]?) -> [[UInt8]] {
        guard let knob, !knob.isEmpty else { return [Array("main".utf8)] }
        var names: [[UInt8]] = []
        if knob.contains(UInt8(ascii: "{")) {
            var index = 0
            while let open = knob[index...].firstIndex(of: UInt8(ascii: "{")) {
                let close = knob[(open + 1)...].firstIndex { $0 == UInt8(ascii: "}") || $0 == UInt8(ascii: "{") } ?? knob.count
                if let word = knob[(open + 1)..<close].split(whereSeparator: { $0 == 0x20 || $0 == 0x09 || $0 == 0x0A }).first { names.append(Array(word)) }
                index = open + 1
            }
        } else {
            for line in knob.split(separator: 0x0A) {
                if let word = line.split(whereSeparator: { $0 == 0x20 || $0 == 0x09 }).first { names.append(Array(word)) }
            }
        }
        return names.isEmpty ? [Array("main".utf8)] : names
    }

    /// `%V` as the view's name, `%v` as its first letter.
    static func substituteView(_ view: [UInt8], in value: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        var index = 0
        while index < value.count {
            if value[index] == UInt8(ascii: "%"), index + 1 < value.count, value[index + 1] == UInt8(ascii: "V") || value[index + 1] == UInt8(ascii: "v") {
                out += value[index + 1] == UInt8(ascii: "V") ? view : Array(view.prefix(1))
                index += 2
            } else {
                out.append(value[index])
                index += 1
            }
        }
        return out
    }

    static func hasViewToken(_ value: [UInt8]) -> Bool {
        zip(value, value.dropFirst()).contains { $0 == UInt8(ascii: "%") && ($1 == UInt8(ascii: "v") || $1 == UInt8(ascii: "V")) }
    }

    public func rewrite(_ path: FilePath, changes: [ReferenceChange], to output: FilePath) throws {
        try TextScenes.rewrite(path, changes: changes, to: output) { change, bytes, start in
            var value = change.newRaw
            // The checkout keeps file names: a name written with tokens (`####`, `%04d`, `%V`)
            // keeps them, in the new folder.
            let rawName = Array(change.reference.raw[FilePath.lastComponentStart(of: change.reference.raw)...])
            if Self.sequenceToken(in: rawName) != nil || Self.hasViewToken(rawName) {
                value = Array(value[..<FilePath.lastComponentStart(of: value)]) + rawName
            }
            let quoted = start > 0 && bytes[start - 1] == UInt8(ascii: "\"")
            let special: Set<UInt8> = [0x20, 0x09, UInt8(ascii: "\""), UInt8(ascii: "["), UInt8(ascii: "{"), UInt8(ascii: "\\")]
            guard quoted || value.contains(where: special.contains) else { return value }
            let escaped = TextScenes.escaped(value, escaping: [UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "[")])
            return quoted ? escaped : [UInt8(ascii: "\"")] + escaped + [UInt8(ascii: "\"")]
        }
    }
}
