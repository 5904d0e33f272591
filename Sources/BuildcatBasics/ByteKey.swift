import Glibc
import SystemPackage

/// Bytes (a path, a name) as a set member or dictionary key that hashes in one call.
///
/// `[UInt8]` itself hashes element by element: a set of 2,000 layer paths cost a scan of a
/// large USD stage several milliseconds in hashing alone.
public struct ByteKey: Hashable, Sendable {
    public let bytes: [UInt8]

    public init(_ bytes: [UInt8]) { self.bytes = bytes }
    public init(_ path: FilePath) { self.bytes = path.bytes }

    public func hash(into hasher: inout Hasher) {
        bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
    }

    public static func == (lhs: ByteKey, rhs: ByteKey) -> Bool {
        lhs.bytes.count == rhs.bytes.count && lhs.bytes.withUnsafeBytes { left in
            rhs.bytes.withUnsafeBytes { right in left.count == 0 || memcmp(left.baseAddress!, right.baseAddress!, left.count) == 0 }
        }
    }
}
