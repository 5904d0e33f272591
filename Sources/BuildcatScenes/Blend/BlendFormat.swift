import BuildcatBasics
import SystemPackage

/// Blender's .blend files, any version Blender writes today, plain or compressed.
///
/// A file another file links is read for the data-blocks it links and everything those use,
/// as Blender loads a library; each file is opened once per scan.
public final class BlendFormat: SceneFormat {
    public let name = "blend"
    private var files: [[UInt8]: BlendFile] = [:]
    private var wholeFiles: Set<[UInt8]> = []
    private var followedNames: [[UInt8]: Set<[UInt8]>] = [:]
    private var visited: [[UInt8]: Set<Int>] = [:]

    public init() {}

    /// A `BLENDER` header, or any file named `.blend` (whose reading then says what is wrong
    /// with it: compressed files have no header of their own).
    public func recognizes(_ path: FilePath, firstBytes: [UInt8]) -> Bool {
        BlendCompression.detect(firstBytes) == BlendCompression.none || path.extension == "blend"
    }

    /// `BlendFile` finds a .blend's compression by its first bytes, and refuses what is no .blend.
    public func claims(name path: FilePath) -> Bool { path.hasExtension(in: Self.extensions) }
    private static let extensions = [Array("blend".utf8)]

    private func open(_ path: FilePath) throws -> BlendFile {
        if let file = files[path.bytes] { return file }
        let file = try BlendFile(path: path)
        files[path.bytes] = file
        return file
    }

    public func scan(_ path: FilePath, part: LinkedPart) throws -> SceneFileScan {
        let key = path.bytes
        let file = try open(path)
        let extractor = try BlendReferenceExtractor(file: file)
        var blocks: [Int]
        var linked: [Int: Set<[UInt8]>]
        switch part {
        case .whole:
            guard wholeFiles.insert(key).inserted else { return SceneFileScan(references: [], linked: []) }
            blocks = Array(file.blocks.indices)
            linked = file.linkedIDs()
        case .named(let names):
            // A file already read whole has nothing more to give.
            guard !wholeFiles.contains(key) else { return SceneFileScan(references: [], linked: []) }
            let wanted = names.subtracting(followedNames[key, default: []])
            guard !wanted.isEmpty else { return SceneFileScan(references: [], linked: []) }
            followedNames[key, default: []].formUnion(wanted)
            var seen = visited[key, default: []]
            blocks = try file.reachableBlocks(fromIDsNamed: wanted, visited: &seen)
            visited[key] = seen
            linked = file.linkedIDs(among: Set(blocks))
            blocks += linked.keys  // the library blocks those placeholders come from
        }
        let references = try extractor.references(inBlocks: blocks)
        var follow: [(path: FilePath, part: LinkedPart)] = []
        for (libraryBlock, names) in linked {
            guard let library = try extractor.references(inBlocks: [libraryBlock]).first else { continue }
            follow.append((library.resolved, .named(names)))
        }
        return SceneFileScan(references: references, linked: follow)
    }

    public func rewrite(_ path: FilePath, changes: [ReferenceChange], to output: FilePath) throws {
        try BlendRewriter.rewrite(try open(path), changes: changes, to: output)
    }

    /// `//` is the directory of the .blend that holds the path.
    public func relativeReference(_ relativePath: [UInt8]) -> [UInt8] { Array("//".utf8) + relativePath }
}
