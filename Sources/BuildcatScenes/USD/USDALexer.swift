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
        // At most one path a pair of `@`: one array, not one regrown for each few paths.
        found.reserveCapacity(bytes.withUnsafeBytes { ByteScan.count(UInt8(ascii: "@"), in: $0) } / 2)
        // One frame per open bracket: the key that applies inside it. Keys and identifiers are
        // ranges of the layer, made bytes only for the paths found (most identifiers are not keys).
        var keys: [Range<Int>] = [0..<0]
        keys.reserveCapacity(16)  // brackets nest a few deep
        var lastIdentifier = 0..<0
        var index = 0
        let count = bytes.count
        while index < count {
            // Through what means nothing here (spaces, numbers, punctuation) and identifiers to
            // the next special byte, a table look-up a byte: most of a layer is these (byte by
            // byte comparisons were a fifth of reading a large stage; a call a token, a tenth of
            // the lexer).
            index = Self.skipPlain(in: bytes, from: index, lastIdentifier: &lastIdentifier)
            guard index < count else { break }
            switch bytes[index] {
            case UInt8(ascii: "#"):
                while index < count && bytes[index] != 0x0A { index += 1 }
            case UInt8(ascii: "\""), UInt8(ascii: "'"):
                index = try skipString(at: index)
                continue
            case UInt8(ascii: "<"):
                // A path (`</World/Set>`, `<../Other.attr>`): may hold `@` in variant selections.
                guard let close = bytes[index...].firstIndex(of: UInt8(ascii: ">")) else { throw LexError(offset: index, reason: "a path '<' is never closed") }
                index = close
            case UInt8(ascii: "@"):
                let path = try assetPath(at: index, key: keys[keys.count - 1])
                found.append(path.path)
                index = path.end
                continue
            case UInt8(ascii: "="):
                keys[keys.count - 1] = lastIdentifier
            case UInt8(ascii: "["), UInt8(ascii: "("), UInt8(ascii: "{"):
                keys.append(keys[keys.count - 1])
            default:  // `]`, `)`, `}`
                if keys.count > 1 { keys.removeLast() }
            }
            index += 1
        }
        return found
    }

    /// From `start`, the index of the first special byte (or the end), through what means
    /// nothing here and identifiers: the last of those, if any, becomes `lastIdentifier`.
    private static func skipPlain(in bytes: [UInt8], from start: Int, lastIdentifier: inout Range<Int>) -> Int {
        bytes.withUnsafeBufferPointer { text in
            classes.withUnsafeBufferPointer { classes in
                var index = start
                while index < text.count {
                    let byteClass = classes[Int(text[index])]
                    if byteClass <= identifierByte {
                        index += 1
                    } else if byteClass == identifierStart {
                        let first = index
                        index += 1
                        while index < text.count && classes[Int(text[index])] & identifierByte != 0 { index += 1 }
                        lastIdentifier = first..<index
                    } else {
                        break
                    }
                }
                return index
            }
        }
    }

    /// By byte: 0 for one that means nothing here and starts no identifier; `identifierStart`
    /// (which holds `identifierByte`) for a letter, `_` or any byte of a multi-byte character;
    /// `identifierByte` alone for a digit, `:` or `.` (inside an identifier only); `special` for
    /// `#`, quotes, `<`, `@`, `=` and brackets.
    private static let classes: [UInt8] = (0...255).map { value -> UInt8 in
        let byte = UInt8(value)
        if Array("#\"'<@=[({])}".utf8).contains(byte) { return special }
        if (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || byte == UInt8(ascii: "_") || byte >= 0x80 {
            return identifierStart | identifierByte
        }
        if (byte >= 0x30 && byte <= 0x39) || byte == UInt8(ascii: ":") || byte == UInt8(ascii: ".") { return identifierByte }
        return 0
    }
    private static let identifierByte: UInt8 = 1
    private static let identifierStart: UInt8 = 3
    private static let special: UInt8 = 4

    /// The index after a string starting at `start`.
    private func skipString(at start: Int) throws(LexError) -> Int {
        let quote = bytes[start]
        let triple = start + 2 < bytes.count && bytes[start + 1] == quote && bytes[start + 2] == quote
        var index = start + (triple ? 3 : 1)
        if !triple {
            // Through what cannot end the string or be an error, without a bounds check a byte.
            index = bytes.withUnsafeBufferPointer { text in
                var index = index
                while index < text.count, text[index] != quote, text[index] != UInt8(ascii: "\\"), text[index] != 0x0A { index += 1 }
                return index
            }
            // Most strings end there: no escape, on one line.
            if index < bytes.count && bytes[index] == quote { return index + 1 }
        }
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\\") {
                index += 2
                continue
            }
            if byte == quote {
                if !triple { return index + 1 }
                if index + 2 < bytes.count && bytes[index + 1] == quote && bytes[index + 2] == quote { return index + 3 }
            } else if byte == 0x0A && !triple {
                throw LexError(offset: start, reason: "a string is not closed on its line")
            }
            index += 1
        }
        throw LexError(offset: start, reason: "a string is never closed")
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
