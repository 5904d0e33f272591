import CBuildcatLinux
import Dispatch
import Glibc
import Synchronization

/// Runs independent pieces of blocking work (reads, hashes, copies) on all cores.
///
/// The work blocks in system calls, so it runs on Dispatch's worker threads rather than on
/// Swift concurrency's cooperative pool, which has only as many threads as cores.
public enum Parallel {
    /// The number of processors this process may run on.
    public static var processorCount: Int { Int(buildcat_processor_count()) }

    /// Has malloc grow each thread's heap by `bytes` at a time, not a page at a time (an
    /// mprotect call each): for commands whose threads allocate in bursts. Address space only;
    /// nothing is resident until it is used.
    public static func growHeaps(by bytes: Int) {
        buildcat_set_heap_growth(bytes)
    }

    /// Asks the system to back the calling thread's malloc heap with transparent huge pages
    /// (where it offers them for memory that asks): a large scan otherwise faults in thousands
    /// of 4 KiB pages one at a time, a tenth of its time (3,200 faults for a USD stage of 2,000
    /// layers; glibc does the same when `GLIBC_TUNABLES` holds `glibc.malloc.hugetlb=1` at
    /// start-up, which a program cannot set for itself). For threads that allocate much, once
    /// a thread; a hint, without effect where the system has no huge pages.
    public static func adviseHugeHeap() {
        buildcat_advise_huge_heap()
    }

    /// Runs `work` soon on one of the urgent threads: for work a thread will soon wait for (a
    /// scan's read-ahead), in the order it was handed over. See `UrgentThreads`.
    public static func urgently(_ work: @escaping @Sendable () -> Void) {
        UrgentThreads.shared.run(work)
    }

    /// Starts the urgent threads now, each setting up its heap (`adviseHugeHeap`), while the
    /// caller goes on (parsing its arguments): a scan's first read-ahead then finds a thread
    /// running. Idle, a thread costs nothing.
    public static func startUrgentThreads() {
        UrgentThreads.shared.startAll()
    }

    /// Calls `body` once for every index in `0..<count`, on up to `threads` threads at once.
    ///
    /// Each thread first makes its own context (say a read buffer) with `makeContext` and passes
    /// it to every call it makes. Indices are handed out in order, one at a time, so a few large
    /// items do not leave the other threads idle. Returns when every call has returned.
    ///
    /// - Parameter take: called by a thread before it takes each index (to wait for room).
    public static func forEach<Context>(
        count: Int, threads: Int = processorCount,
        makeContext: @Sendable () -> Context, take: @Sendable () -> Void = {},
        body: @Sendable (_ index: Int, _ context: Context) -> Void
    ) {
        guard count > 0 else { return }
        let next = Atomic<Int>(0)
        let threadCount = max(1, min(threads, count))
        if threadCount == 1 {
            let context = makeContext()
            for index in 0..<count {
                take()
                body(index, context)
            }
            return
        }
        DispatchQueue.concurrentPerform(iterations: threadCount) { _ in
            let context = makeContext()
            while true {
                take()
                let index = next.wrappingAdd(1, ordering: .relaxed).oldValue
                if index >= count { break }
                body(index, context)
            }
        }
    }

    /// Maps every index in `0..<count` to a value on all cores, keeping the order.
    public static func map<Context, Value>(
        count: Int, threads: Int = processorCount,
        makeContext: @Sendable () -> Context, transform: @Sendable (_ index: Int, _ context: Context) -> Value
    ) -> [Value] {
        let results = ResultSlots<Value>(count: count)
        forEach(count: count, threads: threads, makeContext: makeContext) { index, context in
            results.store(transform(index, context), at: index)
        }
        return results.values()
    }
}

/// One slot per index for results computed on several threads.
///
/// `@unchecked Sendable` is safe because each slot is written by exactly one thread (the one that
/// took its index) and all slots are read only after every thread has finished.
private final class ResultSlots<Value>: @unchecked Sendable {
    private let slots: UnsafeMutableBufferPointer<Value?>

    init(count: Int) {
        slots = .allocate(capacity: count)
        slots.initialize(repeating: nil)
    }

    deinit {
        slots.deinitialize()
        slots.deallocate()
    }

    func store(_ value: consuming Value, at index: Int) { slots[index] = value }

    func values() -> [Value] { slots.map { $0! } }
}

/// A thread of its own (not a pool's): for work that blocks on the network for its whole life,
/// like a heartbeat, which must not wait behind a busy pool.
public final class DedicatedThread: @unchecked Sendable {
    private var thread = pthread_t()

    /// - Parameter elsewhere: start it on another processor than the caller's, for work that
    ///   runs beside the caller's (`buildcat_start_thread_elsewhere`).
    public init(elsewhere: Bool = false, _ body: @escaping @Sendable () -> Void) {
        let box = Unmanaged.passRetained(Box(body)).toOpaque()
        let run: @convention(c) (UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? = { pointer in
            let box = Unmanaged<Box>.fromOpaque(pointer!).takeRetainedValue()
            box.body()
            return nil
        }
        let result = elsewhere ? buildcat_start_thread_elsewhere(&thread, run, box) : pthread_create(&thread, nil, run, box)
        precondition(result == 0, "pthread_create failed: \(result)")  // only without resources
    }

    /// Waits for the thread's body to return.
    public func join() { pthread_join(thread, nil) }

    private final class Box: @unchecked Sendable {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }
}
