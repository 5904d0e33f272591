import BuildcatBasics
import BuildcatRedis
internal import CZlib
import Glibc

/// A job as RQ (Python's Redis Queue, 2.x and 3.x) keeps it, with RQ's JSON serializer: the
/// function's dotted name and its arguments, which `rq info`, rq-dashboard and RQ's own workers
/// read as their own.
public struct RQJob: Sendable {
    public var id: String
    /// The dotted name of the function a worker runs: `buildcat.blender.render_frames`.
    public var function: String
    public var arguments: [JSONValue]
    public var keywordArguments: [(key: String, value: JSONValue)]
    /// How long a worker may run the job, in seconds.
    public var timeout: Int
    public var description: String

    public init(id: String = RQJob.newID(), function: String, arguments: [JSONValue] = [],
                keywordArguments: [(key: String, value: JSONValue)] = [], timeout: Int = 180, description: String? = nil) {
        self.id = id
        self.function = function
        self.arguments = arguments
        self.keywordArguments = keywordArguments
        self.timeout = timeout
        self.description = description ?? Self.callString(function, arguments, keywordArguments)
    }

    /// A new job id as RQ makes them: a random UUID in lower-case hex with dashes.
    public static func newID() -> String {
        var bytes = (0..<16).map { _ in UInt8.random(in: 0...255) }
        bytes[6] = bytes[6] & 0x0F | 0x40  // version 4
        bytes[8] = bytes[8] & 0x3F | 0x80  // RFC 4122 variant
        let hex = bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
        let parts = [0..<8, 8..<12, 12..<16, 16..<20, 20..<32].map { range in
            String(hex[hex.index(hex.startIndex, offsetBy: range.lowerBound)..<hex.index(hex.startIndex, offsetBy: range.upperBound)])
        }
        return parts.joined(separator: "-")
    }

    /// RQ's key for a job's hash.
    public static func key(_ id: String) -> String { "rq:job:\(id)" }

    /// The job's `data` field: `[function, instance, args, kwargs]` as JSON, zlib-compressed.
    public func data() -> [UInt8] {
        let payload = JSONValue.array([.text(function), .null, .array(arguments), .object(keywordArguments)]).serialized()
        return Zlib.compress(payload)
    }

    /// RQ's description: the call as Python would write it (arguments abbreviated as JSON).
    static func callString(_ function: String, _ arguments: [JSONValue], _ keywords: [(key: String, value: JSONValue)]) -> String {
        let positional = arguments.map { String(decoding: $0.serialized(), as: UTF8.self) }
        let named = keywords.map { "\($0.key)=\(String(decoding: $0.value.serialized(), as: UTF8.self))" }.sorted()
        return "\(function)(\((positional + named).joined(separator: ", ")))"
    }
}

/// RQ's timestamps: `%Y-%m-%dT%H:%M:%S.%fZ`, UTC, microseconds.
public func rqTimestamp(nanosecondsSinceEpoch nanoseconds: Int64) -> String {
    var seconds = time_t(nanoseconds / 1_000_000_000)
    var parts = tm()
    gmtime_r(&seconds, &parts)
    func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
    let micro = String(nanoseconds % 1_000_000_000 / 1000)
    return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))."
        + String(repeating: "0", count: 6 - micro.count) + micro + "Z"
}

/// zlib's format (what Python's `zlib.compress` writes and `zlib.decompress` reads).
enum Zlib {
    static func compress(_ bytes: [UInt8]) -> [UInt8] {
        var length = compressBound(uLong(bytes.count))
        var out = [UInt8](repeating: 0, count: Int(length))
        let result = out.withUnsafeMutableBufferPointer { target in
            bytes.withUnsafeBufferPointer { source in compress2(target.baseAddress, &length, source.baseAddress, uLong(source.count), 6) }
        }
        precondition(result == Z_OK, "zlib compress2 failed: \(result)")  // only for lack of memory
        return Array(out[..<Int(length)])
    }

    static func decompress(_ bytes: [UInt8], limit: Int = 64 << 20) -> [UInt8]? {
        var capacity = max(bytes.count * 4, 256)
        while capacity <= limit {
            var length = uLong(capacity)
            var out = [UInt8](repeating: 0, count: capacity)
            let result = out.withUnsafeMutableBufferPointer { target in
                bytes.withUnsafeBufferPointer { source in uncompress(target.baseAddress, &length, source.baseAddress, uLong(source.count)) }
            }
            if result == Z_OK { return Array(out[..<Int(length)]) }
            guard result == Z_BUF_ERROR else { return nil }
            capacity *= 4
        }
        return nil
    }
}
