import CBuildcatBytes
import Glibc

/// Scans of many bytes, vectorised in C (see CBuildcatBytes).
public enum ByteScan {
    /// How many of `bytes` equal `byte`.
    public static func count(_ byte: UInt8, in bytes: UnsafeRawBufferPointer) -> Int {
        guard let base = bytes.baseAddress else { return 0 }
        return buildcat_count_byte(base, bytes.count, byte)
    }

    /// The index of the first byte of `text` from `start` on that a USD text layer's lexer stops
    /// at (`#`, quotes, `<`, `@`, `=`, brackets), or `text.count`.
    /// - Parameter identifierStart: becomes the index of the last byte before it that can start
    ///   an identifier (a letter, `_`, a byte of a multi-byte character); left as it is if none.
    @inline(__always)
    public static func nextUSDAStop(in text: UnsafeBufferPointer<UInt8>, from start: Int, identifierStart: inout Int) -> Int {
        guard let base = text.baseAddress else { return 0 }
        return buildcat_usda_next_stop(base, text.count, start, &identifierStart)
    }

    /// The index of the first `byte` in `text` from `start` on, or `text.count`.
    @inline(__always)
    public static func next(_ byte: UInt8, in text: UnsafeBufferPointer<UInt8>, from start: Int) -> Int {
        guard let base = text.baseAddress, start < text.count, let found = memchr(base + start, Int32(byte), text.count - start) else { return text.count }
        return UnsafeRawPointer(found) - UnsafeRawPointer(base)
    }

    /// The index of the first of `a`, `b` or `c` in `text` from `start` on, or `text.count`.
    @inline(__always)
    public static func next(_ a: UInt8, _ b: UInt8, _ c: UInt8, in text: UnsafeBufferPointer<UInt8>, from start: Int) -> Int {
        guard let base = text.baseAddress else { return 0 }
        return buildcat_next_of_three(base, text.count, start, a, b, c)
    }
}
