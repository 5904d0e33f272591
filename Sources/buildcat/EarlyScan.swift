import BuildcatBasics
import BuildcatScenes
import Synchronization
import SystemPackage

/// A scan's start, made on the read-ahead's thread while the command line is still being
/// parsed: the formats, and the reading of each scene the command line names. Parsing takes
/// ArgumentParser 1.5 ms on one core, with the other idle; a large USD stage's first hundred
/// layers are read in that time.
///
/// Only a guess at what `scan` will be asked: every argument after `scan` that is not an option
/// and that a format claims by its name starts being read. An option's value, or a command line
/// that turns out wrong, costs a read and nothing else: what is read only reaches the scan of
/// that very path, and an error met reading it is the one the scan would have met.
enum EarlyScan {
    /// Begins, on an urgent thread (`Parallel.urgently`), a scan's start for these arguments
    /// (without the program's name) when they are a `scan` command's; nothing otherwise.
    static func begin(_ arguments: [String]) {
        guard arguments.first == "scan" else { return }
        let start = Start()
        started.withLock { $0 = start }
        Parallel.urgently {
            let formats = makeSceneFormats()
            for argument in arguments.dropFirst() where !argument.hasPrefix("-") {
                guard let path = try? FileSystem.absolute(try RawArguments.path(argument)) else { continue }
                formats.first { $0.claims(name: path) }?.startReading(path)
            }
            start.hand(formats)
        }
    }

    /// The formats for the scan: the ones made early (waiting for them if need be), or new ones.
    static func formats() -> [any SceneFormat] {
        guard let start = started.withLock({ $0.take() }) else { return makeSceneFormats() }
        return start.formats()
    }

    private static let started = Mutex<Start?>(nil)

    /// The formats, made on one thread and used on another: written once before `ready` is
    /// signalled, read once after it is waited for. The scan uses them from then on alone; the
    /// read-ahead they started is theirs to hand over (`SceneFormat.startReading`).
    private final class Start: @unchecked Sendable {
        private var made: [any SceneFormat] = []
        private let ready = HandOff()

        func hand(_ formats: [any SceneFormat]) {
            made = formats
            ready.give()
        }

        func formats() -> [any SceneFormat] {
            ready.wait()
            return made
        }
    }
}
