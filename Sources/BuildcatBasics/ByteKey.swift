import CBuildcatXXH3
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
    /// The key's bytes, then for a path's key the NUL its path's storage ends with (see
    /// `init(_:FilePath)`).
    private let storage: [UInt8]
    /// How many of `storage` are the key.
    private let count: Int
    private let digest: UInt64

    public init(_ bytes: [UInt8]) {
        self.init(storage: bytes, count: bytes.count)
    }

    /// The key of a path, sharing the path's own storage where swift-system keeps it as its
    /// bytes and a NUL (`FilePath.sharedStorage`) rather than copying it out: a scan of a large
    /// USD stage made 6,000 keys of paths it kept anyway (each a copy, freed again on the way
    /// out: 0.5 ms of the set of its scenes' keys alone).
    public init(_ path: FilePath) {
        if let shared = path.sharedStorage {
            self.init(storage: shared, count: shared.count - 1)
        } else {
            self.init(path.bytes)
        }
    }

    private init(storage: [UInt8], count: Int) {
        self.storage = storage
        self.count = count
        digest = storage.withUnsafeBytes { buildcat_xxh3_64($0.baseAddress, count, Self.seed) }
    }

    /// The key's bytes (copied out, for a path's key).
    public var bytes: [UInt8] {
        count == storage.count ? storage : Array(storage[..<count])
    }

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
        lhs.digest == rhs.digest && lhs.count == rhs.count && lhs.storage.withUnsafeBytes { left in
            rhs.storage.withUnsafeBytes { right in lhs.count == 0 || memcmp(left.baseAddress!, right.baseAddress!, lhs.count) == 0 }
        }
    }
}
