import BuildcatBasics
import BuildcatScenes
import CBuildcatBytes
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
            let end = min((chunk + 1) * chunkSize, result.assets.count)
            var scene = LastScene()
            result.assets.withUnsafeBufferPointer { assets in
                result.references.withUnsafeBufferPointer { references in
                    for index in (chunk * chunkSize)..<end {
                        prefetch(ahead: index, before: end, assets: assets, references: references)
                        if index > 0 { out.append(UInt8(ascii: ",")) }
                        // Read in place: a copy of each counted its references up and down again,
                        // on memory the threads that made it last wrote.
                        let asset = assets.baseAddress! + index
                        let reference = references.baseAddress! + asset.pointee.reference
                        if asset.pointee.file.frame != nil || !appendPlainAsset(asset, reference, scene: &scene, to: &out) {
                            appendAsset(asset.pointee, reference.pointee, to: &out)
                        }
                    }
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
    private static func prefetch(ahead index: Int, before end: Int, assets: UnsafeBufferPointer<ScannedAsset>,
                                 references: UnsafeBufferPointer<SceneReference>) {
        func reference(ahead distance: Int) -> UnsafePointer<SceneReference> {
            references.baseAddress! + (assets.baseAddress! + index + distance).pointee.reference
        }
        if index + 2 * prefetchDistance < end { SceneReference.prefetch(reference(ahead: 2 * prefetchDistance), paths: false) }
        if index + prefetchDistance < end { SceneReference.prefetch(reference(ahead: prefetchDistance), paths: true) }
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

    /// An asset entry none of whose strings needs escaping (nearly every one), in one go, by
    /// `buildcat_json_plain_asset`: each text checked and copied into place with its labels.
    /// Field by field, a call and a capacity check each, writing the entries was a third of a
    /// large scan's CPU; checked, then composed in Swift, 900 instructions an entry; in C, 400.
    /// Every string is read in place: a copy of each counted a reference up and down again.
    /// - Returns: false, with nothing written, when a piece needs escaping.
    /// - Parameter scene: the last entry's scene, kept for the next: a scene's references come
    ///   one after another.
    private static func appendPlainAsset(_ asset: UnsafePointer<ScannedAsset>, _ reference: UnsafePointer<SceneReference>, scene: inout LastScene,
                                         to out: inout [UInt8]) -> Bool {
        // Asked before the reference is lent: asked inside, it kept the file's copy of the
        // reference counted for the whole entry.
        let isFileOfReference = asset.pointee.file.isFileOfReference
        return SceneReference.inPlace(reference) { reference in
            if scene.path.map({ reference.isInScene($0) }) != true { scene = LastScene(reference.scene) }
            var kind = reference.kind.rawValue
            var block = reference.block
            var field = reference.field
            let size = asset.pointee.file.size
            return scene.bytes.withUnsafeBufferPointer { sceneBytes in
                // The file of a single-file reference (nearly every one) has the reference's
                // resolved path: both paths are read from the reference, and nothing is copied.
                if isFileOfReference {
                    return appendPlainEntry(path: reference.resolved, size: size, kind: &kind, raw: reference.raw, scene: sceneBytes,
                                            block: &block, field: &field, to: &out)
                }
                return asset.pointee.file.withPathBytes { path in
                    appendPlainEntry(path: path, size: size, kind: &kind, raw: reference.raw, scene: sceneBytes, block: &block, field: &field, to: &out)
                }
            }
        }
    }

    /// The entry of `appendPlainAsset`, from its texts (false: one needs escaping).
    private static func appendPlainEntry(path: UnsafeBufferPointer<UInt8>, size: Int64, kind: inout String, raw: UnsafeBufferPointer<UInt8>,
                                         scene: UnsafeBufferPointer<UInt8>, block: inout String, field: inout String, to out: inout [UInt8]) -> Bool {
        kind.withUTF8 { kind in
            block.withUTF8 { block in
                field.withUTF8 { field in
                    let room = Int(BUILDCAT_JSON_ASSET_OVERHEAD) + path.count + kind.count + raw.count + scene.count + block.count + field.count
                    // Composed on the stack, then appended whole.
                    return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: room) { buffer in
                        let written = buildcat_json_plain_asset(buffer.baseAddress!, text(path), size, text(kind), text(raw),
                                                                text(scene), text(block), text(field))
                        guard written > 0 else { return false }
                        out.append(contentsOf: UnsafeBufferPointer(rebasing: buffer[..<written]))
                        return true
                    }
                }
            }
        }
    }

    private static func text(_ bytes: UnsafeBufferPointer<UInt8>) -> buildcat_text {
        buildcat_text(bytes: bytes.baseAddress.map(UnsafeRawPointer.init), count: bytes.count)
    }

    /// A scene's path as bytes, made once for a run of its references (comparing the path is one
    /// look at its storage, as the references of one scene share it).
    struct LastScene {
        var path: FilePath?
        var bytes: [UInt8] = []

        init(_ path: FilePath? = nil) {
            self.path = path
            if let path { bytes = path.bytes }
        }
    }
}
