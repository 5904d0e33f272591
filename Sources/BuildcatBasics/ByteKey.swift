import CXXHash
import Glibc
import SystemPackage

/// Bytes (a path, a name) as a set member or dictionary key that hashes in one call.
///
/// `[UInt8]` itself hashes element by element: a set of 2,000 layer paths cost a scan of a
/// large USD stage several milliseconds in hashing alone. The bytes are hashed with XXH3 first,
/// seeded anew in each process as Swift's own hashing is (so that names made to collide in one
/// run do not in another), and only that word goes through `Hasher`: SipHash over every byte of
/// a path was three times the cost.
public struct ByteKey: Hashable, Sendable {
    public let bytes: [UInt8]

    public init(_ bytes: [UInt8]) { self.bytes = bytes }
    public init(_ path: FilePath) { self.bytes = path.bytes }

    private static let seed = UInt64.random(in: .min ... .max)

    public func hash(into hasher: inout Hasher) {
        hasher.combine(bytes.withUnsafeBytes { XXH3_64bits_withSeed($0.baseAddress, $0.count, Self.seed) })
    }

    public static func == (lhs: ByteKey, rhs: ByteKey) -> Bool {
        lhs.bytes.count == rhs.bytes.count && lhs.bytes.withUnsafeBytes { left in
            rhs.bytes.withUnsafeBytes { right in left.count == 0 || memcmp(left.baseAddress!, right.baseAddress!, left.count) == 0 }
        }
    }
}
