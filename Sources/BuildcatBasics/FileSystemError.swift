import Glibc
import SystemPackage

/// A failed file-system operation: what was attempted, on which path, and why.
///
/// The description is a sentence a person can act on, for example
/// `cannot open 'textures/wood.png' for reading: No such file or directory`.
public struct FileSystemError: Error, CustomStringConvertible, Sendable {
    /// What kind of failure this is, for callers that react to some of them.
    public enum Code: Sendable, Equatable {
        case notFound
        case permissionDenied
        case exists
        case noSpace
        case readOnly
        case notADirectory
        case isADirectory
        case notRegularFile
        case symlinkLoop
        case changedWhileReading
        case invalidName
        case damaged
        case other
    }

    public var code: Code
    /// The verb phrase of what was attempted: "open for reading", "rename into place".
    public var operation: String
    /// The path concerned, as a person should see it.
    public var path: String
    /// The system's error, when a system call failed.
    public var errno: Errno?
    /// More detail when there is no errno, or beyond it.
    public var detail: String?

    public init(_ code: Code, operation: String, path: String, errno: Errno? = nil, detail: String? = nil) {
        self.code = code
        self.operation = operation
        self.path = path
        self.errno = errno
        self.detail = detail
    }

    /// An error from a failed system call, its code derived from errno.
    public init(operation: String, path: FilePath, errno: Errno) {
        self.init(Self.code(for: errno), operation: operation, path: displayPath(path), errno: errno)
    }

    public var description: String {
        var text = "cannot \(operation) '\(path)'"
        var reasons: [String] = []
        if let errno { reasons.append(Self.reason(for: errno)) }
        if let detail { reasons.append(detail) }
        if !reasons.isEmpty { text += ": " + reasons.joined(separator: "; ") }
        return text
    }

    static func code(for errno: Errno) -> Code {
        switch errno {
        case .noSuchFileOrDirectory: .notFound
        case .permissionDenied, .notPermitted: .permissionDenied
        case .fileExists: .exists
        case .noSpace, .diskQuotaExceeded: .noSpace
        case .readOnlyFileSystem: .readOnly
        case .notDirectory: .notADirectory
        case .isDirectory: .isADirectory
        case .tooManySymbolicLinkLevels: .symlinkLoop
        default: .other
        }
    }

    /// errno's text, with advice for the failures a share typically has.
    static func reason(for errno: Errno) -> String {
        switch errno {
        case .noSpace: "\(errno) (the file system is full)"
        case .diskQuotaExceeded: "\(errno) (the user's quota on this file system is used up)"
        case .readOnlyFileSystem: "\(errno) (the file system is mounted read-only)"
        default: "\(errno)"
        }
    }
}

/// A path for messages: the bytes as UTF-8 where they are UTF-8, `\xNN` where they are not, so
/// that a name that is not UTF-8 can still be told apart and found.
public func displayPath(_ path: FilePath) -> String {
    path.withBytes { displayBytes($0) }
}

/// Bytes as text for messages: valid UTF-8 as it is, every other byte as `\xNN`.
public func displayBytes<Bytes: Collection>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
    let array = Array(bytes)
    var result = ""
    var index = 0
    while index < array.count {
        let length = utf8SequenceLength(array, at: index)
        if length > 0 {
            result += String(decoding: array[index..<index + length], as: UTF8.self)
            index += length
        } else {
            result += "\\x" + String(array[index], radix: 16, uppercase: true).leftPadded(to: 2)
            index += 1
        }
    }
    return result
}

/// The length of the valid UTF-8 scalar starting at `index`, or 0 if the bytes there are not one
/// (overlong forms, surrogates and values above U+10FFFF are not valid, as in strict decoders).
public func utf8SequenceLength(_ bytes: [UInt8], at index: Int) -> Int {
    let lead = bytes[index]
    if lead < 0x80 { return 1 }
    let length: Int
    var lower: UInt8 = 0x80
    var upper: UInt8 = 0xBF
    switch lead {
    case 0xC2...0xDF: length = 2
    case 0xE0: length = 3; lower = 0xA0
    case 0xE1...0xEC, 0xEE...0xEF: length = 3
    case 0xED: length = 3; upper = 0x9F
    case 0xF0: length = 4; lower = 0x90
    case 0xF1...0xF3: length = 4
    case 0xF4: length = 4; upper = 0x8F
    default: return 0
    }
    guard index + length <= bytes.count else { return 0 }
    let second = bytes[index + 1]
    guard second >= lower && second <= upper else { return 0 }
    for offset in 2..<length where bytes[index + offset] & 0xC0 != 0x80 { return 0 }
    return length
}

extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
