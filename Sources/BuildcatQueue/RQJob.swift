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
    /// `[function, null, args, kwargs]` as JSON: what RQ's JSON serializer stores (compressed).
    public var payload: [UInt8]
    /// How long a worker may run the job, in seconds.
    public var timeout: Int
    public var description: String
    /// RQ's `Retry(max:)`: how many times a failed or abandoned job runs again.
    public var retries = 0
    /// RQ's `Retry(interval:)`: seconds to wait before each retry (the last repeats); none:
    /// at once.
    public var retryIntervals: [Int] = []
    /// How long the job and its result are kept after it finished (RQ's default: 500 s).
    public var resultTTL: Int?

    public init(id: String = RQJob.newID(), function: String, arguments: [JSONValue] = [],
                keywordArguments: [(key: String, value: JSONValue)] = [], timeout: Int = 180, description: String? = nil) {
        self.init(id: id, function: function,
                  payload: JSONValue.array([.text(function), .null, .array(arguments), .object(keywordArguments)]).serialized(),
                  timeout: timeout, description: description ?? Self.callString(function, arguments, keywordArguments))
    }

    /// A job whose payload the caller serialized (say from a template shared by thousands of
    /// jobs that differ only in their frames).
    public init(id: String = RQJob.newID(), function: String, payload: [UInt8], timeout: Int, description: String) {
        self.id = id
        self.function = function
        self.payload = payload
        self.timeout = timeout
        self.description = description
    }

    /// A new job id as RQ makes them: a random UUID in lower-case hex with dashes.
    public static func newID() -> String { newIDs(1)[0] }

    /// `count` new job ids, from one draw of random bytes: a system call per id was most of the
    /// time it took to queue 10,000 frames.
    public static func newIDs(_ count: Int) -> [String] {
        var random = [UInt8](repeating: 0, count: 16 * count)
        random.withUnsafeMutableBytes { if $0.count > 0 { arc4random_buf($0.baseAddress!, $0.count) } }
        let digits = Array("0123456789abcdef".utf8)
        var text = [UInt8](repeating: 0, count: 36)
        return (0..<count).map { id in
            var position = 0
            for index in 0..<16 {
                var byte = random[16 * id + index]
                if index == 6 { byte = byte & 0x0F | 0x40 }  // version 4
                if index == 8 { byte = byte & 0x3F | 0x80 }  // RFC 4122 variant
                if index == 4 || index == 6 || index == 8 || index == 10 {
                    text[position] = UInt8(ascii: "-")
                    position += 1
                }
                text[position] = digits[Int(byte >> 4)]
                text[position + 1] = digits[Int(byte & 0xF)]
                position += 2
            }
            return String(decoding: text, as: UTF8.self)
        }
    }

    /// RQ's key for a job's hash.
    public static func key(_ id: String) -> String { "rq:job:\(id)" }

    /// The job's `data` field: the payload, zlib-compressed as RQ stores it.
    public func data(compressor: ZlibCompressor = ZlibCompressor()) -> [UInt8] {
        compressor.compress(payload)
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
    utcTimestamp(nanosecondsSinceEpoch: nanoseconds, microseconds: true)
}

/// Wraps many small payloads in zlib's format (what Python's `zlib.decompress` reads), reusing
/// one small deflate state: `compress2` sets up and clears a quarter-megabyte state per call,
/// which for 10,000 job payloads of a few hundred bytes cost more than the rest.
public final class ZlibCompressor {
    private var stream = z_stream()

    public init() {
        // Stored, not compressed (level 0), in zlib's format all the same: a job's payload is a
        // few hundred bytes, compressing it saves a few dozen, and at 10,000 jobs compression
        // was over half of the time it took to queue them. Python's zlib reads it as any other.
        let result = deflateInit2_(&stream, 0, Z_DEFLATED, 9, 1, Z_DEFAULT_STRATEGY, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        precondition(result == Z_OK, "zlib deflateInit2 failed: \(result)")  // only for lack of memory
    }

    deinit { deflateEnd(&stream) }

    public func compress(_ bytes: [UInt8]) -> [UInt8] {
        deflateReset(&stream)
        var out = [UInt8](repeating: 0, count: Int(deflateBound(&stream, uLong(bytes.count))))
        var input = bytes
        let produced = input.withUnsafeMutableBufferPointer { source in
            out.withUnsafeMutableBufferPointer { target -> Int in
                stream.next_in = source.baseAddress
                stream.avail_in = uInt(source.count)
                stream.next_out = target.baseAddress
                stream.avail_out = uInt(target.count)
                let result = deflate(&stream, Z_FINISH)
                precondition(result == Z_STREAM_END, "zlib deflate failed: \(result)")  // the bound makes room
                return target.count - Int(stream.avail_out)
            }
        }
        return Array(out[..<produced])
    }
}

@available(*, unavailable)
extension ZlibCompressor: Sendable {}

/// zlib's format, for reading job data back.
enum Zlib {

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
