import BuildcatBasics
import BuildcatHash
import CBuildcatLinux
import Glibc
import SystemPackage

/// The content-addressed store on the share: one immutable, read-only file per distinct content,
/// named by its XXH3-128 digest, at `<share>/buildcat/objects/<first 2 hex>/<other 30 hex>`.
///
/// Every object appears atomically: its bytes are written to an unnamed (or temporary) file in
/// `<share>/buildcat/tmp/`, flushed, made read-only and only then linked under its final name,
/// which never replaces an existing object. A crash, a full share or a kill at any moment leaves
/// at most a temporary file, never a half-written object. Two stagers storing the same content
/// at once both succeed, and one object results.
public struct ContentStore: Sendable {
    /// Where the share is mounted on this host.
    public let share: FilePath
    /// `<share>/buildcat`: everything Buildcat keeps on the share.
    public let root: FilePath
    public let objectsDirectory: FilePath
    public let temporaryDirectory: FilePath
    /// Whether temporary files may be unnamed (`O_TMPFILE`); tests turn it off to exercise the
    /// named fallback that network file systems get.
    var allowsUnnamedTemporaryFiles = true

    /// The mode objects are given: read-only for everyone.
    public static let objectPermissions: FilePermissions = [.ownerRead, .groupRead, .otherRead]

    public init(share: FilePath) {
        self.share = share
        root = share.appending("buildcat")
        objectsDirectory = root.appending("objects")
        temporaryDirectory = root.appending("tmp")
    }

    /// Creates `<share>/buildcat/` with its `objects/` and `tmp/` on a share that exists.
    public func initialize() throws {
        let status = try FileSystem.status(of: share)
        guard status.isDirectory else {
            throw FileSystemError(.notADirectory, operation: "use as the share", path: displayPath(share),
                                  detail: "it is a \(status.kindDescription), not a directory")
        }
        try FileSystem.createDirectories(objectsDirectory)
        try FileSystem.createDirectories(temporaryDirectory)
    }

    /// Checks that the share has been initialised, so that a share that is not mounted (an
    /// empty mount point) is not silently filled on the local disk instead.
    public func checkInitialized() throws {
        guard (try FileSystem.statusIfPresent(of: root))?.isDirectory == true else {
            throw FileSystemError(.notFound, operation: "use the share", path: displayPath(share),
                                  detail: "it has no buildcat/ directory: is the share mounted? If it is new, run `buildcat store init --share \(displayPath(share))` once")
        }
        try FileSystem.createDirectories(objectsDirectory)
        try FileSystem.createDirectories(temporaryDirectory)
    }

    /// The path of an object below the share root, `/`-separated, as it is written into Redis and manifests.
    public static func relativeObjectPath(for digest: XXH128Digest) -> String {
        let hex = digest.hex
        return "buildcat/objects/\(hex.prefix(2))/\(hex.dropFirst(2))"
    }

    /// Where the object for `digest` lives on this host.
    public func objectPath(for digest: XXH128Digest) -> FilePath {
        let hex = digest.hex
        return objectsDirectory.appending(String(hex.prefix(2))).appending(String(hex.dropFirst(2)))
    }

    /// Whether an object for `digest` is in the store (without reading it).
    public func contains(_ digest: XXH128Digest) throws -> Bool {
        guard let status = try FileSystem.statusIfPresent(of: objectPath(for: digest)) else { return false }
        return status.isRegularFile
    }
}
