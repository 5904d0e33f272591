import BuildcatBasics
import SystemPackage

/// Where each file goes in a submission's checkout (`submissions/<id>/files/`): files inside
/// the project keep their place relative to it; files from elsewhere go under `_external/`
/// followed by their absolute path, so two outside files never collide.
public struct CheckoutLayout: Sendable {
    /// The project's root, absolute and normalised.
    public let project: FilePath

    public init(project: FilePath) throws {
        self.project = try FileSystem.absolute(project)
    }

    /// The `/`-separated path inside the checkout for an absolute path.
    public func checkoutPath(for path: FilePath) -> [UInt8] {
        let normalized = path.lexicallyNormalized()
        if normalized.starts(with: project), normalized != project {
            return FilePath(root: nil, normalized.components.dropFirst(project.components.count)).bytes
        }
        return Array("_external".utf8) + normalized.bytes
    }

    /// The path from the file at `from` to `to` (both checkout paths), relative to the first's
    /// folder: `textures/a.png`, `../lib/b.blend`.
    public static func relativePath(from: [UInt8], to: [UInt8]) -> [UInt8] {
        var fromDirectory = from.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: true).map(Array.init)
        fromDirectory.removeLast()
        let target = to.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: true).map(Array.init)
        var common = 0
        while common < fromDirectory.count, common < target.count - 1, fromDirectory[common] == target[common] { common += 1 }
        var result: [UInt8] = []
        for _ in common..<fromDirectory.count { result += Array("../".utf8) }
        result += Array(target[common...].joined(separator: [UInt8(ascii: "/")]))
        return result
    }

    /// The path Blender would write from a file at `from` to `to`: `//` then the relative path.
    public static func blendRelative(from: [UInt8], to: [UInt8]) -> [UInt8] {
        Array("//".utf8) + relativePath(from: from, to: to)
    }
}
