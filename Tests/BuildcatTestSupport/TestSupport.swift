import BuildcatBasics
import Foundation
import Glibc
import SystemPackage

/// A fresh directory under the system's temporary directory, removed when released.
public final class TemporaryDirectory: Sendable {
    public let path: FilePath

    public init(_ label: String = "buildcat-test") {
        var template = Array("/tmp/\(label).XXXXXX".utf8CString)
        let created = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(created != nil, "mkdtemp failed: \(String(cString: strerror(Glibc.errno)))")
        path = FilePath(String(cString: created!))
    }

    deinit {
        // rm handles names that are not UTF-8 and read-only files; Foundation does not.
        _ = try? run("/bin/rm", ["-rf", path.string])
    }

    public func callAsFunction(_ relative: String) -> FilePath { path.appending(relative) }
}

/// What a finished child process left.
public struct ProcessOutput: Sendable {
    public var status: Int32
    public var standardOutput: [UInt8]
    public var standardError: String
    public var stdoutText: String { String(decoding: standardOutput, as: UTF8.self) }
}

public struct ProcessFailure: Error, CustomStringConvertible {
    public var description: String
    public init(description: String) { self.description = description }
}

/// Runs a program to completion, its output captured through temporary files (no pipe deadlocks).
@discardableResult
public func run(
    _ executable: String, _ arguments: [String], environment: [String: String]? = nil,
    currentDirectory: FilePath? = nil, standardInput: FilePath? = nil
) throws -> ProcessOutput {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let environment { process.environment = environment }
    if let currentDirectory { process.currentDirectoryURL = URL(fileURLWithPath: currentDirectory.string) }
    let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("buildcat-run-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: scratch) }
    let outURL = scratch.appendingPathComponent("out")
    let errURL = scratch.appendingPathComponent("err")
    _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
    _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
    let out = try FileHandle(forWritingTo: outURL)
    let err = try FileHandle(forWritingTo: errURL)
    process.standardOutput = out
    process.standardError = err
    process.standardInput = standardInput.flatMap { FileHandle(forReadingAtPath: $0.string) } ?? FileHandle.nullDevice
    try process.run()
    process.waitUntilExit()
    try out.close()
    try err.close()
    return ProcessOutput(
        status: process.terminationStatus,
        standardOutput: Array(try Data(contentsOf: outURL)),
        standardError: String(decoding: try Data(contentsOf: errURL), as: UTF8.self))
}

/// Where things the tests use live: the built binary, the Python peers, the shared samples.
public enum TestEnvironment {
    /// The package's root directory, found from this file's place in it.
    public static let packageRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    /// The `buildcat` executable under test: $BUILDCAT_BIN (set by tools/test), else the debug build.
    public static var buildcat: String {
        ProcessInfo.processInfo.environment["BUILDCAT_BIN"] ?? packageRoot + "/.build/debug/buildcat"
    }

    /// The venv with the Python peers (deadline, rq, bat) that tools/install-deps makes.
    /// The shared sample scenes (`../shared/samples`), read in place: `$BUILDCAT_SAMPLES`, set
    /// by tools/test. A test that needs them fails when they are not there.
    public static var samples: FilePath {
        if let path = ProcessInfo.processInfo.environment["BUILDCAT_SAMPLES"], !path.isEmpty { return FilePath(path) }
        return FilePath(packageRoot).removingLastComponent().appending("shared/samples")
    }

    public static var peersVenv: String {
        ProcessInfo.processInfo.environment["BUILDCAT_PEERS_VENV"] ?? packageRoot + "/.build-peers/venv"
    }

    /// An environment for child processes: this one's, with overrides.
    public static func environment(_ overrides: [String: String]) -> [String: String] {
        var environment = ProcessInfo.processInfo.environment
        for (key, value) in overrides { environment[key] = value }
        return environment
    }

    /// Finds a program on PATH, or fails the test with what to install.
    public static func program(_ name: String, package: String) throws -> String {
        for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let candidate = "\(directory)/\(name)"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        throw ProcessFailure(description: "\(name) is not installed: run tools/install-deps (Debian package \(package))")
    }
}

/// Writes bytes to a file, creating its directory; the path keeps its bytes exactly.
public func writeFile(_ path: FilePath, _ bytes: [UInt8]) throws {
    var directory = path
    directory.removeLastComponent()
    try FileSystem.createDirectories(directory)
    let descriptor = try FileDescriptor.open(path, .writeOnly, options: [.create, .truncate], permissions: [.ownerReadWrite, .groupRead, .otherRead])
    defer { try? descriptor.close() }
    _ = try bytes.withUnsafeBytes { try descriptor.writeAll($0) }
}

public func writeFile(_ path: FilePath, _ text: String) throws {
    try writeFile(path, Array(text.utf8))
}

/// Sets a file's modification (and access) time, in nanoseconds since the epoch; utimensat(2).
public func setModificationTime(_ path: FilePath, nanoseconds: Int64, followSymlinks: Bool = true) throws {
    var (seconds, fraction) = nanoseconds.quotientAndRemainder(dividingBy: 1_000_000_000)
    if fraction < 0 { seconds -= 1; fraction += 1_000_000_000 }
    var times = [timespec(tv_sec: Int(seconds), tv_nsec: Int(fraction)), timespec(tv_sec: Int(seconds), tv_nsec: Int(fraction))]
    let result = path.withPlatformString { utimensat(AT_FDCWD, $0, &times, followSymlinks ? 0 : AT_SYMLINK_NOFOLLOW) }
    guard result == 0 else { throw FileSystemError(operation: "set times of", path: path, errno: currentErrno()) }
}

/// Creates a symbolic link at `path` pointing at `target`.
public func makeSymlink(_ path: FilePath, to target: String) throws {
    let result = path.withPlatformString { symlink(target, $0) }
    guard result == 0 else { throw FileSystemError(operation: "create symlink", path: path, errno: currentErrno()) }
}
