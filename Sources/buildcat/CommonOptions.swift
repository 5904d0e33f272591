import ArgumentParser
import BuildcatBasics
import BuildcatHash
import BuildcatStore
import Glibc
import SystemPackage

/// Options for commands that hash files through the local hash cache.
struct HashCacheOptions: ParsableArguments {
    @Flag(name: .customLong("no-cache"), help: "Do not read or write the local hash cache.")
    var noCache = false

    @Flag(help: "Read every file again even if the hash cache knows it (the cache is refreshed).")
    var rehash = false

    /// The cache to use, or nil with --no-cache. A damaged cache file is reported and rebuilt.
    func openCache() -> HashCache? {
        guard !noCache else { return nil }
        let cache = HashCache(directory: HashCache.defaultDirectory(environment: processEnvironment()))
        if let problem = cache.loadProblem { printError("warning: \(problem)") }
        return cache
    }

    func service(cache: HashCache?) -> FileHashingService {
        FileHashingService(cache: cache, rehash: rehash)
    }

    /// Saves what the run learned; a cache that cannot be written is a warning, not a failure.
    func save(_ cache: HashCache?) {
        do {
            try cache?.save()
        } catch {
            printError("warning: the hash cache was not saved: \(error)")
        }
    }
}

/// Where the share is mounted on this host.
struct ShareOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Where the share is mounted on this host (default: $BUILDCAT_SHARE).", valueName: "dir"))
    var share: String?

    /// The store on the share, or a usage error saying how to name the share.
    func store() throws -> ContentStore {
        if let share { return ContentStore(share: try RawArguments.path(share)) }
        if let fromEnvironment = processEnvironment()["BUILDCAT_SHARE"], !fromEnvironment.isEmpty {
            return ContentStore(share: FilePath(fromEnvironment))
        }
        throw ValidationError("no share given: pass --share DIR or set BUILDCAT_SHARE")
    }
}

/// Formats a byte count for people: 1.5 GiB, 320 KiB, 12 B.
func formatByteCount(_ bytes: Int64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]
    var value = Double(bytes)
    var unit = 0
    while value >= 1024 && unit < units.count - 1 {
        value /= 1024
        unit += 1
    }
    let tenths = Int((value * 10).rounded())
    return unit == 0 ? "\(bytes) B" : "\(tenths / 10).\(tenths % 10) \(units[unit])"
}

/// The process's environment. (Foundation's `ProcessInfo` would do, at the price of loading
/// Foundation: a quarter of a small command's run time.)
func processEnvironment() -> [String: String] { currentEnvironment() }
