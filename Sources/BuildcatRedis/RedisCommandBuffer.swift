/// Commands encoded in Redis's wire format (RESP), ready to send in one write.
///
/// Building thousands of commands (a submission's jobs) as one byte buffer costs a fraction of
/// handing hiredis each argument separately.
public struct RedisCommandBuffer: Sendable {
    public private(set) var bytes: [UInt8] = []
    /// How many commands the buffer holds (and so how many replies will come).
    public private(set) var count = 0
    /// The first command's name, for messages.
    public private(set) var firstCommand: String?

    public init() {}

    /// Appends one command; each argument is text or bytes.
    public mutating func append(_ arguments: [any RedisArgument]) {
        begin(arguments.count, name: arguments.first.map { String(decoding: $0.redisBytes, as: UTF8.self) })
        for argument in arguments { appendArgument(argument.redisBytes) }
    }

    /// Starts a command of `argumentCount` arguments; follow with exactly that many `appendArgument`s.
    public mutating func begin(_ argumentCount: Int, name: String?) {
        if firstCommand == nil { firstCommand = name?.uppercased() }
        count += 1
        bytes.append(UInt8(ascii: "*"))
        appendDecimal(argumentCount)
        bytes += [0x0D, 0x0A]
    }

    public mutating func appendArgument(_ argument: [UInt8]) {
        bytes.append(UInt8(ascii: "$"))
        appendDecimal(argument.count)
        bytes += [0x0D, 0x0A]
        bytes += argument
        bytes += [0x0D, 0x0A]
    }

    public mutating func appendArgument(_ argument: String) {
        let utf8 = argument.utf8
        bytes.append(UInt8(ascii: "$"))
        appendDecimal(utf8.count)
        bytes += [0x0D, 0x0A]
        if utf8.withContiguousStorageIfAvailable({ bytes.append(contentsOf: $0) }) == nil {
            bytes.append(contentsOf: utf8)
        }
        bytes += [0x0D, 0x0A]
    }

    /// Makes room for `count` more bytes, so that building a large pipeline does not copy it
    /// over and over as it grows.
    public mutating func reserve(_ count: Int) {
        bytes.reserveCapacity(bytes.count + count)
    }

    private mutating func appendDecimal(_ value: Int) {
        if value < 10 {
            bytes.append(UInt8(ascii: "0") + UInt8(value))
        } else {
            bytes += Array(String(value).utf8)
        }
    }
}
