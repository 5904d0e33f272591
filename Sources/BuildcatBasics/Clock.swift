import Glibc

/// The wall-clock time in nanoseconds since the epoch; clock_gettime(CLOCK_REALTIME).
public func wallClockNanoseconds() -> Int64 {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
}

/// A UTC time as ISO 8601: `2026-11-30T08:30:15Z`, or with `microseconds` as RQ writes its
/// times, `2026-11-30T08:30:15.123456Z`.
public func utcTimestamp(nanosecondsSinceEpoch nanoseconds: Int64, microseconds: Bool = false) -> String {
    var seconds = time_t(nanoseconds / 1_000_000_000)
    var parts = tm()
    gmtime_r(&seconds, &parts)
    func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
    var text = "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))"
    if microseconds {
        let micro = String(nanoseconds % 1_000_000_000 / 1000)
        text += "." + String(repeating: "0", count: 6 - micro.count) + micro
    }
    return text + "Z"
}

/// Nanoseconds on the monotonic clock.
public func monotonicNanoseconds() -> Int64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
}

/// Milliseconds on the monotonic clock.
public func monotonicMilliseconds() -> Int64 {
    monotonicNanoseconds() / 1_000_000
}
