@testable import BuildcatRedis
import BuildcatTestSupport
import Testing

@Suite struct RedisURLTests {
    @Test func parsesEveryPart() throws {
        #expect(RedisURL("redis://localhost") == RedisURL(host: "localhost", port: 6379, database: 0))
        #expect(RedisURL("redis://farm:6380/2") == RedisURL(host: "farm", port: 6380, database: 2))
        #expect(RedisURL("redis://:s3cret@farm/1") == RedisURL(host: "farm", database: 1, password: "s3cret"))
        #expect(RedisURL("redis://render:p%40ss%3Aw@10.0.0.5:6379/0") == RedisURL(host: "10.0.0.5", user: "render", password: "p@ss:w"))
        #expect(RedisURL("redis://[::1]:7000") == RedisURL(host: "::1", port: 7000))
        for bad in ["http://farm", "redis://", "redis://farm:0", "redis://farm:x", "redis://farm/-1", "redis://@farm", "redis://u:%zz@farm"] {
            #expect(RedisURL(bad) == nil, "\(bad)")
        }
    }

    @Test func descriptionNeverShowsThePassword() throws {
        let url = try #require(RedisURL("redis://render:hunter2@farm:6380/3"))
        #expect(url.description == "redis://render@farm:6380/3")
    }
}

/// Against a real redis-server started for each test.
@Suite struct RedisConnectionTests {
    func connect(_ server: RedisServer, _ text: String? = nil) throws -> RedisConnection {
        try RedisConnection(url: try #require(RedisURL(text ?? server.url)))
    }

    @Test func commandsRepliesAndBinaryValues() throws {
        let server = try RedisServer()
        let redis = try connect(server)
        let binary: [UInt8] = [0, 1, 2, 0xFF, 0x0A, 0x0D]
        #expect(try redis.run(["SET", "key", binary]) == .status("OK"))
        #expect(try redis.run(["GET", "key"]) == .string(binary))
        #expect(try redis.run(["GET", "absent"]) == .null)
        #expect(try redis.run(["RPUSH", "list", "a", "b"]) == .integer(2))
        #expect(try redis.run(["LRANGE", "list", 0, -1]) == .array([.string(Array("a".utf8)), .string(Array("b".utf8))]))
        // An error reply is a value from send, and a thrown error from run.
        if case .error(let message) = try redis.send(["INCR", "list"]) { #expect(message.contains("WRONGTYPE")) } else { Issue.record("no error reply") }
        let error = #expect(throws: RedisError.self) { try redis.run(["INCR", "list"]) }
        #expect(error?.code == .reply)
        #expect(error?.description.contains("INCR") == true)
    }

    @Test func aPipelineIsOneRoundTripWithRepliesInOrder() throws {
        let server = try RedisServer()
        let redis = try connect(server)
        let commands: [[any RedisArgument]] = (0..<5_000).map { ["RPUSH", "queue", "job-\($0)"] }
        let replies = try redis.pipeline(commands)
        #expect(replies.count == 5_000)
        #expect(replies.last == .integer(5_000))
        #expect(try redis.run(["LINDEX", "queue", 4_999]) == .string(Array("job-4999".utf8)))
    }

    @Test func passwordsAndDatabases() throws {
        let server = try RedisServer(["--requirepass", "s3cret"])
        let good = try connect(server, "redis://:s3cret@127.0.0.1:\(server.port)/3")
        try good.run(["SET", "in-three", "yes"])
        #expect(try connect(server, "redis://:s3cret@127.0.0.1:\(server.port)/0").run(["EXISTS", "in-three"]) == .integer(0))
        let wrong = #expect(throws: RedisError.self) { try connect(server, "redis://:wrong@127.0.0.1:\(server.port)/0") }
        #expect(wrong?.code == .authentication)
        #expect(wrong?.description.contains("127.0.0.1:\(server.port)") == true)
        #expect(wrong?.description.contains("wrong") == false)  // never the password
        let none = try connect(server)  // no password: the first command is refused
        let refused = #expect(throws: RedisError.self) { try none.run(["GET", "x"]) }
        #expect(refused?.description.contains("NOAUTH") == true)
    }

    @Test func anACLUserLimitedToRQKeys() throws {
        let server = try RedisServer()
        try connect(server).run(["ACL", "SETUSER", "render", "on", ">farmpass", "~rq:*", "+@all"])
        let render = try connect(server, "redis://render:farmpass@127.0.0.1:\(server.port)/0")
        try render.run(["SET", "rq:job:1", "fine"])
        let outside = #expect(throws: RedisError.self) { try render.run(["SET", "elsewhere", "no"]) }
        #expect(outside?.description.contains("NOPERM") == true)
        let wrong = #expect(throws: RedisError.self) { try connect(server, "redis://render:nope@127.0.0.1:\(server.port)/0") }
        #expect(wrong?.code == .authentication)
        #expect(wrong?.description.contains("as render") == true)
    }

    @Test func anUnreachableServerIsNamed() throws {
        let port = try RedisServer.freePort()
        let error = #expect(throws: RedisError.self) { try RedisConnection(url: RedisURL(host: "127.0.0.1", port: port)) }
        #expect(error?.code == .connection)
        #expect(error?.description.contains("127.0.0.1:\(port)") == true)
        #expect(error?.description.contains("refused") == true)
    }

    /// The server restarts: the command that sees the broken connection fails, the next one
    /// reconnects and works.
    @Test func reconnectsAfterTheServerComesBack() throws {
        let server = try RedisServer()
        let redis = try connect(server)
        try redis.run(["SET", "before", "1"])
        server.stop()
        #expect(throws: RedisError.self) { try redis.run(["GET", "before"]) }
        try server.start()
        #expect(try redis.run(["PING"]) == .status("PONG"))
    }
}
