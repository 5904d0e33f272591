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
    /// The values of the layer's asset-path fields, read from its FIELDS table: an attribute's
    /// default, an array's elements, time samples, and dictionaries at any depth (value clips,
    /// custom data); nil for a crate older than 0.4 (not read).
    private(set) var assetPaths: [[UInt8]]?

    /// - Throws: `SceneError` naming the file and what is wrong with it.
    init(_ bytes: [UInt8], path: FilePath) throws {
        func bad(_ reason: String) -> SceneError { SceneError(scene: displayPath(path), reason: "it is not a readable USD crate file: \(reason)") }
        func uint64(_ at: Int) throws -> Int {
            guard at >= 0, at + 8 <= bytes.count else { throw bad("a field at byte \(at) lies past the end (\(bytes.count) bytes)") }
            var value: UInt64 = 0
            for index in 0..<8 { value |= UInt64(bytes[at + index]) << (8 * UInt64(index)) }
            guard value <= UInt64(Int.max) else { throw bad("a field at byte \(at) is out of range") }
            return Int(value)
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
                assetPaths = try Self.assetPathValues(bytes, strings: strings, fields: fields, tokens: tokens)
            } catch let error as LZ4.Error {
                throw bad("its FIELDS table does not decompress (\(error.reason))")
            }
        }
    }

    /// ValueRep: bit 63 array, 62 inlined, bits 48–55 the type (12: an asset path), the low 48
    /// bits the value or where it is. An inlined asset path is a token; an array of them is,
    /// where the value points, a count (uint64) then indices into the STRINGS table (uint32).
    private static func assetPathValues(_ bytes: [UInt8], strings: (start: Int, size: Int), fields: (start: Int, size: Int),
                                        tokens: [[UInt8]]) throws -> [[UInt8]] {
        let numbers = CrateNumbers(bytes: bytes)
        func uint(_ at: Int, _ width: Int) -> UInt64? { numbers.uint(at, width) }
        func int(_ at: Int, _ width: Int) -> Int? { numbers.int(at, width) }
        guard let stringCount = uint(strings.start, 8), stringCount <= UInt64(strings.size / 4) else { return [] }
        let stringTokens = (0..<Int(stringCount)).compactMap { int(strings.start + 8 + 4 * $0, 4) }
        guard fields.size >= 16, let fieldCount = int(fields.start, 8), fieldCount <= 1 << 24,
              let indicesSize = int(fields.start + 8, 8), indicesSize <= fields.size - 16 else { return [] }
        let indicesStart = fields.start + 16
        _ = try USDIntegers.decode(bytes[indicesStart..<min(indicesStart + indicesSize, bytes.count)], count: fieldCount)
        let repsAt = indicesStart + indicesSize
        // LZ4 expands at most 255 times: more fields than that is a lie, not a file.
        guard let repsSize = int(repsAt, 8), repsAt <= bytes.count - 8, repsSize <= bytes.count - repsAt - 8,
              8 * fieldCount <= 255 * repsSize + 16 else { return [] }
        let reps = try LZ4.decompressUSD(bytes[(repsAt + 8)..<(repsAt + 8 + repsSize)], size: 8 * fieldCount)
        var values: [[UInt8]] = []
        var budget = ValueBudget(remaining: 1 << 20)
        for field in 0..<fieldCount {
            var rep: UInt64 = 0
            for index in 0..<8 { rep |= UInt64(reps[8 * field + index]) << (8 * UInt64(index)) }
            collectAssetPaths(rep, depth: 0, into: &values, budget: &budget, bytes: bytes, tokens: tokens, stringTokens: stringTokens)
        }
        return values
    }

    /// The asset paths in one value rep of `bytes` (for tests: hostile values on their own).
    static func assetPaths(inValue rep: UInt64, bytes: [UInt8], tokens: [[UInt8]], stringTokens: [Int]) -> [[UInt8]] {
        var values: [[UInt8]] = []
        var budget = ValueBudget(remaining: 1 << 20)
        collectAssetPaths(rep, depth: 0, into: &values, budget: &budget, bytes: bytes, tokens: tokens, stringTokens: stringTokens)
        return values
    }

    /// How many more values a damaged or hostile crate may make the reader visit: dictionaries
    /// and time samples point at each other by offsets, which may loop.
    private struct ValueBudget {
        var remaining: Int
        mutating func spend(_ count: Int) -> Bool {
            guard count <= remaining else { remaining = 0; return false }
            remaining -= count
            return true
        }
    }

    /// The asset paths in one value: an asset path or an array of them (type 12), and those
    /// inside a dictionary (31: custom data, value clips) or time samples (46), at any depth.
    ///
    /// A dictionary is, where its rep points, a count (uint64) then per entry a key (uint32, a
    /// STRINGS index) and an offset (int64, from where it is) to the entry's rep; the next entry
    /// follows that rep. Time samples are an offset (int64, from where it is) to the times' rep,
    /// then after it an offset to a count (uint64) and the values' reps.
    private static func collectAssetPaths(_ rep: UInt64, depth: Int, into values: inout [[UInt8]], budget: inout ValueBudget,
                                          bytes: [UInt8], tokens: [[UInt8]], stringTokens: [Int]) {
        let numbers = CrateNumbers(bytes: bytes)
        func uint(_ at: Int, _ width: Int) -> UInt64? { numbers.uint(at, width) }
        func int(_ at: Int, _ width: Int) -> Int? { numbers.int(at, width) }
        func jump(from at: Int) -> Int? { numbers.jump(from: at) }
        guard depth < 32, budget.spend(1) else { return }
        let type = (rep >> 48) & 0xFF
        let payload = Int(rep & 0xFFFF_FFFF_FFFF)
        let isArray = rep >> 63 & 1 == 1
        let isInlined = rep >> 62 & 1 == 1
        switch type {
        case 12 where !isArray && isInlined:
            if payload < tokens.count { values.append(tokens[payload]) }
        case 12 where isArray && !isInlined:
            guard let count = int(payload, 8), count <= bytes.count / 4, budget.spend(count) else { return }
            for element in 0..<count {
                guard let index = int(payload + 8 + 4 * element, 4), index < stringTokens.count,
                      stringTokens[index] < tokens.count else { continue }
                values.append(tokens[stringTokens[index]])
            }
        case 31 where !isArray && !isInlined:
            guard let count = int(payload, 8), count <= bytes.count / 12 else { return }
            var entry = payload + 8
            for _ in 0..<count {
                guard let valueRep = jump(from: entry + 4), let inner = uint(valueRep, 8) else { return }
                collectAssetPaths(inner, depth: depth + 1, into: &values, budget: &budget, bytes: bytes, tokens: tokens, stringTokens: stringTokens)
                entry = valueRep + 8
            }
        case 46 where !isArray && !isInlined:
            guard let timesRep = jump(from: payload), let counted = jump(from: timesRep + 8),
                  let count = int(counted, 8), count <= bytes.count / 8 else { return }
            for sample in 0..<count {
                guard let inner = uint(counted + 8 + 8 * sample, 8) else { return }
                collectAssetPaths(inner, depth: depth + 1, into: &values, budget: &budget, bytes: bytes, tokens: tokens, stringTokens: stringTokens)
            }
        default:
            return
        }
    }
}

/// Little-endian numbers read from a crate whose every offset and count may be damaged: nil,
/// never a trap, for one that lies outside the file or does not fit an Int.
private struct CrateNumbers {
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
