/// The values of a node's parameters in a `.parm` file of a Houdini archive:
///
///     filename	[ 0	locks=0 ]	(	$HIP/map.jpg	)
///     label	[ 0	locks=0 ]	(	"Static Houses Out.fbx"	)
///
/// Each value is a tab-separated token or a quoted string (`\"`, `\\` escaped); `[ … ]` inside
/// the parentheses is a channel reference, not a value.
struct HoudiniParms {
    struct Value {
        var parameter: [UInt8]
        /// The value, unescaped.
        var text: [UInt8]
        /// Where it is in the archive: inside the quotes for a quoted string.
        var range: Range<Int>
        var quoted: Bool
    }

    static func values(in bytes: [UInt8], body: Range<Int>) -> [Value] {
        var values: [Value] = []
        var lineStart = body.lowerBound
        while lineStart < body.upperBound {
            let lineEnd = bytes[lineStart..<body.upperBound].firstIndex(of: 0x0A) ?? body.upperBound
            parseLine(bytes, lineStart..<lineEnd, into: &values)
            lineStart = lineEnd + 1
        }
        return values
    }

    private static func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 || byte == 0x0D }

    private static func parseLine(_ bytes: [UInt8], _ line: Range<Int>, into values: inout [Value]) {
        var index = line.lowerBound
        while index < line.upperBound && !isSpace(bytes[index]) { index += 1 }
        let parameter = Array(bytes[line.lowerBound..<index])
        guard !parameter.isEmpty, parameter != [UInt8(ascii: "{")], parameter != [UInt8(ascii: "}")] else { return }
        while index < line.upperBound && isSpace(bytes[index]) { index += 1 }
        guard index < line.upperBound, bytes[index] == UInt8(ascii: "[") else { return }
        guard let flagsEnd = bytes[index..<line.upperBound].firstIndex(of: UInt8(ascii: "]")) else { return }
        index = flagsEnd + 1
        while index < line.upperBound && isSpace(bytes[index]) { index += 1 }
        guard index < line.upperBound, bytes[index] == UInt8(ascii: "(") else { return }
        index += 1
        while index < line.upperBound {
            let byte = bytes[index]
            if isSpace(byte) { index += 1; continue }
            if byte == UInt8(ascii: ")") { return }
            if byte == UInt8(ascii: "[") {
                guard let close = bytes[index..<line.upperBound].firstIndex(of: UInt8(ascii: "]")) else { return }
                index = close + 1
                continue
            }
            if byte == UInt8(ascii: "\"") {
                // Unterminated on its line: not a value we can place.
                guard let (text, contents, end) = TextScenes.quotedString(bytes, at: index, end: line.upperBound) else { return }
                values.append(Value(parameter: parameter, text: text, range: contents, quoted: true))
                index = end
                continue
            }
            let start = index
            while index < line.upperBound && !isSpace(bytes[index]) && bytes[index] != UInt8(ascii: ")") { index += 1 }
            values.append(Value(parameter: parameter, text: Array(bytes[start..<index]), range: start..<index, quoted: false))
        }
    }

    /// A value written back: quoted and escaped when the original was, or when it must be.
    static func encode(_ text: [UInt8], quoted: Bool) -> [UInt8] {
        let needsQuotes = quoted || text.isEmpty || text.contains { isSpace($0) || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "(") || $0 == UInt8(ascii: ")") || $0 == UInt8(ascii: "\\") }
        guard needsQuotes else { return text }
        let escaped = TextScenes.escaped(text)
        return quoted ? escaped : [UInt8(ascii: "\"")] + escaped + [UInt8(ascii: "\"")]
    }
}
