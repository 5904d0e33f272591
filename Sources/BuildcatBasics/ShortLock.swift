import CBuildcatLinux

/// A lock around `Value` for critical sections of well under a microsecond that busy threads
/// take often (a scan's read-ahead queue): a thread that finds it held spins, and sleeps only
/// if it stays held (`buildcat_short_lock`).
///
/// Not `Mutex`: on Linux it sleeps on a priority-inheriting futex, which hands the lock over
/// through the kernel to the thread that waited — while the thread that freed it, which wants
/// it again at once, waits in turn for that thread to wake. On this project's VMs a wake-up
/// takes 50–100 µs; under `Mutex`, the read-ahead of a 2,000-layer stage's scan made 385 more
/// futex calls and 41 more context switches a scan (docs/benchmarks.md).
public final class ShortLock<Value>: @unchecked Sendable {
    private let lock = UnsafeMutablePointer<buildcat_short_lock>.allocate(capacity: 1)
    // Guarded by `lock`, so not checked for exclusive access as well.
    @exclusivity(unchecked) private var value: Value

    public init(_ value: Value) {
        lock.initialize(to: buildcat_short_lock(word: 0))
        self.value = value
    }

    deinit { lock.deallocate() }

    public func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        buildcat_short_lock_acquire(lock)
        defer { buildcat_short_lock_release(lock) }
        return try body(&value)
    }
}
