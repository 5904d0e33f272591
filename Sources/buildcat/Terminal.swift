import ArgumentParser
import BuildcatBasics
import Glibc
import SystemPackage

/// Buffered output of raw bytes to a file descriptor: file names are written exactly as their
/// bytes, which `print` (through `String`) would not do for names that are not UTF-8.
final class ByteWriter {
    private let descriptor: Int32
    private var buffer: [UInt8] = []

    init(descriptor: Int32) {
        self.descriptor = descriptor
        buffer.reserveCapacity(1 << 16)
    }


    func write(_ bytes: some Sequence<UInt8>) {
        buffer.append(contentsOf: bytes)
        if buffer.count >= 1 << 16 { flush() }
    }

    func write(_ text: String) { write(text.utf8) }

    /// Lets `build` append to the buffer in place: megabytes of output (a scan's JSON) go out
    /// in buffer-sized writes, never whole in memory.
    func write(building build: (inout [UInt8]) -> Void) {
        build(&buffer)
        if buffer.count >= 1 << 16 { flush() }
    }

    /// Writes `bytes` after what is buffered, without copying them into the buffer.
    func writeUnbuffered(_ bytes: [UInt8]) {
        flush()
        Self.writeAll(bytes[...], to: descriptor)
    }

    func flush() {
        Self.writeAll(buffer[...], to: descriptor)
        buffer.removeAll(keepingCapacity: true)
    }

    private static func writeAll(_ bytes: ArraySlice<UInt8>, to descriptor: Int32) {
        var offset = bytes.startIndex
        while offset < bytes.endIndex {
            let written = bytes[offset...].withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
            if written < 0 {
                if Glibc.errno == EINTR { continue }
                break  // a closed pipe: nothing more can be said there
            }
            offset += written
        }
    }

    deinit { flush() }
}

@available(*, unavailable)
extension ByteWriter: Sendable {}

/// Writes a message for people to standard error, prefixed with the program's name.
func printError(_ message: String) {
    var line = "buildcat: \(message)\n"
    line.withUTF8 { _ = Glibc.write(STDERR_FILENO, $0.baseAddress, $0.count) }
}

/// Whether standard output (or another descriptor) is a terminal, for progress and colour.
func isTerminal(_ descriptor: Int32) -> Bool { isatty(descriptor) == 1 }

/// Ends the process with `status` once its output is written, without freeing what it holds:
/// a scan's result is hundreds of thousands of objects, and releasing them one by one took a
/// large USD stage's scan longer than writing its JSON. The system takes the memory back whole.
func exitAfterOutput(_ status: Int32) -> Never {
    Glibc.exit(status)
}

/// The process's arguments as their original bytes.
///
/// `CommandLine.arguments` replaces bytes that are not UTF-8 with U+FFFD, after which a file
/// with such a name cannot be opened. Studios have such names; this maps each parsed argument
/// back to the bytes it came from, read from /proc/self/cmdline.
enum RawArguments {
    static let all: [[UInt8]] = {
        guard let bytes = try? FileSystem.readAll("/proc/self/cmdline") else { return [] }
        var arguments = bytes.split(separator: 0, omittingEmptySubsequences: false).map(Array.init)
        if arguments.last == [] { arguments.removeLast() }
        return arguments
    }()

    /// The path an argument names, with its original bytes when they were not UTF-8.
    /// - Throws: a usage error if two different arguments read the same once decoded, since
    ///   which one was meant can no longer be told.
    static func path(_ argument: String) throws -> FilePath {
        guard argument.unicodeScalars.contains("\u{FFFD}") else { return FilePath(argument) }
        let candidates = Set(all.filter { String(decoding: $0, as: UTF8.self) == argument })
        guard candidates.count <= 1 else {
            throw ValidationError("the arguments '\(candidates.map { displayBytes($0) }.sorted().joined(separator: "' and '"))' differ only in bytes that are not UTF-8; name their directory instead")
        }
        return candidates.first.map { FilePath(bytes: $0) } ?? FilePath(argument)
    }
}
