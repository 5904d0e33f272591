import CXXHash
import Glibc
import SystemPackage

/// Bytes (a path, a name) as a set member or dictionary key, hashed once.
///
/// `[UInt8]` itself hashes element by element: a set of 2,000 layer paths cost a scan of a
/// large USD stage several milliseconds in hashing alone. A key hashes its bytes with XXH3 when
/// it is made, seeded anew in each process as Swift's own hashing is (so that names made to
/// collide in one run do not in another), and keeps the digest: a set that grows hashes its
/// members again at every resize, and compares keys along each probe, and both read only the
/// digest now (reading every path's bytes again missed the cache on each).
public struct ByteKey: Hashable, Sendable {
    public let bytes: [UInt8]
    private let digest: UInt64

    public init(_ bytes: [UInt8]) {
        self.bytes = bytes
        digest = bytes.withUnsafeBytes { XXH3_64bits_withSeed($0.baseAddress, $0.count, Self.seed) }
    }

    public init(_ path: FilePath) { self.init(path.bytes) }

    private static let seed = UInt64.random(in: .min ... .max)

    public func hash(into hasher: inout Hasher) {
        hasher.combine(digest)
    }

    /// What sets and dictionaries hash: the digest, already seeded, mixed with the table's own
    /// seed (murmur3's finaliser, so that every bit of both reaches the low bits a table indexes
    /// by) — not hashed again through `Hasher`, whose set-up and finish were most of each look-up
    /// of a scan's 43,000.
    public func _rawHashValue(seed: Int) -> Int {
        var mixed = digest ^ UInt64(truncatingIfNeeded: seed)
        mixed ^= mixed >> 33
        mixed &*= 0xFF51_AFD7_ED55_8CCD
        mixed ^= mixed >> 33
        mixed &*= 0xC4CE_B9FE_1A85_EC53
        mixed ^= mixed >> 33
        return Int(truncatingIfNeeded: mixed)
    }

    public static func == (lhs: ByteKey, rhs: ByteKey) -> Bool {
        lhs.digest == rhs.digest && lhs.bytes.count == rhs.bytes.count && lhs.bytes.withUnsafeBytes { left in
            rhs.bytes.withUnsafeBytes { right in left.count == 0 || memcmp(left.baseAddress!, right.baseAddress!, left.count) == 0 }
        }
    }
}
