import ArgumentParser
import BuildcatBasics
import BuildcatScenes
import Glibc
import SystemPackage

struct ScanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scan",
        abstract: "List every file scenes use, following linked libraries, and what is missing.",
        discussion: """
            Reads each scene — Blender .blend (any version, plain or compressed), USD (.usda, \
            .usdc, .usd), Houdini (.hip, .hipnc, .hiplc) and Mantra .ifd, Maya ASCII (.ma), Nuke \
            (.nk), OBJ/MTL, glTF (.gltf, .glb) — and every library, layer or reference it \
            links, recursively, and resolves each path as the application does (Blender's `//`, \
            USD's resolver, Houdini's $HIP and variables, …). Patterns are expanded to the files \
            that exist: frame sequences, UDIM tiles, cache directories.

            Output for people: each scene with its references, missing ones marked. With --json:
              {"scenes": [{"path", "format"}],
               "assets": [{"path", "size", "kind", "raw", "scene", "block", "field", "frames"?}],
               "missing": [{"path", "raw", "scene", "block", "field", "kind", "unresolvable"?}]}
            A missing entry with "unresolvable" names a path that cannot be resolved (a variable \
            defined nowhere, an expression only the application evaluates), and says why.
            `path` is absolute; `assets` lists every existing file once per reference that uses \
            it; `frames` (sequences only) lists the frame the file serves; `raw` is the path as \
            written in the scene; `scene` is the file holding it (a library for linked data). \
            Paths that are not UTF-8 are written as Python writes them (\\udcXX per byte).

            Exit status: 0 when nothing is missing, 3 when something is (the output is still \
            complete), 2 when a scene cannot be read (the reason is on standard error).
            """)

    @Flag(help: "Print JSON for programs instead of a tree for people.")
    var json = false

    @Option(help: ArgumentHelp("The project's root: references inside it are shown relative to it.", valueName: "dir"))
    var project: String?

    @Argument(help: "Scene files to scan.")
    var scenes: [String]

    func run() throws {
        let result: ScanResult
        // Kept to the end (see below): the process exits once the output is written, and tearing
        // down what the formats hold (every layer's key, the read-ahead) first would only cost time.
        let formats = EarlyScan.formats()
        do {
            result = try SceneScanner().scan(try scenes.map { try RawArguments.path($0) }, formats: formats)
        } catch let error as ValidationError {
            throw error
        } catch {
            printError("\(error)")
            throw ExitCode(2)
        }
        // Without this, the formats are released after their last use, the scan, and freeing
        // what they hold took a large USD stage's scan 1.5 ms before its JSON.
        try withExtendedLifetime(formats) {
            let output = ByteWriter(descriptor: STDOUT_FILENO)
            if json {
                ScanJSON.write(result, to: output)
            } else {
                let root = try project.map { try FileSystem.absolute(try RawArguments.path($0)) }
                output.write(Self.tree(result, project: root))
            }
            output.flush()
            exitAfterOutput(result.missing.isEmpty ? 0 : 3)
        }
    }

    /// Each scene, then its references: what they resolve to, how many files, or MISSING.
    static func tree(_ result: ScanResult, project: FilePath?) -> [UInt8] {
        func shown(_ path: FilePath) -> String {
            if let project, path.starts(with: project), path != project {
                return displayPath(FilePath(root: nil, path.components.dropFirst(project.components.count)))
            }
            return displayPath(path)
        }
        var filesPerReference = [Int](repeating: 0, count: result.references.count)
        var bytesPerReference = [Int64](repeating: 0, count: result.references.count)
        for asset in result.assets {
            filesPerReference[asset.reference] += 1
            bytesPerReference[asset.reference] += asset.file.size
        }
        let missing = Set(result.missing)
        var byScene: [[UInt8]: [Int]] = [:]
        for index in result.references.indices { byScene[result.references[index].scene.bytes, default: []].append(index) }
        var text = ""
        for scene in result.scenes {
            text += "\(shown(scene.path)) (\(scene.format))\n"
            let references = byScene[scene.path.bytes] ?? []
            for (position, index) in references.enumerated() {
                let reference = result.references[index]
                let branch = position == references.count - 1 ? "└─" : "├─"
                let status: String
                if let reason = reference.unresolvable {
                    status = "UNRESOLVABLE: \(reason)"
                } else if missing.contains(index) {
                    status = "MISSING"
                } else if reference.pattern == .file {
                    status = formatByteCount(bytesPerReference[index])
                } else {
                    status = "\(filesPerReference[index]) files, \(formatByteCount(bytesPerReference[index]))"
                }
                text += "  \(branch) \(reference.kind.rawValue): \(shown(reference.resolved))  [\(status)]  \(reference.block)\n"
            }
        }
        let totalBytes = result.assets.reduce(Int64(0)) { $0 + $1.file.size }
        text += "\(result.scenes.count) scene(s), \(result.references.count) reference(s), \(result.assets.count) file(s) (\(formatByteCount(totalBytes))), \(result.missing.count) missing\n"
        return Array(text.utf8)
    }
}
