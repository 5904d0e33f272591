import BuildcatBasics
import BuildcatScenes

/// `sequences.json` beside a submission's manifest: for each image sequence whose users are all
/// known, which checkout file has which number, and how each user maps scene frames to numbers.
/// It lets a worker verify only the files of a sequence that the chunk's frames show; its
/// XXH3-128 travels in every job (`sequences_xxh128`) like the manifest's, so an edited record
/// fails the job instead of hiding files from the check.
///
/// A file is left out of the check only when every reference to it is such a sequence and none
/// needs it at the chunk's frames, or at the frame before or after (motion blur evaluates the
/// scene between frames, and Blender rounds such times either way).
public struct SequenceFrames: Sendable, Equatable {
    public struct Sequence: Sendable, Equatable {
        public var users: [SequenceUser]
        /// Checkout paths (below files/) and their frame numbers.
        public var files: [(path: [UInt8], number: Int)]

        public init(users: [SequenceUser], files: [(path: [UInt8], number: Int)]) {
            self.users = users
            self.files = files
        }

        public static func == (a: Sequence, b: Sequence) -> Bool {
            a.users == b.users && a.files.map(\.path) == b.files.map(\.path) && a.files.map(\.number) == b.files.map(\.number)
        }
    }

    public var sequences: [Sequence]

    public init(sequences: [Sequence]) { self.sequences = sequences }

    /// The sequences of a scan whose users are known, with their files' checkout paths; files
    /// that any other reference also uses are left out (they are always checked).
    public init(scan: ScanResult, checkoutPath: (ScannedAsset) -> [UInt8]) {
        var alwaysNeeded: Set<[UInt8]> = []
        var byReference: [Int: [(path: [UInt8], number: Int)]] = [:]
        for asset in scan.assets {
            let reference = scan.references[asset.reference]
            let path = checkoutPath(asset)
            if reference.pattern == .frameSequence, reference.sequenceUsers != nil, let number = asset.file.frame {
                byReference[asset.reference, default: []].append((path, number))
            } else {
                alwaysNeeded.insert(path)
            }
        }
        sequences = byReference.keys.sorted().compactMap { index in
            let files = byReference[index]!.filter { !alwaysNeeded.contains($0.path) }
            guard !files.isEmpty, let users = scan.references[index].sequenceUsers else { return nil }
            return Sequence(users: users, files: files)
        }
    }

    public var isEmpty: Bool { sequences.isEmpty }

    /// The checkout paths no frame of `frames` needs.
    public func unneededPaths(forFrames frames: [Int]) -> Set<[UInt8]> {
        var needed: Set<[UInt8]> = []
        var candidates: Set<[UInt8]> = []
        for sequence in sequences {
            var numbers: Set<Int> = []
            var unknown = false
            for user in sequence.users {
                for frame in frames {
                    let neighbours = [frame.subtractingReportingOverflow(1), (frame, false), frame.addingReportingOverflow(1)]
                    for (shown, overflow) in neighbours where !overflow {
                        guard let number = user.fileNumber(atSceneFrame: shown) else { unknown = true; continue }
                        numbers.insert(number)
                    }
                }
            }
            for file in sequence.files {
                if unknown || numbers.contains(file.number) { needed.insert(file.path) } else { candidates.insert(file.path) }
            }
        }
        return candidates.subtracting(needed)
    }

    // MARK: JSON

    public func json() -> [UInt8] {
        JSONValue.object([("sequences", .array(sequences.map { sequence in
            .object([
                ("users", .array(sequence.users.map { user in
                    .object([("start", .integer(Int64(user.start))), ("length", .integer(Int64(user.length))),
                             ("offset", .integer(Int64(user.offset))), ("cyclic", .bool(user.cyclic))])
                })),
                ("files", .array(sequence.files.map { .array([.string(FileNameEncoding.utf16(fromFileName: $0.path)), .integer(Int64($0.number))]) })),
            ])
        }))]).serialized() + [UInt8(ascii: "\n")]
    }

    /// - Throws: `SubmitError` when the bytes are not such a record.
    public static func decode(_ bytes: [UInt8], source: String) throws -> SequenceFrames {
        func bad(_ why: String) -> SubmitError { SubmitError(message: "'\(source)' is not a sequence record: \(why)") }
        guard let root = try? JSONParser.parse(bytes), case .array(let list)? = root.member("sequences") else { throw bad("no sequences list") }
        return SequenceFrames(sequences: try list.map { item in
            guard case .array(let users)? = item.member("users"), case .array(let files)? = item.member("files") else { throw bad("a sequence lacks users or files") }
            return Sequence(
                users: try users.map { user in
                    guard case .integer(let start)? = user.member("start"), case .integer(let length)? = user.member("length"),
                          case .integer(let offset)? = user.member("offset"), case .bool(let cyclic)? = user.member("cyclic"),
                          let s = Int(exactly: start), let l = Int(exactly: length), let o = Int(exactly: offset) else { throw bad("a user is incomplete") }
                    return SequenceUser(start: s, length: l, offset: o, cyclic: cyclic)
                },
                files: try files.map { file in
                    guard case .array(let pair) = file, pair.count == 2, case .string(let units) = pair[0],
                          let path = FileNameEncoding.fileName(fromUTF16: units), case .integer(let number) = pair[1],
                          let n = Int(exactly: number) else { throw bad("a file entry is not [path, number]") }
                    return (path, n)
                })
        })
    }
}
