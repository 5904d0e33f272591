import ArgumentParser
import BuildcatBasics
import BuildcatFarm
import BuildcatHash
import BuildcatQueue
import BuildcatRedis
import BuildcatStore
import Glibc
import SystemPackage

/// Where the farm's Redis is and which queue to use.
struct RedisOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The farm's Redis: redis://[user:password@]host:port/db (default: $BUILDCAT_REDIS, else redis://127.0.0.1:6379/0).", valueName: "url"))
    var redis: String?

    @Option(help: ArgumentHelp("The queue (default: $BUILDCAT_QUEUE, else `default`).", valueName: "name"))
    var queue: String?

    func url() throws -> RedisURL { try resolveRedisURL(redis) }

    var queueName: String { queue ?? processEnvironment()["BUILDCAT_QUEUE"].flatMap { $0.isEmpty ? nil : $0 } ?? "default" }
}

/// The Redis URL from a flag, else $BUILDCAT_REDIS, else the local default.
func resolveRedisURL(_ flag: String?) throws -> RedisURL {
    let text = flag ?? processEnvironment()["BUILDCAT_REDIS"].flatMap { $0.isEmpty ? nil : $0 } ?? "redis://127.0.0.1:6379/0"
    guard let url = RedisURL(text) else { throw ValidationError("'\(text)' is not a Redis URL (redis://[user:password@]host:port/db)") }
    return url
}

/// What frames to queue and how.
struct FrameOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Frames: single frames and inclusive ranges with an optional step, e.g. 1-240 or 1,10-25,75-100:2.", valueName: "spec"))
    var frames: String

    @Option(help: "Frames per job.")
    var chunk: Int = 1

    @Option(help: ArgumentHelp("Where frames go, relative to the submission; #### is the frame number.", valueName: "pattern"))
    var output: String = "outputs/frame_####"

    @Option(help: "How long a job may run, in seconds.")
    var timeout: Int = 12 * 3600

    @Option(help: "How many times a chunk that fails, or whose worker dies, runs again (RQ's Retry).")
    var retries: Int = 0

    @Option(help: ArgumentHelp("Seconds to wait before a retry; several, comma-separated, for each retry in turn (the last repeats).", valueName: "seconds"))
    var retryInterval: String?

    func intervals() throws -> [Int] {
        guard let retryInterval else { return [] }
        let values = retryInterval.split(separator: ",", omittingEmptySubsequences: false).map { Int($0.filter { $0 != " " }) }
        guard !values.isEmpty, values.allSatisfy({ ($0 ?? -1) >= 0 }) else {
            throw ValidationError("--retry-interval '\(retryInterval)' must be whole seconds, like 60 or 10,60,300")
        }
        return values.compactMap { $0 }
    }

    func spec() throws -> FrameSpec {
        guard chunk >= 1 else { throw ValidationError("--chunk must be at least 1") }
        guard timeout >= 1 else { throw ValidationError("--timeout must be at least 1 second") }
        guard retries >= 0 else { throw ValidationError("--retries must be 0 or more") }
        if try !intervals().isEmpty && retries == 0 { throw ValidationError("--retry-interval needs --retries") }
        do {
            try Submitter.validate(output: output)
        } catch {
            throw ValidationError("\(error)")
        }
        do {
            return try FrameSpec(frames)
        } catch {
            throw ValidationError("\(error)")
        }
    }
}

/// Exit statuses of the staging commands, documented in their help.
enum StageExit {
    static let missing: Int32 = 3
    static let redis: Int32 = 4
}

let stageExitCodes = """

    Exit status: 0 on success; 1 when files could not be read or stored; 3 when files the \
    scenes use are missing (all are listed; nothing is staged); 4 when Redis cannot be reached \
    or refuses (a staged submission is kept, and the message says how to queue it later).
    """

struct StageCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stage",
        abstract: "Copy scenes and every file they use onto the share, by content; queue nothing.",
        discussion: """
            Scans the scenes (and their libraries), stops if any file is missing, stores each \
            file by content (unchanged files come from the hash cache and are not read), builds \
            the checkout buildcat/submissions/<id>/files/ in the project's layout (files from \
            outside the project under files/_external/), rewrites the scenes to point into it, \
            and writes manifest.json and submission.json. Prints the submission id and directory. \
            Staging content that is already staged (every file unchanged, by the hash cache) \
            reports the submission that holds it and writes nothing.

            """ + stageExitCodes)

    @OptionGroup var shareOptions: ShareOptions
    @OptionGroup var cacheOptions: HashCacheOptions
    @OptionGroup var stageOptions: StageOptions

    @Argument(help: "Scene files.")
    var scenes: [String]

    func run() throws {
        let report = try stageOptions.stage(scenes, share: shareOptions, cache: cacheOptions)
        printReport(report, submit: nil, json: stageOptions.json, dryRun: stageOptions.dryRun)
    }
}

struct StageOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The project's root (default: the first scene's folder).", valueName: "dir"))
    var project: String?

    @Flag(help: "Stage even when files are missing (they stay missing in the checkout).")
    var allowMissing = false

    @Flag(help: "Report what would be staged and queued, and write nothing.")
    var dryRun = false

    @Flag(help: "Print JSON for programs instead of lines for people.")
    var json = false

    func stage(_ scenes: [String], share: ShareOptions, cache cacheOptions: HashCacheOptions) throws -> StageReport {
        let cache = cacheOptions.openCache()
        defer { cacheOptions.save(cache) }
        var stager = Stager(store: try share.store(), project: try project.map { try RawArguments.path($0) }, cache: cache)
        stager.allowMissing = allowMissing
        stager.dryRun = dryRun
        let display = ProgressDisplay()
        if !json { stager.progress = { display.update($0) } }
        defer { display.finish() }
        do {
            return try stager.stage(try scenes.map { try RawArguments.path($0) })
        } catch let error as StageError where !error.missing.isEmpty {
            printError("\(error)")
            throw ExitCode(StageExit.missing)
        } catch let error as ValidationError {
            throw error
        } catch {
            printError("\(error)")
            throw ExitCode.failure
        }
    }
}

struct SubmitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "submit",
        abstract: "Queue an already staged submission: one job per chunk of frames, in one round trip.",
        discussion: """
            The jobs are RQ jobs (rq info and RQ's Python API see them) running \
            buildcat.blender.render_frames with the submission, the scene inside its checkout, \
            the frames, the output pattern and the manifest's XXH3-128. A submission is queued \
            once: queueing it again needs --again.

            Exit status: 0 when queued; 1 when the submission cannot be read; 4 when Redis cannot \
            be reached, refuses, or the submission was queued before.
            """)

    @OptionGroup var shareOptions: ShareOptions
    @OptionGroup var redisOptions: RedisOptions
    @OptionGroup var frameOptions: FrameOptions

    @Flag(help: "Queue the frames even if this submission was queued before.")
    var again = false

    @Flag(help: "Print JSON for programs instead of lines for people.")
    var json = false

    @Argument(help: "The submission id (as `buildcat stage` printed it).")
    var submission: String

    func run() throws {
        let report = try submitStaged(submission, share: shareOptions, redis: redisOptions, frames: frameOptions, again: again)
        printSubmit(report, json: json)
    }
}

struct StageAndSubmitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stage-and-submit",
        abstract: "Stage a scene onto the share and queue its frames: the artist's one command.",
        discussion: """
            `buildcat stage` then `buildcat submit` (see their help). If Redis cannot be reached, \
            the staged submission is kept and the message says how to queue it later.

            """ + stageExitCodes)

    @OptionGroup var shareOptions: ShareOptions
    @OptionGroup var cacheOptions: HashCacheOptions
    @OptionGroup var stageOptions: StageOptions
    @OptionGroup var redisOptions: RedisOptions
    @OptionGroup var frameOptions: FrameOptions

    @Option(help: "The integration that renders the scene (today: blender).")
    var integration: String = "blender"

    @Argument(help: "The scene file.")
    var scene: String

    func validate() throws {
        guard integration == "blender" else { throw ValidationError("--integration: only `blender` is available today") }
        _ = try frameOptions.spec()
        _ = try redisOptions.url()
    }

    func run() throws {
        let spec = try frameOptions.spec()
        let report = try stageOptions.stage([scene], share: shareOptions, cache: cacheOptions)
        if stageOptions.dryRun {
            printReport(report, submit: SubmitReport(submission: report.submission, queue: redisOptions.queueName, jobs: [], frames: spec.frames.count),
                        json: stageOptions.json, dryRun: true, chunks: spec.chunks(of: frameOptions.chunk).count)
            return
        }
        do {
            let submitted = try submitStaged(report.submission, share: shareOptions, redis: redisOptions, frames: frameOptions, again: false)
            printReport(report, submit: submitted, json: stageOptions.json, dryRun: false)
        } catch let code as ExitCode where code.rawValue == StageExit.redis {
            printError("the submission is staged as \(report.submission) in \(report.directory); queue it later with:\n"
                + "  buildcat submit \(report.submission) --frames \(frameOptions.frames) --chunk \(frameOptions.chunk) --queue \(redisOptions.queueName)")
            throw code
        }
    }
}

/// Queues a staged submission; Redis failures exit 4 with the reason on standard error.
func submitStaged(_ submission: String, share: ShareOptions, redis redisOptions: RedisOptions, frames: FrameOptions, again: Bool) throws -> SubmitReport {
    let spec = try frames.spec()
    var submitter = Submitter(store: try share.store())
    submitter.output = frames.output
    submitter.timeout = frames.timeout
    submitter.retries = frames.retries
    submitter.retryIntervals = try frames.intervals()
    submitter.again = again
    do {
        let jobs = try submitter.jobs(submission, frames: spec, chunk: frames.chunk)
        let redis = try RedisConnection(url: try redisOptions.url())
        return try submitter.submit(jobs, of: submission, frames: spec, chunk: frames.chunk, queue: redisOptions.queueName, redis: redis)
    } catch let error as RedisError {
        printError("\(error)")
        throw ExitCode(StageExit.redis)
    } catch let error as SubmitError where error.message.contains("--again") {
        printError("\(error)")
        throw ExitCode(StageExit.redis)
    } catch let error as ValidationError {
        throw error
    } catch {
        printError("\(error)")
        throw ExitCode.failure
    }
}

func printSubmit(_ report: SubmitReport, json: Bool) {
    if json {
        var out = Array(#"{"submission":"#.utf8)
        JSONWriter.appendString(report.submission, to: &out)
        out += Array(#","queue":"#.utf8)
        JSONWriter.appendString(report.queue, to: &out)
        out += Array(#","frames":\#(report.frames),"jobs":"#.utf8)
        out += JSONValue.array(report.jobs.map { .text($0) }).serialized()
        out += Array("}\n".utf8)
        let writer = ByteWriter(descriptor: STDOUT_FILENO)
        writer.write(out)
        writer.flush()
    } else {
        print("queued \(report.frames) frame(s) of \(report.submission) as \(report.jobs.count) job(s) on queue \(report.queue)")
    }
}

func printReport(_ report: StageReport, submit: SubmitReport?, json: Bool, dryRun: Bool, chunks: Int? = nil) {
    if json {
        var members: [(key: String, value: JSONValue)] = [
            ("submission", .text(report.submission)), ("directory", .text(report.directory)),
            ("scenes", .array(report.scenes.map { .text($0) })),
            ("files_found", .integer(Int64(report.filesFound))), ("bytes_found", .integer(report.bytesFound)),
            ("files_copied", .integer(Int64(report.filesCopied))), ("bytes_copied", .integer(report.bytesCopied)),
            ("files_present", .integer(Int64(report.filesPresent))), ("bytes_present", .integer(report.bytesPresent)),
            ("manifest_xxh128", .text(report.manifestHash)), ("missing", .array(report.missing.map { .text($0) })),
            ("dry_run", .bool(dryRun)), ("reused", .bool(report.reused)), ("notes", .array(report.notes.map { .text($0) })),
        ]
        if let submit {
            members += [("queue", .text(submit.queue)), ("frames", .integer(Int64(submit.frames))), ("jobs", .array(submit.jobs.map { .text($0) }))]
        }
        if let chunks { members.append(("chunks", .integer(Int64(chunks)))) }
        let writer = ByteWriter(descriptor: STDOUT_FILENO)
        writer.write(JSONValue.object(members).serialized() + [UInt8(ascii: "\n")])
        writer.flush()
        return
    }
    if report.reused {
        print("unchanged since \(report.submission), staged in \(report.directory): nothing copied")
    } else {
        print("\(dryRun ? "would stage" : "staged") \(report.submission) in \(report.directory)")
    }
    print("  \(report.filesFound) file(s), \(formatByteCount(report.bytesFound)); copied \(report.filesCopied) (\(formatByteCount(report.bytesCopied))), already on the share \(report.filesPresent) (\(formatByteCount(report.bytesPresent)))")
    for missing in report.missing { print("  missing: \(missing)") }
    for note in report.notes { print("  note: \(note)") }
    if let submit {
        if dryRun {
            print("would queue \(submit.frames) frame(s) as \(chunks ?? 0) job(s) on queue \(submit.queue)")
        } else {
            print("queued \(submit.frames) frame(s) as \(submit.jobs.count) job(s) on queue \(submit.queue)")
        }
    }
}
