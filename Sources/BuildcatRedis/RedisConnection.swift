internal import CHiredis
import Glibc

/// A failure talking to Redis: which server, what was attempted, and why.
public struct RedisError: Error, CustomStringConvertible, Sendable {
    public enum Code: Sendable, Equatable {
        /// The server could not be reached, or the connection broke.
        case connection
        /// The server refused the credentials or the database.
        case authentication
        /// The server answered a command with an error.
        case reply
    }

    public var code: Code
    /// The server, without its password.
    public var server: String
    public var operation: String
    public var reason: String

    public var description: String { "Redis at \(server): cannot \(operation): \(reason)" }

    public init(code: Code, server: String, operation: String, reason: String) {
        self.code = code
        self.server = server
        self.operation = operation
        self.reason = reason
    }
}

/// One connection to a Redis server over hiredis, owned by one thread at a time.
///
/// Replies are copied into `RedisValue`s and freed at once. A broken connection (an I/O error,
/// a timeout) is reconnected before the next command, logging in and selecting the database
/// again; the command that saw it fails, since whether it ran cannot be known.
public final class RedisConnection {
    public let url: RedisURL
    public let connectTimeout: Duration
    /// How long a reply may take. A blocking command must ask for less than this, or hiredis
    /// gives up on the connection (FIELD-NOTES).
    public let readTimeout: Duration
    private var context: UnsafeMutablePointer<redisContext>?

    /// Connects, logs in (`AUTH`) and selects the database.
    /// - Throws: `RedisError` naming the server: unreachable, wrong credentials, no such database.
    public init(url: RedisURL, connectTimeout: Duration = .seconds(5), readTimeout: Duration = .seconds(60)) throws(RedisError) {
        self.url = url
        self.connectTimeout = connectTimeout
        self.readTimeout = readTimeout
        try connect()
    }

    deinit {
        if let context { redisFree(context) }
    }

    private func fail(_ code: RedisError.Code, _ operation: String, _ reason: String) -> RedisError {
        RedisError(code: code, server: url.description, operation: operation, reason: reason)
    }

    private static func timeval(_ duration: Duration) -> timeval {
        let (seconds, attoseconds) = duration.components
        return Glibc.timeval(tv_sec: Int(seconds), tv_usec: Int(attoseconds / 1_000_000_000_000))
    }

    /// Opens the connection (again), logs in and selects the database.
    public func connect() throws(RedisError) {
        if let context {
            redisFree(context)
            self.context = nil
        }
        guard let fresh = redisConnectWithTimeout(url.host, Int32(url.port), Self.timeval(connectTimeout)) else {
            throw fail(.connection, "connect", "out of memory")
        }
        if fresh.pointee.err != 0 {
            let reason = Self.errorText(fresh)
            redisFree(fresh)
            throw fail(.connection, "connect", reason)
        }
        redisSetTimeout(fresh, Self.timeval(readTimeout))
        redisEnableKeepAlive(fresh)
        context = fresh
        if let password = url.password {
            let arguments: [[UInt8]] = url.user.map { [Array("AUTH".utf8), $0.redisBytes, password.redisBytes] } ?? [Array("AUTH".utf8), password.redisBytes]
            if case .error(let message) = try send(arguments) {
                drop()
                throw fail(.authentication, "log in" + (url.user.map { " as \($0)" } ?? ""), message)
            }
        }
        if url.database != 0, case .error(let message) = try send([Array("SELECT".utf8), url.database.redisBytes]) {
            drop()
            throw fail(.authentication, "select database \(url.database)", message)
        }
    }

    private func drop() {
        if let context { redisFree(context) }
        context = nil
    }

    /// Runs one command; an error reply comes back as `.error`, not as a throw.
    /// - Throws: `RedisError` when the server cannot be reached or the connection breaks.
    @discardableResult
    public func send(_ arguments: [any RedisArgument]) throws(RedisError) -> RedisValue {
        try send(arguments.map(\.redisBytes))
    }

    /// Runs one command and throws if the server answers with an error.
    @discardableResult
    public func run(_ arguments: [any RedisArgument]) throws(RedisError) -> RedisValue {
        let value = try send(arguments)
        if case .error(let message) = value {
            throw fail(.reply, "run \(Self.commandName(arguments.first?.redisBytes))", message)
        }
        return value
    }

    private func send(_ arguments: [[UInt8]]) throws(RedisError) -> RedisValue {
        try pipeline([arguments])[0]
    }

    /// Sends many commands in one round trip and returns their replies in order.
    /// - Throws: `RedisError` when the connection breaks; error replies are `.error` values.
    public func pipeline(_ commands: [[any RedisArgument]]) throws(RedisError) -> [RedisValue] {
        try pipeline(commands.map { $0.map(\.redisBytes) })
    }

    private func pipeline(_ commands: [[[UInt8]]]) throws(RedisError) -> [RedisValue] {
        if context == nil { try connect() }
        guard let context else { throw fail(.connection, "send", "not connected") }
        let name = Self.commandName(commands.first?.first)
        for command in commands {
            let appended = Self.withArgv(command) { argc, argv, lengths in redisAppendCommandArgv(context, argc, argv, lengths) }
            guard appended == REDIS_OK else {
                let reason = Self.errorText(context)
                drop()
                throw fail(.connection, "send \(name)", reason)
            }
        }
        return try replies(commands.count, to: name, on: context)
    }

    /// Sends every command of a buffer in one write and returns the replies in order.
    /// - Throws: `RedisError` when the connection breaks; error replies are `.error` values.
    public func pipeline(_ buffer: RedisCommandBuffer) throws(RedisError) -> [RedisValue] {
        try write(buffer)
        return try readReplies(buffer.count, to: buffer.firstCommand ?? "(nothing)")
    }

    /// Sends the commands of a buffer now, without waiting for their replies: for pipelines
    /// too large to build whole before the server starts on them. Read the replies with
    /// `readReplies` once everything is written.
    public func write(_ buffer: RedisCommandBuffer) throws(RedisError) {
        if context == nil { try connect() }
        guard let context else { throw fail(.connection, "send", "not connected") }
        let name = buffer.firstCommand ?? "(nothing)"
        let appended = buffer.bytes.withUnsafeBufferPointer { raw in
            raw.withMemoryRebound(to: CChar.self) { redisAppendFormattedCommand(context, $0.baseAddress, $0.count) }
        }
        var done: Int32 = 0
        while appended == REDIS_OK && done == 0 {
            guard redisBufferWrite(context, &done) == REDIS_OK else { break }
        }
        guard appended == REDIS_OK, done != 0 else {
            let reason = Self.errorText(context)
            drop()
            throw fail(.connection, "send \(name)", reason)
        }
    }

    /// Reads the replies to `count` commands sent with `write`, in order.
    public func readReplies(_ count: Int, to name: String) throws(RedisError) -> [RedisValue] {
        guard let context else { throw fail(.connection, "read the reply to \(name)", "not connected") }
        return try replies(count, to: name, on: context)
    }

    private func replies(_ count: Int, to name: String, on context: UnsafeMutablePointer<redisContext>) throws(RedisError) -> [RedisValue] {
        var replies: [RedisValue] = []
        replies.reserveCapacity(count)
        for _ in 0..<count {
            var raw: UnsafeMutableRawPointer?
            guard redisGetReply(context, &raw) == REDIS_OK, let raw else {
                let reason = Self.errorText(context)
                drop()  // the next command reconnects
                throw fail(.connection, "read the reply to \(name)", reason)
            }
            replies.append(Self.copy(raw.assumingMemoryBound(to: redisReply.self)))
            freeReplyObject(raw)
        }
        return replies
    }

    private static func commandName(_ bytes: [UInt8]?) -> String {
        bytes.map { String(decoding: $0, as: UTF8.self).uppercased() } ?? "(nothing)"
    }

    private static func withArgv<T>(_ arguments: [[UInt8]], _ body: (Int32, UnsafeMutablePointer<UnsafePointer<CChar>?>, UnsafePointer<Int>) -> T) -> T {
        // hiredis reads each argument by pointer and length, so the bytes need no NUL and may hold any.
        let storage = arguments.map { bytes -> UnsafeMutableBufferPointer<CChar> in
            let buffer = UnsafeMutableBufferPointer<CChar>.allocate(capacity: max(bytes.count, 1))
            for (index, byte) in bytes.enumerated() { buffer[index] = CChar(bitPattern: byte) }
            return buffer
        }
        defer { storage.forEach { $0.deallocate() } }
        var pointers: [UnsafePointer<CChar>?] = storage.map { UnsafePointer($0.baseAddress) }
        let lengths = arguments.map(\.count)
        return pointers.withUnsafeMutableBufferPointer { argv in
            lengths.withUnsafeBufferPointer { body(Int32(arguments.count), argv.baseAddress!, $0.baseAddress!) }
        }
    }

    private static func copy(_ reply: UnsafeMutablePointer<redisReply>) -> RedisValue {
        let value = reply.pointee
        switch Int32(value.type) {
        case REDIS_REPLY_STRING:
            return .string(Array(UnsafeRawBufferPointer(start: value.str, count: value.len)))
        case REDIS_REPLY_STATUS:
            return .status(String(decoding: UnsafeRawBufferPointer(start: value.str, count: value.len), as: UTF8.self))
        case REDIS_REPLY_ERROR:
            return .error(String(decoding: UnsafeRawBufferPointer(start: value.str, count: value.len), as: UTF8.self))
        case REDIS_REPLY_INTEGER:
            return .integer(Int64(value.integer))
        case REDIS_REPLY_ARRAY:
            return .array((0..<value.elements).map { copy(value.element[$0]!) })
        default:
            return .null
        }
    }

    private static func errorText(_ context: UnsafeMutablePointer<redisContext>) -> String {
        withUnsafeBytes(of: context.pointee.errstr) { raw in
            let text = String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            if !text.isEmpty { return text }
            return context.pointee.err == REDIS_ERR_EOF ? "the server closed the connection" : "error \(context.pointee.err)"
        }
    }
}

@available(*, unavailable)
extension RedisConnection: Sendable {}
