import Glibc
import Synchronization

extension Parallel {
    /// Renders `count` pieces of output on all cores and hands each to `emit` on this thread,
    /// in order, as soon as it and those before it are done. A piece's buffer is used again
    /// for a later piece once emitted, and no more than a few pieces a thread are rendered
    /// ahead of the one emitted: megabytes of output (a scan's JSON) are never whole in
    /// memory, and the few buffers are faulted in once, not a fresh megabyte per piece
    /// (unbounded, the renderers ran dozens of pieces ahead, each in a new buffer).
    ///
    /// This thread renders too, whenever the next piece to emit is not done and another may be
    /// begun, and the others are the urgent threads (`Parallel.urgently`), already running at
    /// the end of a scan. (Dispatch's pool made its threads for the JSON after a scan had
    /// finished with its own, a start-up and a wake-up each, and left this one waiting on each
    /// piece: 66 of a run's 70 switches away from a running thread.)
    public static func renderInOrder(
        count: Int, threads: Int = processorCount,
        render: @escaping @Sendable (_ index: Int, _ buffer: inout [UInt8]) -> Void, emit: ([UInt8]) -> Void
    ) {
        guard count > 0 else { return }
        let pieces = RenderedPieces(count: count, ahead: 2 * max(1, threads), helpers: max(0, threads - 1), render: render)
        pieces.startHelpers()
        for index in 0..<count {
            let piece = pieces.take(index)
            emit(piece)
            // Moved back, not copied: this thread's hold on the buffer must be gone before a
            // renderer takes it again, or the renderer would not have it to itself and would
            // make a new one.
            pieces.recycle(consume piece)
        }
    }
}

/// The pieces of a `renderInOrder`: which may be begun (in order, at most `ahead` past the
/// last emitted), those done and not yet emitted, and the buffers free for more.
private final class RenderedPieces: Sendable {
    private let count: Int
    private let ahead: Int
    private let helpers: Int
    private let render: @Sendable (Int, inout [UInt8]) -> Void
    private let state: Mutex<State>
    /// How many pieces are done: the emitting thread spins on it, not on the lock, while a
    /// helper renders the piece it waits for.
    private let finishedCount = Atomic<Int>(0)

    private struct State {
        /// The next piece to begin.
        var next = 0
        /// How many are emitted.
        var emitted = 0
        /// The pieces done and not yet taken to be emitted, by index.
        var done: [[UInt8]?]
        var spare: [[UInt8]] = []
        /// Helpers rendering now.
        var running = 0
    }

    init(count: Int, ahead: Int, helpers: Int, render: @escaping @Sendable (Int, inout [UInt8]) -> Void) {
        self.count = count
        self.ahead = ahead
        self.helpers = helpers
        self.render = render
        state = Mutex(State(done: Array(repeating: nil, count: count)))
    }

    /// Starts as many helpers as may render now and are not running.
    func startHelpers() {
        let starting = state.withLock { state -> Int in
            let startable = min(count, state.emitted + ahead) - state.next
            let starting = max(0, min(helpers - state.running, startable))
            state.running += starting
            return starting
        }
        for _ in 0..<starting { Parallel.urgently { self.help() } }
    }

    /// Renders pieces until none may be begun now (the emitter starts it again when one may).
    private func help() {
        while let (index, buffer) = begin(stoppingHelper: true) { finish(index, rendering: buffer) }
    }

    /// The next piece to render, with a buffer for it; nil when none may be begun now (and then,
    /// for a helper, it is counted as stopped, in the same hold of the lock).
    private func begin(stoppingHelper: Bool) -> (index: Int, buffer: [UInt8])? {
        state.withLock { state in
            guard state.next < count && state.next < state.emitted + ahead else {
                if stoppingHelper { state.running -= 1 }
                return nil
            }
            defer { state.next += 1 }
            return (state.next, state.spare.popLast() ?? [])
        }
    }

    private func finish(_ index: Int, rendering buffer: consuming [UInt8]) {
        var buffer = buffer
        buffer.removeAll(keepingCapacity: true)
        render(index, &buffer)
        // Handed over and let go in one hold of the lock: whoever takes it next finds it its own.
        state.withLock { state in
            state.done[index] = buffer
            buffer = []
        }
        finishedCount.add(1, ordering: .releasing)
    }

    /// The piece at `index` once done: rendered here while it is not and another may be begun.
    func take(_ index: Int) -> [UInt8] {
        while true {
            let seen = finishedCount.load(ordering: .acquiring)
            if let piece = state.withLock({ $0.done[index].take() }) { return piece }
            if let (next, buffer) = begin(stoppingHelper: false) {
                finish(next, rendering: buffer)
            } else {
                // A helper is rendering it (it was begun, and is not done): tens of microseconds.
                if !Spin.until({ finishedCount.load(ordering: .acquiring) != seen }) { sched_yield() }
            }
        }
    }

    /// Takes back an emitted piece's buffer, and starts helpers again if they stopped for want
    /// of room to render ahead.
    func recycle(_ piece: consuming [UInt8]) {
        var piece = piece
        let restart = state.withLock { state -> Bool in
            state.spare.append(piece)
            piece = []  // let go before a renderer can take it
            state.emitted += 1
            return state.running < helpers && state.next < count
        }
        if restart { startHelpers() }
    }
}
