/// The structure definitions a .blend carries in its `DNA1` block ("Struct DNA"): every struct
/// Blender wrote, with its fields' names, types and sizes. Field offsets are computed from it,
/// never assumed, so one reader serves every Blender version.
public struct SDNA: Sendable {
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

    public let structs: [Struct]
    let structIndex: [String: Int]
    public let pointerSize: Int

    public func structNamed(_ name: String) -> Struct? { structIndex[name].map { structs[$0] } }

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
        var structs: [Struct] = []
        structs.reserveCapacity(structCount)
        var index: [String: Int] = [:]
        // Each declaration is parsed once, however many structs use it.
        var parsedNames = [(name: String, pointerDepth: Int, arrayCount: Int)?](repeating: nil, count: names.count)
        for _ in 0..<structCount {
            let typeIndex = Int(try reader.int16())
            let fieldCount = Int(try reader.int16())
            guard types.indices.contains(typeIndex), fieldCount >= 0 else { throw SDNAError("a struct names type \(typeIndex), which does not exist") }
            var fields: [Field] = []
            fields.reserveCapacity(fieldCount)
            var offset = 0
            for _ in 0..<fieldCount {
                let fieldType = Int(try reader.int16())
                let fieldName = Int(try reader.int16())
                guard types.indices.contains(fieldType), names.indices.contains(fieldName) else {
                    throw SDNAError("a field of struct \(types[typeIndex]) names a type or name that does not exist")
                }
                let parsed = parsedNames[fieldName] ?? Self.parse(names[fieldName])
                parsedNames[fieldName] = parsed
                let unit = parsed.pointerDepth > 0 ? pointerSize : lengths[fieldType]
                let (size, overflow) = unit.multipliedReportingOverflow(by: parsed.arrayCount)
                guard !overflow, size >= 0, size < 1 << 30 else { throw SDNAError("field \(names[fieldName]) of struct \(types[typeIndex]) has an impossible size") }
                fields.append(Field(declaration: names[fieldName], name: parsed.name, typeName: types[fieldType], offset: offset,
                                    size: size, pointerDepth: parsed.pointerDepth, arrayCount: parsed.arrayCount))
                offset += size
            }
            let name = types[typeIndex]
            if index[name] == nil { index[name] = structs.count }
            structs.append(Struct(name: name, size: lengths[typeIndex], fields: fields))
        }
        self.structs = structs
        self.structIndex = index
        self.pointerSize = pointerSize
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
        guard bytes.count - offset >= 4, Array(bytes[offset..<offset + 4]) == tagBytes else {
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

    mutating func strings(count: Int) throws(SDNAError) -> [String] {
        var result: [String] = []
        result.reserveCapacity(count)
        for _ in 0..<count {
            guard let end = bytes[offset...].firstIndex(of: 0) else { throw SDNAError("the DNA1 block is truncated inside a name") }
            result.append(String(decoding: bytes[offset..<end], as: UTF8.self))
            offset = end + 1
        }
        return result
    }

    mutating func align() throws(SDNAError) {
        offset = (offset + 3) & ~3
        guard offset <= bytes.count else { throw SDNAError("the DNA1 block is truncated") }
    }
}
