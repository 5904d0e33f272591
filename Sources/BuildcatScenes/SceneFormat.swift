import BuildcatBasics
import SystemPackage

/// What a scene file links from another scene file: all of it, or only some named parts of it
/// (a Blender library is loaded for the data-blocks the linking file names, and what they use).
public enum LinkedPart: Sendable, Hashable {
    case whole
    case named(Set<[UInt8]>)
}

/// What reading one scene file (or part of it) found.
public struct SceneFileScan {
    public var references: [SceneReference]
    /// Other scene files to read, and what of them: libraries, sublayers, references.
    public var linked: [(path: FilePath, part: LinkedPart)]
    /// By reference, for a format that stats what it reads as it reads it (on the thread that
    /// read it): the status of a single-file reference's file, nil when nothing is there;
    /// entries of other references are not read. nil when the scanner is to stat them.
    /// Every linked file is among the single-file references then.
    public var statuses: [FileStatus?]?
    /// With `statuses`, by linked file: its status (nil when nothing is there), which the
    /// scanner then need not look up among the references.
    public var linkedStatuses: [FileStatus?]?

    public init(references: [SceneReference], linked: [(path: FilePath, part: LinkedPart)], statuses: [FileStatus?]? = nil,
                linkedStatuses: [FileStatus?]? = nil) {
        precondition(statuses == nil || statuses!.count == references.count)
        precondition(linkedStatuses == nil || (statuses != nil && linkedStatuses!.count == linked.count))
        self.references = references
        self.linked = linked
        self.statuses = statuses
        self.linkedStatuses = linkedStatuses
    }
}

/// One scene format: how to recognise its files, list the references in them, and rewrite them.
///
/// An implementation is used for one scan and may keep files it opened, so that a library that
/// many scenes link is read once, and asking again for parts already read returns nothing new.
public protocol SceneFormat: AnyObject {
    /// The name the scan reports (`"blend"`, `"usda"`, …).
    var name: String { get }

    /// Whether this format reads the file, judged by its name and first bytes.
    func recognizes(_ path: FilePath, firstBytes: [UInt8]) -> Bool

    /// Whether a file with this name is this format's whatever its first bytes (the format
    /// refuses one that is not what its name says): then the scanner does not open it to look,
    /// which is three system calls of the few each of thousands of layers costs.
    func claims(name path: FilePath) -> Bool

    /// The references in a file (or the part of it another file links), and what it links.
    /// Asked again for parts already read, it returns only what is new.
    func scan(_ path: FilePath, part: LinkedPart) throws -> SceneFileScan

    /// Writes a copy of `path` with the given references changed, everything else as it was.
    func rewrite(_ path: FilePath, changes: [ReferenceChange], to output: FilePath) throws

    /// How this format writes a path relative to the file that holds it, given the plain
    /// relative path (`textures/a.png`, `../lib/b.blend`): `//…` for Blender, `./…` for USD.
    func relativeReference(_ relativePath: [UInt8]) -> [UInt8]

    /// What a person staging `path` (a file this format scanned) should know about how it was
    /// staged; nil when nothing.
    func stagingNote(for path: FilePath) -> String?

    /// Starts reading `path`, an absolute path the scan will soon be asked for, on another core,
    /// where this format reads ahead (the scan takes what was read, or the error met); nothing
    /// otherwise. Callable from any thread, even while another scans with the format.
    func startReading(_ path: FilePath)
}

extension SceneFormat {
    public func claims(name path: FilePath) -> Bool { false }
    public func stagingNote(for path: FilePath) -> String? { nil }
    public func startReading(_ path: FilePath) {}
}

/// The formats Buildcat reads, in the order they are tried.
public func makeSceneFormats() -> [any SceneFormat] {
    [BlendFormat(), USDFormat(), HoudiniFormat(), IFDFormat(), MayaAsciiFormat(), NukeFormat(), OBJFormat(), GLTFFormat()]
}

/// Finds the format that reads a file.
/// - Throws: `SceneError` when no format recognises it.
func format(for path: FilePath, among formats: [any SceneFormat]) throws -> any SceneFormat {
    if let format = formats.first(where: { $0.claims(name: path) }) { return format }
    let descriptor = try FileSystem.openForReading(path)
    defer { try? descriptor.close() }
    var magic = [UInt8](repeating: 0, count: 32)
    let count = try magic.withUnsafeMutableBytes { try FileSystem.read(descriptor, into: $0, path: path) }
    let firstBytes = Array(magic[..<count])
    guard let format = formats.first(where: { $0.recognizes(path, firstBytes: firstBytes) }) else {
        throw SceneError(scene: displayPath(path), reason: "it is not a scene format Buildcat reads (\(formats.map(\.name).joined(separator: ", ")))")
    }
    return format
}

/// Writes rewritten copies of every scene file the changed references come from (a scene and
/// its libraries each get their own file), each through its own format.
public enum SceneRewriter {
    /// - Parameters:
    ///   - changes: new values for references from any of the scanned files.
    ///   - output: where the rewritten copy of each scene file goes.
    public static func rewrite(_ changes: [ReferenceChange], output: (FilePath) -> FilePath, formats: [any SceneFormat] = makeSceneFormats()) throws {
        var byScene: [[UInt8]: (scene: FilePath, changes: [ReferenceChange])] = [:]
        var order: [[UInt8]] = []
        for change in changes where change.reference.isPlaced {
            let key = change.reference.scene.bytes
            if byScene[key] == nil {
                byScene[key] = (change.reference.scene, [])
                order.append(key)
            }
            byScene[key]!.changes.append(change)
        }
        for key in order {
            let (scene, sceneChanges) = byScene[key]!
            try format(for: scene, among: formats).rewrite(scene, changes: sceneChanges, to: output(scene))
        }
    }
}
