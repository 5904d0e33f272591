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
///
/// Its fields live in one shared object that is never changed (a change makes a new one): a
/// scan copies every reference from each file's list into its own, and a struct of six
/// counted fields cost six reference counts each way (4% of a large USD scan's CPU time) and
/// 120 bytes a reference in every array of them. Fields that cannot change are read in place,
/// with no check for a conflicting access (a generic accessor through key paths made every
/// read check at run time: 8% more instructions in a large scan). The raw and resolved paths'
/// bytes are kept in the same block, after the fields: a reference is one block of memory, not
/// three (a large USD scan 2% fewer instructions and 1.01× as fast; memory a reference costs
/// more than its instructions: one more block of 100 bytes each made that scan 5% slower).
/// (`@unchecked Sendable`: the one stored property is a block that is never changed once made,
/// and Swift does not let a `ManagedBuffer` be `Sendable` itself.)
public struct SceneReference: @unchecked Sendable {
    private var storage: Storage

    /// The scene file that holds the reference (a library for linked data).
    public var scene: FilePath {
        get { storage.fields.pointee.scene }
        set { change { $0.scene = newValue } }
    }
    /// The block or node it came from, as a person can find it: `IM wood`, `OB Plane: cache`.
    public var block: String {
        get { storage.fields.pointee.block }
        set { change { $0.block = newValue } }
    }
    /// The field: `name[1024]`, or for strips `dir[768] + name[256]`.
    public var field: String {
        get { storage.fields.pointee.field }
        set { change { $0.field = newValue } }
    }
    /// The bytes as authored (a copy: `withRaw` reads them in place).
    public var raw: [UInt8] {
        get { storage.withBytes { raw, _ in Array(raw) } }
        set { storage = storage.changed(raw: newValue) }
    }
    public var kind: AssetKind {
        get { storage.fields.pointee.kind }
        set { change { $0.kind = newValue } }
    }
    public var pattern: ReferencePattern {
        get { storage.fields.pointee.pattern }
        set { change { $0.pattern = newValue } }
    }
    /// The absolute path the reference resolves to, still with its pattern (`<UDIM>`, the
    /// first frame's number, a directory).
    public var resolved: FilePath {
        get { FilePath(bytes: resolvedBytes) }
        set { resolvedBytes = newValue.bytes }
    }
    /// `resolved` as bytes, as it is kept (a copy: `withResolvedBytes` reads them in place): a
    /// `FilePath` is made by examining every byte, which for the tens of thousands of
    /// references of a large scan was 6% of its CPU time.
    public var resolvedBytes: [UInt8] {
        get { storage.withBytes { _, resolved in Array(resolved) } }
        set { storage = storage.changed(resolved: newValue) }
    }
    /// Where the bytes are, for rewriting: one location, or for strips the directory then the
    /// name; none for a path the scene implies without holding it (a default cache directory).
    public var locations: [FieldLocation] {
        get {
            if let location = storage.fields.pointee.location { return [location] }
            return storage.fields.pointee.rareBox?.values.moreLocations ?? []
        }
        set { change { $0.place(at: newValue) } }
    }
    /// The first of `locations` (the only one, but for strips), without making the array.
    public var firstLocation: FieldLocation? { storage.fields.pointee.location ?? storage.fields.pointee.rareBox?.values.moreLocations.first }
    /// Whether the scene holds the path's bytes somewhere (`locations` is not empty), without
    /// making the array.
    public var isPlaced: Bool { storage.fields.pointee.location != nil || storage.fields.pointee.rareBox?.values.moreLocations.isEmpty == false }
    /// For a directory: only the files whose names start with this belong to the reference.
    public var fileNamePrefix: [UInt8]? {
        get { storage.fields.pointee.rareBox?.values.fileNamePrefix }
        set { changeRare { $0.fileNamePrefix = newValue } }
    }
    /// For a frame sequence: everything in the scene that shows it, each with how it maps the
    /// scene's frames to the sequence's file numbers; nil when that is not known for every user
    /// (then every file of the sequence may be needed at any frame).
    public var sequenceUsers: [SequenceUser]? {
        get { storage.fields.pointee.rareBox?.values.sequenceUsers }
        set { changeRare { $0.sequenceUsers = newValue } }
    }
    /// Why the path cannot be resolved to files (a variable defined nowhere, an expression
    /// only the application can evaluate); nil when it can. Reported with the missing, never
    /// guessed.
    public var unresolvable: String? {
        get { storage.fields.pointee.rareBox?.values.unresolvable }
        set { changeRare { $0.unresolvable = newValue } }
    }
    /// For a frame sequence: only files numbered in this range belong to it (a Nuke Read's
    /// first and last frames); nil for every number.
    public var frameRange: ClosedRange<Int>? {
        get { storage.fields.pointee.rareBox?.values.frameRange }
        set { changeRare { $0.frameRange = newValue } }
    }

    public init(scene: FilePath, block: String, field: String, raw: [UInt8], kind: AssetKind,
                pattern: ReferencePattern, resolved: FilePath, locations: [FieldLocation]) {
        self.init(scene: scene, block: block, field: field, raw: raw, kind: kind, pattern: pattern,
                  resolvedBytes: resolved.bytes, locations: locations)
    }

    /// - Parameter resolvedBytes: an absolute, lexically normal path (as `FilePath` would keep it).
    public init(scene: FilePath, block: String, field: String, raw: [UInt8], kind: AssetKind,
                pattern: ReferencePattern, resolvedBytes: [UInt8], locations: [FieldLocation]) {
        var fields = Fields(scene: scene, block: block, field: field, kind: kind, pattern: pattern)
        fields.place(at: locations)
        storage = raw.withUnsafeBufferPointer { raw in
            resolvedBytes.withUnsafeBufferPointer { resolved in Storage.make(raw: raw, resolved: resolved) { fields } }
        }
    }

    /// A reference at one location (most are), without an array for it.
    public init(scene: FilePath, block: String, field: String, raw: [UInt8], kind: AssetKind,
                pattern: ReferencePattern, resolvedBytes: [UInt8], location: FieldLocation) {
        self = raw.withUnsafeBufferPointer { raw in
            resolvedBytes.withUnsafeBufferPointer { resolved in
                SceneReference(scene: scene, block: block, field: field, raw: raw, kind: kind, pattern: pattern, resolvedBytes: resolved, location: location)
            }
        }
    }

    /// A reference at one location whose paths' bytes are lent (copied into the reference, with
    /// no array made for either).
    public init(scene: FilePath, block: String, field: String, raw: UnsafeBufferPointer<UInt8>, kind: AssetKind,
                pattern: ReferencePattern, resolvedBytes: UnsafeBufferPointer<UInt8>, location: FieldLocation) {
        storage = Storage.make(raw: raw, resolved: resolvedBytes) {
            Fields(scene: scene, block: block, field: field, location: location, kind: kind, pattern: pattern)
        }
    }

    /// Calls `body` with the bytes of `raw`, without a copy of the array (nor counting a
    /// reference to it: a pass over every reference, writing a scan's JSON, spent a sixth of
    /// its time counting references).
    public func withRaw<Result>(_ body: (UnsafeBufferPointer<UInt8>) throws -> Result) rethrows -> Result {
        try storage.withBytes { raw, _ in try body(raw) }
    }

    /// Calls `body` with the bytes of `resolvedBytes`, without a copy (as `withRaw` does).
    public func withResolvedBytes<Result>(_ body: (UnsafeBufferPointer<UInt8>) throws -> Result) rethrows -> Result {
        try storage.withBytes { _, resolved in try body(resolved) }
    }

    /// A reference's fields and paths read in place through a pointer to it, valid inside
    /// `inPlace(_:_:)` only.
    public struct InPlace {
        public let raw: UnsafeBufferPointer<UInt8>
        public let resolved: UnsafeBufferPointer<UInt8>
        private let fields: UnsafePointer<Fields>

        fileprivate init(raw: UnsafeBufferPointer<UInt8>, resolved: UnsafeBufferPointer<UInt8>, fields: UnsafePointer<Fields>) {
            self.raw = raw
            self.resolved = resolved
            self.fields = fields
        }

        public var kind: AssetKind { fields.pointee.kind }
        public var block: String { fields.pointee.block }
        public var field: String { fields.pointee.field }
        public var scene: FilePath { fields.pointee.scene }
        /// Whether `scene` is `path`, compared in place.
        public func isInScene(_ path: FilePath) -> Bool { fields.pointee.scene == path }
    }

    /// Calls `body` with the reference at `reference` read in place, without counting a
    /// reference to its storage: a pass over tens of thousands (writing a scan's JSON, on every
    /// core) counted each one up and down twice, an atomic change of memory another thread last
    /// wrote. The reference must not change while `body` runs.
    public static func inPlace<Result>(_ reference: UnsafePointer<SceneReference>, _ body: (InPlace) throws -> Result) rethrows -> Result {
        let storage = Unmanaged<Storage>.fromOpaque(storageAddress(of: reference))
        return try storage._withUnsafeGuaranteedRef { storage in
            try storage.withBytes { raw, resolved in try body(InPlace(raw: raw, resolved: resolved, fields: UnsafePointer(storage.fields))) }
        }
    }

    /// Asks the processor to fetch what reading this reference touches, ahead of a pass over many
    /// (writing a scan's JSON): its fields, or with `paths`, the bytes of its raw and resolved
    /// paths — which needs the fields in cache already, so a pass asks for the fields of an
    /// entry further ahead than for its paths. Nothing is retained: touching a reference's count
    /// would itself wait for the memory.
    public static func prefetch(_ reference: UnsafePointer<SceneReference>, paths: Bool) {
        // The fields through the storage's address, without a count.
        let object = storageAddress(of: reference)
        // The fields take the block's first ~100 bytes (two cache lines); the paths' bytes follow.
        prefetchForReading(object + (paths ? 128 : 0))
        prefetchForReading(object + (paths ? 192 : 64))
    }

    /// The address of the reference's storage, read as the bits it is (the reference's only
    /// stored property), without counting a reference to it.
    private static func storageAddress(of reference: UnsafePointer<SceneReference>) -> UnsafeRawPointer {
        UnsafeRawPointer(reference).load(as: UnsafeRawPointer.self)
    }

    /// Sets what few references have (in a new box).
    private mutating func changeRare(_ body: (inout Rare) -> Void) {
        change { $0.changeRare(body) }
    }

    /// Changes the fields in a new storage: the storage is never changed in place (copies of
    /// the reference share it), so that reading a field is a plain load, never a check for a
    /// conflicting access; references are made once and seldom changed.
    private mutating func change(_ body: (inout Fields) -> Void) {
        var fields = storage.fields.pointee
        body(&fields)
        storage = storage.changed(fields)
    }

    /// Kind and pattern last, and what few references have in a box of its own: a scan keeps
    /// tens of thousands of these, and every page of memory costs here (first touched, and
    /// freed at the exit).
    fileprivate struct Fields {
        var scene: FilePath
        var block: String
        var field: String
        /// How many of the bytes after the fields are the raw path; the resolved path's follow.
        var rawCount = 0
        var resolvedCount = 0
        /// The one location most references have, kept without an array of its own; else none,
        /// and `rare.moreLocations`.
        var location: FieldLocation? = nil
        var kind: AssetKind
        var pattern: ReferencePattern
        /// nil while none of them is set; replaced, never changed (copies of the fields share it).
        var rareBox: RareBox? = nil

        /// Sets the locations: the one most references have in `location`, more in `rareBox`.
        mutating func place(at locations: [FieldLocation]) {
            location = locations.count == 1 ? locations[0] : nil
            guard locations.count > 1 || rareBox != nil else { return }
            changeRare { $0.moreLocations = locations.count > 1 ? locations : [] }
        }

        /// Changes what few references have, in a new box (the old one may be shared).
        mutating func changeRare(_ body: (inout Rare) -> Void) {
            var rare = rareBox?.values ?? Rare()
            body(&rare)
            rareBox = RareBox(values: rare)
        }
    }

    /// What only some references have.
    fileprivate struct Rare {
        var moreLocations: [FieldLocation] = []
        var fileNamePrefix: [UInt8]? = nil
        var sequenceUsers: [SequenceUser]? = nil
        var unresolvable: String? = nil
        var frameRange: ClosedRange<Int>? = nil
    }

    fileprivate final class RareBox: Sendable {
        let values: Rare
        init(values: Rare) { self.values = values }
    }

    /// The fields, then the raw path's bytes and the resolved path's, in one block. Written
    /// once, when made, and never changed after: read from any thread.
    private final class Storage: ManagedBuffer<Fields, UInt8> {
        /// - Parameter fields: made inside, to be moved into the block rather than copied there.
        static func make(raw: UnsafeBufferPointer<UInt8>, resolved: UnsafeBufferPointer<UInt8>, _ fields: () -> Fields) -> Storage {
            let made = unsafeDowncast(create(minimumCapacity: raw.count + resolved.count) { _ in
                var made = fields()
                made.rawCount = raw.count
                made.resolvedCount = resolved.count
                return made
            }, to: Storage.self)
            made.withUnsafeMutablePointerToElements { bytes in
                if let base = raw.baseAddress { bytes.initialize(from: base, count: raw.count) }
                if let base = resolved.baseAddress { (bytes + raw.count).initialize(from: base, count: resolved.count) }
            }
            return made
        }

        /// The fields, read in place: through `header`, a stored `var` of a class, each read was
        /// checked for a conflicting access at run time, and copied every field to read one.
        /// The block outlives every use of the pointer (it is read while `self` is held).
        var fields: UnsafeMutablePointer<Fields> { withUnsafeMutablePointerToHeader { $0 } }

        func withBytes<Result>(_ body: (_ raw: UnsafeBufferPointer<UInt8>, _ resolved: UnsafeBufferPointer<UInt8>) throws -> Result) rethrows -> Result {
            let rawCount = fields.pointee.rawCount, resolvedCount = fields.pointee.resolvedCount
            return try withUnsafeMutablePointerToElements { bytes in
                try body(UnsafeBufferPointer(start: bytes, count: rawCount), UnsafeBufferPointer(start: bytes + rawCount, count: resolvedCount))
            }
        }

        /// A copy with other fields and the same paths.
        func changed(_ fields: Fields) -> Storage {
            withBytes { raw, resolved in Storage.make(raw: raw, resolved: resolved) { fields } }
        }

        func changed(raw newRaw: [UInt8]) -> Storage {
            withBytes { _, resolved in newRaw.withUnsafeBufferPointer { Storage.make(raw: $0, resolved: resolved) { fields.pointee } } }
        }

        func changed(resolved newResolved: [UInt8]) -> Storage {
            withBytes { raw, _ in newResolved.withUnsafeBufferPointer { Storage.make(raw: raw, resolved: $0) { fields.pointee } } }
        }
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
    public var path: FilePath {
        get { FilePath(bytes: pathBytes) }
        set { pathBytes = newValue.bytes }
    }
    /// `path` as bytes (a copy for the file of a single-file reference: `withPathBytes` reads
    /// them in place).
    public var pathBytes: [UInt8] {
        get {
            switch source {
            case .bytes(let bytes): bytes
            case .reference(let reference): reference.resolvedBytes
            }
        }
        set { source = .bytes(newValue) }
    }
    /// The file's status when the scan found it (its target's, for a symlink).
    public var status: FileStatus
    public var size: Int64 { status.size }
    /// The frame it serves, for frame sequences.
    public var frame: Int?

    /// Where the path's bytes are: the file's own, or its reference's resolved path (the file
    /// of a single-file reference, nearly every one: kept once, in the reference).
    private var source: Source

    private enum Source: Sendable {
        case bytes([UInt8])
        case reference(SceneReference)
    }

    /// Whether the path is its reference's resolved path (the file of a single-file reference),
    /// found without a copy of the reference.
    public var isFileOfReference: Bool {
        if case .reference = source { return true }
        return false
    }

    /// Calls `body` with the path's bytes, without a copy.
    public func withPathBytes<Result>(_ body: (UnsafeBufferPointer<UInt8>) throws -> Result) rethrows -> Result {
        switch source {
        case .bytes(let bytes): try bytes.withUnsafeBufferPointer(body)
        case .reference(let reference): try reference.withResolvedBytes(body)
        }
    }

    init(path: FilePath, status: FileStatus, frame: Int?) {
        self.init(pathBytes: path.bytes, status: status, frame: frame)
    }

    init(pathBytes: [UInt8], status: FileStatus, frame: Int?) {
        source = .bytes(pathBytes)
        self.status = status
        self.frame = frame
    }

    /// The file a single-file reference names (its resolved path).
    init(fileOf reference: SceneReference, status: FileStatus) {
        source = .reference(reference)
        self.status = status
        frame = nil
    }
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
