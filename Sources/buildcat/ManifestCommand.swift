import ArgumentParser
import BuildcatBasics
import BuildcatHash
import BuildcatStore
import Glibc
import SystemPackage

struct ManifestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "manifest",
        abstract: "Write and compare Deadline Cloud job-attachment manifests.",
        discussion: """
            Manifests use AWS Deadline Cloud's job-attachment format, version 2023-03-03 with \
            xxh128 hashes, in canonical JSON: for the same files, `buildcat manifest snapshot` \
            writes the same bytes as `deadline manifest snapshot`.
            """,
        subcommands: [ManifestSnapshotCommand.self, ManifestDiffCommand.self])
}

struct ManifestSnapshotCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "snapshot",
        abstract: "Write the manifest of every regular file under a directory.",
        discussion: """
            The files are those `deadline manifest snapshot` takes: every regular file below the \
            root, except names starting with `.` (and everything below such directories); \
            symbolic links are followed and listed under the link's own path. FIFOs, sockets, \
            devices and dangling links are skipped (and counted on standard error). A symbolic \
            link that loops back to a directory containing it is an error.

            Without --output the manifest goes to standard output, exactly as it would be written \
            to a file. Exit status: 0 on success, 1 if the tree or any file in it could not be read \
            (every such file is named).
            """)

    @Option(help: ArgumentHelp("The directory to snapshot.", valueName: "dir"))
    var root: String

    @Option(name: .shortAndLong, help: ArgumentHelp("Write the manifest to this file (atomically) instead of standard output.", valueName: "file"))
    var output: String?

    @OptionGroup var cacheOptions: HashCacheOptions

    func run() throws {
        let cache = cacheOptions.openCache()
        defer { cacheOptions.save(cache) }
        let snapshotter = ManifestSnapshotter(hashing: cacheOptions.service(cache: cache))
        let snapshot: ManifestSnapshot
        do {
            snapshot = try snapshotter.snapshot(root: try RawArguments.path(root))
        } catch {
            printError("\(error)")
            throw ExitCode.failure
        }
        if !snapshot.skipped.isEmpty {
            printError("skipped \(snapshot.skipped.count) entries that are not regular files: "
                + snapshot.skipped.prefix(5).map { "'\(displayBytes($0.relativePath))' (\($0.reason))" }.joined(separator: ", ")
                + (snapshot.skipped.count > 5 ? ", …" : ""))
        }
        let json = snapshot.manifest.canonicalJSON()
        if let output {
            do {
                try FileSystem.writeAtomically(json, to: try RawArguments.path(output))
            } catch {
                printError("\(error)")
                throw ExitCode.failure
            }
        } else {
            let writer = ByteWriter(descriptor: STDOUT_FILENO)
            writer.write(json)
            if isTerminal(STDOUT_FILENO) { writer.write([UInt8(ascii: "\n")]) }
            writer.flush()
        }
    }
}

struct ManifestDiffCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "List files under a directory that are new, modified or deleted since a manifest.",
        discussion: """
            Files are compared by content: a file whose size matches its entry is hashed (through \
            the hash cache, so an unchanged file costs one stat) and compared by XXH3-128. A file \
            whose time changed but whose content did not is not listed. The set of files is the \
            one `manifest snapshot` takes, less the manifest itself when it lies under the \
            directory (as a render's outputs/manifest.json does).

            Output: one line per file, `new`, `modified` or `deleted`, then the path; with --json \
            an object {"new":[…],"modified":[…],"deleted":[…]} whose paths are written as \
            manifests write them. Exit status: 0 when nothing differs, 1 when something does, \
            2 when the manifest or the directory cannot be read.
            """)

    @Option(help: ArgumentHelp("The directory to compare.", valueName: "dir"))
    var root: String

    @Argument(help: ArgumentHelp("The manifest to compare with.", valueName: "manifest"))
    var manifest: String

    @Flag(help: "Print JSON for programs instead of lines for people.")
    var json = false

    @OptionGroup var cacheOptions: HashCacheOptions

    func run() throws {
        let cache = cacheOptions.openCache()
        defer { cacheOptions.save(cache) }
        let difference: ManifestDifference
        do {
            let manifestPath = try RawArguments.path(manifest)
            let recorded = try Manifest.decode(try FileSystem.readAll(manifestPath), source: displayPath(manifestPath))
            difference = try ManifestSnapshotter(hashing: cacheOptions.service(cache: cache))
                .difference(between: recorded, and: try RawArguments.path(root), manifestFile: manifestPath)
        } catch {
            printError("\(error)")
            throw ExitCode(2)
        }
        let writer = ByteWriter(descriptor: STDOUT_FILENO)
        if json {
            writer.write(Self.json(difference))
            writer.write([UInt8(ascii: "\n")])
        } else {
            let lines = difference.new.map { ("new", $0) } + difference.modified.map { ("modified", $0) } + difference.deleted.map { ("deleted", $0) }
            for (status, path) in lines.sorted(by: { $0.1.lexicographicallyPrecedes($1.1) }) {
                writer.write(status.padding(toLength: 9))
                writer.write(path)
                writer.write([UInt8(ascii: "\n")])
            }
        }
        writer.flush()
        if !difference.isEmpty { throw ExitCode.failure }
    }

    static func json(_ difference: ManifestDifference) -> [UInt8] {
        var out = Array("{".utf8)
        for (index, (key, paths)) in [("new", difference.new), ("modified", difference.modified), ("deleted", difference.deleted)].enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            out += Array("\"\(key)\":[".utf8)
            for (pathIndex, path) in paths.enumerated() {
                if pathIndex > 0 { out.append(UInt8(ascii: ",")) }
                JSONWriter.appendFileName(path, to: &out)
            }
            out.append(UInt8(ascii: "]"))
        }
        out.append(UInt8(ascii: "}"))
        return out
    }
}

extension String {
    func padding(toLength length: Int) -> String {
        count >= length ? self + " " : self + String(repeating: " ", count: length - count)
    }
}
