import BuildcatBasics
import CBuildcatLinux
import Glibc
import SystemPackage

/// A new value for one reference.
public struct ReferenceChange: Sendable {
    public var reference: SceneReference
    public var newRaw: [UInt8]

    public init(_ reference: SceneReference, to newRaw: [UInt8]) {
        self.reference = reference
        self.newRaw = newRaw
    }
}

/// Writes a copy of a .blend whose path fields hold new values, changing nothing else: the
/// file keeps its length, and each changed field is zero-filled after its new value.
public enum BlendRewriter {
    /// Rewrites the references of one scene file into `output` (written atomically).
    /// A compressed input is written uncompressed, which every Blender reads.
    /// - Throws: `SceneError` naming the reference when a new value does not fit its field
    ///   (never truncated), contains a NUL byte, or when the elements of one sequencer strip
    ///   would need different directories; errors of reading and writing, naming the file.
    public static func rewrite(_ scene: FilePath, changes: [ReferenceChange], to output: FilePath) throws {
        try rewrite(try BlendFile(path: scene), changes: changes, to: output)
    }

    /// Rewrites a file already open (say from the scan that found the references).
    static func rewrite(_ file: BlendFile, changes: [ReferenceChange], to output: FilePath) throws {
        let scene = file.path
        let patches = try self.patches(for: changes, scene: displayPath(scene))
        let size = file.storage.size
        for (location, _) in patches where location.offset < 0 || location.offset + Int64(location.capacity) > size {
            throw SceneError(scene: displayPath(scene), reason: "a field to rewrite at byte \(location.offset) lies outside the file")
        }
        try write(copyOf: file.storage, patches: patches, to: output)
    }

    /// The bytes to write at each field location.
    static func patches(for changes: [ReferenceChange], scene: String) throws -> [FieldLocation: [UInt8]] {
        var patches: [FieldLocation: [UInt8]] = [:]
        func set(_ location: FieldLocation, _ value: [UInt8], for reference: SceneReference) throws {
            let what = "\(reference.block) \(reference.field)"
            guard !value.contains(0) else { throw SceneError(scene: scene, reason: "the new path for \(what) contains a NUL byte") }
            guard value.count < location.capacity else {
                throw SceneError(scene: scene, reason: "the new path for \(what) is \(value.count) bytes, but the field holds at most \(location.capacity - 1): '\(displayBytes(value))'")
            }
            if let existing = patches[location], existing != value {
                throw SceneError(scene: scene, reason: "\(what) would need two different values ('\(displayBytes(existing))' and '\(displayBytes(value))'); the elements of one strip share one directory")
            }
            patches[location] = value
        }
        for change in changes {
            let locations = change.reference.locations
            if locations.count == 2 {
                // A strip element: the directory (shared by the strip) and the file name.
                let slash = FilePath.lastComponentStart(of: change.newRaw)
                try set(locations[0], Array(change.newRaw[..<slash]), for: change.reference)
                try set(locations[1], Array(change.newRaw[slash...]), for: change.reference)
            } else if let location = locations.first {
                try set(location, change.newRaw, for: change.reference)
            }
        }
        return patches
    }

    private static func write(copyOf source: PlainBlendStream, patches: [FieldLocation: [UInt8]], to output: FilePath) throws {
        let temporary = FileSystem.temporarySibling(of: output)
        let descriptor: FileDescriptor
        do {
            descriptor = try FileDescriptor.open(temporary, .readWrite, options: [.create, .exclusiveCreate, .closeOnExec],
                                                 permissions: [.ownerReadWrite, .groupRead, .otherRead])
        } catch let errno as Errno {
            throw FileSystemError(operation: "create", path: temporary, errno: errno)
        }
        var renamed = false
        defer {
            try? descriptor.close()
            if !renamed { try? FileSystem.removeFile(temporary) }
        }
        // The whole file in pieces, each field patched into the piece that holds it (a scene
        // with thousands of paths would otherwise cost a write each).
        let ordered = patches.sorted { $0.key.offset < $1.key.offset }
        var next = 0
        var offset: Int64 = 0
        while offset < source.size {
            let count = Int(min(source.size - offset, 4 << 20))
            var chunk = try source.read(at: offset, count: count)
            let end = offset + Int64(count)
            // A field may straddle two pieces: write each piece's part of it.
            var index = next
            while index < ordered.count, ordered[index].key.offset < end {
                let (location, value) = ordered[index]
                let field = value + [UInt8](repeating: 0, count: location.capacity - value.count)
                // The part of the field inside this piece.
                let from = max(location.offset, offset)
                let to = min(location.offset + Int64(location.capacity), end)
                if from < to {
                    let source = Int(from - location.offset)..<Int(to - location.offset)
                    chunk.replaceSubrange(Int(from - offset)..<Int(to - offset), with: field[source])
                }
                if location.offset + Int64(location.capacity) <= end { next = index + 1 }
                index += 1
            }
            try chunk.withUnsafeBytes { try FileSystem.write(descriptor, $0, path: temporary) }
            offset = end
        }
        try FileSystem.sync(descriptor, path: temporary)
        let result = temporary.withPlatformString { from in output.withPlatformString { to in rename(from, to) } }
        guard result == 0 else { throw FileSystemError(operation: "rename into place", path: output, errno: currentErrno()) }
        renamed = true
    }
}
