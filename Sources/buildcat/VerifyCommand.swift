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
            --full reads every file.

            Prints each file that is missing, of the wrong size or the wrong content. Exit status: \
            0 when everything matches, 1 when anything does not, 2 when the submission cannot be \
            read.
            """)

    @OptionGroup var shareOptions: ShareOptions

    @Flag(help: "Read and hash every file, ignoring the verification cache.")
    var full = false

    @Flag(help: "Print JSON for programs instead of lines for people.")
    var json = false

    @Argument(help: "The submission id.")
    var submission: String

    func run() throws {
        let store = try shareOptions.store()
        let cacheDirectory = HashCache.defaultDirectory(environment: processEnvironment()).appending("verify")
        let cache = full ? nil : HashCache(directory: cacheDirectory)
        let report: VerificationReport
        do {
            report = try SubmissionVerifier(store: store, cache: cache).verify(submission)
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
                ("problems", .array(report.problems.map { .object([("path", .text($0.path)), ("kind", .text($0.kind.rawValue)), ("detail", .text($0.detail))]) })),
            ]).serialized()
            out.append(UInt8(ascii: "\n"))
            let writer = ByteWriter(descriptor: STDOUT_FILENO)
            writer.write(out)
            writer.flush()
        } else {
            for problem in report.problems { print("BAD  \(problem)") }
            let verdict = report.isIntact ? "intact" : "\(report.problems.count) problem(s)"
            print("\(report.submission): \(report.files) file(s), \(formatByteCount(report.bytes)), \(verdict) (\(report.filesFromCache) from the verification cache)")
        }
        if !report.isIntact { throw ExitCode.failure }
    }
}
