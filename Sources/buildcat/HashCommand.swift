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

            Exit status: 0 when every file was hashed, 1 when any could not be (each is named on \
            standard error; the others are still printed).
            """)

    @OptionGroup var cacheOptions: HashCacheOptions

    @Argument(help: "Files or directories to hash.")
    var paths: [String]

    func run() throws {
        var files: [FilePath] = []
        var statuses: [FileStatus?] = []
        var failed = false
        for argument in paths {
            let path = RawArguments.path(argument)
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
        let hashable = statuses.allSatisfy { $0?.isRegularFile == true }
        let (results, _) = cacheOptions.service(cache: cache).hash(absolute, statuses: hashable ? statuses.map { $0! } : nil)
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
