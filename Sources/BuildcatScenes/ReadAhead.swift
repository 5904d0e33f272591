import BuildcatBasics
import Synchronization

/// Work on files a scan will reach, started on other cores as soon as the scan learns of them
/// and taken by the scan when it gets there — done by the scan itself then, if no core has
/// begun it yet, so that waiting never costs more than doing.
///
/// Work runs in the order it was started, on one thread fewer than there are cores: the scan's
/// own thread keeps a core. (With a thread per core the reading starved the scan, which then
/// merged alone, one core idle, what had been read for it: the scan of a 2,000-layer stage
/// spent 52 ms in its loop, now 46.)
final class ReadAhead<Value: Sendable>: Sendable {
    private let state = ShortLock(State())
    private let workers = max(1, Parallel.processorCount - 1)

    private struct State {
        var slots: [ByteKey: Slot] = [:]
        /// Every key ever started or taken: work is started once per key.
        var known: Set<ByteKey> = []
        /// Slots not yet run by a worker, oldest first (from `next` on).
        var queue: [Slot] = []
        var next = 0
        /// Workers running now.
        var running = 0
    }

    /// Starts `work` for `key` on another core, unless it was started (or taken) already.
    func start(_ key: ByteKey, _ work: @escaping @Sendable () -> Value) {
        let needsWorker = state.withLock { state -> Bool in
            guard state.known.insert(key).inserted else { return false }
            let slot = Slot(work)
            state.slots[key] = slot
            state.queue.append(slot)
            guard state.running < workers else { return false }
            state.running += 1
            return true
        }
        // On the urgent threads, not behind other background work: the scan waits for these next.
        if needsWorker { Parallel.urgently { self.runQueued() } }
    }

    /// Runs queued work until none is left.
    private func runQueued() {
        while let slot = state.withLock({ state -> Slot? in
            guard state.next < state.queue.count else {
                state.queue.removeAll(keepingCapacity: true)
                state.next = 0
                state.running -= 1
                return nil
            }
            defer { state.next += 1 }
            return state.queue[state.next]
        }) {
            slot.runUnlessClaimed()
        }
    }

    /// The value of the work started for `key` (done here if no other thread has begun it,
    /// waited for if one has); nil when none was started. No work is started for it after.
    func take(_ key: ByteKey) -> Value? {
        let slot = state.withLock { state -> Slot? in
            state.known.insert(key)
            return state.slots.removeValue(forKey: key)
        }
        guard let slot else { return nil }
        if slot.claim() { return slot.run() }
        slot.finished.wait()
        // Out of the slot: the queue holds on to the slot until it drains, and a large scan's
        // layers would stay in memory with it.
        defer { slot.value = nil }
        return slot.value
    }

    /// `value` is written once, by the one thread that claimed the slot, before `finished` is
    /// signalled; it is read (and cleared) only after `finished`, by the one thread that took
    /// it. `work` is run and dropped by the claiming thread: it may hold the `ReadAhead` itself
    /// (work that starts more work), and a slot never taken must not keep it alive.
    private final class Slot: @unchecked Sendable {
        private var work: (@Sendable () -> Value)?
        let finished = HandOff()
        private let claimed = Atomic<Bool>(false)
        var value: Value?

        init(_ work: @escaping @Sendable () -> Value) { self.work = work }

        func claim() -> Bool { claimed.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged }

        /// Runs the work; only by the thread that claimed the slot.
        func run() -> Value {
            let result = work!()
            work = nil
            return result
        }

        func runUnlessClaimed() {
            guard claim() else { return }
            value = run()
            finished.give()
        }
    }
}
