@testable import BuildcatScenes

/// The lexer of `USDALexer` as it was written in Swift, a byte at a time: the grammar stated
/// plainly, against which the one in C (`buildcat_usda_asset_paths`, which reads sixty-four bytes
/// at a time) is checked on random layers.
struct USDALexerOracle {
    let bytes: [UInt8]

    func assetPaths() throws(USDALexer.LexError) -> [USDALexer.AssetPath] {
        var found: [USDALexer.AssetPath] = []
        // The key in force inside each open bracket, innermost last.
        var keys: [Range<Int>] = [0..<0]
        // The last byte outside strings, comments and paths that can start an identifier.
        var identifierStart = -1
        var index = 0
        while index < bytes.count {
            guard let stop = nextStop(from: index, identifierStart: &identifierStart) else { break }
            index = stop
            switch bytes[index] {
            case UInt8(ascii: "#"):
                index = next(0x0A, from: index)
            case UInt8(ascii: "\""), UInt8(ascii: "'"):
                index = try skipString(at: index)
                continue
            case UInt8(ascii: "<"):
                let open = index
                index = next(UInt8(ascii: ">"), from: index)
                guard index < bytes.count else { throw USDALexer.LexError(offset: open, reason: "a path '<' is never closed") }
            case UInt8(ascii: "@"):
                let path = try assetPath(at: index, key: keys[keys.count - 1])
                found.append(path.path)
                index = path.end
                continue
            case UInt8(ascii: "="):
                keys[keys.count - 1] = identifier(around: identifierStart)
            case UInt8(ascii: "["), UInt8(ascii: "("), UInt8(ascii: "{"):
                keys.append(keys[keys.count - 1])
            default:
                if keys.count > 1 { keys.removeLast() }
            }
            index += 1
        }
        return found
    }

    private static let stops = Set("#\"'<@=[({])}".utf8)

    private static func startsIdentifier(_ byte: UInt8) -> Bool {
        (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || byte == UInt8(ascii: "_") || byte >= 0x80
    }

    private static func continuesIdentifier(_ byte: UInt8) -> Bool {
        startsIdentifier(byte) || (byte >= 0x30 && byte <= 0x39) || byte == UInt8(ascii: ":") || byte == UInt8(ascii: ".")
    }

    private func nextStop(from start: Int, identifierStart: inout Int) -> Int? {
        var index = start
        while index < bytes.count && !Self.stops.contains(bytes[index]) {
            if Self.startsIdentifier(bytes[index]) { identifierStart = index }
            index += 1
        }
        return index < bytes.count ? index : nil
    }

    private func next(_ byte: UInt8, from start: Int) -> Int {
        bytes[min(start, bytes.count)...].firstIndex(of: byte) ?? bytes.count
    }

    private func identifier(around index: Int) -> Range<Int> {
        guard index >= 0 else { return 0..<0 }
        var end = index + 1
        while end < bytes.count && Self.continuesIdentifier(bytes[end]) { end += 1 }
        var start = index
        while start > 0 && Self.continuesIdentifier(bytes[start - 1]) { start -= 1 }
        while !Self.startsIdentifier(bytes[start]) { start += 1 }
        return start..<end
    }

    private func skipString(at start: Int) throws(USDALexer.LexError) -> Int {
        let quote = bytes[start]
        let triple = start + 2 < bytes.count && bytes[start + 1] == quote && bytes[start + 2] == quote
        var index = start + (triple ? 3 : 1)
        while true {
            while index < bytes.count && bytes[index] != quote && bytes[index] != UInt8(ascii: "\\") && (triple || bytes[index] != 0x0A) { index += 1 }
            guard index < bytes.count else { throw USDALexer.LexError(offset: start, reason: "a string is never closed") }
            switch bytes[index] {
            case UInt8(ascii: "\\"):
                index += 2
            case 0x0A:
                throw USDALexer.LexError(offset: start, reason: "a string is not closed on its line")
            default:
                if !triple { return index + 1 }
                if index + 2 < bytes.count && bytes[index + 1] == quote && bytes[index + 2] == quote { return index + 3 }
                index += 1
            }
        }
    }

    private func assetPath(at start: Int, key: Range<Int>) throws(USDALexer.LexError) -> (path: USDALexer.AssetPath, end: Int) {
        let triple = start + 2 < bytes.count && bytes[start + 1] == 0x40 && bytes[start + 2] == 0x40
        if !triple {
            let rest = bytes[(start + 1)...]
            guard let close = rest.firstIndex(of: 0x40) else {
                let reason = rest.contains(0x0A) ? "an asset path '@' is not closed on its line" : "an asset path '@' is never closed"
                throw USDALexer.LexError(offset: start, reason: reason)
            }
            if bytes[(start + 1)..<close].contains(0x0A) {
                throw USDALexer.LexError(offset: start, reason: "an asset path '@' is not closed on its line")
            }
            return (USDALexer.AssetPath(range: (start + 1)..<close, tripleDelimited: false, keyRange: key), close + 1)
        }
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
                var end = index
                while end + 3 < bytes.count && bytes[end + 3] == UInt8(ascii: "@") { value.append(UInt8(ascii: "@")); end += 1 }
                return (USDALexer.AssetPath(range: (start + 3)..<end, unescaped: escaped ? value : nil, tripleDelimited: true, keyRange: key), end + 3)
            }
            if bytes[index] == 0x0A { throw USDALexer.LexError(offset: start, reason: "an asset path '@@@' is not closed on its line") }
            value.append(bytes[index])
            index += 1
        }
        throw USDALexer.LexError(offset: start, reason: "an asset path '@@@' is never closed")
    }
}
