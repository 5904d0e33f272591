import BuildcatBasics
import Glibc

/// Finds the asset paths in a USD text layer (`.usda`): `@path@` and `@@@path@@@`, never inside
/// strings (`"…"`, `'…'`, `"""…"""`, `'''…'''`) or comments (`#` to the end of the line), each with
/// the name it is the value of — `subLayers`, `references`, `payload`, `assetPaths`,
/// `inputs:file`… — so that a caller can tell composition arcs from other assets.
///
/// The name is the last identifier before the nearest `=` in the enclosing brackets: in
/// `subLayers = [@a.usda@ (offset = 10), @b.usda@]` both paths are `subLayers`'s, though
/// `offset =` comes between them.
struct USDALexer {
    struct AssetPath {
        /// Where the text between the delimiters is in the layer.
        var range: Range<Int>
        /// The path's bytes where they are not the text of `range` (a `@@@` path with `\@@@`
        /// in it, unescaped); nil for nearly every path, read in place (`withValue`).
        var unescaped: [UInt8]? = nil
        /// Whether it was written `@@@…@@@`.
        var tripleDelimited: Bool
        /// Where the name it is the value of is in the layer (empty for none): made bytes only
        /// by a caller that needs them, and layers use few names for many paths.
        var keyRange: Range<Int>

        /// Calls `body` with the path's bytes, from `layer`, the layer's bytes.
        func withValue<Result>(in layer: UnsafeBufferPointer<UInt8>, _ body: (UnsafeBufferPointer<UInt8>) throws -> Result) rethrows -> Result {
            if let unescaped { return try unescaped.withUnsafeBufferPointer(body) }
            return try body(UnsafeBufferPointer(rebasing: layer[range]))
        }

        /// The path's bytes, from `layer`, the layer's bytes.
        func value(in layer: [UInt8]) -> [UInt8] {
            layer.withUnsafeBufferPointer { layer in withValue(in: layer) { Array($0) } }
        }
    }

    struct LexError: Error {
        var offset: Int
        var reason: String
    }

    let bytes: [UInt8]

    func assetPaths() throws(LexError) -> [AssetPath] {
        var found: [AssetPath] = []
        // Room for a path every 64 bytes, more than most layers hold (a text layer written by a
        // tool spends over a hundred bytes a path): counting the `@`s first was a pass over the
        // whole layer, 2M instructions of a 2,000-layer stage's 170M.
        found.reserveCapacity(bytes.count / 64)
        // One frame per open bracket: the key that applies inside it. Keys and identifiers are
        // ranges of the layer, made bytes only for the paths found (most identifiers are not keys).
        var keys: [Range<Int>] = [0..<0]
        keys.reserveCapacity(16)  // brackets nest a few deep
        // Where the last identifier outside strings, comments and paths starts, or a byte of it:
        // the name a `=` gives a value is worked out from it only when a `=` comes.
        var identifierStart = -1
        try bytes.withUnsafeBufferPointer { (text) throws(LexError) in
            let count = text.count
            var index = 0
            while index < count {
                // To the next byte that means something here, sixteen at a time: most of a layer is
                // spaces, names and numbers between them (a table look-up a byte was a seventh of
                // reading a large stage).
                index = ByteScan.nextUSDAStop(in: text, from: index, identifierStart: &identifierStart)
                guard index < count else { break }
                switch text[index] {
                case UInt8(ascii: "#"):
                    index = ByteScan.next(0x0A, in: text, from: index)
                case UInt8(ascii: "\""), UInt8(ascii: "'"):
                    index = try Self.skipString(in: text, at: index)
                    continue
                case UInt8(ascii: "<"):
                    // A path (`</World/Set>`, `<../Other.attr>`): may hold `@` in variant selections.
                    let open = index
                    index = ByteScan.next(UInt8(ascii: ">"), in: text, from: index)
                    guard index < count else { throw LexError(offset: open, reason: "a path '<' is never closed") }
                case UInt8(ascii: "@"):
                    let path = try assetPath(at: index, key: keys[keys.count - 1])
                    found.append(path.path)
                    index = path.end
                    continue
                case UInt8(ascii: "="):
                    keys[keys.count - 1] = Self.identifier(around: identifierStart, in: text)
                case UInt8(ascii: "["), UInt8(ascii: "("), UInt8(ascii: "{"):
                    keys.append(keys[keys.count - 1])
                default:  // `]`, `)`, `}`
                    if keys.count > 1 { keys.removeLast() }
                }
                index += 1
            }
        }
        return found
    }

    /// The identifier that holds the byte at `index` that can start one (empty for none, -1).
    ///
    /// An identifier is a letter, `_` or a byte of a multi-byte character, then any of those,
    /// digits, `:` and `.`; in a run of such bytes it starts at the first that can start one
    /// (`1.5abc` holds `abc`). Outside strings, comments and paths, a run is bounded by bytes
    /// the lexer stops at, quotes and line feeds, never by what those hold.
    private static func identifier(around index: Int, in text: UnsafeBufferPointer<UInt8>) -> Range<Int> {
        guard index >= 0 else { return 0..<0 }
        return classes.withUnsafeBufferPointer { classes in
            var end = index + 1
            while end < text.count && classes[Int(text[end])] & identifierByte != 0 { end += 1 }
            var start = index
            while start > 0 && classes[Int(text[start - 1])] & identifierByte != 0 { start -= 1 }
            while classes[Int(text[start])] != identifierStart { start += 1 }
            return start..<end
        }
    }

    /// By byte: `identifierStart` (which holds `identifierByte`) for a letter, `_` or any byte of
    /// a multi-byte character; `identifierByte` alone for a digit, `:` or `.` (inside an
    /// identifier only); 0 for any other.
    private static let classes: [UInt8] = (0...255).map { value -> UInt8 in
        let byte = UInt8(value)
        if (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || byte == UInt8(ascii: "_") || byte >= 0x80 {
            return identifierStart
        }
        if (byte >= 0x30 && byte <= 0x39) || byte == UInt8(ascii: ":") || byte == UInt8(ascii: ".") { return identifierByte }
        return 0
    }
    private static let identifierByte: UInt8 = 1
    private static let identifierStart: UInt8 = 3

    /// The index after a string starting at `start`.
    private static func skipString(in text: UnsafeBufferPointer<UInt8>, at start: Int) throws(LexError) -> Int {
        let quote = text[start]
        let backslash = UInt8(ascii: "\\")
        let count = text.count
        let triple = start + 2 < count && text[start + 1] == quote && text[start + 2] == quote
        var index = start + (triple ? 3 : 1)
        while true {
            // To the next byte that may end the string, escapes one, or (on one line) is an error.
            index = ByteScan.next(quote, backslash, triple ? quote : 0x0A, in: text, from: min(index, count))
            guard index < count else { throw LexError(offset: start, reason: "a string is never closed") }
            switch text[index] {
            case backslash:
                index += 2
            case 0x0A:
                throw LexError(offset: start, reason: "a string is not closed on its line")
            default:
                if !triple { return index + 1 }
                if index + 2 < count && text[index + 1] == quote && text[index + 2] == quote { return index + 3 }
                index += 1
            }
        }
    }

    private func assetPath(at start: Int, key: Range<Int>) throws(LexError) -> (path: AssetPath, end: Int) {
        let triple = start + 2 < bytes.count && bytes[start + 1] == 0x40 && bytes[start + 2] == 0x40
        if !triple {
            // `@…@`: no `@` inside, on one line.
            let (close, newline) = bytes.withUnsafeBytes { text -> (Int?, Bool) in
                let from = text.baseAddress! + start + 1
                let length = text.count - start - 1
                guard let at = memchr(from, Int32(UInt8(ascii: "@")), length) else { return (nil, memchr(from, 0x0A, length) != nil) }
                let end = UnsafeRawPointer(at) - text.baseAddress!
                return (end, memchr(from, 0x0A, end - start - 1) != nil)
            }
            if newline { throw LexError(offset: start, reason: "an asset path '@' is not closed on its line") }
            guard let close else { throw LexError(offset: start, reason: "an asset path '@' is never closed") }
            return (AssetPath(range: (start + 1)..<close, tripleDelimited: false, keyRange: key), close + 1)
        }
        // `@@@…@@@`: may hold `@`; `\@@@` is an escaped delimiter.
        var value: [UInt8] = []
        var escaped = false
        var index = start + 3
        while index < bytes.count {
            if bytes[index...].starts(with: Array("\\@@@".utf8)) {
                value += [0x40, 0x40, 0x40]
                escaped = true
                index += 4
                continue
            }
            if bytes[index...].starts(with: [0x40, 0x40, 0x40]) {
                // A run of more than three `@` closes at its last three.
                var end = index
                while end + 3 < bytes.count && bytes[end + 3] == UInt8(ascii: "@") { value.append(UInt8(ascii: "@")); end += 1 }
                return (AssetPath(range: (start + 3)..<end, unescaped: escaped ? value : nil, tripleDelimited: true, keyRange: key), end + 3)
            }
            if bytes[index] == 0x0A { throw LexError(offset: start, reason: "an asset path '@@@' is not closed on its line") }
            value.append(bytes[index])
            index += 1
        }
        throw LexError(offset: start, reason: "an asset path '@@@' is never closed")
    }
}
