import BuildcatBasics
import BuildcatTestSupport
import Foundation
import Glibc
import SystemPackage
import Testing

@Suite struct ServerCommandTests {
    /// Starts `buildcat server` in the background and waits until it answers.
    func startServer(_ arguments: [String], port: Int) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: TestEnvironment.buildcat)
        process.arguments = ["server", "--port", String(port)] + arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let cli = try TestEnvironment.program("redis-cli", package: "redis-tools")
        for _ in 0..<300 {
            if (try? run(cli, ["-p", String(port), "ping"]))?.stdoutText.contains("PONG") == true
                || (try? run(cli, ["-p", String(port), "ping"]))?.stdoutText.contains("NOAUTH") == true { return process }
            usleep(20_000)
        }
        process.terminate()
        throw ProcessFailure(description: "buildcat server did not answer on port \(port)")
    }

    /// Jobs queued before a restart are there after it: the data is in the append-only file.
    @Test func dataSurvivesARestartAndSIGTERMStopsItCleanly() throws {
        let directory = TemporaryDirectory()
        let port = try RedisServer.freePort()
        let cli = try TestEnvironment.program("redis-cli", package: "redis-tools")
        var server = try startServer(["--data", directory("redis").string], port: port)
        #expect(try run(cli, ["-p", String(port), "RPUSH", "rq:queue:default", "job-1"]).stdoutText.contains("1"))
        server.terminate()  // SIGTERM
        server.waitUntilExit()
        #expect(server.terminationStatus == 0)
        #expect(try DirectoryWalker(includeHidden: true).walk(directory("redis")).files.contains { displayBytes($0.relativePath).contains("aof") })

        server = try startServer(["--data", directory("redis").string], port: port)
        defer { server.terminate(); server.waitUntilExit() }
        #expect(try run(cli, ["-p", String(port), "LRANGE", "rq:queue:default", "0", "-1"]).stdoutText.contains("job-1"))
    }

    @Test func aPasswordIsRequiredWhenGiven() throws {
        let directory = TemporaryDirectory()
        let port = try RedisServer.freePort()
        let server = try startServer(["--data", directory("redis").string, "--password", "s3cret"], port: port)
        defer { server.terminate(); server.waitUntilExit() }
        let cli = try TestEnvironment.program("redis-cli", package: "redis-tools")
        #expect(try run(cli, ["-p", String(port), "GET", "x"]).stdoutText.contains("NOAUTH"))
        #expect(try run(cli, ["-p", String(port), "-a", "s3cret", "--no-auth-warning", "PING"]).stdoutText.contains("PONG"))
    }

    @Test func conflictingOptionsAreAUsageError() throws {
        let output = try buildcat(["server", "--password", "a", "--acl-file", "/x"], cache: TemporaryDirectory().path)
        #expect(output.status == 64)
    }
}
