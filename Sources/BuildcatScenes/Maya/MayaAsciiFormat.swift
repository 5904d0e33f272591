import BuildcatBasics
import SystemPackage

/// Maya ASCII scenes (`.ma`): file references (`file -r`, `file -rdi`; other `.ma` files are
/// read in turn), and the string attributes that name files on the node types that read them
/// — file textures (`.ftn`, with UDIM tiles when `.uvt` is 3 and a frame sequence when `.ufe`
/// is on), caches (`cacheFile` `.cp` + `.cn`, Alembic, GPU caches), image planes, Arnold
/// stand-ins, images and volumes, RenderMan textures, USD proxies, Redshift and V-Ray proxies.
///
/// `<UDIM>` stands for tiles, `<f>` for frames; `$VAR`, `${VAR}` and `%VAR%` come from the
/// environment (one defined nowhere makes the path unresolvable). A relative path is taken
/// from the scene's folder (Maya's project is where scenes are rendered from; a scene in a
/// project's `scenes/` folder also finds paths relative to the project).
public final class MayaAsciiFormat: SceneFormat {
    public let name = "maya"
    private var scanned: Set<[UInt8]> = []
    private let environment: [String: String]

    /// Node type → attributes (short names, as .ma files write them) that name files.
    static let fileAttributes: [String: Set<String>] = [
        "file": ["ftn", "fileTextureName"], "psdFileTex": ["ftn"], "movie": ["ftn"], "cacheFile": ["cp", "cachePath"],
        "AlembicNode": ["fn", "abc_File"], "gpuCache": ["cfn", "cacheFileName"], "imagePlane": ["imn", "imageName"],
        "aiStandIn": ["dso"], "aiImage": ["filename"], "aiVolume": ["filename"], "aiPhotometricLight": ["aiFilename"],
        "PxrTexture": ["filename"], "PxrNormalMap": ["filename"], "PxrPtexture": ["filename"], "PxrBump": ["filename"],
        "pxrUsdReferenceAssembly": ["fp"], "pxrUsdProxyShape": ["fp"], "mayaUsdProxyShape": ["fp", "filePath"],
        "RedshiftProxyMesh": ["fn", "fileName"], "RedshiftVolumeShape": ["fn"], "RedshiftNormalMap": ["tex0"],
        "RedshiftDomeLight": ["tex0"], "RedshiftSprite": ["tex0"], "VRayMesh": ["fn", "fileName"],
        "VRayVolumeGrid": ["if", "inFile"], "audio": ["f", "filename"],
    ]

    public init(environment: [String: String] = currentEnvironment()) {
        self.environment = environment
    }

    public func recognizes(_ path: FilePath, firstBytes: [UInt8]) -> Bool {
        firstBytes.starts(with: Array("//Maya ASCII".utf8)) || path.extension == "ma"
    }

    public func relativeReference(_ relativePath: [UInt8]) -> [UInt8] { relativePath }

    private struct Node {
        var type: String?
        var name: String
        var strings: [(attribute: String, value: MayaStatements.Token)] = []
        var tilingMode = 0
        var frameExtension = false
    }

    public func scan(_ path: FilePath, part: LinkedPart) throws -> SceneFileScan {
        guard scanned.insert(path.bytes).inserted else { return SceneFileScan(references: [], linked: []) }
        let bytes = try FileSystem.readAll(path)
        guard bytes.starts(with: Array("//Maya ASCII".utf8)) else {
            throw SceneError(scene: displayPath(path), reason: "it is not a Maya ASCII file (no //Maya ASCII header); binary .mb files are not read")
        }
        let statements: [[MayaStatements.Token]]
        do {
            statements = try MayaStatements.parse(bytes)
        } catch {
            throw SceneError(scene: displayPath(path), reason: "\(error.reason) (line \(USDFormat.line(of: error.offset, in: bytes)))")
        }
        var directory = path
        directory.removeLastComponent()
        var references: [SceneReference] = []
        var node: Node?
        func flush() {
            guard let current = node, let type = current.type, let attributes = Self.fileAttributes[type] else { return }
            for (attribute, token) in current.strings where attributes.contains(attribute) {
                guard !token.text.isEmpty else { continue }
                var reference = makeReference(token, in: path, directory: directory, block: "\(type) \(current.name)", field: ".\(attribute)")
                if type == "cacheFile" {
                    // The cache's files: those in its folder whose names start with its name.
                    reference.pattern = .directory
                    reference.fileNamePrefix = current.strings.first { $0.attribute == "cn" }.map(\.value.text)
                } else if current.tilingMode == 3, reference.pattern == .file, let tiled = Self.udimPath(reference.resolved) {
                    reference.resolved = tiled
                    reference.pattern = .udim
                } else if current.frameExtension, reference.pattern == .file {
                    reference.pattern = .frameSequence
                }
                references.append(reference)
            }
        }
        for statement in statements {
            guard let command = statement.first, command.isWord else { continue }
            switch command.text {
            case Array("createNode".utf8):
                flush()
                let type = statement.count > 1 ? String(decoding: statement[1].text, as: UTF8.self) : "?"
                let name = Self.flagValue(statement, "-n").map { String(decoding: $0.text, as: UTF8.self) } ?? "?"
                node = Node(type: type, name: name)
            case Array("select".utf8):
                flush()
                node = Node(type: nil, name: statement.last.map { String(decoding: $0.text, as: UTF8.self) } ?? "?")
            case Array("file".utf8):
                guard statement.contains(where: { $0.isWord && ($0.text == Array("-r".utf8) || $0.text == Array("-rdi".utf8)) }),
                      let last = statement.last, !last.isWord else { continue }
                var reference = makeReference(last, in: path, directory: directory, block: "file -r", field: Self.flagValue(statement, "-rfn").map { String(decoding: $0.text, as: UTF8.self) } ?? "reference")
                reference.kind = .library
                references.append(reference)
            case Array("setAttr".utf8):
                guard node != nil, statement.count >= 3 else { continue }
                let attribute = String(decoding: statement[1].text.drop { $0 == UInt8(ascii: ".") }, as: UTF8.self)
                if let typeFlag = statement.firstIndex(where: { $0.isWord && $0.text == Array("-type".utf8) }),
                   typeFlag + 2 < statement.count, statement[typeFlag + 1].text == Array("string".utf8) {
                    node!.strings.append((attribute, statement[typeFlag + 2]))
                } else if attribute == "uvt" {
                    node!.tilingMode = Int(String(decoding: statement[2].text, as: UTF8.self)) ?? 0
                } else if attribute == "ufe" {
                    node!.frameExtension = [Array("yes".utf8), Array("1".utf8), Array("true".utf8), Array("on".utf8)].contains(statement[2].text)
                }
            default:
                continue
            }
        }
        flush()
        let linked = references.filter { $0.kind == .library && $0.resolved.extension == "ma" && $0.unresolvable == nil }
            .map { (path: $0.resolved, part: LinkedPart.whole) }
        // A scene referenced twice (`file -rdi` then `file -r`) is read once.
        return SceneFileScan(references: references, linked: linked)
    }

    static func flagValue(_ statement: [MayaStatements.Token], _ flag: String) -> MayaStatements.Token? {
        guard let index = statement.firstIndex(where: { $0.isWord && $0.text == Array(flag.utf8) }), index + 1 < statement.count else { return nil }
        return statement[index + 1]
    }

    private func makeReference(_ token: MayaStatements.Token, in path: FilePath, directory: FilePath, block: String, field: String) -> SceneReference {
        let (expanded, unresolvable) = expandVariables(token.text)
        var pattern: ReferencePattern = UDIM.hasToken(expanded) ? .udim : .file
        var bytes = expanded
        if let frame = Self.range(of: Array("<f>".utf8), in: bytes) {
            bytes.replaceSubrange(frame, with: [UInt8(ascii: "1")])
            pattern = .frameSequence
        }
        var reference = SceneReference(scene: path, block: block, field: field, raw: token.text, kind: .asset, pattern: pattern,
                                       resolved: resolve(bytes.map { $0 == UInt8(ascii: "\\") ? UInt8(ascii: "/") : $0 }, directory: directory),
                                       locations: [FieldLocation(offset: Int64(token.range.lowerBound), capacity: token.range.count)])
        reference.unresolvable = unresolvable
        return reference
    }

    /// A relative path from the scene's folder, or (for a scene in a project's `scenes/`) the
    /// project's, whichever has it.
    private func resolve(_ bytes: [UInt8], directory: FilePath) -> FilePath {
        let fromScene = FilePath.normalizedJoin(directory.bytes, bytes)
        guard bytes.first != UInt8(ascii: "/"), directory.lastComponent?.string == "scenes",
              (try? FileSystem.statusIfPresent(of: fromScene)) == nil else { return fromScene }
        var project = directory
        project.removeLastComponent()
        let fromProject = FilePath.normalizedJoin(project.bytes, bytes)
        return (try? FileSystem.statusIfPresent(of: fromProject)) != nil ? fromProject : fromScene
    }

    private func expandVariables(_ text: [UInt8]) -> ([UInt8], String?) {
        var out: [UInt8] = []
        var unresolvable: String?
        var index = 0
        while index < text.count {
            let byte = text[index]
            var name: [UInt8]?
            var end = index
            if byte == UInt8(ascii: "$"), index + 1 < text.count {
                var start = index + 1
                let braced = text[start] == UInt8(ascii: "{")
                if braced { start += 1 }
                end = start
                while end < text.count, Self.isNameByte(text[end]) { end += 1 }
                if end > start { name = Array(text[start..<end]) }
                if braced, end < text.count, text[end] == UInt8(ascii: "}") { end += 1 }
            } else if byte == UInt8(ascii: "%"), let close = text[(index + 1)...].firstIndex(of: UInt8(ascii: "%")), close > index + 1,
                      text[(index + 1)..<close].allSatisfy(Self.isNameByte) {
                name = Array(text[(index + 1)..<close])
                end = close + 1
            }
            guard let name else {
                out.append(byte)
                index += 1
                continue
            }
            let key = String(decoding: name, as: UTF8.self)
            if let value = environment[key] {
                out += Array(value.utf8)
            } else {
                unresolvable = unresolvable ?? "$\(key) is not set in the environment"
                out += text[index..<end]
            }
            index = end
        }
        return (out, unresolvable)
    }

    private static func isNameByte(_ byte: UInt8) -> Bool {
        (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x30 && byte <= 0x39) || byte == UInt8(ascii: "_")
    }

    /// A tile's path as the set's: its last number from 1001 to 1999 becomes `<UDIM>`.
    static func udimPath(_ path: FilePath) -> FilePath? {
        let bytes = path.bytes
        guard let slash = bytes.lastIndex(of: UInt8(ascii: "/")) else { return nil }
        var index = bytes.count - 1
        while index > slash {
            if bytes[index] >= 0x30 && bytes[index] <= 0x39 {
                var start = index
                while start > slash + 1, bytes[start - 1] >= 0x30 && bytes[start - 1] <= 0x39 { start -= 1 }
                if index - start == 3, let number = Int(String(decoding: bytes[start...index], as: UTF8.self)), (1001...1999).contains(number) {
                    return FilePath(bytes: Array(bytes[..<start]) + Array("<UDIM>".utf8) + Array(bytes[(index + 1)...]))
                }
                index = start - 1
                continue
            }
            index -= 1
        }
        return nil
    }

    static func range(of needle: [UInt8], in haystack: [UInt8]) -> Range<Int>? {
        guard needle.count <= haystack.count else { return nil }
        for start in 0...(haystack.count - needle.count) where haystack[start..<(start + needle.count)].elementsEqual(needle) {
            return start..<(start + needle.count)
        }
        return nil
    }

    public func rewrite(_ path: FilePath, changes: [ReferenceChange], to output: FilePath) throws {
        try TextScenes.rewrite(path, changes: changes, to: output) { change, _, _ in
            var value = change.newRaw
            // Keep the scene's own spelling where the checkout path has an expanded tile or frame.
            if change.reference.pattern == .udim, !UDIM.hasToken(change.reference.raw), let token = Self.range(of: Array("<UDIM>".utf8), in: value) {
                value.replaceSubrange(token, with: Self.tileNumber(change.reference.raw))
            }
            if let frame = Self.range(of: Array("<f>".utf8), in: Self.lastComponent(change.reference.raw)) {
                let nameStart = FilePath.lastComponentStart(of: value)
                if nameStart + frame.lowerBound < value.count { value.replaceSubrange((nameStart + frame.lowerBound)...(nameStart + frame.lowerBound), with: Array("<f>".utf8)) }
            }
            return TextScenes.escaped(value)
        }
    }

    static func lastComponent(_ bytes: [UInt8]) -> [UInt8] {
        Array(bytes[FilePath.lastComponentStart(of: bytes)...])
    }

    /// The tile number a UDIM tile's name holds (`1001`).
    static func tileNumber(_ raw: [UInt8]) -> [UInt8] {
        guard let tiled = udimPath(FilePath(bytes: raw)), let token = range(of: Array("<UDIM>".utf8), in: tiled.bytes) else { return Array("1001".utf8) }
        return Array(raw[token.lowerBound..<(token.lowerBound + 4)])
    }
}
