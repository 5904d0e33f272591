import BuildcatBasics
import SystemPackage

/// What the text scene formats (USD text, Houdini parameters, Maya ASCII, Nuke) share: reading
/// a double-quoted, backslash-escaped string, and writing a copy of a file with values replaced
/// in place.
enum TextScenes {
    /// The string whose opening quote is at `quote`: its unescaped value (`\n`, `\t`, and any
    /// other escaped byte as itself), where its text lies between the quotes, and the index after
    /// the closing quote; nil when it is not closed (before the end of the line, when
    /// `withinLine`).
    static func quotedString(_ bytes: [UInt8], at quote: Int, end limit: Int? = nil, withinLine: Bool = false) -> (value: [UInt8], contents: Range<Int>, end: Int)? {
        let end = limit ?? bytes.count
        var value: [UInt8] = []
        var index = quote + 1
        while index < end && bytes[index] != UInt8(ascii: "\"") {
            if withinLine && bytes[index] == 0x0A { return nil }
            if bytes[index] == UInt8(ascii: "\\"), index + 1 < end {
                index += 1
                switch bytes[index] {
                case UInt8(ascii: "n"): value.append(0x0A)
                case UInt8(ascii: "t"): value.append(0x09)
                default: value.append(bytes[index])
                }
            } else {
                value.append(bytes[index])
            }
            index += 1
        }
        guard index < end else { return nil }
        return (value, (quote + 1)..<index, index + 1)
    }

    /// `value` escaped for a double-quoted string: a backslash before each byte in `escaping`.
    static func escaped(_ value: [UInt8], escaping: Set<UInt8> = [UInt8(ascii: "\""), UInt8(ascii: "\\")]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(value.count + 4)
        for byte in value {
            if escaping.contains(byte) { out.append(UInt8(ascii: "\\")) }
            out.append(byte)
        }
        return out
    }

    /// Writes `path`'s bytes to `output` with each change's value (as `encode` writes it, given
    /// the change and where its value starts) in place of the value the scan found.
    /// - Throws: `SceneError` when a value is no longer where the scan found it.
    static func rewrite(_ path: FilePath, changes: [ReferenceChange], to output: FilePath,
                        encode: (_ change: ReferenceChange, _ bytes: [UInt8], _ start: Int) -> [UInt8]) throws {
        let bytes = try FileSystem.readAll(path)
        var result: [UInt8] = []
        result.reserveCapacity(bytes.count + 64 * changes.count)
        var position = 0
        // A reference the file implies without holding (a second stereo view) has no place to change.
        let placed = changes.filter { $0.reference.isPlaced }
        for change in placed.sorted(by: { $0.reference.firstLocation!.offset < $1.reference.firstLocation!.offset }) {
            let start = Int(change.reference.firstLocation!.offset)
            let end = start + change.reference.firstLocation!.capacity
            guard start >= position, end <= bytes.count else {
                throw SceneError(scene: displayPath(path), reason: "the path '\(displayBytes(change.reference.raw))' is no longer where the scan found it")
            }
            result += bytes[position..<start]
            result += encode(change, bytes, start)
            position = end
        }
        result += bytes[position...]
        try FileSystem.writeAtomically(result, to: output)
    }

    /// The last place `needle` stands in the file-name part of `haystack`.
    static func lastRangeInName(of needle: [UInt8], in haystack: [UInt8]) -> Range<Int>? {
        guard !needle.isEmpty, needle.count <= haystack.count else { return nil }
        let nameStart = FilePath.lastComponentStart(of: haystack)
        guard haystack.count - needle.count >= nameStart else { return nil }
        for start in stride(from: haystack.count - needle.count, through: nameStart, by: -1)
        where haystack[start..<(start + needle.count)].elementsEqual(needle) { return start..<(start + needle.count) }
        return nil
    }
}
