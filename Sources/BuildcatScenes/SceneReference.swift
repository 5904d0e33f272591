import BuildcatBasics
import SystemPackage

/// What kind of asset a reference names.
public enum AssetKind: String, Sendable, CaseIterable {
    case image
    case movie
    case library
    case sound
    case font
    case movieClip = "movie_clip"
    case cacheFile = "cache_file"
    case volume
    case sequencerStrip = "sequencer_strip"
    case meshCache = "mesh_cache"
    case oceanCache = "ocean_cache"
    case fluidCache = "fluid_cache"
    case pointCache = "point_cache"
    case geometryBake = "geometry_bake"
    case ies
    case script
    case externalData = "external_data"
    /// A USD layer the scene composes: a sublayer, a reference, a payload, a value clip.
    case layer
    /// Any other asset path a scene holds (a USD asset attribute: a texture, a volume, …).
    case asset
}

/// How a reference's path stands for files.
public enum ReferencePattern: String, Sendable {
    /// One file.
    case file
    /// A numbered frame sequence: the path names one frame; its siblings with other numbers
    /// in the same place are the other frames.
    case frameSequence = "sequence"
    /// UDIM tiles: `<UDIM>` in the path stands for 1001, 1002, …
    case udim
    /// A directory whose files are all used (simulation caches), or with `fileNamePrefix`,
    /// the files in it whose names start with that prefix (a point cache's frames).
    case directory
}

/// Where a reference's bytes are in the scene file, for rewriting them in place.
public struct FieldLocation: Sendable, Equatable, Hashable {
    /// Offset in the uncompressed file.
    public var offset: Int64
    /// The field's size: the value and its terminating NUL must fit.
    public var capacity: Int
}

/// One path a scene holds.
public struct SceneReference: Sendable {
    /// The scene file that holds the reference (a library for linked data).
    public var scene: FilePath
    /// The block or node it came from, as a person can find it: `IM wood`, `OB Plane: cache`.
    public var block: String
    /// The field: `name[1024]`, or for strips `dir[768] + name[256]`.
    public var field: String
    /// The bytes as authored.
    public var raw: [UInt8]
    public var kind: AssetKind
    public var pattern: ReferencePattern
    /// The absolute path the reference resolves to, still with its pattern (`<UDIM>`, the
    /// first frame's number, a directory).
    public var resolved: FilePath
    /// Where the bytes are, for rewriting: one location, or for strips the directory then the
    /// name; none for a path the scene implies without holding it (a default cache directory).
    public var locations: [FieldLocation]
    /// For a directory: only the files whose names start with this belong to the reference.
    public var fileNamePrefix: [UInt8]?
    /// For a frame sequence: everything in the scene that shows it, each with how it maps the
    /// scene's frames to the sequence's file numbers; nil when that is not known for every user
    /// (then every file of the sequence may be needed at any frame).
    public var sequenceUsers: [SequenceUser]?
    /// Why the path cannot be resolved to files (a variable defined nowhere, an expression
    /// only the application can evaluate); nil when it can. Reported with the missing, never
    /// guessed.
    public var unresolvable: String?
    /// For a frame sequence: only files numbered in this range belong to it (a Nuke Read's
    /// first and last frames); nil for every number.
    public var frameRange: ClosedRange<Int>?

    public init(scene: FilePath, block: String, field: String, raw: [UInt8], kind: AssetKind,
                pattern: ReferencePattern, resolved: FilePath, locations: [FieldLocation]) {
        self.scene = scene
        self.block = block
        self.field = field
        self.raw = raw
        self.kind = kind
        self.pattern = pattern
        self.resolved = resolved
        self.locations = locations
        self.fileNamePrefix = nil
        self.sequenceUsers = nil
        self.unresolvable = nil
        self.frameRange = nil
    }
}

/// One user of an image sequence (a texture node, a texture, an image empty, a camera
/// background): Blender's `ImageUser`, which picks the file for the scene's frame.
public struct SequenceUser: Sendable, Equatable, Hashable {
    /// The scene frame at which the sequence's first image shows (`frame_start`).
    public var start: Int
    /// How many images the sequence plays (`frame_duration`).
    public var length: Int
    /// Added to the image number (`frame_offset`).
    public var offset: Int
    /// Whether it starts over after the last image (`use_cyclic`).
    public var cyclic: Bool

    public init(start: Int, length: Int, offset: Int, cyclic: Bool) {
        self.start = start
        self.length = length
        self.offset = offset
        self.cyclic = cyclic
    }

    /// The number in the file name shown at a scene frame, as Blender computes it
    /// (`BKE_image_user_frame_get`): frames before the start show the first image's number
    /// less one (0 + offset), frames after the end the last; a cyclic user wraps around.
    /// nil when the user plays no images (length 0: Blender then shows number 0, whatever the offset).
    public func fileNumber(atSceneFrame frame: Int) -> Int? {
        guard length > 0 else { return nil }
        // Hostile numbers (a damaged record) must not trap: an overflow has no file number.
        let (difference, overflow) = frame.subtractingReportingOverflow(start)
        guard !overflow, difference < Int.max else { return nil }
        var position = difference + 1
        if cyclic {
            position %= length
            if position < 0 { position += length }
            if position == 0 { position = length }
        }
        position = min(max(position, 0), length)
        let (number, overflowed) = position.addingReportingOverflow(offset)
        return overflowed ? nil : number
    }
}

/// A file a reference stands for, after its pattern is expanded.
public struct ReferencedFile: Sendable {
    public var path: FilePath
    /// The file's status when the scan found it (its target's, for a symlink).
    public var status: FileStatus
    public var size: Int64 { status.size }
    /// The frame it serves, for frame sequences.
    public var frame: Int?
}

/// Resolves paths as Blender does: `//` is the directory of the file that holds the path.
public enum BlenderPath {
    /// The absolute, lexically normalised path `raw` names, from a file in `directory`.
    public static func resolve(_ raw: [UInt8], relativeTo directory: FilePath) -> FilePath {
        var bytes = raw
        // Windows separators are Blender's too; a path written on Windows uses them.
        if bytes.contains(UInt8(ascii: "\\")) && !bytes.contains(UInt8(ascii: "/")) {
            bytes = bytes.map { $0 == UInt8(ascii: "\\") ? UInt8(ascii: "/") : $0 }
        }
        if bytes.starts(with: [0x2F, 0x2F]) {
            return directory.appending(relativeBytes: Array(bytes.dropFirst(2))).lexicallyNormalized()
        }
        let path = FilePath(bytes: bytes)
        if path.isAbsolute { return path.lexicallyNormalized() }
        return directory.appending(relativeBytes: bytes).lexicallyNormalized()
    }
}
