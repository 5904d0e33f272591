/// Where a Redis server is and how to log in: `redis://[user:password@]host:port/db`.
public struct RedisURL: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var database: Int
    public var user: String?
    public var password: String?

    public init(host: String = "127.0.0.1", port: Int = 6379, database: Int = 0, user: String? = nil, password: String? = nil) {
        self.host = host
        self.port = port
        self.database = database
        self.user = user
        self.password = password
    }

    /// Parses `redis://[[user]:password@]host[:port][/db]`; user and password may be
    /// percent-encoded. Returns nil for anything else.
    public init?(_ text: String) {
        guard text.hasPrefix("redis://") else { return nil }
        var rest = Substring(text.dropFirst("redis://".count))
        var user: String?
        var password: String?
        if let at = rest.lastIndex(of: "@") {
            let credentials = rest[..<at]
            rest = rest[rest.index(after: at)...]
            let userPart = credentials.firstIndex(of: ":").map { credentials[..<$0] } ?? credentials
            guard let decodedUser = Self.percentDecoded(userPart) else { return nil }
            user = decodedUser
            if let colon = credentials.firstIndex(of: ":") {
                guard let decoded = Self.percentDecoded(credentials[credentials.index(after: colon)...]) else { return nil }
                password = decoded
            }
            if user == "" { user = nil }
            guard user != nil || password != nil else { return nil }
        }
        var database = 0
        if let slash = rest.firstIndex(of: "/") {
            let databaseText = rest[rest.index(after: slash)...]
            if !databaseText.isEmpty {
                guard let value = Int(databaseText), value >= 0 else { return nil }
                database = value
            }
            rest = rest[..<slash]
        }
        var host = String(rest)
        var port = 6379
        if host.hasPrefix("[") {  // an IPv6 address: [::1]:6379
            guard let close = host.firstIndex(of: "]") else { return nil }
            let after = host[host.index(after: close)...]
            if after.hasPrefix(":") {
                guard let value = Int(after.dropFirst()) else { return nil }
                port = value
            }
            host = String(host[host.index(after: host.startIndex)..<close])
        } else if let colon = host.lastIndex(of: ":") {
            guard let value = Int(host[host.index(after: colon)...]) else { return nil }
            port = value
            host = String(host[..<colon])
        }
        guard !host.isEmpty, (1...65535).contains(port) else { return nil }
        self.init(host: host, port: port, database: database, user: user, password: password)
    }

    /// The server as a person should see it, never with the password.
    public var description: String {
        let who = user.map { "\($0)@" } ?? ""
        let address = host.contains(":") ? "[\(host)]" : host
        return "redis://\(who)\(address):\(port)/\(database)"
    }

    private static func percentDecoded(_ text: Substring) -> String? {
        var bytes: [UInt8] = []
        var iterator = Array(text.utf8).makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "%") {
                guard let high = iterator.next(), let low = iterator.next(),
                      let value = UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16) else { return nil }
                bytes.append(value)
            } else {
                bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }
}
