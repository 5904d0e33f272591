import CBuildcatBytes
import Dispatch
import Synchronization

/// A signal one thread gives once and another waits for, spinning a while before it sleeps.
///
/// A thread woken from sleep may be queued on its waker's processor, behind the waker, while
/// another processor stands idle: on this project's VMs (whose kernel packs woken threads onto
/// busy virtual processors) a scan waited 3.5 ms so for the formats its read-ahead's thread had
/// made in a fraction of that. For what takes tens of microseconds, spinning keeps the waiter
/// running where it is; past `Spin.limit` it sleeps.
public final class HandOff: Sendable {
    private let given = Atomic<Bool>(false)
    private let semaphore = DispatchSemaphore(value: 0)

    public init() {}

    /// Gives the signal: what the giver wrote before is seen by the waiter after `wait`.
    public func give() {
        given.store(true, ordering: .releasing)
        semaphore.signal()
    }

    /// Returns once the signal is given.
    public func wait() {
        guard !Spin.until({ given.load(ordering: .acquiring) }) else { return }
        // Asleep until given. (Left signalled when never waited on: Dispatch traps only on a
        // semaphore freed below the value it was made with.)
        semaphore.wait()
    }
}

/// Spinning on a condition another thread will make true soon.
public enum Spin {
    /// How long a thread spins before it sleeps: several times what one piece of a scan's
    /// read-ahead takes (a layer read, lexed and its files stat'ed, 20–40 µs), far less than a
    /// thread queued behind another waits (milliseconds).
    public static let limit: Int64 = 200_000  // nanoseconds

    /// Spins until `condition` holds (true) or `limit` has passed (false).
    public static func until(_ condition: () -> Bool) -> Bool {
        var spins = 0
        var deadline: Int64 = 0
        while !condition() {
            buildcat_spin_pause()
            spins += 1
            // The clock read every 64 spins (a few microseconds): often enough, and cheap.
            guard spins & 63 == 0 else { continue }
            let now = monotonicNanoseconds()
            if deadline == 0 {
                deadline = now + limit
            } else if now > deadline {
                return false
            }
        }
        return true
    }
}
