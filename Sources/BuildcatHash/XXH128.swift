internal import CXXHash

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

/// Streaming XXH3-128 through xxHash's SIMD dispatch entry points.
///
/// The header's macro that routes the ordinary names to the dispatching code is not imported
/// into Swift; calling `…_dispatch` explicitly picks AVX2/AVX-512 at run time and is about 1.5×
/// faster than the scalar default. Owns its C state: one hasher, one owner, not `Sendable`.
public final class XXH128Hasher {
    private let state: OpaquePointer

    public init() {
        guard let state = XXH3_createState() else { fatalError("XXH3_createState: out of memory") }
        self.state = state
        XXH3_128bits_reset(state)
    }

    deinit { XXH3_freeState(state) }

    /// Starts again from no input.
    public func reset() {
        XXH3_128bits_reset(state)
    }

    /// Adds bytes to the input.
    public func update(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        _ = XXH3_128bits_update_dispatch(state, bytes.baseAddress, bytes.count)
    }

    /// The digest of everything added since the last reset.
    public func finalize() -> XXH128Digest {
        let value = XXH3_128bits_digest(state)
        return XXH128Digest(high: value.high64, low: value.low64)
    }

    /// The digest of one buffer, in one call.
    public static func digest(of bytes: UnsafeRawBufferPointer) -> XXH128Digest {
        let value = XXH3_128bits_dispatch(bytes.baseAddress, bytes.count)
        return XXH128Digest(high: value.high64, low: value.low64)
    }

    /// The digest of an array of bytes.
    public static func digest(of bytes: [UInt8]) -> XXH128Digest {
        bytes.withUnsafeBytes { digest(of: $0) }
    }
}

@available(*, unavailable)
extension XXH128Hasher: Sendable {}
