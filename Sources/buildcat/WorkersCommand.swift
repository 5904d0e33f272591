import ArgumentParser
import BuildcatBasics
import BuildcatFarm
import Glibc

struct WorkersCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "workers",
        abstract: "Run and supervise several workers on this host.",
        discussion: """
            Starts N `buildcat worker` processes with the options given (see `buildcat worker \
            --help`) and keeps them running: a worker that dies is started again, after a pause \
            that grows from 1 s to a minute while it keeps dying within a minute of starting. \
            Their logs go to this command's standard error.

            SIGTERM or Ctrl-C is passed on to every worker: each finishes its current job and \
            exits; a second one makes them stop their renders and hand the jobs back. If this \
            command is killed outright, the workers get SIGTERM from the kernel. With --burst, a \
            worker that emptied its queues is not replaced, and this command exits when all have.

            With --name X, the workers are named X.1 … X.N; otherwise each is host.pid.

            Exit status: 0 when every worker stopped; 1 when one could not be started.
            """)

    @Option(name: .short, help: ArgumentHelp("How many workers (default: the number of processors).", valueName: "n"))
    var n: Int?

    @OptionGroup var options: WorkerOptions

    func validate() throws {
        if let n, n < 1 || n > 256 { throw ValidationError("-n must be between 1 and 256") }
    }

    func run() throws {
        _ = try options.configuration()  // the same checks a worker makes, once, before starting any
        var executable = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let length = readlink("/proc/self/exe", &executable, executable.count - 1)
        guard length > 0 else {
            printError("cannot find the buildcat executable (/proc/self/exe): \(String(cString: strerror(errno)))")
            throw ExitCode.failure
        }
        let path = executable.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        let count = n ?? Parallel.processorCount
        var supervisor = WorkerSupervisor(count: count, executable: path, arguments: { [options] index in
            options.commandLine(name: options.name.map { "\($0).\(index)" })
        }, log: workerLog)
        supervisor.burst = options.burst
        let status = supervisor.run()
        if status != 0 { throw ExitCode(status) }
    }
}
