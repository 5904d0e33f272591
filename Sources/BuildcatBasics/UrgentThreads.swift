import Dispatch
import Synchronization

/// Threads of this process's own, one fewer than there are cores (the caller keeps one), that
/// run work handed to them in order: the work a thread waits for next (`Parallel.urgently`).
///
/// Not Dispatch's: it starts a pool thread only when work arrives, and a scan's first read-ahead
/// began 0.6–6.3 ms after `main` (its start-up, then the scheduler's), a core idle all along, in
/// what is a 36 ms scan of a 2,000-layer USD stage. These are made with `pthread_create` at
/// `main`, on another processor than the caller's (`DedicatedThread(elsewhere:)`: a new thread
/// was otherwise queued behind its maker), and ran 0.2–0.5 ms after `main`. They live as long
/// as the process: spinning a moment when out of work (more often comes soon, and a thread
/// woken from sleep may be queued behind its waker, see `HandOff`), then asleep.
final class UrgentThreads: Sendable {
    static let shared = UrgentThreads(count: max(1, Parallel.processorCount - 1))

    private let count: Int
    private let state = Mutex(State())
    /// One signal for each sleeping thread woken.
    private let wakeUps = DispatchSemaphore(value: 0)
    /// Work handed over and not yet taken, for threads about to sleep to spin on without the lock.
    private let waiting = Atomic<Int>(0)

    private struct State {
        var work: [@Sendable () -> Void] = []
        /// Where the oldest work not yet taken is in `work`.
        var next = 0
        var started = 0
        var sleeping = 0
    }

    private init(count: Int) { self.count = count }

    /// Starts every thread not started yet.
    func startAll() {
        let toStart = state.withLock { state -> Int in
            defer { state.started = count }
            return count - state.started
        }
        for _ in 0..<toStart { startThread() }
    }

    func run(_ work: @escaping @Sendable () -> Void) {
        let (wake, start) = state.withLock { state -> (Bool, Bool) in
            state.work.append(work)
            waiting.add(1, ordering: .releasing)
            if state.sleeping > 0 {
                state.sleeping -= 1
                return (true, false)
            }
            guard state.started < count else { return (false, false) }
            state.started += 1
            return (false, true)
        }
        if wake { wakeUps.signal() }
        if start { startThread() }
    }

    /// Undoes a thread's going to sleep, when work came while it spun and no one woke it yet
    /// (false: it was woken, and must take the wake-up).
    private static func stopSleeping(_ state: inout State) -> Bool {
        guard state.sleeping > 0 else { return false }
        state.sleeping -= 1
        return true
    }

    private func startThread() {
        _ = DedicatedThread(elsewhere: true) { [self] in
            Parallel.adviseHugeHeap()
            serve()
        }
    }

    /// Runs work as it comes, forever; asleep while there is none.
    private func serve() -> Never {
        while true {
            let work = state.withLock { state -> (@Sendable () -> Void)? in
                guard state.next < state.work.count else {
                    state.work.removeAll(keepingCapacity: true)
                    state.next = 0
                    state.sleeping += 1
                    return nil
                }
                defer {
                    state.next += 1
                    // Work never drained (a long-lived process, always busy) is let go of in
                    // halves, not kept to the end.
                    if state.next >= 1024 && state.next * 2 >= state.work.count {
                        state.work.removeFirst(state.next)
                        state.next = 0
                    }
                }
                waiting.subtract(1, ordering: .relaxed)
                return state.work[state.next]
            }
            if let work {
                work()
            } else if !Spin.until({ waiting.load(ordering: .acquiring) > 0 }) || !state.withLock({ Self.stopSleeping(&$0) }) {
                // Spun for a while first: work often comes a moment later, and a thread woken from
                // sleep may wait behind its waker (`HandOff`).
                wakeUps.wait()
            }
        }
    }
}
