import BuildcatBasics
import SystemPackage

/// Nuke scripts (`.nk`): the `file` knobs of the nodes that read files — Read (and its
/// `proxy`), ReadGeo, Camera, Axis, DeepRead — with `####`, `%04d` and `%d` sequences limited to
/// the node's `first`–`last` frames. A relative path is taken from the Root's
/// `project_directory` when it is a folder, else from the script's folder. A value holding a
/// TCL or Python expression (`[…]`), or stereo views (`%v`, `%V`), is reported as unresolvable:
/// only Nuke can evaluate it. Write nodes' files are outputs and are left out.
public final class NukeFormat: SceneFormat {
    public let name = "nuke"
    private var scanned: Set<[UInt8]> = []
    /// For rewriting: sequence tokens taken out of paths to expand them, by scene and offset.
    private var sequenceTokens: [[UInt8]: [Int64: (token: [UInt8], digits: [UInt8])]] = [:]

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
        var tokens: [Int64: (token: [UInt8], digits: [UInt8])] = [:]
        for node in nodes {
            guard let knobs = Self.readingClasses[String(decoding: node.className, as: UTF8.self)] else { continue }
            let name = node.knob("name").map { String(decoding: $0.value, as: UTF8.self) } ?? "?"
            let first = node.knob("first").flatMap { Int(String(decoding: $0.value, as: UTF8.self)) } ?? 1
            let last = node.knob("last").flatMap { Int(String(decoding: $0.value, as: UTF8.self)) } ?? first
            for knobName in knobs {
                guard let knob = node.knob(knobName), !knob.value.isEmpty else { continue }
                var value = knob.value
                var pattern: ReferencePattern = .file
                let location = FieldLocation(offset: Int64(knob.range.lowerBound), capacity: knob.range.count)
                if let sequence = Self.sequenceToken(in: value) {
                    let digits = Array(String(first).utf8)
                    let padded = Array(repeating: UInt8(ascii: "0"), count: max(0, sequence.width - digits.count)) + digits
                    tokens[location.offset] = (Array(value[sequence.range]), padded)
                    value.replaceSubrange(sequence.range, with: padded)
                    pattern = .frameSequence
                }
                var reference = SceneReference(scene: path, block: "\(String(decoding: node.className, as: UTF8.self)) \(name)", field: knobName,
                                               raw: knob.value, kind: .asset, pattern: pattern,
                                               resolved: FilePath.normalizedJoin(directory.bytes, value), locations: [location])
                if pattern == .frameSequence { reference.frameRange = min(first, last)...max(first, last) }
                if knob.hasExpression {
                    reference.unresolvable = "it holds a TCL or Python expression ([…]) that only Nuke evaluates"
                } else if Self.hasViewToken(knob.value) {
                    reference.unresolvable = "it names stereo views (%v, %V), which Nuke fills in per view"
                }
                references.append(reference)
            }
        }
        sequenceTokens[path.bytes] = tokens
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

    static func hasViewToken(_ value: [UInt8]) -> Bool {
        zip(value, value.dropFirst()).contains { $0 == UInt8(ascii: "%") && ($1 == UInt8(ascii: "v") || $1 == UInt8(ascii: "V")) }
    }

    public func rewrite(_ path: FilePath, changes: [ReferenceChange], to output: FilePath) throws {
        let tokens = sequenceTokens[path.bytes] ?? [:]
        try TextScenes.rewrite(path, changes: changes, to: output) { change, bytes, start in
            var value = change.newRaw
            // Put the sequence token back where the first frame's number stands in for it.
            if let token = tokens[Int64(start)], let at = TextScenes.lastRangeInName(of: token.digits, in: value) {
                value.replaceSubrange(at, with: token.token)
            }
            let quoted = start > 0 && bytes[start - 1] == UInt8(ascii: "\"")
            let special: Set<UInt8> = [0x20, 0x09, UInt8(ascii: "\""), UInt8(ascii: "["), UInt8(ascii: "{"), UInt8(ascii: "\\")]
            guard quoted || value.contains(where: special.contains) else { return value }
            let escaped = TextScenes.escaped(value, escaping: [UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "[")])
            return quoted ? escaped : [UInt8(ascii: "\"")] + escaped + [UInt8(ascii: "\"")]
        }
    }
}
