import CBuildcatBytes

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

    /// The asset paths, in order (found in C: `buildcat_usda_asset_paths`, CBuildcatBytes/usda.c).
    func assetPaths() throws(LexError) -> [AssetPath] {
        var lexed = buildcat_usda_lexed()
        bytes.withUnsafeBytes { buildcat_usda_asset_paths($0.baseAddress, $0.count, &lexed) }
        defer { buildcat_usda_free(&lexed) }
        if let reason = Self.reason(lexed.error) { throw LexError(offset: lexed.error_offset, reason: reason) }
        return (0..<lexed.count).map { index in
            let found = lexed.paths[index]
            let range = found.start..<found.end
            return AssetPath(range: range, unescaped: found.escaped != 0 ? unescaped(range) : nil, tripleDelimited: found.triple_delimited != 0,
                             keyRange: found.key_start..<found.key_end)
        }
    }

    private static func reason(_ error: buildcat_usda_error) -> String? {
        switch error {
        case BUILDCAT_USDA_NO_ERROR: nil
        case BUILDCAT_USDA_STRING_NEVER_CLOSED: "a string is never closed"
        case BUILDCAT_USDA_STRING_NOT_CLOSED_ON_ITS_LINE: "a string is not closed on its line"
        case BUILDCAT_USDA_PRIM_PATH_NEVER_CLOSED: "a path '<' is never closed"
        case BUILDCAT_USDA_PATH_NEVER_CLOSED: "an asset path '@' is never closed"
        case BUILDCAT_USDA_PATH_NOT_CLOSED_ON_ITS_LINE: "an asset path '@' is not closed on its line"
        case BUILDCAT_USDA_TRIPLE_PATH_NEVER_CLOSED: "an asset path '@@@' is never closed"
        case BUILDCAT_USDA_TRIPLE_PATH_NOT_CLOSED_ON_ITS_LINE: "an asset path '@@@' is not closed on its line"
        default: "there was not enough memory to list its asset paths"
        }
    }

    /// The text of a `@@@` path in `range`, each `\@@@` in it an `@@@`.
    private func unescaped(_ range: Range<Int>) -> [UInt8] {
        var value: [UInt8] = []
        var index = range.lowerBound
        while index < range.upperBound {
            if bytes[index...].starts(with: Array("\\@@@".utf8)) {
                value += [0x40, 0x40, 0x40]
                index += 4
            } else {
                value.append(bytes[index])
                index += 1
            }
        }
        return value
    }
}
