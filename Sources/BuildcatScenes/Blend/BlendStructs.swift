import BuildcatBasics

/// Reading struct fields out of a block's data by name, through the file's own SDNA.
struct BlendStructView {
    let file: BlendFile
    let layout: SDNA.Struct
    let reader: BlendReader
    /// Where this struct starts in the block's data, and the block's data in the file.
    let base: Int
    let blockOffset: Int64

    func integer(_ name: String) -> Int64? {
        guard let field = layout.field(name), field.pointerDepth == 0, [1, 2, 4, 8].contains(field.size / field.arrayCount) else { return nil }
        let size = field.size / field.arrayCount
        guard let value = reader.integer(at: base + field.offset, size: size) else { return nil }
        // Sign-extend: SDNA integers are signed unless their type says otherwise.
        let shift = UInt64(64 - 8 * size)
        return field.typeName.hasPrefix("u") ? Int64(bitPattern: value) : Int64(bitPattern: value << shift) >> Int64(shift)
    }

    func pointer(_ name: String) -> UInt64? {
        guard let field = layout.field(name), field.pointerDepth > 0 else { return nil }
        return reader.pointer(at: base + field.offset)
    }

    /// A `ListBase` field's `first` pointer.
    func listFirst(_ name: String) -> UInt64? {
        guard let field = layout.field(name), field.typeName == "ListBase" else { return nil }
        return reader.pointer(at: base + field.offset)
    }

    /// A char array field: its text up to the NUL, and where it is for rewriting.
    func string(_ name: String) -> (bytes: [UInt8], location: FieldLocation, declaration: String)? {
        guard let field = layout.field(name), field.pointerDepth == 0, field.typeName == "char" else { return nil }
        guard let bytes = reader.cString(at: base + field.offset, capacity: field.size) else { return nil }
        return (bytes, FieldLocation(offset: blockOffset + Int64(base + field.offset), capacity: field.size), field.declaration)
    }

    /// The first of several alternative names that exists (fields renamed between versions).
    func string(_ names: [String]) -> (bytes: [UInt8], location: FieldLocation, declaration: String)? {
        for name in names { if let value = string(name) { return value } }
        return nil
    }

    /// The name of the ID this struct is, when it starts with `ID id` (every ID type does).
    func idName() -> [UInt8]? {
        guard let first = layout.fields.first, first.typeName == "ID", first.offset == 0,
              let nameField = file.sdna.structNamed("ID")?.field("name") else { return nil }
        return reader.cString(at: base + nameField.offset, capacity: nameField.size)
    }

    /// An embedded struct field (not a pointer) as a view of its own.
    func embedded(_ name: String) -> BlendStructView? {
        guard let field = layout.field(name), field.pointerDepth == 0, let inner = file.sdna.structNamed(field.typeName) else { return nil }
        return BlendStructView(file: file, layout: inner, reader: reader, base: base + field.offset, blockOffset: blockOffset)
    }
}

extension BlendFile {
    /// Views of every struct in a block (a block can hold an array of them).
    func views(of index: Int, data: [UInt8]) -> [BlendStructView] {
        let block = blocks[index]
        guard let layout = structOf(block), layout.size > 0 else { return [] }
        let count = min(Int(block.count), data.count / layout.size)
        let reader = self.reader(data)
        return (0..<max(count, 0)).map { BlendStructView(file: self, layout: layout, reader: reader, base: $0 * layout.size, blockOffset: block.offset) }
    }

    /// The name of the ID a block belongs to, as Blender shows it with its code: `IM wood`.
    func idLabel(ofOwner owner: Int) -> String {
        guard blocks.indices.contains(owner), let raw = idName(of: owner) else { return "(no ID)" }
        return Self.label(raw)
    }

    /// `IMwood` as `IM wood`.
    static func label(_ idName: [UInt8]) -> String {
        guard idName.count > 2 else { return displayBytes(idName) }
        return displayBytes(idName.prefix(2)) + " " + displayBytes(idName.dropFirst(2))
    }

    /// The `name` of an ID block (`IMwood`): two letters of type, then the name.
    func idName(of index: Int) -> [UInt8]? {
        let block = blocks[index]
        guard let idStruct = sdna.structNamed("ID"), let nameField = idStruct.field("name") else { return nil }
        // Every ID struct starts with `ID id`, so the name is at the same offset in all of them.
        let length = min(Int64(nameField.offset + nameField.size), block.length)
        guard length > Int64(nameField.offset), let bytes = try? storage.read(at: block.offset, count: Int(length)) else { return nil }
        return Array(bytes[nameField.offset...].prefix { $0 != 0 })
    }
}
