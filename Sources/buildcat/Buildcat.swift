import ArgumentParser
import BuildcatBasics

/// The `buildcat` command: a render farm that stages every input by content and proves it by hash.
@main
struct Buildcat: ParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "buildcat",
        abstract: "A render farm that copies every input by content and proves it by hash.",
        discussion: """
            Buildcat stages a scene's files onto the network share by content (XXH3-128), records \
            Deadline-compatible manifests, and lets workers verify every input before they render.

            Environment:
              BUILDCAT_SHARE       the share's mount point on this host (instead of --share)
              BUILDCAT_CACHE_DIR   where the local hash cache lives (default ~/.cache/buildcat)

            Exit codes (every subcommand):
              0   success
              1   the work failed (a file could not be read, stored or verified), or for
                  `manifest diff` and `store verify`: differences were found
              64  the command line was wrong (see the subcommand's --help)
            """,
        version: version,
        subcommands: [StageAndSubmitCommand.self, StageCommand.self, SubmitCommand.self, WorkerCommand.self, WorkersCommand.self, StatusCommand.self, VerifyCommand.self, ServerCommand.self, ScanCommand.self, HashCommand.self, ManifestCommand.self, StoreCommand.self, VersionCommand.self]
    )

    static func main() {
        // Scans and stages allocate in bursts on several threads: 32 MiB of heap at a time took
        // a tenth off scanning a large USD stage.
        Parallel.growHeaps(by: 32 << 20)
        // The urgent threads first, with a scan's start as their first work when there is one:
        // they set up their heaps and begin reading while this one sets up its own and parses.
        EarlyScan.begin(Array(CommandLine.arguments.dropFirst()))
        Parallel.startUrgentThreads()
        Parallel.adviseHugeHeap()
        main(nil)
    }
}

struct VersionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "version", abstract: "Print Buildcat's version.")

    func run() {
        print("buildcat \(Buildcat.version)")
    }
}
