import BuildcatBasics
import Foundation
import Glibc
import SystemPackage

/// A real `redis-server` for one test: on a free loopback port, in its own temporary
/// directory, stopped by its pid when released.
public final class RedisServer: @unchecked Sendable {
    // @unchecked: the fields are set in init and only read afterwards (stop() excepted, which
    // runs once, from deinit or the owning test).
    public let port: Int
    public let directory: TemporaryDirectory
    private var pid: pid_t = 0

    /// Starts a server; `arguments` are extra `redis-server` options (`--requirepass`, …).
    public init(_ arguments: [String] = []) throws {
        directory = TemporaryDirectory("buildcat-redis")
        port = try Self.freePort()
        try start(arguments)
    }

    /// Starts the server (again, after `stop()`) on the same port.
    public func start(_ arguments: [String] = []) throws {
        let server = try TestEnvironment.program("redis-server", package: "redis-server")
        let pidFile = directory("redis.pid")
        try? FileSystem.removeFile(pidFile)
        // Not Foundation's Process: it notices a child's exit through a pipe the child inherits,
        // which the daemonized server keeps open, so it would wait for the server to stop.
        let status = spawnAndWait(server, [
            "--port", String(port), "--bind", "127.0.0.1", "--dir", directory.path.string,
            "--daemonize", "yes", "--pidfile", pidFile.string, "--save", "", "--appendonly", "no",
            "--logfile", directory("redis.log").string,
        ] + arguments)
        guard status == 0 else { throw ProcessFailure(description: "redis-server did not start (status \(status))") }
        // Daemonized: wait for the pid file and for the port to accept connections.
        for _ in 0..<500 {
            if let text = try? FileSystem.readAll(pidFile), let value = Int32(String(decoding: text, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)),
               Self.accepts(port: port) {
                pid = value
                return
            }
            usleep(10_000)
        }
        throw ProcessFailure(description: "redis-server on port \(port) did not come up: \((try? String(contentsOfFile: directory("redis.log").string, encoding: .utf8)) ?? "")")
    }

    /// Stops the server and waits until it is gone.
    public func stop() {
        guard pid > 0 else { return }
        kill(pid, SIGTERM)
        for _ in 0..<1000 where Self.isRunning(pid) || Self.accepts(port: port) { usleep(10_000) }
        pid = 0
    }

    /// Whether a process runs: it exists and is not a zombie (a daemon's parent here may be an
    /// init that never reaps, so an exited server can linger as one).
    static func isRunning(_ pid: pid_t) -> Bool {
        guard let stat = try? FileSystem.readAll(FilePath("/proc/\(pid)/stat")) else { return false }
        // pid (comm) state …: the state follows the last ')'.
        guard let close = stat.lastIndex(of: UInt8(ascii: ")")), close + 2 < stat.count else { return false }
        return stat[close + 2] != UInt8(ascii: "Z")
    }

    deinit { stop() }

    public var url: String { "redis://127.0.0.1:\(port)/0" }

    /// A port nothing listens on now: bind to port 0 and see which the kernel picked.
    public static func freePort() throws -> Int {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, length) } }
        guard bound == 0 else { throw ProcessFailure(description: "cannot find a free port") }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socket, $0, &length) } }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    static func accepts(port: Int) -> Bool {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }
}

/// Runs a program with posix_spawn and waits for it by pid; its output goes to /dev/null.
/// - Returns: its exit status, or -1 if it could not be started or did not end within a minute.
public func spawnAndWait(_ executable: String, _ arguments: [String]) -> Int32 {
    guard let process = try? BackgroundProcess(executable, arguments, environment: ProcessInfo.processInfo.environment,
                                               output: FilePath("/dev/null")) else { return -1 }
    return process.wait(seconds: 60) ?? -1
}
