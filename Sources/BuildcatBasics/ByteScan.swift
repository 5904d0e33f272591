import CBuildcatBytes

/// Scans of many bytes, vectorised in C (see CBuildcatBytes).
public enum ByteScan {
    /// How many of `bytes` equal `byte`.
    public static func count(_ byte: UInt8, in bytes: UnsafeRawBufferPointer) -> Int {
        guard let base = bytes.baseAddress else { return 0 }
        return buildcat_count_byte(base, bytes.count, byte)
    }
}
