import ArgumentParser
import BuildcatBasics
import BuildcatHash
import BuildcatStore
import Glibc
import SystemPackage

struct StoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store",
        abstract: "Put files into the share's content store, and check or take them out.",
        discussion: """
            The store is <share>/buildcat/objects/: one read-only file per distinct content, \
            named by its XXH3-128 (objects/ab/cdef…). Objects appear atomically and are never \
            modified or replaced. A share must be initialised once with `buildcat store init`, so \
            that a share that is not mounted is not silently filled on the local disk.
            """,
        subcommands: [StoreInitCommand.self, StorePutCommand.self, StoreHasCommand.self,
                      StoreVerifyCommand.self, StoreMaterializeCommand.self])
}

struct StoreInitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init", abstract: "Create <share>/buildcat/ with objects/ and tmp/ on an existing share.")

    @OptionGroup var shareOptions: ShareOptions

    func run() throws {
        let store = try shareOptions.store()
        do {
            try store.initialize()
        } catch {
            printError("\(error)")
            throw ExitCode.failure
        }
        print("initialised \(displayPath(store.root))")
    }
}

struct StorePutCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "put",
        abstract: "Store files (or every file under directories) by content.",
        discussion: """
            Each file is read once and hashed while it is copied; content the store already has \
            is not copied again, and a file the hash cache knows is not read at all if the store \
            has it. Prints `<hash>  <path>` per file (the format of `xxhsum -H2`) and a summary \
            on standard error. Special files (FIFOs, devices) are refused. Exit status: 0 when \
            every file was stored, 1 when any was not (each is named).
            """)

    @OptionGroup var shareOptions: ShareOptions
    @OptionGroup var cacheOptions: HashCacheOptions

    @Argument(help: "Files or directories to store.")
    var paths: [String]

    func run() throws {
        let store = try shareOptions.store()
        do {
            try store.checkInitialized()
        } catch {
            printError("\(error)")
            throw ExitCode.failure
        }
        var files: [FilePath] = []
        var failed = false
        for argument in paths {
            let path = try RawArguments.path(argument)
            do {
                if try FileSystem.status(of: path).isDirectory {
                    files += try DirectoryWalker(includeHidden: true).walk(path).files.map(\.path)
                } else {
                    files.append(path)
                }
            } catch {
                printError("\(error)")
                failed = true
            }
        }
        let cache = cacheOptions.rehash ? nil : cacheOptions.openCache()
        let results = store.putAll(files, cache: cache)
        cacheOptions.save(cache)
        let output = ByteWriter(descriptor: STDOUT_FILENO)
        var tally = PutTally()
        for (file, result) in zip(files, results) {
            switch result {
            case .success(let put):
                output.write(HashCommand.line(digest: put.digest, path: file.bytes))
                tally.add(put)
            case .failure(let error):
                output.flush()
                printError("\(error)")
                failed = true
            }
        }
        output.flush()
        printError("stored \(tally.filesStored) new object(s) (\(formatByteCount(tally.bytesStored))); \(tally.filesPresent) already present (\(formatByteCount(tally.bytesPresent)))")
        if failed { throw ExitCode.failure }
    }
}

struct StoreHasCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "has",
        abstract: "Tell whether the store has objects, without reading them.",
        discussion: "Prints each digest the store lacks. Exit status: 0 when it has all of them, 1 otherwise.")

    @OptionGroup var shareOptions: ShareOptions

    @Argument(help: "XXH3-128 digests (32 hexadecimal digits).")
    var digests: [String]

    func run() throws {
        let store = try shareOptions.store()
        let parsed = try digests.map(parseDigest)
        var missing = 0
        for digest in parsed where !(try store.contains(digest)) {
            print("missing \(digest.hex)")
            missing += 1
        }
        if missing > 0 { throw ExitCode.failure }
    }
}

struct StoreVerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Re-hash objects and check that their content still matches their names.",
        discussion: """
            Prints each object that is `missing` or `corrupt` (with the digest its content has \
            now), and with --verbose each intact one as `ok`; a summary goes to standard error. \
            With --all, every object in the store is checked, and files in objects/ that are not \
            named like objects are listed as `stray`. Exit status: 0 when every object checked is \
            intact, 1 otherwise.
            """)

    @OptionGroup var shareOptions: ShareOptions

    @Flag(help: "Check every object in the store.")
    var all = false

    @Flag(name: [.short, .long], help: "Also print `ok` for each intact object.")
    var verbose = false

    @Argument(help: "XXH3-128 digests of the objects to check.")
    var digests: [String] = []

    func validate() throws {
        if all == !digests.isEmpty { throw ValidationError("give either digests or --all") }
    }

    func run() throws {
        let store = try shareOptions.store()
        var targets = try digests.map(parseDigest)
        var bad = 0
        if all {
            do {
                for file in try DirectoryWalker(includeHidden: true, followSymlinks: false).walk(store.objectsDirectory).files {
                    let name = String(decoding: file.relativePath.filter { $0 != UInt8(ascii: "/") }, as: UTF8.self)
                    if let digest = XXH128Digest(hex: name), file.relativePath.count == 33 {
                        targets.append(digest)
                    } else {
                        print("stray \(displayBytes(file.relativePath))")
                        bad += 1
                    }
                }
            } catch {
                printError("\(error)")
                throw ExitCode.failure
            }
        }
        let checked = targets
        let checks = Parallel.map(count: checked.count, makeContext: { StreamBuffer() }) { index, buffer in
            Result { try store.verify(checked[index], buffer: buffer) }
        }
        var intact = 0
        for (digest, check) in zip(targets, checks) {
            switch check {
            case .success(.intact):
                intact += 1
                if verbose { print("ok      \(digest.hex)") }
            case .success(.missing): print("missing \(digest.hex)"); bad += 1
            case .success(.corrupt(let actual, _)): print("corrupt \(digest.hex) (content now hashes to \(actual.hex))"); bad += 1
            case .failure(let error): printError("\(error)"); bad += 1
            }
        }
        printError("checked \(targets.count) object(s): \(intact) intact, \(bad) with problems")
        if bad > 0 { throw ExitCode.failure }
    }
}

struct StoreMaterializeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "materialize",
        abstract: "Make a file with an object's content: a reflink, hard link or copy.",
        discussion: """
            The file appears atomically and read-only; an existing file is never replaced. With \
            the default method `auto`, a reflink is made where the file system can, else a hard \
            link (same file system), else a copy. Prints the method used.
            """)

    @OptionGroup var shareOptions: ShareOptions

    @Option(help: ArgumentHelp("auto, clone, link or copy.", valueName: "method"))
    var method: String = "auto"

    @Argument(help: "The object's XXH3-128 digest.")
    var digest: String

    @Argument(help: "The file to create.")
    var target: String

    func run() throws {
        let store = try shareOptions.store()
        let digest = try parseDigest(digest)
        guard let method = MaterializeMethod(rawValue: method) else { throw ValidationError("--method must be auto, clone, link or copy") }
        do {
            let used = try store.materialize(digest, at: try RawArguments.path(target), method: method, buffer: StreamBuffer(size: 1 << 20))
            print(used.rawValue)
        } catch {
            printError("\(error)")
            throw ExitCode.failure
        }
    }
}

/// A digest from the command line, or a usage error saying what a digest looks like.
func parseDigest(_ text: String) throws -> XXH128Digest {
    guard let digest = XXH128Digest(hex: text) else {
        throw ValidationError("'\(text)' is not an XXH3-128 digest (32 hexadecimal digits)")
    }
    return digest
}
