import BuildcatTestSupport
import CHiredis
import Testing

/// The `buildcat` binary's own interface: help, version, exit codes.
@Suite struct CommandLineTests {
    @Test func helpListsEveryCommandAndTheExitCodes() throws {
        let directory = TemporaryDirectory()
        let help = try buildcat(["--help"], cache: directory.path)
        #expect(help.status == 0)
        for word in ["hash", "manifest", "store", "version", "BUILDCAT_SHARE", "Exit codes"] {
            #expect(help.stdoutText.contains(word), "help lacks \(word)")
        }
        for command in [["hash"], ["manifest", "snapshot"], ["manifest", "diff"], ["store", "put"], ["store", "materialize"]] {
            let sub = try buildcat(command + ["--help"], cache: directory.path)
            #expect(sub.status == 0)
            #expect(sub.stdoutText.contains("USAGE"))
        }
    }

    @Test func versionPrintsTheVersion() throws {
        let output = try buildcat(["version"], cache: TemporaryDirectory().path)
        #expect(output.status == 0)
        #expect(output.stdoutText.hasPrefix("buildcat 0."))
    }

    @Test func aWrongCommandLineExits64() throws {
        let directory = TemporaryDirectory()
        #expect(try buildcat(["hash"], cache: directory.path).status == 64)
        let noShare = try buildcat(["store", "put", "x"], cache: directory.path, environment: ["BUILDCAT_SHARE": ""])
        #expect(noShare.status == 64)
        #expect(noShare.standardError.contains("--share"))
    }

    /// The hiredis system-library target links and answers; the Redis client builds on it.
    @Test func hiredisIsLinked() {
        let timeout = timeval(tv_sec: 1, tv_usec: 0)
        let context = redisConnectWithTimeout("127.0.0.1", 1, timeout)
        #expect(context != nil)
        #expect(context?.pointee.err != 0)  // nothing listens on port 1
        redisFree(context)
    }
}
