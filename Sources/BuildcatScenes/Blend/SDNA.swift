import Synchronization

/// The structure definitions a .blend carries in its `DNA1` block ("Struct DNA"): every struct
/// Blender wrote, with its fields' names, types and sizes. Field offsets are computed from it,
/// never assumed, so one reader serves every Blender version.
///
/// Opening checks the whole table (every count and index in bounds) but decodes a struct's
/// fields only when the struct is first asked for: a scan touches a few dozen of the
/// thousand structs Blender describes.
public final class SDNA: Sendable {
    /// One field of a struct, as laid out in this file.
    public struct Field: Sendable {
        /// The declared name with its decorations: `*next`, `filepath[1024]`, `(*func)()`.
        public var declaration: String
        /// The bare name: `next`, `filepath`, `func`.
        public var name: String
        public var typeName: String
        public var offset: Int
        public var size: Int
        /// Pointer depth: 0 for a value, 1 for `*p`, 2 for `**p`; function pointers count as 1.
        public var pointerDepth: Int
        /// The product of the array dimensions (1 when it is not an array).
        public var arrayCount: Int
    }

    /// One struct: its name, size and fields.
    public struct Struct: Sendable {
        public var name: String
        public var size: Int
        public var fields: [Field]

        /// The first field with this bare name. Structs have at most a few hundred fields and
        /// are asked for few of them, so a scan beats building an index for every struct.
        public func field(_ name: String) -> Field? { fields.first { $0.name == name } }
    }

    public let pointerSize: Int
    private let bytes: [UInt8]
    private let littleEndian: Bool
    /// Byte ranges of the names and type names in `bytes`.
    private let names: [Range<Int>]
    private let types: [Range<Int>]
    private let lengths: [Int]
    /// Each struct's type index, and where its (type, name) pairs start in `bytes`.
    private let entries: [(type: Int, fields: Int, count: Int)]
    private let decoded = Mutex<[Int: Struct]>([:])
    private let byName = Mutex<[String: Int?]>([:])

    public var structCount: Int { entries.count }

    /// Parses the `DNA1` block's data.
    /// - Throws: a description of what is malformed (the caller adds the file's name).
    init(_ bytes: [UInt8], pointerSize: Int, littleEndian: Bool) throws(SDNAError) {
        var reader = SDNAReader(bytes: bytes, littleEndian: littleEndian)
        try reader.expect("SDNA")
        try reader.expect("NAME")
        let names = try reader.strings(count: try reader.count())
        try reader.align()
        try reader.expect("TYPE")
        let types = try reader.strings(count: try reader.count())
        try reader.align()
        try reader.expect("TLEN")
        var lengths: [Int] = []
        lengths.reserveCapacity(types.count)
        for _ in 0..<types.count { lengths.append(Int(try reader.int16())) }
        try reader.align()
        try reader.expect("STRC")
        let structCount = try reader.count()
        var entries: [(type: Int, fields: Int, count: Int)] = []
        entries.reserveCapacity(structCount)
        for _ in 0..<structCount {
            let typeIndex = Int(try reader.int16())
            let fieldCount = Int(try reader.int16())
            guard types.indices.contains(typeIndex), fieldCount >= 0 else { throw SDNAError("a struct names type \(typeIndex), which does not exist") }
            entries.append((typeIndex, reader.offset, fieldCount))
            for _ in 0..<fieldCount {
                let fieldType = Int(try reader.int16())
                let fieldName = Int(try reader.int16())
                guard types.indices.contains(fieldType), names.indices.contains(fieldName) else {
                    throw SDNAError("a field of a struct names a type or name that does not exist")
                }
            }
        }
        self.bytes = bytes
        self.littleEndian = littleEndian
        self.pointerSize = pointerSize
        self.names = names
        self.types = types
        self.lengths = lengths
        self.entries = entries
    }

    /// The struct at an SDNA index (as block headers give it), or nil if there is none or it
    /// is malformed.
    public func structAt(_ index: Int) -> Struct? {
        guard entries.indices.contains(index) else { return nil }
        if let cached = decoded.withLock({ $0[index] }) { return cached }
        guard let value = decode(index) else { return nil }
        decoded.withLock { $0[index] = value }
        return value
    }

    /// The struct with this type name.
    public func structNamed(_ name: String) -> Struct? {
        if let known = byName.withLock({ $0[name] }) { return known.flatMap(structAt) }
        let wanted = Array(name.utf8)
        let index = entries.indices.first { bytes[types[entries[$0].type]].elementsEqual(wanted) }
        byName.withLock { $0[name] = index }
        return index.flatMap(structAt)
    }

    private func text(_ range: Range<Int>) -> String { String(decoding: bytes[range], as: UTF8.self) }

    private func int16(at offset: Int) -> Int {
        let value = littleEndian ? UInt16(bytes[offset]) | UInt16(bytes[offset + 1]) << 8 : UInt16(bytes[offset + 1]) | UInt16(bytes[offset]) << 8
        return Int(Int16(bitPattern: value))
    }

    private func decode(_ index: Int) -> Struct? {
        let entry = entries[index]
        var fields: [Field] = []
        fields.reserveCapacity(entry.count)
        var offset = 0
        for field in 0..<entry.count {
            let position = entry.fields + field * 4
            let fieldType = int16(at: position)
            let declaration = text(names[int16(at: position + 2)])
            let parsed = Self.parse(declaration)
            let unit = parsed.pointerDepth > 0 ? pointerSize : lengths[fieldType]
            let (size, overflow) = unit.multipliedReportingOverflow(by: parsed.arrayCount)
            guard !overflow, size >= 0, size < 1 << 30 else { return nil }
            fields.append(Field(declaration: declaration, name: parsed.name, typeName: text(types[fieldType]), offset: offset,
                                size: size, pointerDepth: parsed.pointerDepth, arrayCount: parsed.arrayCount))
            offset += size
        }
        return Struct(name: text(types[entry.type]), size: lengths[entry.type], fields: fields)
    }

    /// Splits a field declaration into its bare name, pointer depth and array size.
    static func parse(_ declaration: String) -> (name: String, pointerDepth: Int, arrayCount: Int) {
        var text = Substring(declaration)
        var pointerDepth = 0
        if text.hasPrefix("(*") {  // a function pointer: (*name)()
            let name = text.dropFirst(2).prefix { $0 != ")" }
            return (String(name), 1, 1)
        }
        while text.first == "*" {
            pointerDepth += 1
            text = text.dropFirst()
        }
        let name = text.prefix { $0 != "[" }
        var arrayCount = 1
        var rest = text.dropFirst(name.count)
        while rest.first == "[" {
            let digits = rest.dropFirst().prefix { $0 != "]" }
            let value = Int(digits) ?? 1
            let (product, overflow) = arrayCount.multipliedReportingOverflow(by: max(value, 0))
            arrayCount = overflow ? Int.max / 2 : product
            rest = rest.dropFirst(digits.count + 2)
        }
        return (String(name), pointerDepth, arrayCount)
    }
}

/// What is wrong with an SDNA block.
struct SDNAError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Bounds-checked reading of the SDNA block; every count is checked against what is left.
private struct SDNAReader {
    let bytes: [UInt8]
    let littleEndian: Bool
    var offset = 0

    mutating func expect(_ tag: String) throws(SDNAError) {
        let tagBytes = Array(tag.utf8)
        guard bytes.count - offset >= 4, bytes[offset..<offset + 4].elementsEqual(tagBytes) else {
            throw SDNAError("the DNA1 block has no \(tag) section where it should")
        }
        offset += 4
    }

    mutating func int32() throws(SDNAError) -> Int32 {
        guard bytes.count - offset >= 4 else { throw SDNAError("the DNA1 block is truncated") }
        let b = bytes[offset..<offset + 4].map(UInt32.init)
        offset += 4
        let value = littleEndian ? b[0] | b[1] << 8 | b[2] << 16 | b[3] << 24 : b[3] | b[2] << 8 | b[1] << 16 | b[0] << 24
        return Int32(bitPattern: value)
    }

    mutating func int16() throws(SDNAError) -> Int16 {
        guard bytes.count - offset >= 2 else { throw SDNAError("the DNA1 block is truncated") }
        let value = littleEndian ? UInt16(bytes[offset]) | UInt16(bytes[offset + 1]) << 8 : UInt16(bytes[offset + 1]) | UInt16(bytes[offset]) << 8
        offset += 2
        return Int16(bitPattern: value)
    }

    /// A count, which cannot exceed the bytes left (every counted item takes at least one).
    mutating func count() throws(SDNAError) -> Int {
        let value = Int(try int32())
        guard value >= 0, value <= bytes.count - offset else { throw SDNAError("the DNA1 block claims \(value) entries, more than it holds") }
        return value
    }

    /// `count` NUL-terminated strings, as byte ranges.
    mutating func strings(count: Int) throws(SDNAError) -> [Range<Int>] {
        var result: [Range<Int>] = []
        result.reserveCapacity(count)
        for _ in 0..<count {
            guard let end = bytes[offset...].firstIndex(of: 0) else { throw SDNAError("the DNA1 block is truncated inside a name") }
            result.append(offset..<end)
            offset = end + 1
        }
        return result
    }

    mutating func align() throws(SDNAError) {
        offset = (offset + 3) & ~3
        guard offset <= bytes.count else { throw SDNAError("the DNA1 block is truncated") }
    }
}
