import ArgumentParser
import BuildcatBasics
import BuildcatHash
import Glibc
import SystemPackage

struct HashCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hash",
        abstract: "Print the XXH3-128 of files, in the format of `xxhsum -H2`.",
        discussion: """
            Each line is `<32 hex digits>  <path>`, so `xxhsum -H2 -c` can check the output and \
            `buildcat hash` output can be compared with xxhsum's. A directory is hashed file by \
            file, recursively (hidden files included, symlinks followed), in path order. Files are \
            hashed on all cores, and unchanged files are taken from the local hash cache.

            With --check, each argument is a list in that format (from `xxhsum -H2` or from \
            `buildcat hash`), and every file in it is hashed and reported `<path>: OK` or \
            `<path>: FAILED`, as `xxhsum -c` does.

            Exit status: 0 when every file was hashed (and with --check, matched), 1 when any \
            could not be or did not match (each is named; the others are still printed).
            """)

    @Flag(name: [.short, .long], help: "Read lists of digests and paths and check the files against them.")
    var check = false

    @OptionGroup var cacheOptions: HashCacheOptions

    @Argument(help: "Files or directories to hash (with --check: lists to check).")
    var paths: [String]

    func run() throws {
        if check { return try runCheck() }
        var files: [FilePath] = []
        var statuses: [FileStatus] = []
        var failed = false
        for argument in paths {
            let path = try RawArguments.path(argument)
            do {
                let status = try FileSystem.status(of: path)
                if status.isDirectory {
                    for file in try DirectoryWalker(includeHidden: true).walk(path).files {
                        files.append(file.path)
                        statuses.append(file.status)
                    }
                } else {
                    files.append(path)
                    statuses.append(status)
                }
            } catch {
                printError("\(error)")
                failed = true
            }
        }
        let cache = cacheOptions.openCache()
        let absolute = try files.map { try FileSystem.absolute($0) }
        let (results, _) = cacheOptions.service(cache: cache).hash(absolute, statuses: statuses)
        let output = ByteWriter(descriptor: STDOUT_FILENO)
        for (file, result) in zip(files, results) {
            switch result {
            case .success(let fileDigest):
                output.write(Self.line(digest: fileDigest.digest, path: file.bytes))
            case .failure(let error):
                output.flush()
                printError("\(error)")
                failed = true
            }
        }
        output.flush()
        cacheOptions.save(cache)
        if failed { throw ExitCode.failure }
    }

    func runCheck() throws {
        var expected: [(digest: XXH128Digest, path: [UInt8])] = []
        var failed = false
        for argument in paths {
            let list = try RawArguments.path(argument)
            do {
                for (number, line) in try FileSystem.readAll(list).split(separator: UInt8(ascii: "\n")).enumerated() where !line.isEmpty {
                    guard let parsed = Self.parseLine(Array(line)) else {
                        printError("\(displayPath(list)):\(number + 1): not a line of `xxhsum -H2` output")
                        failed = true
                        continue
                    }
                    expected.append(parsed)
                }
            } catch {
                printError("\(error)")
                failed = true
            }
        }
        let cache = cacheOptions.openCache()
        let (results, _) = cacheOptions.service(cache: cache).hash(try expected.map { try FileSystem.absolute(FilePath(bytes: $0.path)) })
        cacheOptions.save(cache)
        let output = ByteWriter(descriptor: STDOUT_FILENO)
        for (entry, result) in zip(expected, results) {
            output.write(entry.path)
            switch result {
            case .success(let fileDigest) where fileDigest.digest == entry.digest:
                output.write(": OK\n")
            case .success:
                output.write(": FAILED\n")
                failed = true
            case .failure(let error):
                output.write(": FAILED (\(error))\n")
                failed = true
            }
        }
        output.flush()
        if failed { throw ExitCode.failure }
    }

    /// Reads one line of `xxhsum -H2` output, with GNU-style escapes when it starts with `\\`.
    static func parseLine(_ line: [UInt8]) -> (digest: XXH128Digest, path: [UInt8])? {
        var line = line
        if line.last == UInt8(ascii: "\r") { line.removeLast() }
        let escaped = line.first == UInt8(ascii: "\\")
        if escaped { line.removeFirst() }
        guard line.count > 34, line[32] == UInt8(ascii: " "), line[33] == UInt8(ascii: " ") || line[33] == UInt8(ascii: "*"),
              let digest = XXH128Digest(hex: String(decoding: line[0..<32], as: UTF8.self))
        else { return nil }
        var path = Array(line[34...])
        if escaped {
            var unescaped: [UInt8] = []
            var index = 0
            while index < path.count {
                if path[index] == UInt8(ascii: "\\"), index + 1 < path.count {
                    switch path[index + 1] {
                    case UInt8(ascii: "n"): unescaped.append(UInt8(ascii: "\n"))
                    case UInt8(ascii: "r"): unescaped.append(UInt8(ascii: "\r"))
                    default: unescaped.append(path[index + 1])
                    }
                    index += 2
                } else {
                    unescaped.append(path[index])
                    index += 1
                }
            }
            path = unescaped
        }
        return (digest, path)
    }

    /// One line as `xxhsum -H2` writes it. A name with a line break cannot be written plainly,
    /// so that line is written as GNU tools and later xxhsum versions escape it: a leading `\`,
    /// with `\\` and `\n` inside the name.
    static func line(digest: XXH128Digest, path: [UInt8]) -> [UInt8] {
        let needsEscape = path.contains(UInt8(ascii: "\n")) || path.contains(UInt8(ascii: "\r"))
        guard needsEscape else { return digest.hexBytes + Array("  ".utf8) + path + [UInt8(ascii: "\n")] }
        var name: [UInt8] = []
        for byte in path {
            switch byte {
            case UInt8(ascii: "\\"): name += Array("\\\\".utf8)
            case UInt8(ascii: "\n"): name += Array("\\n".utf8)
            case UInt8(ascii: "\r"): name += Array("\\r".utf8)
            default: name.append(byte)
            }
        }
        return [UInt8(ascii: "\\")] + digest.hexBytes + Array("  ".utf8) + name + [UInt8(ascii: "\n")]
    }
}
