/// The asset paths in a USD crate's values, found by walking each value's rep.
///
/// A rep (ValueRep) is 64 bits: bit 63 array, 62 inlined, bits 48–55 the type, the low 48 bits
/// the value itself or where it is in the file. The types read:
/// - 12, an asset path: inlined, a token; an array, where it points a count (uint64) then
///   STRINGS indices (uint32).
/// - 31, a dictionary (custom data, value clips): a count (uint64), then per entry a key
///   (uint32) and an offset (int64, from where it is) to the entry's rep; the next entry
///   follows that rep.
/// - 46, time samples: an offset (int64, from where it is) to the times' rep; after that rep an
///   offset to a count (uint64) and the values' reps.
/// - 50, a string vector: a count (uint64) then STRINGS indices (uint32); the one field that
///   holds one is a layer's `subLayers`.
/// - 47, a payload on its own (older files): its asset path (a STRINGS index) first.
/// - 35 and 55, reference and payload list ops: a header byte whose bits say which lists follow
///   (explicit 2, added 4, deleted 8, ordered 16, prepended 32, appended 64), each a count
///   (uint64) and its items. A reference is its asset path (a STRINGS index), prim path (uint32),
///   layer offset (two doubles) and custom data (a dictionary, inline); a payload the same
///   without custom data, and without the layer offset before crate 0.8.
///
/// The crate shares one copy of a value among the fields that hold it: each value is walked once.
/// A value that points outside the file, counts more than the file holds, names a string or
/// token that is not there, nests deeper than 32 or holds itself (offsets that loop) is damage:
/// the walk stops there and says so in `damage`, so that a damaged crate is refused rather than
/// read for fewer paths than it has.
struct CrateValueReader {
    let numbers: CrateNumbers
    let tokens: [[UInt8]]
    /// The token index of each STRINGS entry.
    let stringTokens: [Int]
    let payloadsHaveLayerOffsets: Bool
    private(set) var assetPaths: [[UInt8]] = []
    /// The first damage found, as the reason a person reads; nil for a sound crate.
    private(set) var damage: String?
    /// Where the values walked (or being walked) lie in the file.
    private var visited: Set<Int> = []
    /// Where the values being walked lie: the path from a field's value down to this one.
    private var walking: Set<Int> = []

    init(numbers: CrateNumbers, tokens: [[UInt8]], stringTokens: [Int], payloadsHaveLayerOffsets: Bool) {
        self.numbers = numbers
        self.tokens = tokens
        self.stringTokens = stringTokens
        self.payloadsHaveLayerOffsets = payloadsHaveLayerOffsets
    }

    /// Adds the asset paths in the value `rep` stands for.
    mutating func collect(_ rep: UInt64, depth: Int = 0) {
        guard damage == nil else { return }
        guard depth < 32 else { return damaged("its values nest more than 32 deep") }
        let type = (rep >> 48) & 0xFF
        let payload = Int(rep & 0xFFFF_FFFF_FFFF)
        let isArray = rep >> 63 & 1 == 1
        let isInlined = rep >> 62 & 1 == 1
        if !isInlined {
            guard !walking.contains(payload) else { return damaged("a value at byte \(payload) holds itself") }
            guard visited.insert(payload).inserted else { return }
            walking.insert(payload)
        }
        defer { if !isInlined { walking.remove(payload) } }
        switch type {
        case 12 where !isArray && isInlined:
            guard payload < tokens.count else { return damaged("an asset path names token \(payload) of \(tokens.count)") }
            assetPaths.append(tokens[payload])
        case 12 where isArray && !isInlined, 50 where !isArray && !isInlined:
            guard let count = numbers.int(payload, 8), count <= numbers.bytes.count / 4 else { return damaged("a list of paths at byte \(payload) runs past the end") }
            for element in 0..<count { appendString(at: payload + 8 + 4 * element) }
        case 31 where !isArray && !isInlined:
            _ = walkDictionary(at: payload, depth: depth)
        case 46 where !isArray && !isInlined:
            guard let timesRep = numbers.jump(from: payload), let counted = numbers.jump(from: timesRep + 8),
                  let count = numbers.int(counted, 8), count <= numbers.bytes.count / 8 else { return damaged("time samples at byte \(payload) point past the end") }
            for sample in 0..<count {
                guard let inner = numbers.uint(counted + 8 + 8 * sample, 8) else { return damaged("time samples at byte \(payload) run past the end") }
                collect(inner, depth: depth + 1)
            }
        case 47 where !isArray && !isInlined:
            appendString(at: payload)  // a payload on its own (before list ops): its asset path first
        case 35 where !isArray && !isInlined:
            walkListOp(at: payload, depth: depth, isReference: true)
        case 55 where !isArray && !isInlined:
            walkListOp(at: payload, depth: depth, isReference: false)
        default:
            return
        }
    }

    private mutating func damaged(_ reason: String) {
        if damage == nil { damage = reason }
    }

    /// The asset path a STRINGS index at `at` names.
    private mutating func appendString(at: Int) {
        guard let index = numbers.int(at, 4), index < stringTokens.count, stringTokens[index] < tokens.count else {
            return damaged("a path at byte \(at) names a string that is not in the STRINGS table")
        }
        assetPaths.append(tokens[stringTokens[index]])
    }

    /// Collects a dictionary's asset paths; returns where it ends, nil if it runs out of the file.
    private mutating func walkDictionary(at start: Int, depth: Int) -> Int? {
        guard let count = numbers.int(start, 8), count <= numbers.bytes.count / 12 else {
            damaged("a dictionary at byte \(start) runs past the end")
            return nil
        }
        var entry = start + 8
        for _ in 0..<count {
            guard let valueRep = numbers.jump(from: entry + 4), let inner = numbers.uint(valueRep, 8) else {
                damaged("a dictionary at byte \(start) points past the end")
                return nil
            }
            collect(inner, depth: depth + 1)
            entry = valueRep + 8
        }
        return entry
    }

    private mutating func walkListOp(at start: Int, depth: Int, isReference: Bool) {
        guard let header = numbers.uint(start, 1) else { return damaged("a list of references at byte \(start) lies past the end") }
        var position = start + 1
        // In the order the lists are written: explicit, added, prepended, appended, deleted, ordered.
        for bit: UInt64 in [2, 4, 32, 64, 8, 16] where header & bit != 0 {
            guard let count = numbers.int(position, 8), count <= numbers.bytes.count / 8 else {
                return damaged("a list of references at byte \(start) runs past the end")
            }
            position += 8
            for _ in 0..<count {
                // What a list op deletes is no dependency; it is walked past all the same.
                if bit != 8 { appendString(at: position) }
                position += 8  // asset path and prim path
                if isReference || payloadsHaveLayerOffsets { position += 16 }
                if isReference {
                    guard let end = walkDictionary(at: position, depth: depth) else { return }
                    position = end
                }
                guard position <= numbers.bytes.count else { return damaged("a list of references at byte \(start) runs past the end") }
            }
        }
    }
}
