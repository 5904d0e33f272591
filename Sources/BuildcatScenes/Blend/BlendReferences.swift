import BuildcatBasics
import Glibc
import SystemPackage

/// Finds the paths in a .blend's blocks: which structs hold paths, in which fields, and what
/// they mean, as Blender's own path walker (`bpy.utils.blend_paths`) sees them.
struct BlendReferenceExtractor {
    let file: BlendFile
    /// The directory `//` stands for: the directory of this file.
    let directory: FilePath

    init(file: BlendFile) throws {
        self.file = file
        var directory = try FileSystem.absolute(file.path)
        directory.removeLastComponent()
        self.directory = directory
    }

    /// Structs that can hold a path; blocks of other types are not read at all.
    static let structsWithPaths: Set<String> = [
        "Image", "Library", "bSound", "VFont", "MovieClip", "CacheFile", "CacheFileLayer", "Volume",
        "Sequence", "MeshCacheModifierData", "OceanModifierData", "FluidDomainSettings", "PointCache",
        "NodeShaderTexIES", "NodeShaderScript", "CustomDataExternal", "NodesModifierData",
    ]

    /// The references in the given blocks.
    func references(inBlocks indices: some Sequence<Int>) throws -> [SceneReference] {
        var references: [SceneReference] = []
        var sequences: [(reference: Int, image: Int)] = []
        for index in indices {
            guard let layout = file.structOf(file.blocks[index]), Self.structsWithPaths.contains(layout.name) else { continue }
            let data = try file.data(of: file.blocks[index])
            for view in file.views(of: index, data: data) {
                let found = try extract(view, layout: layout.name, block: index)
                if layout.name == "Image", found.first?.pattern == .frameSequence { sequences.append((references.count, index)) }
                references += found
            }
        }
        // Which frames of each image sequence the scene's frames show: read only when there is one.
        if !sequences.isEmpty {
            let users = try BlendImageUsers(file: file).completeUsers(ofImages: sequences.map(\.image))
            for (reference, image) in sequences { references[reference].sequenceUsers = users[image] }
        }
        return references
    }

    private func make(_ view: BlendStructView, _ field: (bytes: [UInt8], location: FieldLocation, declaration: String),
                      block: Int, kind: AssetKind, pattern: ReferencePattern, label: String? = nil) -> SceneReference? {
        guard !field.bytes.isEmpty else { return nil }
        // An ID block carries its own name; only data blocks need their owner's looked up.
        let block = label ?? view.idName().map(BlendFile.label) ?? file.idLabel(ofOwner: file.blocks[block].owner)
        return SceneReference(
            scene: file.path, block: block, field: field.declaration,
            raw: field.bytes, kind: kind, pattern: pattern,
            resolved: BlenderPath.resolve(field.bytes, relativeTo: directory), locations: [field.location])
    }

    /// Whether an ID's data is packed into the .blend (then it is not an external file).
    private func isPacked(_ view: BlendStructView) -> Bool {
        (view.pointer("packedfile") ?? 0) != 0 || (view.listFirst("packedfiles") ?? 0) != 0
    }

    private func extract(_ view: BlendStructView, layout: String, block: Int) throws -> [SceneReference] {
        let pathNames = ["filepath", "name"]
        switch layout {
        case "Image":
            guard !isPacked(view), let field = view.string(pathNames) else { return [] }
            // Image.source: 1 file, 2 sequence, 3 movie, 4 generated, 5 viewer, 6 tiled.
            switch view.integer("source") ?? 1 {
            case 1: return make(view, field, block: block, kind: .image, pattern: .file).map { [$0] } ?? []
            case 2: return make(view, field, block: block, kind: .image, pattern: .frameSequence).map { [$0] } ?? []
            case 3: return make(view, field, block: block, kind: .movie, pattern: .file).map { [$0] } ?? []
            case 6:
                let tiled = UDIM.hasToken(field.bytes)
                return make(view, field, block: block, kind: .image, pattern: tiled ? .udim : .file).map { [$0] } ?? []
            default: return []
            }
        case "Library":
            guard !isPacked(view), let field = view.string(pathNames) else { return [] }
            return make(view, field, block: block, kind: .library, pattern: .file).map { [$0] } ?? []
        case "bSound":
            guard !isPacked(view), let field = view.string(pathNames) else { return [] }
            return make(view, field, block: block, kind: .sound, pattern: .file).map { [$0] } ?? []
        case "VFont":
            guard !isPacked(view), let field = view.string(pathNames), field.bytes != Array("<builtin>".utf8) else { return [] }
            return make(view, field, block: block, kind: .font, pattern: .file).map { [$0] } ?? []
        case "MovieClip":
            guard let field = view.string(pathNames) else { return [] }
            // MovieClip.source: 1 image sequence, 2 movie file.
            let pattern: ReferencePattern = view.integer("source") == 1 ? .frameSequence : .file
            return make(view, field, block: block, kind: .movieClip, pattern: pattern).map { [$0] } ?? []
        case "CacheFile", "CacheFileLayer":
            guard let field = view.string("filepath") else { return [] }
            return make(view, field, block: block, kind: .cacheFile, pattern: .file).map { [$0] } ?? []
        case "Volume":
            guard !isPacked(view), let field = view.string("filepath") else { return [] }
            let pattern: ReferencePattern = (view.integer("is_sequence") ?? 0) != 0 ? .frameSequence : .file
            return make(view, field, block: block, kind: .volume, pattern: pattern).map { [$0] } ?? []
        case "Sequence":
            return try stripReferences(view, block: block)
        case "MeshCacheModifierData":
            guard let field = view.string("filepath") else { return [] }
            return make(view, field, block: block, kind: .meshCache, pattern: .file, label: modifierLabel(view, block: block)).map { [$0] } ?? []
        case "OceanModifierData":
            guard let field = view.string("cachepath") else { return [] }
            return make(view, field, block: block, kind: .oceanCache, pattern: .directory, label: modifierLabel(view, block: block)).map { [$0] } ?? []
        case "FluidDomainSettings":
            guard let field = view.string("cache_directory") else { return [] }
            return make(view, field, block: block, kind: .fluidCache, pattern: .directory).map { [$0] } ?? []
        case "PointCache":
            return pointCacheReferences(view, block: block)
        case "NodeShaderTexIES", "NodeShaderScript":
            // mode 1: an external file (0: text stored in the .blend).
            guard view.integer("mode") == 1, let field = view.string("filepath") else { return [] }
            return make(view, field, block: block, kind: layout == "NodeShaderTexIES" ? .ies : .script, pattern: .file).map { [$0] } ?? []
        case "NodesModifierData":
            return try geometryBakeReferences(view, block: block)
        case "CustomDataExternal":
            guard let field = view.string("filename") else { return [] }
            return make(view, field, block: block, kind: .externalData, pattern: .file).map { [$0] } ?? []
        default:
            return []
        }
    }

    /// A point cache baked to disk: its frames are `<name>_<frame>_<index>.bphys` files, in the
    /// cache's own directory when it is external, else in `//blendcache_<blend file's name>/`.
    /// Blender's `blend_paths` lists neither, but a render reads them, so they are references.
    private func pointCacheReferences(_ view: BlendStructView, block: Int) -> [SceneReference] {
        // PTCACHE_DISK_CACHE = 1 << 6, PTCACHE_EXTERNAL = 1 << 9.
        let flag = view.integer("flag") ?? 0
        guard let pathField = view.string("path"), let nameField = view.string("name") else { return [] }
        var prefix = nameField.bytes
        if prefix.isEmpty, let id = file.idName(of: file.blocks[block].owner) {
            // An unnamed cache is named by its ID's name in hexadecimal, without the type code.
            prefix = Array(id.dropFirst(2).map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined().utf8)
        }
        prefix += Array("_".utf8)
        var reference: SceneReference?
        if flag & (1 << 9) != 0 {
            reference = make(view, pathField, block: block, kind: .pointCache, pattern: .directory)
        } else if flag & (1 << 6) != 0 {
            let stem = file.path.stem.map { Array($0.utf8) } ?? []
            let raw = Array("//blendcache_".utf8) + stem
            reference = SceneReference(
                scene: file.path, block: file.idLabel(ofOwner: file.blocks[block].owner), field: "(default cache directory)",
                raw: raw, kind: .pointCache, pattern: .directory,
                resolved: BlenderPath.resolve(raw, relativeTo: directory), locations: [])
        }
        reference?.fileNamePrefix = prefix
        return reference.map { [$0] } ?? []
    }

    /// Geometry-nodes bakes kept on disk (Blender ≥ 4.1): each bake's own directory when it has
    /// a custom path, else the modifier's bake directory (one reference, for all its bakes).
    /// Blender's `blend_paths` lists none of them, but a render reads them.
    private func geometryBakeReferences(_ view: BlendStructView, block: Int) throws -> [SceneReference] {
        // Bake targets: 0 inherit (the modifier's), 1 packed into the .blend, 2 disk.
        // NodesModifierBake.flag: 1 << 1 is "custom path".
        let owner = file.blocks[block].owner
        let label = modifierLabel(view, block: block)
        let modifierTarget = view.integer("bake_target") ?? 0
        var usesModifierDirectory = false
        var references: [SceneReference] = []
        if let bakesAddress = view.pointer("bakes"), let bakesIndex = file.block(at: bakesAddress, from: owner),
           file.structOf(file.blocks[bakesIndex])?.name == "NodesModifierBake" {
            for bake in file.views(of: bakesIndex, data: try file.data(of: file.blocks[bakesIndex])) {
                let target = (bake.integer("bake_target") ?? 0) == 0 ? modifierTarget : bake.integer("bake_target") ?? 0
                guard target == 2 else { continue }
                if (bake.integer("flag") ?? 0) & (1 << 1) != 0,
                   let directory = try pointedString(bake, "directory", owner: owner), !directory.bytes.isEmpty {
                    references += make(bake, directory, block: block, kind: .geometryBake, pattern: .directory, label: label).map { [$0] } ?? []
                } else {
                    usesModifierDirectory = true
                }
            }
        }
        if usesModifierDirectory, let directory = try pointedString(view, "simulation_bake_directory", owner: owner) ?? pointedString(view, "bake_directory", owner: owner) {
            references += make(view, directory, block: block, kind: .geometryBake, pattern: .directory, label: label).map { [$0] } ?? []
        }
        return references
    }

    /// A `char *` field's string: the bytes of the block it points to, up to the NUL, and that
    /// block as the field's location (a new value must fit in it).
    private func pointedString(_ view: BlendStructView, _ name: String, owner: Int) throws -> (bytes: [UInt8], location: FieldLocation, declaration: String)? {
        guard let field = view.layout.field(name), field.pointerDepth == 1, field.typeName == "char",
              let address = view.pointer(name), let index = file.block(at: address, from: owner) else { return nil }
        let target = file.blocks[index]
        let data = try file.data(of: target)
        return (Array(data.prefix { $0 != 0 }), FieldLocation(offset: target.offset, capacity: data.count), field.declaration)
    }

    private func modifierLabel(_ view: BlendStructView, block: Int) -> String {
        let owner = file.idLabel(ofOwner: file.blocks[block].owner)
        guard let name = view.embedded("modifier")?.string("name")?.bytes else { return owner }
        return "\(owner): \(displayBytes(name))"
    }

    /// A sequencer strip's files: its directory joined with each element's name (every
    /// element of an image strip; the one file of a movie strip).
    private func stripReferences(_ view: BlendStructView, block: Int) throws -> [SceneReference] {
        // Sequence.type: 0 image, 3 movie, 4 and 5 sound (whose strips keep the file's path
        // besides their bSound's, and Blender reports both).
        let type = view.integer("type") ?? -1
        guard [0, 3, 4, 5].contains(type), let stripAddress = view.pointer("strip"),
              let stripIndex = file.block(at: stripAddress, from: file.blocks[block].owner),
              file.structOf(file.blocks[stripIndex])?.name == "Strip"
        else { return [] }
        guard let strip = file.views(of: stripIndex, data: try file.data(of: file.blocks[stripIndex])).first,
              let directoryField = strip.string("dir"), let elementsAddress = strip.pointer("stripdata"),
              let elementsIndex = file.block(at: elementsAddress, from: file.blocks[block].owner),
              file.structOf(file.blocks[elementsIndex])?.name == "StripElem"
        else { return [] }
        var elements = file.views(of: elementsIndex, data: try file.data(of: file.blocks[elementsIndex]))
        if type != 0 { elements = Array(elements.prefix(1)) }
        let label = (view.string("name")?.bytes).map { "SQ " + displayBytes($0.starts(with: Array("SQ".utf8)) ? Array($0.dropFirst(2)) : $0) }
            ?? file.idLabel(ofOwner: file.blocks[block].owner)
        return elements.compactMap { element -> SceneReference? in
            guard let nameField = element.string("name"), !nameField.bytes.isEmpty else { return nil }
            let raw = directoryField.bytes + nameField.bytes
            return SceneReference(
                scene: file.path, block: label, field: "\(directoryField.declaration) + \(nameField.declaration)",
                raw: raw, kind: .sequencerStrip, pattern: .file,
                resolved: BlenderPath.resolve(raw, relativeTo: directory),
                locations: [directoryField.location, nameField.location])
        }
    }
}

/// UDIM tile tokens in image paths.
enum UDIM {
    static let tokens = [Array("<UDIM>".utf8), Array("<UVTILE>".utf8)]

    static func hasToken(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBufferPointer { hasToken($0) }
    }

    static func hasToken(_ buffer: UnsafeBufferPointer<UInt8>) -> Bool {
        // Every token starts with '<', which most paths lack: one memchr settles those.
        guard let base = buffer.baseAddress, memchr(base, Int32(UInt8(ascii: "<")), buffer.count) != nil else { return false }
        return tokens.contains { token in buffer.indices.contains { buffer[$0...].starts(with: token) } }
    }
}
