/// Frame lists as the original Buildcat wrote them: `1,10-25,75-100:2` — single frames and
/// inclusive ranges with an optional step, in the order given, each frame once.
public struct FrameSpec: Sendable, Equatable {
    public let frames: [Int]

    /// The most frames one specification may name: a typo like `1-1000000000` should be an
    /// error, not ten gigabytes of job ids.
    public static let maximumFrames = 1_000_000

    public init(frames: [Int]) { self.frames = frames }

    /// Parses a specification.
    /// - Throws: `FrameSpecError` saying which part is wrong.
    public init(_ text: String) throws(FrameSpecError) {
        var frames: [Int] = []
        var seen: Set<Int> = []
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let piece = part.trimmingWhitespace()
            guard !piece.isEmpty else { throw FrameSpecError(spec: text, reason: "an empty item (two commas, or a comma at an end)") }
            var range = Substring(piece)
            var step = 1
            if let colon = piece.firstIndex(of: ":") {
                guard let value = Int(piece[piece.index(after: colon)...]), value > 0 else {
                    throw FrameSpecError(spec: text, reason: "'\(piece)': the step after ':' must be a whole number above 0")
                }
                step = value
                range = piece[..<colon]
            }
            let bounds: (Int, Int)
            if let dash = range.dropFirst().firstIndex(of: "-") {  // dropFirst: a negative first frame
                guard let first = Int(range[..<dash]), let last = Int(range[range.index(after: dash)...]) else {
                    throw FrameSpecError(spec: text, reason: "'\(piece)' is not FIRST-LAST")
                }
                guard first <= last else { throw FrameSpecError(spec: text, reason: "'\(piece)' ends before it starts") }
                bounds = (first, last)
            } else {
                guard let frame = Int(range) else { throw FrameSpecError(spec: text, reason: "'\(piece)' is not a frame number") }
                guard step == 1 else { throw FrameSpecError(spec: text, reason: "'\(piece)': a step needs a range") }
                bounds = (frame, frame)
            }
            for frame in stride(from: bounds.0, through: bounds.1, by: step) where seen.insert(frame).inserted {
                frames.append(frame)
                if frames.count > Self.maximumFrames {
                    throw FrameSpecError(spec: text, reason: "more than \(Self.maximumFrames) frames")
                }
            }
        }
        self.frames = frames
    }

    /// The frames in chunks of `size` (the last may be shorter), in order.
    public func chunks(of size: Int) -> [[Int]] {
        stride(from: 0, to: frames.count, by: max(size, 1)).map { Array(frames[$0..<min(frames.count, $0 + max(size, 1))]) }
    }
}

public struct FrameSpecError: Error, CustomStringConvertible, Sendable {
    public var spec: String
    public var reason: String
    public var description: String { "invalid frames '\(spec)': \(reason) (examples: 1-240, 1,10-25,75-100:2)" }
}

extension Substring {
    func trimmingWhitespace() -> Substring {
        var result = self
        while result.first?.isWhitespace == true { result = result.dropFirst() }
        while result.last?.isWhitespace == true { result = result.dropLast() }
        return result
    }
}
