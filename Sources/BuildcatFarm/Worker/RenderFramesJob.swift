import BuildcatBasics
import BuildcatHash
import BuildcatStore
import Glibc
import SystemPackage

/// `buildcat.blender.render_frames(submission=, scene=, frames=, output=, manifest_xxh128=)`:
/// verifies every input, renders the frames with the real Blender (headless, argv, its own
/// process group, the job's timeout, its output in `logs/<job>.log`), checks that every frame
/// was written, and hashes the frames into `outputs/manifest.json`.
struct RenderFramesJob {
    let context: JobContext

    func run() throws -> JSONValue {
        let submission = try context.text("submission")
        let scene = try context.text("scene")
        let output = try context.text("output")
        guard case .array(let frameValues)? = context.arguments.member("frames"), !frameValues.isEmpty else {
            throw JobFailure("the job has no 'frames' argument (a list of frame numbers)")
        }
        let frames = try frameValues.map { value -> Int in
            // Blender's frames lie within ±1,048,574; anything far outside is no frame.
            guard case .integer(let frame) = value, let number = Int(exactly: frame), abs(number) <= 1_000_000_000 else {
                throw JobFailure("the job's 'frames' must be whole numbers; it has \(String(decoding: value.serialized(), as: UTF8.self))")
            }
            return number
        }
        do {
            try Submitter.validate(output: output)
        } catch {
            throw JobFailure("\(error)")
        }
        let sceneParts = scene.split(separator: "/", omittingEmptySubsequences: false)
        guard scene.hasPrefix("files/"), !sceneParts.contains(where: { $0 == ".." || $0.isEmpty }) else {
            throw JobFailure("the job's scene '\(scene)' is not a path inside the submission's files/")
        }

        let (report, verifySeconds) = try VerifyJob(context: context).verifyInputs(frames: frames)
        let root = context.configuration.store.root.appending("submissions").appending(submission)
        let pattern = OutputPattern(root.appending(output))
        try FileSystem.createDirectories(pattern.directory)
        // A retry after a crash may find a half-written frame: the frames are this job's.
        for path in try pattern.existingFiles(for: frames).values { try? FileSystem.removeFile(path) }

        let logs = root.appending("logs")
        try FileSystem.createDirectories(logs)
        let log = logs.appending("\(context.job.id).log")
        let arguments = [context.configuration.blender, "-b", "--factory-startup", "--disable-autoexec", "-noaudio",
                         root.appending(scene).string, "-o", pattern.path.string,
                         "-f", frames.map(String.init).joined(separator: ",")]
        try appendToLog(log, "buildcat worker \(context.configuration.name): job \(context.job.id), frames \(frames.map(String.init).joined(separator: ","))\n"
            + "verified \(report.files) input file(s) in \(verifySeconds) s\n$ \(arguments.joined(separator: " "))\n")
        if context.signals.stopRequests >= 2 { throw JobHandedBack() }

        let renderStart = monotonicMilliseconds()
        let timeout = context.job.timeout.flatMap { $0 > 0 ? $0 : nil }
        let outcome: ChildProcess.Outcome
        do {
            outcome = try ChildProcess(arguments: arguments, log: log).run(signals: context.signals, timeoutSeconds: timeout) {
                if context.jobLost() { return "the farm recovered the job from this worker" }
                if context.signals.stopRequests >= 2 { return "the worker was told to stop" }
                if context.leaseExpired() { return "the worker lost Redis for longer than its lease; the job goes back to the farm" }
                return nil
            }
        } catch {
            throw JobFailure("RenderFailed: \(error)")
        }
        let renderSeconds = Double(monotonicMilliseconds() - renderStart) / 1000
        let shownLog = "logs/\(context.job.id).log"
        switch outcome {
        case .exited(0):
            break
        case .stopped(let reason) where context.jobLost() || context.signals.stopRequests >= 2 || context.leaseExpired():
            context.log("job \(context.job.id): Blender was stopped: \(reason)")
            throw JobHandedBack()
        case .stopped(let reason):
            throw JobFailure("RenderTimeout: Blender was stopped: \(reason). The end of \(shownLog):\n\(tail(of: log))")
        case .exited(let code):
            throw JobFailure("RenderFailed: Blender exited with status \(code). The end of \(shownLog):\n\(tail(of: log))")
        case .killedBySignal(let signal):
            throw JobFailure("RenderFailed: Blender was killed by signal \(signal) (\(String(cString: strsignal(signal)))). The end of \(shownLog):\n\(tail(of: log))")
        }

        let written = try pattern.existingFiles(for: frames)
        var outputs: [(frame: Int, path: FilePath, digest: FileDigest)] = []
        var problems: [String] = []
        let buffer = StreamBuffer()
        for frame in frames {
            guard let path = written[frame] else {
                problems.append("frame \(frame): no file \(pattern.name(for: frame))* was written")
                continue
            }
            let digest = try XXH128Hasher.hashFile(at: path, buffer: buffer)
            guard digest.status.size > 0 else {
                problems.append("frame \(frame): \(path.lastComponent?.string ?? "") is empty")
                continue
            }
            outputs.append((frame, path, digest))
        }
        guard problems.isEmpty else {
            throw JobFailure((["RenderFailed: Blender exited 0, but \(problems.count) frame(s) are missing or empty:"]
                + problems.map { "  \($0)" } + ["The end of \(shownLog):", tail(of: log),
                "RenderFailed: \(problems.count) frame(s) not written; first: \(problems[0])"]).joined(separator: "\n"))
        }
        let outputsRoot = root.appending("outputs")
        let entries = outputs.map { output in
            ManifestEntry(path: Array(output.path.string.utf8.dropFirst(outputsRoot.string.utf8.count + 1)), hash: output.digest.digest,
                          size: output.digest.status.size, mtime: output.digest.status.modificationTimeMicroseconds)
        }
        try OutputManifest(root: outputsRoot).add(entries, job: context.job.id, batch: OutputManifest.Batch(context.arguments))
        return .object([
            ("submission", .text(submission)), ("frames", .array(frames.map { .integer(Int64($0)) })),
            ("outputs", .array(outputs.map { output in
                .object([("frame", .integer(Int64(output.frame))),
                         ("path", .text(String(output.path.string.dropFirst(root.string.count + 1)))),
                         ("size", .integer(output.digest.status.size)), ("xxh128", .text(output.digest.digest.hex))])
            })),
            ("log", .text(shownLog)), ("worker", .text(context.configuration.name)),
            ("verification", VerifyJob.describe(report, seconds: verifySeconds)),
            ("render_seconds", secondsValue(renderSeconds)),
        ])
    }

    private func appendToLog(_ log: FilePath, _ text: String) throws {
        let descriptor = try FileDescriptor.open(log, .writeOnly, options: [.create, .truncate, .closeOnExec], permissions: [.ownerReadWrite, .groupRead, .otherRead])
        defer { try? descriptor.close() }
        _ = try? descriptor.writeAll(Array(text.utf8))
    }

    /// The last lines of a log, for an error message.
    private func tail(of log: FilePath, lines: Int = 25) -> String {
        guard let bytes = try? FileSystem.readAll(log) else { return "(no log)" }
        let text = String(decoding: bytes.suffix(16 << 10), as: UTF8.self)
        return text.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines).map { "  | \($0)" }.joined(separator: "\n")
    }
}

/// Where Blender writes frames: the last run of `#` is the frame number, zero-padded to the
/// run's length, and Blender adds the format's extension.
struct OutputPattern {
    let path: FilePath
    let directory: FilePath
    private let prefix: Substring
    private let width: Int
    private let suffix: Substring

    init(_ path: FilePath) {
        self.path = path
        var directory = path
        directory.removeLastComponent()
        self.directory = directory
        let name = path.lastComponent?.string ?? ""
        let end = name.lastIndex(of: "#").map { name.index(after: $0) } ?? name.endIndex
        var start = end
        while start > name.startIndex, name[name.index(before: start)] == "#" { start = name.index(before: start) }
        prefix = name[..<start]
        width = name.distance(from: start, to: end)
        suffix = name[end...]
    }

    /// The file name for `frame`, before Blender's extension.
    func name(for frame: Int) -> String {
        let digits = String(abs(frame))
        let padded = String(repeating: "0", count: max(0, width - digits.count - (frame < 0 ? 1 : 0))) + digits
        return "\(prefix)\(frame < 0 ? "-" : "")\(padded)\(suffix)"
    }

    /// The files already there for these frames: named exactly, or with an extension.
    func existingFiles(for frames: [Int]) throws -> [Int: FilePath] {
        let names = Set(try DirectoryWalker.names(in: directory).map { String(decoding: $0, as: UTF8.self) })
        var found: [Int: FilePath] = [:]
        for frame in frames {
            let base = name(for: frame)
            if names.contains(base) { found[frame] = directory.appending(base); continue }
            // Blender's extensions: .png, .exr, .jpg, .tif, … (one dot, a short word).
            for candidate in ["png", "exr", "jpg", "jpeg", "tif", "tiff", "bmp", "tga", "hdr", "dpx", "cin", "jp2", "webp", "rgb"]
                where names.contains("\(base).\(candidate)") {
                found[frame] = directory.appending("\(base).\(candidate)")
                break
            }
        }
        return found
    }
}
