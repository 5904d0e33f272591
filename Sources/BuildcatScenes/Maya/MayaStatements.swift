/// The statements of a Maya ASCII file: MEL commands ending in `;`, each a list of words and
/// double-quoted strings (`\"`, `\\`, `\n` escaped), with `//` comments to the end of a line.
enum MayaStatements {
    struct Token {
        /// The word, or the string unescaped.
        var text: [UInt8]
        /// Where the word, or the text inside the quotes, is in the file.
        var range: Range<Int>
        var isWord: Bool
    }

    struct ParseError: Error {
        var offset: Int
        var reason: String
    }

    static func parse(_ bytes: [UInt8]) throws(ParseError) -> [[Token]] {
        var statements: [[Token]] = []
        var current: [Token] = []
        var index = 0
        let count = bytes.count
        while index < count {
            let byte = bytes[index]
            switch byte {
            case 0x20, 0x09, 0x0A, 0x0D:
                index += 1
            case UInt8(ascii: ";"):
                if !current.isEmpty { statements.append(current) }
                current = []
                index += 1
            case UInt8(ascii: "/") where index + 1 < count && bytes[index + 1] == UInt8(ascii: "/"):
                while index < count && bytes[index] != 0x0A { index += 1 }
            case UInt8(ascii: "\""):
                guard let (text, contents, end) = TextScenes.quotedString(bytes, at: index) else {
                    throw ParseError(offset: index, reason: "a string is never closed")
                }
                current.append(Token(text: text, range: contents, isWord: false))
                index = end
            default:
                let start = index
                while index < count, ![0x20, 0x09, 0x0A, 0x0D, UInt8(ascii: ";"), UInt8(ascii: "\"")].contains(bytes[index]) { index += 1 }
                current.append(Token(text: Array(bytes[start..<index]), range: start..<index, isWord: true))
            }
        }
        if !current.isEmpty { statements.append(current) }
        return statements
    }
}
