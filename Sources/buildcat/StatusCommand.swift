import ArgumentParser
import BuildcatBasics
import BuildcatQueue
import BuildcatRedis
import Glibc

struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show the farm: queues with their jobs by state, workers, and recent failures with reasons.",
        discussion: """
            Reads RQ's own keys, so the numbers are the ones `rq info` shows. With --interval, \
            shows them again every so many seconds until stopped.

            Exit status: 0, or 4 when Redis cannot be reached.
            """)

    @OptionGroup var redisOptions: RedisOptions

    @Flag(help: "Print JSON for programs instead of tables for people.")
    var json = false

    @Option(help: ArgumentHelp("Show the status again every so many seconds.", valueName: "seconds"))
    var interval: Double?

    func validate() throws {
        if let interval, interval <= 0 { throw ValidationError("--interval must be above 0") }
    }

    func run() throws {
        let redis: RedisConnection
        do {
            redis = try RedisConnection(url: try redisOptions.url())
        } catch let error as RedisError {
            printError("\(error)")
            throw ExitCode(StageExit.redis)
        }
        while true {
            do {
                let status = try RQStatus.read(from: redis)
                print(json ? Self.json(status) : Self.table(status))
            } catch {
                printError("\(error)")
                if interval == nil { throw ExitCode(StageExit.redis) }
            }
            guard let interval else { return }
            usleep(useconds_t(interval * 1_000_000))
        }
    }

    static func table(_ status: RQStatus) -> String {
        var lines = ["queue                 queued  started  finished  failed  deferred  scheduled"]
        for queue in status.queues {
            let name = queue.name.count > 20 ? String(queue.name.prefix(19)) + "…" : queue.name
            let numbers = [queue.queued, queue.started, queue.finished, queue.failed, queue.deferred, queue.scheduled]
            let widths = [6, 8, 9, 7, 9, 10]
            lines.append(name.padding(toLength: 21) + zip(numbers, widths).map { String(repeating: " ", count: max(0, $1 - String($0).count)) + String($0) }.joined(separator: " "))
        }
        if status.queues.isEmpty { lines.append("(no queues)") }
        lines.append("")
        lines.append("\(status.workers.count) worker(s)")
        for worker in status.workers {
            lines.append("  \(worker.name): \(worker.state) on \(worker.queues.joined(separator: ",")), last heartbeat \(worker.lastHeartbeat)" + (worker.currentJob.map { ", job \($0)" } ?? ""))
        }
        if !status.failures.isEmpty {
            lines.append("")
            lines.append("recent failures")
            for failure in status.failures {
                lines.append("  \(failure.queue) \(failure.job): \(failure.reason)")
                if !failure.description.isEmpty { lines.append("    \(failure.description)") }
            }
        }
        return lines.joined(separator: "\n")
    }

    static func json(_ status: RQStatus) -> String {
        let value = JSONValue.object([
            ("queues", .array(status.queues.map { queue in
                .object([("name", .text(queue.name)), ("queued", .integer(Int64(queue.queued))), ("started", .integer(Int64(queue.started))),
                         ("finished", .integer(Int64(queue.finished))), ("failed", .integer(Int64(queue.failed))),
                         ("deferred", .integer(Int64(queue.deferred))), ("scheduled", .integer(Int64(queue.scheduled)))])
            })),
            ("workers", .array(status.workers.map { worker in
                .object([("name", .text(worker.name)), ("state", .text(worker.state)), ("queues", .array(worker.queues.map { .text($0) })),
                         ("last_heartbeat", .text(worker.lastHeartbeat)), ("current_job", worker.currentJob.map { .text($0) } ?? .null)])
            })),
            ("failures", .array(status.failures.map { failure in
                .object([("job", .text(failure.job)), ("queue", .text(failure.queue)), ("description", .text(failure.description)), ("reason", .text(failure.reason))])
            })),
        ])
        return String(decoding: value.serialized(), as: UTF8.self)
    }
}
