import ArgumentParser
import BuildcatBasics
import BuildcatFarm
import BuildcatHash
import Glibc

struct WorkerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Run jobs from the farm's queues: verify every input by hash, then render.",
        discussion: """
            An RQ worker written in Swift: `rq info` lists it, and jobs queued by Python's RQ \
            (JSON serializer) run on it as on RQ's own. It runs the functions it knows:
              buildcat.blender.render_frames   verify the submission, render the frames with \
            Blender, hash them into outputs/manifest.json
              buildcat.verify                  verify the submission only
            Any other function fails its job, saying so.

            Before every render the worker proves the inputs: manifest.json hashes to the value \
            the job carries, and every file exists with the manifest's size and XXH3-128. \
            Unchanged files come from the verification cache ($BUILDCAT_CACHE_DIR/verify); \
            --verify full reads every file every time. Anything wrong fails the job, listing each \
            file, before Blender starts.

            Jobs are taken in queue order (all of the first queue before the second) and started \
            in the same step as they are popped, so none is lost. A job whose worker stops \
            heartbeating (three --heartbeat intervals) is retried if it has retries left \
            (`buildcat submit --retries`), else failed as abandoned.

            Signals: SIGTERM or Ctrl-C finishes the current job, then exits 0. A second one stops \
            Blender, hands the job back to the front of its queue, and exits.

            Environment: BUILDCAT_SHARE, BUILDCAT_REDIS, BUILDCAT_QUEUE, BUILDCAT_BLENDER (the \
            Blender executable; default `blender` on PATH), BUILDCAT_CACHE_DIR.

            Exit status: 0 after a clean stop; 1 when a job's outcome could not be recorded \
            (Redis was gone and the worker was told to stop: the farm recovers the job); 64 for \
            a wrong command line.
            """)

    @OptionGroup var options: WorkerOptions

    func run() throws {
        let status = Worker(configuration: try options.configuration(), log: workerLog).run()
        if status != 0 { throw ExitCode(status) }
    }
}

/// What a worker is told: by `buildcat worker`, and passed on by `buildcat workers`.
struct WorkerOptions: ParsableArguments {
    @OptionGroup var shareOptions: ShareOptions

    @Argument(help: ArgumentHelp("Queues to take jobs from, in priority order (default: $BUILDCAT_QUEUE, else `default`).", valueName: "queue"))
    var queues: [String] = []

    @Option(help: ArgumentHelp("The farm's Redis: redis://[user:password@]host:port/db (default: $BUILDCAT_REDIS, else redis://127.0.0.1:6379/0).", valueName: "url"))
    var redis: String?

    @Option(help: ArgumentHelp("The worker's name in `rq info` (default: host.pid).", valueName: "name"))
    var name: String?

    @Flag(help: "Exit when the queues are empty.")
    var burst = false

    @Option(help: ArgumentHelp("Exit after this many jobs.", valueName: "n"))
    var maxJobs: Int?

    @Option(help: ArgumentHelp("How inputs are verified: `cached` (unchanged files from the verification cache) or `full` (read every file).", valueName: "mode"))
    var verify: String = "cached"

    @Option(help: ArgumentHelp("Seconds between heartbeats; a worker silent for three is taken for dead.", valueName: "seconds"))
    var heartbeat: Int = 10

    @Option(help: ArgumentHelp("The Blender executable (default: $BUILDCAT_BLENDER, else `blender` on PATH).", valueName: "path"))
    var blender: String?

    func validate() throws {
        guard ["cached", "full"].contains(verify) else { throw ValidationError("--verify must be `cached` or `full`, not '\(verify)'") }
        if let maxJobs, maxJobs < 1 { throw ValidationError("--max-jobs must be at least 1") }
        guard heartbeat >= 1 else { throw ValidationError("--heartbeat must be at least 1 second") }
        for queue in queues where queue.isEmpty || queue.contains(",") || queue.contains(where: \.isWhitespace) {
            throw ValidationError("'\(queue)' is not a queue name (no commas or spaces)")
        }
    }

    func configuration() throws -> WorkerConfiguration {
        let environment = processEnvironment()
        let queueNames = queues.isEmpty ? [environment["BUILDCAT_QUEUE"].flatMap { $0.isEmpty ? nil : $0 } ?? "default"] : queues
        let store = try shareOptions.store()
        do {
            try store.checkInitialized()
        } catch {
            printError("\(error)")
            throw ExitCode.failure
        }
        var configuration = WorkerConfiguration(redis: try resolveRedisURL(redis), queues: queueNames,
                                                name: name ?? "\(hostName()).\(getpid())", store: store)
        configuration.burst = burst
        configuration.maxJobs = maxJobs
        configuration.heartbeatSeconds = heartbeat
        configuration.fullVerification = verify == "full"
        configuration.verificationCache = HashCache.defaultDirectory(environment: environment).appending("verify")
        configuration.blender = blender ?? environment["BUILDCAT_BLENDER"].flatMap { $0.isEmpty ? nil : $0 } ?? "blender"
        configuration.version = Buildcat.version
        return configuration
    }

    /// The command line that gives a worker these options; `name` replaces --name.
    func commandLine(name: String?) -> [String] {
        var arguments = ["worker"]
        if let share = shareOptions.share { arguments += ["--share", share] }
        if let redis { arguments += ["--redis", redis] }
        if let name { arguments += ["--name", name] }
        if burst { arguments.append("--burst") }
        if let maxJobs { arguments += ["--max-jobs", String(maxJobs)] }
        arguments += ["--verify", verify, "--heartbeat", String(heartbeat)]
        if let blender { arguments += ["--blender", blender] }
        return arguments + ["--"] + queues
    }
}

/// One line on stderr, stamped with the time (UTC) as RQ's workers log.
@Sendable func workerLog(_ message: String) {
    let stamp = utcTimestamp(nanosecondsSinceEpoch: wallClockNanoseconds())
    printError("\(stamp.dropFirst(11).prefix(8)) \(message)")
}
