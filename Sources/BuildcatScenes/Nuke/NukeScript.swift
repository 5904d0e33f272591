/// The nodes of a Nuke script (`.nk`): `Class {` opens a node, `}` closes it, and each line
/// between is a knob and its value — a word, a quoted string (`\"`, `\\`, and `\[` for a
/// bracket TCL must not evaluate), or braces, either of which may run over several lines.
struct NukeScript {
    struct Knob {
        var name: [UInt8]
        /// The value, unquoted and unescaped.
        var value: [UInt8]
        /// Where the value is written (inside the quotes for a quoted one).
        var range: Range<Int>
        var quoted: Bool
        /// Whether it holds a TCL command (`[…]`, escaped in the script or not): only Nuke can
        /// evaluate it.
        var hasExpression: Bool
    }

    struct Node {
        var className: [UInt8]
        var knobs: [Knob] = []
        /// Where the node starts, for messages.
        var offset: Int

        func knob(_ name: String) -> Knob? { knobs.first { $0.name == Array(name.utf8) } }
    }

    struct ParseError: Error {
        var offset: Int
        var reason: String
    }

    static func nodes(in bytes: [UInt8]) throws(ParseError) -> [Node] {
        var nodes: [Node] = []
        var open: [Node] = []
        var index = 0
        let count = bytes.count
        func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 || byte == 0x0D }
        while index < count {
            // One line: skip its indentation.
            while index < count && isSpace(bytes[index]) { index += 1 }
            guard index < count else { break }
            if bytes[index] == 0x0A { index += 1; continue }
            if bytes[index] == UInt8(ascii: "#") {
                while index < count && bytes[index] != 0x0A { index += 1 }
                continue
            }
            let lineStart = index
            while index < count && !isSpace(bytes[index]) && bytes[index] != 0x0A { index += 1 }
            let word = Array(bytes[lineStart..<index])
            if word == [UInt8(ascii: "}")] {
                if let node = open.popLast() { nodes.append(node) }
                continue
            }
            while index < count && isSpace(bytes[index]) { index += 1 }
            // `Class {` at the end of its line opens a node.
            if index < count, bytes[index] == UInt8(ascii: "{") {
                var after = index + 1
                while after < count && isSpace(bytes[after]) { after += 1 }
                if after >= count || bytes[after] == 0x0A {
                    open.append(Node(className: word, offset: lineStart))
                    index = after
                    continue
                }
            }
            // A knob and its value.
            let (value, range, quoted, expression, end) = try readValue(bytes, from: index)
            if !open.isEmpty {
                open[open.count - 1].knobs.append(Knob(name: word, value: value, range: range, quoted: quoted, hasExpression: expression))
            }
            index = end
        }
        guard open.isEmpty else { throw ParseError(offset: open.last!.offset, reason: "a \(String(decoding: open.last!.className, as: UTF8.self)) node is never closed") }
        return nodes
    }

    private static func readValue(_ bytes: [UInt8], from start: Int) throws(ParseError) -> ([UInt8], Range<Int>, Bool, Bool, Int) {
        let count = bytes.count
        guard start < count, bytes[start] != 0x0A else { return ([], start..<start, false, false, start) }
        switch bytes[start] {
        case UInt8(ascii: "\""):
            guard let (value, contents, after) = TextScenes.quotedString(bytes, at: start) else {
                throw ParseError(offset: start, reason: "a quoted value is never closed")
            }
            var end = after
            while end < count && bytes[end] != 0x0A { end += 1 }
            // `\[` keeps the script's parser from reading a bracket, but the file knob still
            // evaluates it: any bracket in the value is TCL.
            return (value, contents, true, value.contains(UInt8(ascii: "[")), end)
        case UInt8(ascii: "{"):
            var depth = 0
            var index = start
            while index < count {
                if bytes[index] == UInt8(ascii: "\\") { index += 2; continue }
                if bytes[index] == UInt8(ascii: "{") { depth += 1 }
                if bytes[index] == UInt8(ascii: "}") {
                    depth -= 1
                    if depth == 0 { break }
                }
                index += 1
            }
            guard index < count else { throw ParseError(offset: start, reason: "a braced value is never closed") }
            let value = Array(bytes[(start + 1)..<index])
            return (value, (start + 1)..<index, false, value.contains(UInt8(ascii: "[")), index + 1)
        default:
            var end = start
            while end < count && bytes[end] != 0x0A { end += 1 }
            var last = end
            while last > start && (bytes[last - 1] == 0x20 || bytes[last - 1] == 0x09 || bytes[last - 1] == 0x0D) { last -= 1 }
            let value = Array(bytes[start..<last])
            return (value, start..<last, false, value.contains(UInt8(ascii: "[")), end)
        }
    }
}
