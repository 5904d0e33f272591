import BuildcatBasics
import SystemPackage

/// The token table of a USD binary layer (`.usdc`, "crate"): every token and string of the
/// layer, asset paths among them (an asset path value, a reference's or a payload's layer, a
/// sublayer — each is stored as a token). Read from the table of contents: the `TOKENS`
/// section, LZ4-compressed since crate version 0.4.0.
struct USDCrate {
    static let magic = Array("PXR-USDC".utf8)

    let tokens: [[UInt8]]
    let version: (major: Int, minor: Int, patch: Int)
    /// Every path the layer's FIELDS table holds (see `CrateValueReader`): asset values,
    /// sublayers, the layers of references and payloads; nil for a crate older than 0.4 (not read).
    private(set) var assetPaths: [[UInt8]]?

    /// - Throws: `SceneError` naming the file and what is wrong with it.
    init(_ bytes: [UInt8], path: FilePath) throws {
        func bad(_ reason: String) -> SceneError { SceneError(scene: displayPath(path), reason: "it is not a readable USD crate file: \(reason)") }
        let numbers = CrateNumbers(bytes: bytes)
        func uint64(_ at: Int) throws -> Int {
            guard at >= 0, at + 8 <= bytes.count else { throw bad("a field at byte \(at) lies past the end (\(bytes.count) bytes)") }
            guard let value = numbers.int(at, 8) else { throw bad("a field at byte \(at) is out of range") }
            return value
        }
        guard bytes.starts(with: Self.magic), bytes.count >= 88 else { throw bad("no PXR-USDC header") }
        version = (Int(bytes[8]), Int(bytes[9]), Int(bytes[10]))
        let tableOfContents = try uint64(16)
        guard tableOfContents < bytes.count else { throw bad("its table of contents lies past the end") }
        let sectionCount = try uint64(tableOfContents)
        guard sectionCount <= 64 else { throw bad("it claims \(sectionCount) sections") }
        var sections: [String: (start: Int, size: Int)] = [:]
        for section in 0..<sectionCount {
            let entry = tableOfContents + 8 + section * 32
            guard entry + 32 <= bytes.count else { throw bad("its table of contents runs past the end") }
            let name = String(decoding: bytes[entry..<(entry + 16)].prefix { $0 != 0 }, as: UTF8.self)
            let start = try uint64(entry + 16)
            let size = try uint64(entry + 24)
            guard start <= bytes.count, size <= bytes.count - start else { throw bad("its \(name) section runs past the end") }
            sections[name] = (start, size)
        }
        let tokensSection = sections["TOKENS"]
        guard let (start, size) = tokensSection else { throw bad("it has no TOKENS section") }
        guard start <= bytes.count, size <= bytes.count - start, size >= 16 else { throw bad("its TOKENS section runs past the end") }
        let count = try uint64(start)
        let characters: [UInt8]
        if version.major > 0 || version.minor >= 4 {
            let uncompressed = try uint64(start + 8)
            let compressed = try uint64(start + 16)
            guard uncompressed <= 1 << 30, size >= 24, compressed <= size - 24 else { throw bad("its TOKENS section claims \(compressed) bytes it does not have") }
            do {
                characters = try LZ4.decompressUSD(bytes[(start + 24)..<(start + 24 + compressed)], size: uncompressed)
            } catch {
                throw bad("its TOKENS section does not decompress (\(error.reason))")
            }
        } else {
            let length = try uint64(start + 8)
            guard length <= size - 16 else { throw bad("its TOKENS section claims \(length) bytes it does not have") }
            characters = Array(bytes[(start + 16)..<(start + 16 + length)])
        }
        let split = characters.split(separator: 0, omittingEmptySubsequences: false)
        guard count <= split.count else { throw bad("it claims \(count) tokens and holds \(split.count)") }
        tokens = split.prefix(count).map(Array.init)
        if version.major > 0 || version.minor >= 4, let strings = sections["STRINGS"], let fields = sections["FIELDS"] {
            do {
                assetPaths = try Self.assetPathValues(numbers, strings: strings, fields: fields, tokens: tokens,
                                                      payloadsHaveLayerOffsets: version >= (0, 8, 0))
            } catch let damage as Damage {
                throw bad(damage.reason)
            } catch let error as LZ4.Error {
                throw bad("its FIELDS table does not decompress (\(error.reason))")
            }
        }
    }

    /// Every asset path among the values of the FIELDS table (see `CrateValueReader`).
    /// - Throws: `Damage` when the tables or a value are damaged; `LZ4.Error`.
    private static func assetPathValues(_ numbers: CrateNumbers, strings: (start: Int, size: Int), fields: (start: Int, size: Int),
                                        tokens: [[UInt8]], payloadsHaveLayerOffsets: Bool) throws -> [[UInt8]] {
        let bytes = numbers.bytes
        guard let stringCount = numbers.int(strings.start, 8), stringCount <= strings.size / 4 else { throw Damage("its STRINGS table claims more strings than it holds") }
        let stringTokens = (0..<stringCount).compactMap { numbers.int(strings.start + 8 + 4 * $0, 4) }
        guard fields.size >= 16, let fieldCount = numbers.int(fields.start, 8), fieldCount <= 1 << 24,
              let indicesSize = numbers.int(fields.start + 8, 8), indicesSize <= fields.size - 16 else { throw Damage("its FIELDS table's header is not one") }
        let indicesStart = fields.start + 16
        // The fields' names are not needed, only their values; decoded to refuse a damaged table.
        _ = try USDIntegers.decode(bytes[indicesStart..<min(indicesStart + indicesSize, bytes.count)], count: fieldCount)
        let repsAt = indicesStart + indicesSize
        // LZ4 expands at most 255 times: more fields than that is a lie, not a file.
        guard let repsSize = numbers.int(repsAt, 8), repsAt <= bytes.count - 8, repsSize <= bytes.count - repsAt - 8,
              8 * fieldCount <= 255 * repsSize + 16 else { throw Damage("its FIELDS table's values run past the end") }
        let reps = CrateNumbers(bytes: try LZ4.decompressUSD(bytes[(repsAt + 8)..<(repsAt + 8 + repsSize)], size: 8 * fieldCount))
        var reader = CrateValueReader(numbers: numbers, tokens: tokens, stringTokens: stringTokens, payloadsHaveLayerOffsets: payloadsHaveLayerOffsets)
        for field in 0..<fieldCount {
            if let rep = reps.uint(8 * field, 8) { reader.collect(rep) }
        }
        if let damage = reader.damage { throw Damage(damage) }
        return reader.assetPaths
    }

    /// What is wrong with a crate's FIELDS or STRINGS, as a person reads it.
    private struct Damage: Error {
        var reason: String
        init(_ reason: String) { self.reason = reason }
    }
}

/// Little-endian numbers read from a crate whose every offset and count may be damaged: nil,
/// never a trap, for one that lies outside the file or does not fit an Int.
struct CrateNumbers {
    let bytes: [UInt8]

    func uint(_ at: Int, _ width: Int) -> UInt64? {
        guard at >= 0, at <= bytes.count - width else { return nil }
        var value: UInt64 = 0
        for index in 0..<width { value |= UInt64(bytes[at + index]) << (8 * UInt64(index)) }
        return value
    }

    func int(_ at: Int, _ width: Int) -> Int? { uint(at, width).flatMap { Int(exactly: $0) } }

    /// The position `at` plus the signed offset stored there, if it is a place in the file
    /// with room for a rep.
    func jump(from at: Int) -> Int? {
        guard let raw = uint(at, 8) else { return nil }
        let (target, overflow) = at.addingReportingOverflow(Int(Int64(bitPattern: raw)))
        return !overflow && target >= 0 && target <= bytes.count - 8 ? target : nil
    }
}
