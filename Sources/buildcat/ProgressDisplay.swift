import BuildcatBasics
import BuildcatFarm
import Glibc
import Synchronization

/// Shows a staging's progress on standard error: on a terminal one line redrawn at most ten
/// times a second (files and bytes, rate, time left); elsewhere a plain line per phase.
final class ProgressDisplay: Sendable {
    private struct State {
        var lastDraw: Int64 = 0
        var lastPhase: StageProgress.Phase?
        var started: Int64 = 0
        var drawn = false
    }

    private let state = Mutex(State())
    private let terminal = isatty(STDERR_FILENO) == 1

    func update(_ progress: StageProgress) {
        let now = monotonicNanoseconds()
        let line: String? = state.withLock { state in
            let newPhase = state.lastPhase != progress.phase
            if newPhase {
                state.lastPhase = progress.phase
                state.started = now
            }
            if !terminal {
                guard newPhase else { return nil }
                return "\(progress.phase.rawValue)…" + (progress.filesTotal > 0 ? " \(progress.filesTotal) file(s), \(formatByteCount(progress.bytesTotal))" : "") + "\n"
            }
            let finished = progress.filesTotal > 0 && progress.filesDone == progress.filesTotal
            guard newPhase || finished || now - state.lastDraw >= 100_000_000 else { return nil }
            state.lastDraw = now
            state.drawn = true
            return "\r\u{1B}[K" + Self.describe(progress, elapsed: now - state.started)
        }
        if let line { Self.writeError(line) }
    }

    /// Clears the progress line before the command prints its result.
    func finish() {
        let clear = state.withLock { state -> Bool in
            defer { state.drawn = false }
            return state.drawn
        }
        if clear && terminal { Self.writeError("\r\u{1B}[K") }
    }

    private static func describe(_ progress: StageProgress, elapsed: Int64) -> String {
        guard progress.filesTotal > 0 else { return "\(progress.phase.rawValue)…" }
        var text = "\(progress.phase.rawValue): \(progress.filesDone)/\(progress.filesTotal) files, \(formatByteCount(progress.bytesDone)) of \(formatByteCount(progress.bytesTotal))"
        let seconds = Double(elapsed) / 1e9
        if seconds > 0.5, progress.bytesDone > 0 {
            let rate = Double(progress.bytesDone) / seconds
            text += ", \(formatByteCount(Int64(rate)))/s"
            let left = Double(max(progress.bytesTotal - progress.bytesDone, 0)) / rate
            text += ", \(Int(left.rounded())) s left"
        }
        return text
    }

    private static func writeError(_ text: String) {
        var text = text
        text.withUTF8 { _ = Glibc.write(STDERR_FILENO, $0.baseAddress, $0.count) }
    }
}
