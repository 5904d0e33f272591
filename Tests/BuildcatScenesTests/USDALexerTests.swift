@testable import BuildcatScenes
import Testing

/// The lexer in C against the one it replaced, written plainly in Swift (`USDALexerOracle`).
@Suite struct USDALexerTests {
    /// Pieces of USD text, and of damaged USD text, put together at random: every stop the lexer
    /// knows, strings of both quotes (and tripled, and escaped), the three kinds of asset path,
    /// comments, `<paths>`, identifiers with digits, dots, colons and multi-byte characters.
    private static let pieces: [[UInt8]] = [
        "a", "b_", "Z9", "x.y", "ns:k2", "1", "23.5", " ", "   ", "\n", "\t", "=", " = ", "[", "]", "(", ")", "{", "}",
        "\"", "'", "\"\"\"", "'''", "\\", "\"s\"", "'q'", "\"e\\\"x\"", "\"\"\"m\nl\"\"\"", "@", "@@", "@@@", "\\@@@", "@a.usda@",
        "@@@p@q@@@", "@@@e\\@@@f@@@@", "#", "# c = @x@\n", "<", ">", "</a/b.c>", "<x@y>", "\u{FC}", "\u{1F600}", "subLayers",
        "subLayers = [@./l.usda@]\n", "asset inputs:file = @../t.png@\n", "def \"X\" {\n", "}\n", "\0", "\u{7F}",
    ].map { Array($0.utf8) }

    @Test func theLexerInCFindsWhatTheSwiftOneFound() throws {
        var generator = SystemRandomNumberGenerator()
        for round in 0..<6_000 {
            // Mostly short layers, some that span many of the C lexer's 64-byte blocks.
            let pieceCount = round % 10 == 0 ? Int.random(in: 50...400, using: &generator) : Int.random(in: 0...40, using: &generator)
            let layer = (0..<pieceCount).flatMap { _ in Self.pieces.randomElement(using: &generator)! }
            try expectSameAnswers(layer)
        }
    }

    /// Every length around the blocks' edges, with a stop or an identifier on each side of one.
    @Test func blockEdgesChangeNothing() throws {
        for length in 0..<140 {
            for tail in ["k = @a@", "@@@b@@@", "\"s\" = @c@", "x\n= @d@", "#\n@e@"] {
                try expectSameAnswers(Array((String(repeating: "n", count: length) + tail).utf8))
                try expectSameAnswers(Array((String(repeating: " ", count: length) + tail).utf8))
            }
        }
    }

    /// Brackets nested deeper than the C lexer keeps on its stack keep their keys.
    @Test func deepBracketsKeepTheirKeys() throws {
        let layer = Array((String(repeating: "k = [", count: 100) + "@a@" + String(repeating: "]", count: 60) + "@b@").utf8)
        try expectSameAnswers(layer)
        let found = try USDALexer(bytes: layer).assetPaths()
        #expect(found.map { String(decoding: layer[$0.keyRange], as: UTF8.self) } == ["k", "k"])
    }

    private func expectSameAnswers(_ layer: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) throws {
        let shown = String(decoding: layer, as: UTF8.self).debugDescription
        let expected = Result { () throws(USDALexer.LexError) in try USDALexerOracle(bytes: layer).assetPaths() }
        let found = Result { () throws(USDALexer.LexError) in try USDALexer(bytes: layer).assetPaths() }
        switch (expected, found) {
        case (.failure(let expected), .failure(let found)):
            #expect(expected.offset == found.offset && expected.reason == found.reason, "\(shown)", sourceLocation: sourceLocation)
        case (.success(let expected), .success(let found)):
            #expect(expected.count == found.count, "\(shown)", sourceLocation: sourceLocation)
            for (expected, found) in zip(expected, found) {
                #expect(expected.range == found.range && expected.keyRange == found.keyRange && expected.unescaped == found.unescaped
                        && expected.tripleDelimited == found.tripleDelimited, "\(shown)", sourceLocation: sourceLocation)
            }
        default:
            Issue.record("the oracle says \(expected), the lexer \(found): \(shown)", sourceLocation: sourceLocation)
        }
    }
}
