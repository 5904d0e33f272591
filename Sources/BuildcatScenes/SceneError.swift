import BuildcatBasics

/// A scene file that cannot be read or rewritten, and why.
public struct SceneError: Error, CustomStringConvertible, Sendable {
    public var scene: String
    public var reason: String

    public init(scene: String, reason: String) {
        self.scene = scene
        self.reason = reason
    }

    public var description: String { "cannot read scene '\(scene)': \(reason)" }
}
