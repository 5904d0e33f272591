import BuildcatBasics

/// Linked data: which IDs a file takes from which library, and which blocks of a library the
/// linking file actually uses.
extension BlendFile {
    static let placeholderCode = BlendBlock.code("ID")
    static let libraryCode = BlendBlock.code("LI")

    /// The IDs this file links, by the library block they come from: each `LI` block is
    /// followed by placeholder `ID` blocks naming what is taken from it.
    func linkedIDs(among indices: Set<Int>? = nil) -> [Int: Set<[UInt8]>] {
        var result: [Int: Set<[UInt8]>] = [:]
        var currentLibrary: Int?
        for (index, block) in blocks.enumerated() {
            if block.code == Self.libraryCode {
                currentLibrary = index
            } else if block.code == Self.placeholderCode {
                guard let library = currentLibrary, indices?.contains(index) ?? true, let name = idName(of: index) else { continue }
                result[library, default: []].insert(name)
            } else if block.code != BlendBlock.data {
                currentLibrary = nil
            }
        }
        return result
    }

    /// The ID blocks (and their data) reachable from the IDs named `names`, following every
    /// pointer the SDNA declares. Each block is visited once, so pointer loops end.
    /// - Parameter visited: blocks already visited by an earlier call; updated.
    /// - Returns: the newly reached blocks.
    func reachableBlocks(fromIDsNamed names: Set<[UInt8]>, visited: inout Set<Int>) throws -> [Int] {
        var queue: [Int] = []
        for (index, block) in blocks.enumerated() where block.isID && block.code != Self.placeholderCode && block.code != Self.libraryCode {
            if let name = idName(of: index), names.contains(name), visited.insert(index).inserted { queue.append(index) }
        }
        var reached: [Int] = []
        while let index = queue.popLast() {
            reached.append(index)
            let block = blocks[index]
            for address in try pointers(in: index) {
                guard let target = self.block(at: address, from: block.owner), visited.insert(target).inserted else { continue }
                queue.append(target)
            }
        }
        return reached
    }

    /// Every non-null pointer in a block: each pointer field of each struct in it (including
    /// fields of embedded structs), and the elements of pointer arrays that `**` fields name.
    func pointers(in index: Int) throws -> [UInt64] {
        let block = blocks[index]
        guard let layout = structOf(block) else { return [] }
        let offsets = pointerOffsets(of: layout)
        guard !offsets.isEmpty else { return [] }  // plain data (vertices, pixels): not even read
        let data = try self.data(of: block)
        let reader = self.reader(data)
        var result: [UInt64] = []
        let count = layout.size > 0 ? min(Int(block.count), data.count / layout.size) : 0
        for element in 0..<max(count, 0) {
            for (offset, depth) in offsets {
                guard let address = reader.pointer(at: element * layout.size + offset), address != 0 else { continue }
                result.append(address)
                if depth >= 2, let arrayIndex = self.block(at: address, from: block.owner) {
                    // A pointer array: its block holds plain pointers whatever its SDNA says.
                    let array = try self.data(of: blocks[arrayIndex])
                    let arrayReader = self.reader(array)
                    for slot in stride(from: 0, to: array.count - header.pointerSize + 1, by: header.pointerSize) {
                        if let element = arrayReader.pointer(at: slot), element != 0 { result.append(element) }
                    }
                }
            }
        }
        return result
    }

    /// The offsets of every pointer in a struct, embedded structs and arrays included.
    func pointerOffsets(of layout: SDNA.Struct) -> [(offset: Int, depth: Int)] {
        if let cached = pointerOffsetCache[layout.name] { return cached }
        var result: [(Int, Int)] = []
        var seen: Set<String> = [layout.name]
        collectPointerOffsets(layout, base: 0, into: &result, seen: &seen)
        pointerOffsetCache[layout.name] = result
        return result
    }

    private func collectPointerOffsets(_ layout: SDNA.Struct, base: Int, into result: inout [(Int, Int)], seen: inout Set<String>) {
        for field in layout.fields {
            if field.declaration.hasPrefix("(*") {
                continue  // a function pointer: never data in the file
            } else if field.pointerDepth > 0 {
                let step = header.pointerSize
                for element in 0..<min(field.arrayCount, field.size / max(step, 1)) {
                    result.append((base + field.offset + element * step, field.pointerDepth))
                }
            } else if let inner = sdna.structNamed(field.typeName), inner.size > 0, !seen.contains(inner.name) {
                seen.insert(inner.name)
                for element in 0..<min(field.arrayCount, 4096) {
                    collectPointerOffsets(inner, base: base + field.offset + element * inner.size, into: &result, seen: &seen)
                }
                seen.remove(inner.name)
            }
        }
    }
}
