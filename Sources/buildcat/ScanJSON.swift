import BuildcatBasics
import BuildcatScenes
import SystemPackage

/// `scan --json`: the scan as JSON, written an entry at a time (a scan of 100,000 files is
/// megabytes), the assets made in chunks on every core and written in order.
enum ScanJSON {
    static func write(_ result: ScanResult, to output: ByteWriter) {
        output.write(building: { JSONWriter.appendRaw(#"{"scenes":["#, to: &$0) })
        for (index, scene) in result.scenes.enumerated() {
            output.write { out in
                if index > 0 { out.append(UInt8(ascii: ",")) }
                JSONWriter.appendRaw(#"{"path":"#, to: &out)
                JSONWriter.appendFileName(scene.path, to: &out)
                JSONWriter.appendRaw(#","format":"#, to: &out)
                JSONWriter.appendString(scene.format, to: &out)
                out.append(UInt8(ascii: "}"))
            }
        }
        output.write(building: { JSONWriter.appendRaw(#"],"assets":["#, to: &$0) })
        // Chunks small enough that their buffers come from the heap and are used again
        // (a buffer of a megabyte is mapped anew, page by page, each time).
        let chunkSize = 256
        Parallel.renderInOrder(count: (result.assets.count + chunkSize - 1) / chunkSize, render: { chunk, out in
            var repeated = RepeatedJSON()
            let end = min((chunk + 1) * chunkSize, result.assets.count)
            for index in (chunk * chunkSize)..<end {
                prefetch(ahead: index, before: end, in: result)
                if index > 0 { out.append(UInt8(ascii: ",")) }
                let asset = result.assets[index]
                if asset.file.frame != nil || !appendPlainAsset(asset, result.references[asset.reference], repeated: &repeated, to: &out) {
                    appendAsset(asset, result.references[asset.reference], to: &out)
                }
            }
        }, emit: { output.writeUnbuffered($0) })
        output.write(building: { JSONWriter.appendRaw(#"],"missing":["#, to: &$0) })
        for (index, referenceIndex) in result.missing.enumerated() {
            output.write { out in
                if index > 0 { out.append(UInt8(ascii: ",")) }
                JSONWriter.appendRaw(#"{"path":"#, to: &out)
                JSONWriter.appendFileName(result.references[referenceIndex].resolvedBytes, to: &out)
                appendOrigin(result.references[referenceIndex], to: &out)
                if let reason = result.references[referenceIndex].unresolvable {
                    JSONWriter.appendRaw(#","unresolvable":"#, to: &out)
                    JSONWriter.appendString(reason, to: &out)
                }
                out.append(UInt8(ascii: "}"))
            }
        }
        output.write(building: { JSONWriter.appendRaw("]}\n", to: &$0) })
    }

    /// How far ahead of the entry being written its references' memory is asked for: the
    /// references were made on other threads long before, and are mostly out of the caches.
    private static let prefetchDistance = 12

    /// Asks for the fields of the entry two distances ahead, and the paths of the one a
    /// distance ahead (its fields asked for a distance ago).
    private static func prefetch(ahead index: Int, before end: Int, in result: ScanResult) {
        result.assets.withUnsafeBufferPointer { assets in
            result.references.withUnsafeBufferPointer { references in
                if index + 2 * prefetchDistance < end { references[assets[index + 2 * prefetchDistance].reference].prefetch(paths: false) }
                if index + prefetchDistance < end { references[assets[index + prefetchDistance].reference].prefetch(paths: true) }
            }
        }
    }

    /// An asset entry, field by field, each escaped as it needs.
    private static func appendAsset(_ asset: ScannedAsset, _ reference: SceneReference, to out: inout [UInt8]) {
        JSONWriter.appendRaw(#"{"path":"#, to: &out)
        JSONWriter.appendFileName(asset.file.pathBytes, to: &out)
        JSONWriter.appendRaw(#","size":"#, to: &out)
        JSONWriter.appendInteger(asset.file.size, to: &out)
        appendOrigin(reference, to: &out)
        if let frame = asset.file.frame {
            JSONWriter.appendRaw(#","frames":["#, to: &out)
            JSONWriter.appendInteger(Int64(frame), to: &out)
            out.append(UInt8(ascii: "]"))
        }
        out.append(UInt8(ascii: "}"))
    }

    /// The fields every entry has after its path: kind, raw, scene, block, field.
    private static func appendOrigin(_ reference: SceneReference, to out: inout [UInt8]) {
        JSONWriter.appendRaw(#","kind":"#, to: &out)
        JSONWriter.appendString(reference.kind.rawValue, to: &out)
        JSONWriter.appendRaw(#","raw":"#, to: &out)
        JSONWriter.appendFileName(reference.raw, to: &out)
        JSONWriter.appendRaw(#","scene":"#, to: &out)
        JSONWriter.appendFileName(reference.scene, to: &out)
        JSONWriter.appendRaw(#","block":"#, to: &out)
        JSONWriter.appendString(reference.block, to: &out)
        JSONWriter.appendRaw(#","field":"#, to: &out)
        JSONWriter.appendString(reference.field, to: &out)
    }

    /// An asset entry whose path, raw path and block need no escaping (nearly every one), in
    /// one go: the bytes it takes counted, then each piece copied into place. Field by field, a
    /// call and a capacity check each, writing the entries was a third of a large scan's CPU.
    /// - Returns: false, with nothing written, when a piece needs escaping.
    private static func appendPlainAsset(_ asset: ScannedAsset, _ reference: SceneReference, repeated: inout RepeatedJSON, to out: inout [UInt8]) -> Bool {
        var block = reference.block
        let kind = repeated.kind.json(for: reference.kind) { kind, json in
            JSONWriter.appendRaw(#","kind":"#, to: &json)
            JSONWriter.appendString(kind.rawValue, to: &json)
            JSONWriter.appendRaw(#","raw":""#, to: &json)
        }
        let scene = repeated.scene.json(for: reference.scene) { scene, json in
            JSONWriter.appendRaw(#"","scene":"#, to: &json)
            JSONWriter.appendFileName(scene, to: &json)
            JSONWriter.appendRaw(#","block":""#, to: &json)
        }
        let field = repeated.field.json(for: reference.field) { field, json in
            JSONWriter.appendRaw(#"","field":"#, to: &json)
            JSONWriter.appendString(field, to: &json)
            json.append(UInt8(ascii: "}"))
        }
        let opening: StaticString = #"{"path":""#
        let size: StaticString = #"","size":"#
        return asset.file.pathBytes.withUnsafeBytes { path in
            reference.raw.withUnsafeBytes { raw in
                block.withUTF8 { block in
                    guard JSONWriter.isPlain(path.assumingMemoryBound(to: UInt8.self)), JSONWriter.isPlain(raw.assumingMemoryBound(to: UInt8.self)),
                          JSONWriter.isPlain(block) else { return false }
                    let total = opening.utf8CodeUnitCount + path.count + size.utf8CodeUnitCount + 20 + kind.count + raw.count + scene.count + block.count + field.count
                    // Composed on the stack, then appended whole.
                    withUnsafeTemporaryAllocation(byteCount: total, alignment: 1) { buffer in
                        var entry = EntryBuilder(base: buffer.baseAddress!)
                        entry.put(UnsafeRawBufferPointer(start: opening.utf8Start, count: opening.utf8CodeUnitCount))
                        entry.put(path)
                        entry.put(UnsafeRawBufferPointer(start: size.utf8Start, count: size.utf8CodeUnitCount))
                        entry.count += JSONWriter.writeInteger(asset.file.size, to: entry.base + entry.count)
                        kind.withUnsafeBytes { entry.put($0) }
                        entry.put(raw)
                        scene.withUnsafeBytes { entry.put($0) }
                        entry.put(UnsafeRawBufferPointer(block))
                        field.withUnsafeBytes { entry.put($0) }
                        out.append(contentsOf: UnsafeBufferPointer(start: entry.base.assumingMemoryBound(to: UInt8.self), count: entry.count))
                    }
                    return true
                }
            }
        }
    }

    /// An entry composed in memory of its own, a piece after another.
    private struct EntryBuilder {
        let base: UnsafeMutableRawPointer
        var count = 0

        mutating func put(_ piece: UnsafeRawBufferPointer) {
            if piece.count > 0 { (base + count).copyMemory(from: piece.baseAddress!, byteCount: piece.count) }
            count += piece.count
        }
    }

    /// The JSON of what repeats from one asset entry to the next, each made once per run: a
    /// scene file's references come one after another, most of one kind and field, and making
    /// the scene's path and these strings JSON again for each was a third of the time of
    /// writing a large scan. The pieces hold the quotes around the fields between them.
    struct RepeatedJSON {
        var kind = Piece<AssetKind>()
        var scene = Piece<FilePath>()
        var field = Piece<String>()

        /// The JSON of the last two values, kept for the same values again (a layer's own
        /// sublayer comes between its textures: two kinds and two fields alternate).
        struct Piece<Value: Equatable> {
            private var last: (value: Value, json: [UInt8])?
            private var before: (value: Value, json: [UInt8])?

            mutating func json(for value: Value, render: (Value, inout [UInt8]) -> Void) -> [UInt8] {
                if let last, last.value == value { return last.json }
                if let before, before.value == value {
                    swap(&self.last, &self.before)
                    return before.json
                }
                var json: [UInt8] = []
                render(value, &json)
                before = last
                last = (value, json)
                return json
            }
        }
    }
}
