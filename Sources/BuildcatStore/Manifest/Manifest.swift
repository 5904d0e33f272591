import BuildcatBasics
import BuildcatHash

/// One file in a manifest.
public struct ManifestEntry: Sendable, Equatable {
    /// The path below the manifest's root, `/`-separated, as the name's bytes.
    public var path: [UInt8]
    public var hash: XXH128Digest
    public var size: Int64
    /// Modification time in whole microseconds since the epoch, rounded down.
    public var mtime: Int64

    public init(path: [UInt8], hash: XXH128Digest, size: Int64, mtime: Int64) {
        self.path = path
        self.hash = hash
        self.size = size
        self.mtime = mtime
    }
}

/// An AWS Deadline Cloud job-attachment manifest, version 2023-03-03, hash algorithm xxh128.
///
/// The canonical JSON form is exactly what `deadline manifest snapshot` writes: keys sorted, no
/// white space, everything outside printable ASCII escaped as `\uXXXX` (lower-case hex),
/// entries sorted by their paths' UTF-16 code units, `totalSize` the sum of the sizes.
public struct Manifest: Sendable, Equatable {
    public static let version = "2023-03-03"
    public static let hashAlgorithm = "xxh128"

    /// The entries in canonical order.
    public private(set) var entries: [ManifestEntry]

    /// Makes a manifest of `entries`, in any order.
    /// - Throws: `ManifestError` for a path that is empty, absolute, has an empty, `.` or `..`
    ///   component, is listed twice, or would not read back as the same bytes.
    public init(entries: [ManifestEntry]) throws {
        let keyed = entries.map { (key: FileNameEncoding.utf16(fromFileName: $0.path), entry: $0) }
        let sorted = keyed.sorted { $0.key.lexicographicallyPrecedes($1.key) }
        for (index, item) in sorted.enumerated() {
            try Self.validate(path: item.entry.path)
            // Deadline's reader must get these exact bytes back from the string we write, or the
            // file would be another file there: refuse rather than mangle.
            guard FileNameEncoding.fileName(fromUTF16: item.key) == item.entry.path else {
                throw ManifestError(reason: "the name '\(displayBytes(item.entry.path))' cannot be written in a manifest so that it reads back as the same bytes")
            }
            if index > 0 && sorted[index - 1].entry.path == item.entry.path {
                throw ManifestError(reason: "the path '\(displayBytes(item.entry.path))' is listed twice")
            }
        }
        self.entries = sorted.map(\.entry)
    }

    public var totalSize: Int64 { entries.reduce(0) { $0 + $1.size } }

    static func validate(path: [UInt8]) throws {
        let shown = displayBytes(path)
        guard !path.isEmpty else { throw ManifestError(reason: "a path is empty") }
        guard path.first != UInt8(ascii: "/") else { throw ManifestError(reason: "the path '\(shown)' is absolute; manifest paths are relative to the root") }
        guard !path.contains(0) else { throw ManifestError(reason: "the path '\(shown)' contains a NUL byte") }
        for component in path.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false) {
            if component.isEmpty || component.elementsEqual([0x2E]) || component.elementsEqual([0x2E, 0x2E]) {
                throw ManifestError(reason: "the path '\(shown)' has an empty, '.' or '..' component; manifest paths must stay inside the root")
            }
        }
    }
}

/// A manifest that cannot be read or written, and why.
public struct ManifestError: Error, CustomStringConvertible, Sendable {
    public var source: String?
    public var reason: String

    public init(source: String? = nil, reason: String) {
        self.source = source
        self.reason = reason
    }

    public var description: String {
        if let source { return "manifest '\(source)' is not valid: \(reason)" }
        return "invalid manifest: \(reason)"
    }
}
