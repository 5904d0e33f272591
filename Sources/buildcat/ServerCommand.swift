import ArgumentParser
import BuildcatBasics
import Glibc
import SystemPackage

struct ServerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "server",
        abstract: "Run the farm's Redis: redis-server with its data kept (append-only file).",
        discussion: """
            Runs Debian's redis-server in the foreground in place of this command, so that \
            signals reach it directly (Ctrl-C or SIGTERM stop it cleanly, saving its data). \
            Queued jobs survive a restart: the append-only file in the data directory replays \
            them. Listens on loopback unless --bind says otherwise; a server reachable from other \
            hosts should have --password or --acl-file.

            The redis-server executable is found on PATH, or named by $BUILDCAT_REDIS_SERVER.
            """)

    @Option(help: ArgumentHelp("Where Redis keeps its data (default: $XDG_DATA_HOME/buildcat/redis, else ~/.local/share/buildcat/redis).", valueName: "dir"))
    var data: String?

    @Option(help: ArgumentHelp("The address to listen on.", valueName: "address"))
    var bind: String = "127.0.0.1"

    @Option(help: "The port to listen on.")
    var port: Int = 6379

    @Option(help: ArgumentHelp("Require this password (clients use redis://:PASSWORD@host:port/0).", valueName: "password"))
    var password: String?

    @Option(help: ArgumentHelp("Redis ACL users from this file (see Redis's ACL documentation).", valueName: "file"))
    var aclFile: String?

    func validate() throws {
        guard (1...65535).contains(port) else { throw ValidationError("--port must be between 1 and 65535") }
        if password != nil && aclFile != nil { throw ValidationError("give either --password or --acl-file, not both") }
    }

    func run() throws {
        let environment = processEnvironment()
        let directory: FilePath
        if let data {
            directory = try RawArguments.path(data)
        } else if let xdg = environment["XDG_DATA_HOME"], !xdg.isEmpty {
            directory = FilePath(xdg).appending("buildcat/redis")
        } else {
            directory = FilePath(environment["HOME"] ?? "/tmp").appending(".local/share/buildcat/redis")
        }
        do {
            try FileSystem.createDirectories(directory)
        } catch {
            printError("\(error)")
            throw ExitCode.failure
        }
        let executable = environment["BUILDCAT_REDIS_SERVER"] ?? Self.onPath("redis-server", environment: environment)
        guard let executable else {
            printError("redis-server is not installed (Debian: apt-get install redis-server), and $BUILDCAT_REDIS_SERVER is not set")
            throw ExitCode.failure
        }
        var arguments = [
            executable, "--port", String(port), "--bind", bind, "--dir", directory.string,
            "--appendonly", "yes", "--daemonize", "no", "--save", "",
        ]
        if let password { arguments += ["--requirepass", password] }
        if let aclFile { arguments += ["--aclfile", try FileSystem.absolute(try RawArguments.path(aclFile)).string] }
        let host = bind.contains(":") ? "[\(bind)]" : bind
        printError("Redis for the farm on redis://\(host):\(port)/0, data in \(displayPath(directory)) (Ctrl-C stops it)")
        // Become redis-server: signals then reach it without a go-between. Nothing blocked:
        // a server that inherited a blocked SIGTERM would never stop.
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        sigprocmask(SIG_SETMASK, &noSignals, nil)
        let argv = arguments.map { strdup($0) } + [nil]
        execv(executable, argv)
        printError("cannot run \(executable): \(String(cString: strerror(errno)))")
        throw ExitCode.failure
    }

    static func onPath(_ name: String, environment: [String: String]) -> String? {
        for directory in (environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let candidate = "\(directory)/\(name)"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }
}
