import ArgumentParser
import BuildcatBasics
import BuildcatFarm
import BuildcatHash
import Glibc
import SystemPackage

struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Prove by hash that a staged submission's files are what was staged.",
        discussion: """
            The check a worker makes before it renders: manifest.json hashes to what \
            submission.json recorded, and every file it lists exists under files/ with its size \
            and XXH3-128. Unchanged files are taken from the verification cache \
            ($BUILDCAT_CACHE_DIR/verify), so checking an unchanged checkout costs a stat per file; \
            --full reads every file. With --frames, the check is the one a chunk of those frames \
            gets: files of image sequences that the frames do not show are left out.

            Prints each file that is missing, of the wrong size or the wrong content. Exit status: \
            0 when everything matches, 1 when anything does not, 2 when the submission cannot be \
            read.
            """)

    @OptionGroup var shareOptions: ShareOptions

    @Flag(help: "Read and hash every file, ignoring the verification cache.")
    var full = false

    @Flag(help: "Print JSON for programs instead of lines for people.")
    var json = false

    @Option(help: ArgumentHelp("Check as a chunk of these frames would: files of image sequences they do not show are left out (e.g. 10-19).", valueName: "spec"))
    var frames: String?

    @Argument(help: "The submission id.")
    var submission: String

    func run() throws {
        let store = try shareOptions.store()
        let cacheDirectory = HashCache.defaultDirectory(environment: processEnvironment()).appending("verify")
        let cache = full ? nil : HashCache(directory: cacheDirectory)
        var chunk: [Int]?
        if let frames {
            do {
                chunk = try FrameSpec(frames).frames
            } catch {
                throw ValidationError("--frames: \(error)")
            }
        }
        let report: VerificationReport
        do {
            let sequencesHash = chunk == nil ? nil : try Submitter(store: store).record(submission).sequencesHash
            report = try SubmissionVerifier(store: store, cache: cache).verify(submission, frames: chunk, expectedSequencesHash: sequencesHash)
        } catch {
            printError("\(error)")
            throw ExitCode(2)
        }
        do {
            try cache?.save()
        } catch {
            printError("warning: the verification cache was not saved: \(error)")
        }
        if json {
            var out = JSONValue.object([
                ("submission", .text(report.submission)), ("intact", .bool(report.isIntact)),
                ("files", .integer(Int64(report.files))), ("bytes", .integer(report.bytes)),
                ("files_from_cache", .integer(Int64(report.filesFromCache))),
                ("files_not_needed", .integer(Int64(report.filesNotNeeded))),
                ("problems", .array(report.problems.map { .object([("path", .text($0.path)), ("kind", .text($0.kind.rawValue)), ("detail", .text($0.detail))]) })),
            ]).serialized()
            out.append(UInt8(ascii: "\n"))
            let writer = ByteWriter(descriptor: STDOUT_FILENO)
            writer.write(out)
            writer.flush()
        } else {
            for problem in report.problems { print("BAD  \(problem)") }
            let verdict = report.isIntact ? "intact" : "\(report.problems.count) problem(s)"
            let notNeeded = report.filesNotNeeded > 0 ? "; \(report.filesNotNeeded) sequence file(s) these frames do not show left out" : ""
            print("\(report.submission): \(report.files) file(s), \(formatByteCount(report.bytes)), \(verdict) (\(report.filesFromCache) from the verification cache\(notNeeded))")
        }
        if !report.isIntact { throw ExitCode.failure }
    }
}
