import CBuildcatBytes
import SystemPackage

/// File names as JSON strings, and back, exactly as Python (and so Deadline) writes and reads them.
///
/// Python decodes a file name as UTF-8 with the "surrogateescape" handler: every byte that is
/// not part of a valid UTF-8 sequence becomes the lone surrogate U+DC80…U+DCFF, which JSON then
/// writes as `\udcXX`. Encoding the string again gives back the original bytes. This type does
/// the same both ways, so a name that is not UTF-8 survives a manifest byte for byte.
public enum FileNameEncoding {
    /// A name's bytes as UTF-16 code units, undecodable bytes as U+DC80…U+DCFF.
    public static func utf16(fromFileName bytes: [UInt8]) -> [UInt16] {
        var units: [UInt16] = []
        units.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if byte < 0x80 {
                units.append(UInt16(byte))
                index += 1
                continue
            }
            let length = utf8SequenceLength(bytes, at: index)
            if length == 0 {
                units.append(0xDC00 | UInt16(byte))
                index += 1
                continue
            }
            var scalar = UInt32(byte) & (0xFF >> (length + 1))
            for offset in 1..<length { scalar = scalar << 6 | UInt32(bytes[index + offset] & 0x3F) }
            if scalar >= 0x10000 {
                let value = scalar - 0x10000
                units.append(0xD800 | UInt16(value >> 10))
                units.append(0xDC00 | UInt16(value & 0x3FF))
            } else {
                units.append(UInt16(scalar))
            }
            index += length
        }
        return units
    }

    /// The bytes of the name a manifest string stands for, or nil if no name encodes to it (a
    /// lone surrogate other than an escaped byte, or NUL).
    public static func fileName(fromUTF16 units: [UInt16]) -> [UInt8]? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(units.count)
        var index = 0
        while index < units.count {
            let unit = units[index]
            index += 1
            var scalar = UInt32(unit)
            switch unit {
            case 0:
                return nil
            case 0xD800...0xDBFF:
                guard index < units.count, (0xDC00...0xDFFF).contains(units[index]) else { return nil }
                scalar = 0x10000 + ((UInt32(unit) - 0xD800) << 10 | (UInt32(units[index]) - 0xDC00))
                index += 1
            case 0xDC80...0xDCFF:
                bytes.append(UInt8(unit & 0xFF))
                continue
            case 0xDC00...0xDFFF:
                return nil
            default:
                break
            }
            bytes.append(contentsOf: String(Character(Unicode.Scalar(scalar)!)).utf8)
        }
        // Escaped bytes next to each other could spell a valid sequence, which Python would have
        // decoded instead of escaping: such a string does not come from any name.
        guard utf16(fromFileName: bytes) == units else { return nil }
        return bytes
    }
}

/// Writes JSON text as bytes, the way Python's `json.dumps(..., ensure_ascii=True)` does.
public enum JSONWriter {
    /// Appends a string given as UTF-16 code units: quotes, backslashes and control characters
    /// escaped, everything outside printable ASCII as `\uXXXX` with lower-case hex.
    public static func appendString(_ units: [UInt16], to out: inout [UInt8]) {
        let hexDigits = Array("0123456789abcdef".utf8)
        out.append(UInt8(ascii: "\""))
        for unit in units {
            switch unit {
            case 0x22: out += [0x5C, 0x22]
            case 0x5C: out += [0x5C, 0x5C]
            case 0x0A: out += [0x5C, UInt8(ascii: "n")]
            case 0x0D: out += [0x5C, UInt8(ascii: "r")]
            case 0x09: out += [0x5C, UInt8(ascii: "t")]
            case 0x08: out += [0x5C, UInt8(ascii: "b")]
            case 0x0C: out += [0x5C, UInt8(ascii: "f")]
            case 0x20...0x7E: out.append(UInt8(unit))
            default:
                out += [0x5C, UInt8(ascii: "u")]
                for shift in stride(from: 12, through: 0, by: -4) { out.append(hexDigits[Int((unit >> UInt16(shift)) & 0xF)]) }
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    /// Appends a file name or path: its bytes as Python would decode them (see `FileNameEncoding`).
    public static func appendFileName(_ bytes: [UInt8], to out: inout [UInt8]) {
        if bytes.withUnsafeBufferPointer({ appendPlain($0, to: &out) }) { return }
        appendString(FileNameEncoding.utf16(fromFileName: bytes), to: &out)
    }

    /// Appends a path: its bytes as Python would decode them, without copying them out first.
    public static func appendFileName(_ path: FilePath, to out: inout [UInt8]) {
        let plain = path.withBytes { appendPlain($0, to: &out) }
        if !plain { appendFileName(path.bytes, to: &out) }
    }

    /// Appends a name that needs no escaping (a JSON key with its punctuation: `,"size":`).
    public static func appendRaw(_ text: StaticString, to out: inout [UInt8]) {
        out.append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    /// Appends an integer in decimal, without making a string of it.
    public static func appendInteger(_ value: Int64, to out: inout [UInt8]) {
        withUnsafeTemporaryAllocation(byteCount: 20, alignment: 1) { buffer in
            let count = writeInteger(value, to: buffer.baseAddress!)
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[..<count]))
        }
    }

    /// Writes an integer in decimal at `destination`, which has room for 20 bytes.
    /// - Returns: how many bytes it wrote.
    public static func writeInteger(_ value: Int64, to destination: UnsafeMutableRawPointer) -> Int {
        var magnitude = value.magnitude
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)
        return withUnsafeMutableBytes(of: &digits) { buffer in
            var position = buffer.count
            repeat {
                position -= 1
                buffer[position] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
            } while magnitude > 0
            if value < 0 {
                position -= 1
                buffer[position] = UInt8(ascii: "-")
            }
            destination.copyMemory(from: buffer.baseAddress! + position, byteCount: buffer.count - position)
            return buffer.count - position
        }
    }

    /// Appends text.
    public static func appendString(_ text: String, to out: inout [UInt8]) {
        var text = text
        if text.withUTF8({ appendPlain($0, to: &out) }) { return }
        appendString(Array(text.utf16), to: &out)
    }

    /// Most paths and names are printable ASCII with nothing to escape: copied as they are
    /// (going through UTF-16 was a quarter of writing a 20,000-file scan).
    private static func appendPlain(_ bytes: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) -> Bool {
        guard isPlain(bytes) else { return false }
        out.append(UInt8(ascii: "\""))
        out.append(contentsOf: bytes)
        out.append(UInt8(ascii: "\""))
        return true
    }

    /// Whether every byte is printable ASCII other than `"` and `\`, sixteen bytes at a time
    /// (a scan writes megabytes of paths).
    public static func isPlain(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        bytes.isEmpty || buildcat_is_plain_json(bytes.baseAddress!, bytes.count) != 0
    }
}
