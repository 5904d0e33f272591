import Glibc

/// The signals a worker acts on, taken synchronously: they are blocked in every thread (the
/// mask is set before any thread starts, and threads inherit it) and collected with
/// `sigtimedwait`, so no handler runs at an awkward moment and no thread dies of one.
/// Children get an empty mask and default actions back (see `ChildProcess`).
public final class WorkerSignals: @unchecked Sendable {
    /// How many stop requests (SIGTERM, SIGINT, SIGHUP) have arrived.
    public private(set) var stopRequests = 0
    private var set = sigset_t()

    public init() {
        sigemptyset(&set)
        for signal in [SIGTERM, SIGINT, SIGHUP, SIGCHLD] { sigaddset(&set, signal) }
        pthread_sigmask(SIG_BLOCK, &set, nil)
    }

    /// Waits up to `milliseconds` for a signal and counts stop requests.
    /// - Returns: whether a child may have exited (SIGCHLD), so the caller reaps.
    @discardableResult
    public func wait(milliseconds: Int) -> Bool {
        var timeout = timespec(tv_sec: milliseconds / 1000, tv_nsec: (milliseconds % 1000) * 1_000_000)
        var childExited = false
        while true {
            let signal = sigtimedwait(&set, nil, &timeout)
            if signal < 0 { return childExited }  // timed out (EAGAIN) or interrupted
            if signal == SIGCHLD { childExited = true } else { stopRequests += 1 }
            // Drain what else is pending without waiting.
            timeout = timespec(tv_sec: 0, tv_nsec: 0)
        }
    }

    /// Collects pending signals without waiting.
    public func poll() { wait(milliseconds: 0) }
}
