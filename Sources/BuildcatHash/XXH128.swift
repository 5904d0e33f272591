internal import CBuildcatXXH3

/// An XXH3-128 digest: the value `xxhsum -H2` prints and Deadline's manifests call `xxh128`.
public struct XXH128Digest: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var high: UInt64
    public var low: UInt64

    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// Parses 32 hexadecimal digits, as printed by `hex`; nil for anything else.
    public init?(hex: some StringProtocol) {
        let utf8 = Array(hex.utf8)
        guard utf8.count == 32, let high = Self.parse(utf8[0..<16]), let low = Self.parse(utf8[16..<32]) else { return nil }
        self.init(high: high, low: low)
    }

    /// The canonical form: 32 lower-case hexadecimal digits, big-endian (as `xxhsum -H2`).
    public var hex: String {
        String(decoding: hexBytes, as: UTF8.self)
    }

    /// `hex` as ASCII bytes, for writers that build output as bytes.
    public var hexBytes: [UInt8] {
        var bytes = [UInt8](repeating: 0, count: 32)
        let digits = Array("0123456789abcdef".utf8)
        for index in 0..<16 {
            bytes[15 - index] = digits[Int((high >> (4 * UInt64(index))) & 0xF)]
            bytes[31 - index] = digits[Int((low >> (4 * UInt64(index))) & 0xF)]
        }
        return bytes
    }

    public var description: String { hex }

    public static func < (lhs: Self, rhs: Self) -> Bool {
        (lhs.high, lhs.low) < (rhs.high, rhs.low)
    }

    /// The digest of no bytes at all.
    public static let empty = XXH128Hasher.digest(of: UnsafeRawBufferPointer(start: nil, count: 0))

    private static func parse(_ digits: ArraySlice<UInt8>) -> UInt64? {
        var value: UInt64 = 0
        for digit in digits {
            let nibble: UInt8
            switch digit {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): nibble = digit - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): nibble = digit - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): nibble = digit - UInt8(ascii: "A") + 10
            default: return nil
            }
            value = value << 4 | UInt64(nibble)
        }
        return value
    }
}

/// Streaming XXH3-128 with the widest vector code the processor runs (AVX-512 or AVX2, picked
/// at run time: about 1.5× as fast as SSE2 alone; `CBuildcatXXH3`). Owns its C state: one
/// hasher, one owner, not `Sendable`.
public final class XXH128Hasher {
    private let state: UnsafeMutableRawPointer

    public init() {
        guard let state = buildcat_xxh3_128_state_create() else { fatalError("XXH3-128: out of memory for a hash state") }
        self.state = state
    }

    deinit { buildcat_xxh3_128_state_free(state) }

    /// Starts again from no input.
    public func reset() {
        buildcat_xxh3_128_state_reset(state)
    }

    /// Adds bytes to the input.
    public func update(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        buildcat_xxh3_128_state_update(state, bytes.baseAddress, bytes.count)
    }

    /// The digest of everything added since the last reset.
    public func finalize() -> XXH128Digest {
        let value = buildcat_xxh3_128_state_digest(state)
        return XXH128Digest(high: value.high, low: value.low)
    }

    /// The digest of one buffer, in one call.
    public static func digest(of bytes: UnsafeRawBufferPointer) -> XXH128Digest {
        let value = buildcat_xxh3_128(bytes.baseAddress, bytes.count)
        return XXH128Digest(high: value.high, low: value.low)
    }

    /// The vector code hashing runs on this processor: `avx512`, `avx2` or `sse2` (x86-64).
    public static var vectorCode: String { String(cString: buildcat_xxh3_variant()) }

    /// The digest of an array of bytes.
    public static func digest(of bytes: [UInt8]) -> XXH128Digest {
        bytes.withUnsafeBytes { digest(of: $0) }
    }
}

@available(*, unavailable)
extension XXH128Hasher: Sendable {}
