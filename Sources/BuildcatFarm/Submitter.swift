import BuildcatBasics
import BuildcatHash
import BuildcatQueue
import BuildcatRedis
import BuildcatStore
import SystemPackage

/// What queueing a submission did.
public struct SubmitReport: Sendable {
    public var submission: String
    public var queue: String
    public var jobs: [String]
    public var frames: Int

    public init(submission: String, queue: String, jobs: [String], frames: Int) {
        self.submission = submission
        self.queue = queue
        self.jobs = jobs
        self.frames = frames
    }
}

/// Why a submission could not be queued.
public struct SubmitError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public var description: String { message }
}

/// Queues a staged submission: one RQ job per chunk of frames, all in one round trip.
public struct Submitter {
    public var store: ContentStore
    /// The function the jobs name (`buildcat.blender.render_frames`).
    public var function = "buildcat.blender.render_frames"
    /// Where frames go, relative to the submission: `####` is the frame number.
    public var output = "outputs/frame_####"
    public var timeout = 12 * 3600
    /// Queue again a submission that was queued before.
    public var again = false
    /// RQ's `Retry`: how often a failed or abandoned chunk runs again, and the seconds to wait
    /// before each retry.
    public var retries = 0
    public var retryIntervals: [Int] = []
    /// How long a finished chunk's job and result stay in Redis: a week, so that the morning
    /// after still finds the night's results (RQ's default is 500 s).
    public var resultTTL = 7 * 24 * 3600

    public init(store: ContentStore) { self.store = store }

    /// The key that records that a submission's frames were queued — these frames, in these
    /// chunks, on this queue, to this output: the same submission with other frames is another
    /// request. (Under `rq:` so that an ACL user limited to RQ's keys may write it.)
    static func queuedKey(_ submission: String, frames: FrameSpec, chunk: Int, queue: String, output: String) -> String {
        let request = "\(frames.frames.map(String.init).joined(separator: ","))|\(chunk)|\(queue)|\(output)"
        return "rq:buildcat:submission:\(submission):\(XXH128Hasher.digest(of: Array(request.utf8)).hex)"
    }

    /// The scenes and manifest hash a staged submission recorded, and its sequence record's hash.
    public func record(_ submission: String) throws -> (scenes: [String], manifestHash: String, sequencesHash: String?) {
        guard !submission.isEmpty, !submission.contains("/"), submission != ".", submission != ".." else {
            throw SubmitError(message: "'\(submission)' is not a submission id")
        }
        let path = store.root.appending("submissions").appending(submission).appending("submission.json")
        let bytes: [UInt8]
        do {
            bytes = try FileSystem.readAll(path)
        } catch let error as FileSystemError where error.code == .notFound {
            throw SubmitError(message: "no submission \(submission) on the share '\(displayPath(store.share))' (no \(displayPath(path)))")
        }
        guard let record = try? JSONParser.parse(bytes), case .array(let scenes)? = record.member("scenes"),
              let hash = record.member("manifest_xxh128")?.text else {
            throw SubmitError(message: "'\(displayPath(path))' is not a submission record")
        }
        return (scenes.compactMap(\.text), hash, record.member("sequences_xxh128")?.text)
    }

    /// Checks an output pattern: relative to the submission, inside it, with `#` for the frame.
    public static func validate(output: String) throws {
        let parts = output.split(separator: "/", omittingEmptySubsequences: false)
        guard !output.isEmpty, !output.hasPrefix("/"), !parts.contains(where: { $0 == ".." || $0.isEmpty }) else {
            throw SubmitError(message: "--output '\(output)' must be a path inside the submission (relative, no '..'), like outputs/frame_####")
        }
        guard output.contains("#") else {
            throw SubmitError(message: "--output '\(output)' has no '#' for the frame number: every frame would overwrite the same file")
        }
    }

    /// The jobs for a submission's frames, without queueing them.
    public func jobs(_ submission: String, frames: FrameSpec, chunk: Int) throws -> [RQJob] {
        try Self.validate(output: output)
        let (scenes, manifestHash, sequencesHash) = try record(submission)
        guard let scene = scenes.first else { throw SubmitError(message: "submission \(submission) records no scene") }
        // The workers render Blender scenes; other formats are staged (and verified) only.
        if function == "buildcat.blender.render_frames" && !scene.lowercased().hasSuffix(".blend") {
            throw SubmitError(message: """
                submission \(submission) is staged, but its scene '\(scene)' is not a Blender scene, and Buildcat's \
                workers render only Blender scenes so far: nothing was queued (`buildcat verify \(submission)` checks \
                the staged files)
                """)
        }
        let chunks = frames.chunks(of: chunk)
        let ids = RQJob.newIDs(chunks.count)
        // Every job's arguments are the same but for its frames: serialize the rest once. The
        // batch (these jobs, named by the first) tells the output manifest when all are in.
        var fixed: [(key: String, value: JSONValue)] = [
            ("batch", .text(ids.first ?? "")), ("batch_jobs", .integer(Int64(ids.count))),
            ("manifest_xxh128", .text(manifestHash)), ("output", .text(output)),
            ("scene", .text("files/" + scene)), ("submission", .text(submission)),
        ]
        if let sequencesHash { fixed.append(("sequences_xxh128", .text(sequencesHash))) }
        var payloadTail = Array(",".utf8)
        var descriptionTail = ""
        for (key, value) in fixed {
            payloadTail += Array(",".utf8)
            JSONWriter.appendString(key, to: &payloadTail)
            payloadTail += Array(":".utf8) + value.serialized()
            descriptionTail += ", \(key)=" + String(decoding: value.serialized(), as: UTF8.self)
        }
        payloadTail.removeFirst()
        payloadTail += Array("}]".utf8)
        var payloadHead: [UInt8] = Array("[".utf8)
        JSONWriter.appendString(function, to: &payloadHead)
        payloadHead += Array(#",null,[],{"frames":"#.utf8)
        return zip(ids, chunks).map { id, frames in
            let list = frames.map(String.init)
            var payload = payloadHead
            payload.reserveCapacity(payloadHead.count + payloadTail.count + 8 * frames.count + 2)
            payload += Array("[\(list.joined(separator: ","))]".utf8)
            payload += payloadTail
            var job = RQJob(id: id, function: function, payload: payload, timeout: timeout,
                            description: "\(function)(frames=[\(list.joined(separator: ", "))]\(descriptionTail))")
            job.retries = retries
            job.retryIntervals = retryIntervals
            job.resultTTL = resultTTL
            return job
        }
    }

    /// Queues the jobs; refuses a submission already queued unless `again`.
    public func submit(_ submission: String, frames: FrameSpec, chunk: Int, queue: String, redis: RedisConnection) throws -> SubmitReport {
        try submit(try jobs(submission, frames: frames, chunk: chunk), of: submission, frames: frames, chunk: chunk, queue: queue, redis: redis)
    }

    /// Queues jobs made by `jobs(_:frames:chunk:)` (made first, so that a submission that cannot
    /// be read fails before Redis is asked anything).
    public func submit(_ jobs: [RQJob], of submission: String, frames: FrameSpec, chunk: Int, queue: String, redis: RedisConnection) throws -> SubmitReport {
        let key = Self.queuedKey(submission, frames: frames, chunk: chunk, queue: queue, output: output)
        let marker = JSONValue.object([("queue", .text(queue)), ("jobs", .integer(Int64(jobs.count)))]).serialized()
        let claimed = try redis.run(again ? ["SET", key, marker] : ["SET", key, marker, "NX"])
        if claimed == .null {
            let before = (try? redis.run(["GET", key]))?.text ?? ""
            throw SubmitError(message: "these frames of submission \(submission) were queued before (\(before)); pass --again to queue them again")
        }
        do {
            try RQQueue(name: queue).enqueue(jobs, on: redis)
        } catch {
            _ = try? redis.send(["DEL", key])  // not queued after all: let a retry through
            throw error
        }
        return SubmitReport(submission: submission, queue: queue, jobs: jobs.map(\.id), frames: frames.frames.count)
    }
}
