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
        var tokensSection: (start: Int, size: Int)?
        for section in 0..<sectionCount {
            let entry = tableOfContents + 8 + section * 32
            guard entry + 32 <= bytes.count else { throw bad("its table of contents runs past the end") }
            let name = bytes[entry..<(entry + 16)].prefix { $0 != 0 }
            if Array(name) == Array("TOKENS".utf8) { tokensSection = (try uint64(entry + 16), try uint64(entry + 24)) }
        }
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
    }
}
