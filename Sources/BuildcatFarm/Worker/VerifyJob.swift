import BuildcatBasics
import BuildcatHash
import BuildcatStore

/// The check before every render (DESIGN.md "Worker"), and on its own the function
/// `buildcat.verify(submission=, manifest_xxh128=)`: a pre-flight job that proves a submission
/// intact on a worker's mount of the share without rendering.
struct VerifyJob {
    let context: JobContext

    func run() throws -> JSONValue {
        let (report, seconds) = try verifyInputs()
        return .object([("submission", .text(report.submission)), ("verification", Self.describe(report, seconds: seconds))])
    }

    /// Verifies the job's submission against the manifest hash the job carries.
    /// - Throws: `JobFailure` listing every file that is not what was staged.
    /// - Parameter frames: the frames the job renders: files of image sequences they do not
    ///   show are not checked, when the job carries `sequences_xxh128`.
    func verifyInputs(frames: [Int]? = nil) throws -> (VerificationReport, seconds: Double) {
        let submission = try context.text("submission")
        let manifestHash = try context.text("manifest_xxh128")
        let sequencesHash = context.arguments.member("sequences_xxh128")?.text
        let started = monotonicMilliseconds()
        let report: VerificationReport
        do {
            report = try SubmissionVerifier(store: context.configuration.store, cache: context.cache, memo: context.manifests)
                .verify(submission, expectedManifestHash: manifestHash, frames: frames, expectedSequencesHash: sequencesHash)
        } catch {
            throw JobFailure("VerificationFailed: \(error)")
        }
        try? context.cache?.save()  // a cache that cannot be saved costs time later, not correctness
        let seconds = Double(monotonicMilliseconds() - started) / 1000
        let notNeeded = report.filesNotNeeded > 0 ? "; \(report.filesNotNeeded) sequence file(s) these frames do not show left out" : ""
        context.log("verified \(report.files) input file(s) of \(submission), \(report.bytes) bytes (\(report.filesFromCache) from the verification cache\(notNeeded)) in \(seconds) s: \(report.isIntact ? "intact" : "\(report.problems.count) bad")")
        guard report.isIntact else {
            let count = report.problems.count
            let lines = report.problems.prefix(100).map { "  \($0)" }
            let more = count > 100 ? ["  … and \(count - 100) more"] : []
            throw JobFailure((["VerificationFailed: \(count) of the \(report.files) input file(s) of submission \(submission) are not what was staged; nothing was rendered:"]
                + lines + more + ["VerificationFailed: \(count) bad input(s); first: \(report.problems[0])"]).joined(separator: "\n"))
        }
        return (report, seconds)
    }

    static func describe(_ report: VerificationReport, seconds: Double) -> JSONValue {
        .object([("files", .integer(Int64(report.files))), ("bytes", .integer(report.bytes)),
                 ("files_from_cache", .integer(Int64(report.filesFromCache))),
                 ("files_not_needed", .integer(Int64(report.filesNotNeeded))), ("seconds", secondsValue(seconds))])
    }
}

/// Seconds as a JSON number with millisecond precision.
func secondsValue(_ seconds: Double) -> JSONValue {
    let milliseconds = Int64((seconds * 1000).rounded())
    let fraction = String(milliseconds % 1000)
    return .number("\(milliseconds / 1000).\(String(repeating: "0", count: 3 - fraction.count))\(fraction)")
}
