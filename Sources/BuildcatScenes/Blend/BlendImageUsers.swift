import BuildcatBasics

/// Which frames of an image sequence a render needs: every `ImageUser` that shows an image,
/// found where Blender keeps them — image texture and environment nodes (their storage's
/// `iuser`), compositor image nodes (their storage is the `ImageUser`), textures (`Tex.iuser`),
/// image empties (`Object.iuser`) and camera backgrounds (`CameraBGImage.iuser`).
///
/// An image's users are known only when every pointer to it anywhere in the file is one of
/// those: any other (a kind of user not listed here, an image editor showing it, a script's
/// property) makes its frames unknown, and then every file of the sequence is needed at every
/// frame. (`ID.us` cannot tell: Blender writes it as 0 and counts again on loading.)
struct BlendImageUsers {
    let file: BlendFile

    /// The users of each of `images` (block indices) whose users are all known.
    func completeUsers(ofImages images: [Int]) throws -> [Int: [SequenceUser]] {
        let addresses = Dictionary(images.map { (file.blocks[$0].oldAddress, $0) }, uniquingKeysWith: { first, _ in first })
        var users: [UInt64: [SequenceUser]] = [:]
        var pointerCounts: [UInt64: Int] = [:]
        let imageBlocks = Set(images)
        for index in file.blocks.indices where !imageBlocks.contains(index) {
            for address in try file.pointers(in: index) where addresses[address] != nil {
                pointerCounts[address, default: 0] += 1
            }
            guard let layout = file.structOf(file.blocks[index]),
                  ["bNode", "Tex", "Object", "CameraBGImage"].contains(layout.name) else { continue }
            let data = try file.data(of: file.blocks[index])
            for view in file.views(of: index, data: data) {
                guard let (image, user) = try imageUser(view, layout: layout.name, block: index), addresses[image] != nil else { continue }
                users[image, default: []].append(user)
            }
        }
        var result: [Int: [SequenceUser]] = [:]
        for (address, index) in addresses {
            guard let found = users[address], found.count == pointerCounts[address] else { continue }
            result[index] = found
        }
        return result
    }

    private func imageUser(_ view: BlendStructView, layout: String, block: Int) throws -> (UInt64, SequenceUser)? {
        switch layout {
        case "bNode":
            guard let idname = view.string("idname")?.bytes, let image = view.pointer("id"), let storage = view.pointer("storage"),
                  let storageView = try pointedView(storage, from: block) else { return nil }
            switch String(decoding: idname, as: UTF8.self) {
            case "ShaderNodeTexImage", "ShaderNodeTexEnvironment":
                return storageView.embedded("iuser").flatMap(sequenceUser).map { (image, $0) }
            case "CompositorNodeImage":
                return sequenceUser(storageView).map { (image, $0) }
            default:
                return nil
            }
        case "Tex", "CameraBGImage":
            guard let image = view.pointer("ima"), let user = view.embedded("iuser").flatMap(sequenceUser) else { return nil }
            return (image, user)
        case "Object":
            guard view.integer("type") == 0, let image = view.pointer("data"), let pointer = view.pointer("iuser"),
                  let userView = try pointedView(pointer, from: block), let user = sequenceUser(userView) else { return nil }
            return (image, user)
        default:
            return nil
        }
    }

    private func pointedView(_ address: UInt64, from block: Int) throws -> BlendStructView? {
        guard address != 0, let target = file.block(at: address, from: file.blocks[block].owner) else { return nil }
        return file.views(of: target, data: try file.data(of: file.blocks[target])).first
    }

    private func sequenceUser(_ view: BlendStructView) -> SequenceUser? {
        guard let length = view.integer("frames"), let start = view.integer("sfra"), let offset = view.integer("offset") else { return nil }
        return SequenceUser(start: Int(start), length: Int(length), offset: Int(offset), cyclic: (view.integer("cycl") ?? 0) != 0)
    }
}
