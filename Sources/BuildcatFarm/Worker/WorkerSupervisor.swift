import BuildcatBasics
import CBuildcatLinux
import Glibc

/// Runs N workers on this host as child processes and keeps them running (`buildcat workers`):
/// one that dies is started again, after a pause that grows while it keeps dying young; stop
/// signals are passed on to every worker (each finishes its job, or on a second signal hands
/// it back); with `burst`, a worker that finished its queues is not replaced.
public struct WorkerSupervisor {
    public var count: Int
    /// The `buildcat` executable.
    public var executable: String
    /// The command line of worker `index` (1-based), after the executable.
    public var arguments: (Int) -> [String]
    public var burst = false
    let log: @Sendable (String) -> Void

    public init(count: Int, executable: String, arguments: @escaping (Int) -> [String], log: @escaping @Sendable (String) -> Void) {
        self.count = count
        self.executable = executable
        self.arguments = arguments
        self.log = log
    }

    private struct Child {
        var pid: pid_t = 0
        var startedAt: Int64 = 0
        /// Consecutive deaths within a minute of starting.
        var youngDeaths = 0
        /// When to start it again, if it is waiting to be.
        var restartAt: Int64?
    }

    /// - Returns: 0 when every worker stopped cleanly, 1 when one could not be started.
    public func run() -> Int32 {
        let signals = WorkerSignals()
        var children = [Int: Child]()
        var forwarded = 0
        var status: Int32 = 0
        for index in 1...count {
            var child = Child()
            if !start(index, &child) { status = 1 }
            children[index] = child
        }
        log("supervising \(count) worker(s); SIGTERM or Ctrl-C stops them after their current jobs")
        while !children.isEmpty {
            if signals.stopRequests > forwarded {
                forwarded = signals.stopRequests
                let live = children.values.filter { $0.pid > 0 }
                log("passing the stop on to \(live.count) worker(s)\(forwarded > 1 ? ": they stop their renders and hand the jobs back" : "")")
                for child in live { kill(child.pid, SIGTERM) }
                children = children.filter { $0.value.pid > 0 }  // none waits to restart any more
            }
            var raw: Int32 = 0
            while case let pid = waitpid(-1, &raw, WNOHANG), pid > 0 {
                guard let (index, _) = children.first(where: { $0.value.pid == pid }) else { continue }
                let exited = raw & 0x7F == 0
                let code = exited ? (raw >> 8) & 0xFF : 0
                let how = exited ? "exited with status \(code)" : "was killed by signal \(raw & 0x7F)"
                if forwarded > 0 || (burst && exited && code == 0) {
                    children[index] = nil
                    continue
                }
                var child = children[index]!
                let now = monotonicMilliseconds()
                child.youngDeaths = now - child.startedAt < 60_000 ? child.youngDeaths + 1 : 0
                let delay = min(60_000, 1_000 << min(child.youngDeaths, 6))
                log("worker \(index) (pid \(pid)) \(how); starting it again in \(delay / 1000) s")
                child.pid = 0
                child.restartAt = now + Int64(delay)
                children[index] = child
            }
            let now = monotonicMilliseconds()
            for (index, var child) in children where child.pid == 0 && (child.restartAt ?? .max) <= now {
                child.restartAt = nil
                if !start(index, &child) { child.restartAt = now + 10_000 }
                children[index] = child
            }
            if !children.isEmpty { signals.wait(milliseconds: 500) }
        }
        log("all workers stopped")
        return status
    }

    private func start(_ index: Int, _ child: inout Child) -> Bool {
        let argv = ([executable] + arguments(index)).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        let environment = currentEnvironment().map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { environment.forEach { free($0) } }
        // Its own process group (a Ctrl-C reaches the workers once, through us), and SIGTERM if
        // the supervisor dies: the workers then finish their jobs and stop.
        let pid = buildcat_spawn_guarded(executable, argv, environment, STDERR_FILENO, SIGTERM)
        guard pid > 0 else {
            log("cannot start worker \(index): \(String(cString: strerror(errno)))")
            return false
        }
        child.pid = pid
        child.startedAt = monotonicMilliseconds()
        return true
    }
}
