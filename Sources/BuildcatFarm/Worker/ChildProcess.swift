import BuildcatBasics
import CBuildcatLinux
import Glibc
import SystemPackage

/// A renderer run as a child: argv (no shell), its own process group (so that stopping it
/// stops everything it started, and a Ctrl-C meant for the worker does not reach it), an
/// empty signal mask, stdin from /dev/null, stdout and stderr appended to a log file, and
/// killed by the kernel if the worker dies (`buildcat_spawn_guarded`).
public struct ChildProcess {
    public enum Outcome: Sendable, Equatable {
        case exited(Int32)
        case killedBySignal(Int32)
        /// Stopped by us, for this reason.
        case stopped(String)
    }

    public var arguments: [String]
    public var log: FilePath
    /// How long to wait after SIGTERM before SIGKILL.
    public var gracePeriodMilliseconds = 10_000

    /// The child gets the worker's environment.
    public init(arguments: [String], log: FilePath) {
        self.arguments = arguments
        self.log = log
    }

    /// Starts the child and waits for it, collecting signals meanwhile.
    /// - Parameters:
    ///   - timeoutSeconds: stop the child after this long (nil: no limit).
    ///   - stopReason: asked every half second; a non-nil answer stops the child with that reason.
    /// - Throws: `FileSystemError` when the log cannot be opened, `SpawnError` when the program
    ///   cannot be started.
    public func run(signals: WorkerSignals, timeoutSeconds: Int?, stopReason: () -> String?) throws -> Outcome {
        let logDescriptor = try FileDescriptor.open(log, .writeOnly, options: [.create, .append, .closeOnExec], permissions: [.ownerReadWrite, .groupRead, .otherRead])
        defer { try? logDescriptor.close() }
        let argv = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        let environmentList = currentEnvironment().map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { environmentList.forEach { free($0) } }
        let pid = buildcat_spawn_guarded(arguments[0], argv, environmentList, logDescriptor.rawValue, SIGKILL)
        guard pid > 0 else {
            throw SpawnError(program: arguments[0], reason: String(cString: strerror(errno)))
        }

        let started = monotonicMilliseconds()
        var stopping: (reason: String, since: Int64)?
        while true {
            var status: Int32 = 0
            let reaped = waitpid(pid, &status, WNOHANG)
            if reaped == pid {
                if let stopping { return .stopped(stopping.reason) }
                if status & 0x7F == 0 { return .exited((status >> 8) & 0xFF) }
                return .killedBySignal(status & 0x7F)
            }
            signals.wait(milliseconds: 500)
            let now = monotonicMilliseconds()
            if let current = stopping {
                if now - current.since > Int64(gracePeriodMilliseconds) { kill(-pid, SIGKILL) }
                continue
            }
            var reason = stopReason()
            if reason == nil, let timeoutSeconds, now - started > Int64(timeoutSeconds) * 1000 {
                reason = "it ran longer than the job's timeout of \(timeoutSeconds) s"
            }
            if let reason {
                stopping = (reason, now)
                kill(-pid, SIGTERM)
            }
        }
    }
}

/// A program that could not be started.
public struct SpawnError: Error, CustomStringConvertible, Sendable {
    public var program: String
    public var reason: String
    public var description: String { "cannot run \(program): \(reason)" }
}
