import BuildcatBasics
import SystemPackage

/// Houdini scenes (`.hip`, `.hipnc`, `.hiplc`): the file parameters of every node, with
/// Houdini's variables resolved — `$HIP` (the scene's folder), `$HIPNAME`, `$HIPFILE`, `$OS`
/// (the node's name, where the archive names the node), `$JOB` and the scene's other global
/// variables (its `.variables`, the environment first for `$JOB`), any other from the
/// environment. `$F`, `$F4`, `$FF`, `$SF` make a frame sequence; `<UDIM>` and `%(UDIM)d` UDIM
/// tiles. A path with a backtick expression, or a variable defined nowhere, is reported as
/// unresolvable, never guessed.
///
/// A value is a file when its last part has an extension; a bare name (`default.pic`) is one
/// only when the file is next to the scene (otherwise it is Houdini's own, found on its
/// search path on every machine), as are `temp:`, `$HH` and `$HFS` paths. Render and cache
/// *outputs* (`vm_picture`, `sopoutput`, …) are not inputs and are left out.
///
/// Rewriting replaces each value in its `.parm` file and fixes the archive header's size. An
/// Apprentice or Indie file's headers carry a checksum Buildcat cannot compute: such a scene is
/// staged as it is when no path in it has to change, and refused (naming the path) otherwise.
public final class HoudiniFormat: SceneFormat {
    public let name = "houdini"
    private var scanned: Set<[UInt8]> = []
    private let environment: [String: String]
    /// For rewriting: frame tokens taken out of paths to expand them, by scene and offset.
    private var frameTokens: [[UInt8]: [Int64: (token: [UInt8], digits: [UInt8])]] = [:]

    /// Parameters that name what a render, a simulation or a task graph writes (caches a
    /// simulation fills as it runs are outputs too), and debugging files.
    static let outputParameters: Set<[UInt8]> = Set([
        "vm_picture", "vm_dcmfilename", "vm_dsmfilename", "vm_tmpsharedstorage", "vm_tmplocalstorage", "soho_diskfile",
        "picture", "sopoutput", "lopoutput", "dopoutput", "copoutput", "outputimage", "output_file", "savefile",
        "taskgraphfile", "checkpointfile", "RS_outputFileNamePrefix", "ar_picture", "vm_bake_outputfile", "baked_output",
        "dcmfilename", "export_path", "outputfilepath", "explicitcachename", "playfilesname", "pc_file", "shadowmap_file",
        "rendergallerysource", "debughip", "perffile", "framelistfile",
    ].map { Array($0.utf8) })

    /// Whether a parameter's value is a file the scene reads, judged by the parameter: not an
    /// output, not a string attribute's value (`stringvalue1`…, any text a node stores).
    static func isInputParameter(_ name: [UInt8]) -> Bool {
        !outputParameters.contains(name) && !name.starts(with: Array("stringvalue".utf8))
    }

    /// Values Houdini finds itself: its temporary files (`temp:`) and its installation's
    /// (`$HH`, `$HFS`), on every machine that runs it.
    static func isHoudinisOwn(_ text: [UInt8]) -> Bool {
        ["temp:", "$HH/", "${HH}/", "$HFS/", "${HFS}/"].contains { text.starts(with: Array($0.utf8)) }
    }

    public init(environment: [String: String] = currentEnvironment()) {
        self.environment = environment
    }

    public func recognizes(_ path: FilePath, firstBytes: [UInt8]) -> Bool {
        HoudiniArchive.recognizes(firstBytes) || ["hip", "hipnc", "hiplc"].contains(path.extension ?? "")
    }

    public func relativeReference(_ relativePath: [UInt8]) -> [UInt8] { Array("$HIP/".utf8) + relativePath }

    public func scan(_ path: FilePath, part: LinkedPart) throws -> SceneFileScan {
        guard scanned.insert(path.bytes).inserted else { return SceneFileScan(references: [], linked: []) }
        let bytes = try FileSystem.readAll(path)
        let archive = try HoudiniArchive(bytes, path: path)
        var directory = path
        directory.removeLastComponent()
        var globals: [String: String] = [:]
        for section in archive.sections where section.name == Array(".variables".utf8) {
            globals = Self.globalVariables(bytes[section.body])
        }
        let hipName = String(decoding: path.stem.map { Array($0.utf8) } ?? [], as: UTF8.self)
        var references: [SceneReference] = []
        var tokens: [Int64: (token: [UInt8], digits: [UInt8])] = [:]
        for (index, section) in archive.sections.enumerated() {
            let isParm = section.name.map { $0.hasSuffix(Array(".parm".utf8)) } ?? bytes[section.body].starts(with: Array("{\nversion ".utf8))
            guard isParm else { continue }
            // The node's name, for $OS: the file name less `.parm` (hidden in protected files).
            let node = section.name.map { name in String(decoding: name.split(separator: UInt8(ascii: "/")).last!.dropLast(5), as: UTF8.self) }
            let label = section.name.map { "node /" + String(decoding: $0.dropLast(5), as: UTF8.self) } ?? "node \(index) (name hidden)"
            for value in HoudiniParms.values(in: bytes, body: section.body)
            where Self.isInputParameter(value.parameter) && !Self.isHoudinisOwn(value.text) && Self.looksLikeFile(value.text) {
                var expanded = expand(value.text, directory: directory, hipName: hipName, node: node, globals: globals)
                let location = FieldLocation(offset: Int64(value.range.lowerBound), capacity: value.range.count)
                // A relative path not anchored to the scene (`default.pic`, `karma/sky.rat`) is
                // found on Houdini's search path: the scene's own only when its folder has it.
                if !["./", "../", "/", "$"].contains(where: { value.text.starts(with: Array($0.utf8)) }) && !value.text.contains(UInt8(ascii: ":")) {
                    guard (try? FileSystem.statusIfPresent(of: directory.appending(relativeBytes: value.text))) != nil else { continue }
                }
                var reference = SceneReference(scene: path, block: label, field: String(decoding: value.parameter, as: UTF8.self), raw: value.text,
                                               kind: .asset, pattern: expanded.pattern,
                                               resolved: FilePath.normalizedJoin(directory.bytes, expanded.path), locations: [location])
                reference.unresolvable = expanded.unresolvable
                if let frame = expanded.frameToken { tokens[location.offset] = frame }
                expanded.frameToken = nil
                references.append(reference)
            }
        }
        frameTokens[path.bytes] = tokens
        return SceneFileScan(references: references, linked: [])
    }

    /// `set -g NAME = 'value'` lines of `.variables`.
    static func globalVariables(_ text: ArraySlice<UInt8>) -> [String: String] {
        var result: [String: String] = [:]
        for line in text.split(separator: 0x0A) {
            let words = String(decoding: line, as: UTF8.self)
            guard words.hasPrefix("set -g "), let equals = words.firstIndex(of: "=") else { continue }
            let name = words[words.index(words.startIndex, offsetBy: 7)..<equals].trimmingSpaces()
            var value = words[words.index(after: equals)...].trimmingSpaces()
            if value.count >= 2, value.first == "'", value.last == "'" { value = String(value.dropFirst().dropLast()) }
            result[name] = value
        }
        return result
    }

    /// A value that names a file: its last part has an extension (`map.jpg`, `sdf$F4.simdata`).
    static func looksLikeFile(_ text: [UInt8]) -> Bool {
        guard !text.isEmpty, !text.starts(with: Array("op:".utf8)), !text.contains(0x0A) else { return false }
        let last = text.split(separator: UInt8(ascii: "/")).last ?? []
        guard let dot = last.lastIndex(of: UInt8(ascii: ".")), dot > last.startIndex, dot < last.endIndex - 1 else { return false }
        let extensionBytes = last[(dot + 1)...]
        return extensionBytes.count <= 8 && extensionBytes.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x30 && $0 <= 0x39) }
            && !extensionBytes.allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
    }

    struct Expanded {
        var path: [UInt8]
        var pattern: ReferencePattern
        var unresolvable: String?
        var frameToken: (token: [UInt8], digits: [UInt8])?
    }

    /// Resolves Houdini's variables in a value.
    func expand(_ text: [UInt8], directory: FilePath, hipName: String, node: String?, globals: [String: String]) -> Expanded {
        var result = Expanded(path: [], pattern: .file)
        if text.contains(UInt8(ascii: "`")) {
            result.unresolvable = "it holds an expression (`…`) that only Houdini evaluates"
        }
        var index = 0
        while index < text.count {
            let byte = text[index]
            if byte == UInt8(ascii: "%"), text[index...].starts(with: Array("%(UDIM)d".utf8)) {
                result.path += Array("<UDIM>".utf8)
                result.pattern = .udim
                index += 8
                continue
            }
            if byte == UInt8(ascii: "%"), text[index...].starts(with: Array("%(".utf8)) {
                result.unresolvable = result.unresolvable ?? "it holds a %(…) token that only Houdini fills in"
            }
            if byte == UInt8(ascii: "<"), text[index...].starts(with: Array("<UDIM>".utf8)) { result.pattern = .udim }
            guard byte == UInt8(ascii: "$"), index + 1 < text.count else {
                result.path.append(byte)
                index += 1
                continue
            }
            // $NAME or ${NAME}
            var start = index + 1
            let braced = text[start] == UInt8(ascii: "{")
            if braced { start += 1 }
            var end = start
            while end < text.count, (text[end] >= 0x41 && text[end] <= 0x5A) || (text[end] >= 0x61 && text[end] <= 0x7A)
                    || (text[end] >= 0x30 && text[end] <= 0x39) || text[end] == UInt8(ascii: "_") { end += 1 }
            var name = String(decoding: text[start..<end], as: UTF8.self)
            let tokenEnd = braced && end < text.count && text[end] == UInt8(ascii: "}") ? end + 1 : end
            // Frame tokens: $F, $FF, $F2…$F9, $SF. ($F4x is $F4 followed by x, as Houdini reads it.)
            if let frame = Self.frameWidth(&name) {
                let digits = Array((String(repeating: "0", count: max(0, frame.width - 1)) + "1").utf8)
                let consumed = braced ? tokenEnd : start + frame.length
                result.frameToken = (Array(text[index..<consumed]), digits)
                result.path += digits
                result.pattern = .frameSequence
                index = consumed
                continue
            }
            var value: String?
            switch name {
            case "HIP": value = directory.string
            case "HIPFILE": value = directory.appending(hipName + ".hip").string
            case "HIPNAME": value = hipName
            case "OS": value = node
            case "JOB": value = environment["JOB"] ?? globals["JOB"]
            default: value = globals[name] ?? environment[name]
            }
            if let value {
                result.path += Array(value.utf8)
            } else {
                result.unresolvable = result.unresolvable ?? (name == "OS"
                    ? "$OS is the node's name, which this file does not record (an Apprentice or Indie file hides it)"
                    : "$\(name) is defined neither in the scene's variables nor in the environment")
                result.path += text[index..<tokenEnd]
            }
            index = tokenEnd
        }
        return result
    }

    /// The zero-padding of a frame variable's name, and how many of the name's characters it
    /// takes (Houdini reads `$F4name` as `$F4` then `name`).
    static func frameWidth(_ name: inout String) -> (width: Int, length: Int)? {
        if name.hasPrefix("SF") { return (1, 2) }
        if name.hasPrefix("FF") { return (1, 2) }
        guard name.hasPrefix("F") else { return nil }
        let rest = name.dropFirst()
        if let digit = rest.first, digit.isNumber, let width = Int(String(digit)) { return (width, 2) }
        return (1, 1)
    }

    public func rewrite(_ path: FilePath, changes: [ReferenceChange], to output: FilePath) throws {
        let bytes = try FileSystem.readAll(path)
        let archive = try HoudiniArchive(bytes, path: path)
        let tokens = frameTokens[path.bytes] ?? [:]
        var replacements: [(range: Range<Int>, value: [UInt8], raw: [UInt8])] = []
        for change in changes {
            let location = change.reference.firstLocation!
            var value = change.newRaw
            // Put the frame token back where its digits stand in for it.
            if let frame = tokens[location.offset], let at = TextScenes.lastRangeInName(of: frame.digits, in: value) {
                value.replaceSubrange(at, with: frame.token)
            }
            guard value != change.reference.raw else { continue }
            let start = Int(location.offset)
            let quoted = start > 0 && bytes[start - 1] == UInt8(ascii: "\"")
            replacements.append((start..<(start + location.capacity), HoudiniParms.encode(value, quoted: quoted), change.reference.raw))
        }
        guard !replacements.isEmpty else {
            try FileSystem.writeAtomically(bytes, to: output)
            return
        }
        guard archive.kind == .cpio else {
            throw SceneError(scene: displayPath(path), reason: """
                it is an Apprentice or Indie file, whose headers Buildcat cannot rewrite, and its path \
                '\(displayBytes(replacements[0].raw))' would have to change to stay inside the checkout: \
                use $HIP-relative paths for what it uses
                """)
        }
        replacements.sort { $0.range.lowerBound < $1.range.lowerBound }
        // Rebuild the archive section by section: a section whose body changes gets a new size.
        var result: [UInt8] = []
        result.reserveCapacity(bytes.count + 256)
        var next = 0
        for section in archive.sections {
            var body = Array(bytes[section.body])
            var shift = 0
            while next < replacements.count, section.body.contains(replacements[next].range.lowerBound) {
                let range = (replacements[next].range.lowerBound - section.body.lowerBound + shift)..<(replacements[next].range.upperBound - section.body.lowerBound + shift)
                body.replaceSubrange(range, with: replacements[next].value)
                shift += replacements[next].value.count - replacements[next].range.count
                next += 1
            }
            var header = Array(bytes[section.headerStart..<section.body.lowerBound])
            let size = Array(String(body.count, radix: 8).utf8)
            guard size.count <= 11 else { throw SceneError(scene: displayPath(path), reason: "a rewritten section is too large for its archive") }
            header.replaceSubrange(65..<76, with: Array(repeating: UInt8(ascii: "0"), count: 11 - size.count) + size)
            result += header + body
        }
        // The trailer and anything after it, as they were.
        let end = archive.sections.last.map { $0.body.upperBound } ?? 0
        result += bytes[end...]
        try FileSystem.writeAtomically(result, to: output)
    }
}

extension StringProtocol {
    func trimmingSpaces() -> String {
        String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}
