@testable import BuildcatBasics
import CBuildcatBytes
import CBuildcatLinux
import BuildcatTestSupport
import Glibc
import SystemPackage
import Synchronization
import Testing

@Suite struct DisplayTests {
    @Test func textStaysTextAndOtherBytesAreEscaped() {
        #expect(displayBytes(Array("café/😀".utf8)) == "café/😀")
        #expect(displayBytes([0x62, 0xFF, 0x61, 0xE2, 0x82]) == "b\\xFFa\\xE2\\x82")
        #expect(displayBytes([0xED, 0xA0, 0x80]) == "\\xED\\xA0\\x80")  // an encoded surrogate is not UTF-8
    }

    @Test func errorsNameThePathAndTheReason() {
        let error = #expect(throws: FileSystemError.self) { try FileSystem.openForReading("/no/such/texture.png") }
        #expect(error?.description == "cannot open for reading '/no/such/texture.png': No such file or directory")
        #expect(error?.code == .notFound)
    }
}

@Suite struct DirectoryWalkerTests {
    @Test func listsRegularFilesSortedWithRelativeBytePaths() throws {
        let directory = TemporaryDirectory()
        let root = directory("root")
        try writeFile(root.appending("b"), "b")
        try writeFile(root.appending("a/z"), "z")
        try writeFile(root.appending(relativeBytes: [0x61, 0x2F, 0xFF]), "raw")
        try writeFile(root.appending(".hidden/x"), "h")
        try makeSymlink(root.appending("c"), to: "b")
        try makeSymlink(root.appending("d"), to: "missing")
        #expect(mkfifo(root.appending("p").string, 0o600) == 0)

        let listing = try DirectoryWalker().walk(root)
        #expect(listing.files.map(\.relativePath) == [Array("a/z".utf8), [0x61, 0x2F, 0xFF], Array("b".utf8), Array("c".utf8)])
        #expect(listing.files[3].status.size == 1)  // the link's target
        #expect(listing.skipped.map(\.reason) == ["dangling symbolic link", "FIFO"])
        #expect(try FileSystem.readAll(listing.files[1].path) == Array("raw".utf8))

        let everything = try DirectoryWalker(includeHidden: true, followSymlinks: false).walk(root)
        #expect(everything.files.map { displayBytes($0.relativePath) } == [".hidden/x", "a/z", "a/\\xFF", "b"])
    }

    @Test(arguments: [
        ("/a/b", "c/d.png", "/a/b/c/d.png"), ("/a/b", "./c//./d.png", "/a/b/c/d.png"), ("/a/b", "../c.png", "/a/c.png"),
        ("/a/b", "../../../../c.png", "/c.png"), ("/a/b", "/x/../y.png", "/y.png"), ("/a/b", "..", "/a"), ("/a", "../..", "/"),
        ("a/b", "../../../c", "c"), ("a", "..", "."), ("", "x/./y/", "x/y"), ("/a/b/", "c/", "/a/b/c"), ("/", "", "/"),
    ])
    func normalizedJoinTakesOutDotsLexically(directory: String, relative: String, expected: String) {
        #expect(FilePath.normalizedJoin(Array(directory.utf8), Array(relative.utf8)) == FilePath(expected))
        #expect(FilePath.normalizedJoinBytes(Array(directory.utf8), Array(relative.utf8)) == FilePath(expected).bytes)
        // A NUL ends the path, as it ends what the system is given.
        #expect(FilePath.normalizedJoinBytes(Array(directory.utf8), Array(relative.utf8) + [0, 0x78]) == FilePath(expected).bytes)
        #expect(FilePath.normalizedJoin([0x2F, 0x61], [0xFF, 0x2F, 0x2E, 0x2E, 0x2F, 0xFE]).bytes == [0x2F, 0x61, 0x2F, 0xFE])
    }

    @Test(arguments: [
        ("/a/./b", "c", "/a/b/c"), ("/a/../b", "c", "/b/c"), ("/a/b/..", "c", "/a/c"), ("/a//b", "c", "/a/b/c"),
        ("/a/b/.", "c", "/a/b/c"), ("/a/.b/..c", "d", "/a/.b/..c/d"), ("/..", "c", "/c"), ("/a/b", "", "/a/b"),
    ])
    func aFolderNotInNormalFormIsNormalizedToo(directory: String, relative: String, expected: String) {
        // A folder in normal form is copied whole; any other is taken apart as the path is.
        let joiner = PathJoiner(directory: Array(directory.utf8))
        for _ in 0..<2 { #expect(joiner.join(Array(relative.utf8)) == FilePath(expected).bytes) }
        #expect(FilePath.normalizedJoinBytes(Array(directory.utf8), Array(relative.utf8)) == FilePath(expected).bytes)
        // A NUL in the folder ends it.
        #expect(PathJoiner(directory: Array(directory.utf8) + [0] + Array("/x".utf8)).join(Array(relative.utf8)) == FilePath(expected).bytes)
    }

    @Test func byteKeysAreEqualAndHashAlikeExactlyWhenTheirBytesAre() {
        let names: [[UInt8]] = [[], [0], [0, 0], Array("a".utf8), Array("/stage/layers/layer_0001.usda".utf8),
                                Array("/stage/layers/layer_0002.usda".utf8), [0xFF, 0xFE], Array(repeating: 0x61, count: 300)]
        var set = Set(names.map(ByteKey.init))
        #expect(set.count == names.count)
        for name in names {
            #expect(set.contains(ByteKey(Array(name))))
            #expect(ByteKey(name).hashValue == ByteKey(Array(name)).hashValue)
        }
        #expect(!set.contains(ByteKey(Array("/stage/layers/layer_0003.usda".utf8))))
        set.remove(ByteKey([0]))
        #expect(!set.contains(ByteKey([0])) && set.contains(ByteKey([0, 0])))
    }

    @Test func aFileAsRootIsAnError() throws {
        let directory = TemporaryDirectory()
        try writeFile(directory("file"), "x")
        let error = #expect(throws: FileSystemError.self) { try DirectoryWalker().walk(directory("file")) }
        #expect(error?.code == .notADirectory)
    }
}

@Suite struct AtomicWriteTests {
    @Test func replacesWholeAndLeavesNoTemporaryFile() throws {
        let directory = TemporaryDirectory()
        let target = directory("manifest.json")
        try FileSystem.writeAtomically(Array("first".utf8), to: target)
        try FileSystem.writeAtomically(Array("second".utf8), to: target)
        #expect(try FileSystem.readAll(target) == Array("second".utf8))
        #expect(try DirectoryWalker(includeHidden: true).walk(directory.path).files.count == 1)
    }

    @Test func aMissingDirectoryIsAnErrorNamingIt() throws {
        let directory = TemporaryDirectory()
        let error = #expect(throws: FileSystemError.self) { try FileSystem.writeAtomically([1], to: directory("absent/file")) }
        #expect(error?.description.contains("absent") == true)
    }
}

@Suite struct ReadAllTests {
    /// A status the caller has stands for the fstat of the open file; if the file changed
    /// since, the read still gives all of it, or fails naming it.
    @Test func aKnownStatusIsTrustedOnlyAsFarAsTheReadAgrees() throws {
        let directory = TemporaryDirectory()
        try writeFile(directory("layer"), "short")
        let stale = try FileSystem.status(of: directory("layer"))
        let grown = (0..<70_000).map { UInt8(truncatingIfNeeded: $0) }
        try writeFile(directory("layer"), grown)
        #expect(try FileSystem.readAll(directory("layer"), regularOnly: true, knownStatus: stale) == grown)
        try writeFile(directory("shrunk"), "a longer text than it will be")
        let before = try FileSystem.status(of: directory("shrunk"))
        try writeFile(directory("shrunk"), "short")
        #expect(try FileSystem.readAll(directory("shrunk"), regularOnly: true, knownStatus: before) == Array("short".utf8))
        // Replaced by a folder, or a pipe: an error naming it, never a hang.
        #expect(rename(directory("layer").string, directory("old").string) == 0)
        #expect(mkdir(directory("layer").string, 0o755) == 0)
        let error = #expect(throws: FileSystemError.self) { try FileSystem.readAll(directory("layer"), regularOnly: true, knownStatus: stale) }
        #expect(error?.description.contains("layer") == true)
        #expect(mkfifo(directory("pipe").string, 0o600) == 0)
        #expect(throws: FileSystemError.self) { try FileSystem.readAll(directory("pipe"), regularOnly: true, knownStatus: stale) }
        // A status that is not a regular file's is not trusted: the file is stat'ed.
        let folder = try FileSystem.status(of: directory.path)
        #expect(try FileSystem.readAll(directory("old"), regularOnly: true, knownStatus: folder) == grown)
    }

    @Test func readsWholeFilesAndThoseWithoutASizeOfTheirOwn() throws {
        let directory = TemporaryDirectory()
        let bytes = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        try writeFile(directory("big"), bytes)
        try writeFile(directory("empty"), [])
        #expect(try FileSystem.readAll(directory("big")) == bytes)
        #expect(try FileSystem.readAll(directory("empty"), regularOnly: true) == [])
        // /proc files say they are empty and are not.
        #expect(String(decoding: try FileSystem.readAll("/proc/self/status"), as: UTF8.self).contains("Pid:"))
    }

    @Test func regularOnlyRefusesAFIFOWithoutWaitingForAWriter() throws {
        let directory = TemporaryDirectory()
        #expect(mkfifo(directory("pipe").string, 0o644) == 0)
        let error = #expect(throws: FileSystemError.self) { try FileSystem.readAll(directory("pipe"), regularOnly: true) }
        #expect(error?.code == .notRegularFile)
        #expect(error?.description.contains("pipe") == true)
    }
}

@Suite struct DirectoryHandlesTests {
    /// Every answer is stat(2)'s of the whole path, whatever the folder or file is.
    @Test func statusesAreStatsOfTheWholePath() throws {
        let directory = TemporaryDirectory()
        try writeFile(directory("a/one.png"), "1")
        try writeFile(directory("a/two.png"), "22")
        try writeFile(directory("b/three.png"), "333")
        try writeFile(directory("plain"), "x")
        #expect(symlink(directory("a").string, directory("linked").string) == 0)
        #expect(symlink(directory("b/three.png").string, directory("a/to-three").string) == 0)
        #expect(symlink(directory("a/absent").string, directory("a/dangling").string) == 0)
        let paths: [FilePath?] = [
            directory("a/one.png"), directory("a/two.png"), directory("b/three.png"), directory("a/absent.png"),
            directory("linked/one.png"), directory("a/to-three"), directory("a/dangling"), directory("absent/x.png"),
            directory("plain/under-a-file"), directory("a"), nil, FilePath("/"), FilePath("relative/x"), directory("a/one.png"),
            directory("a/"), directory("b/../a/two.png"),
        ]
        let handles = DirectoryHandles()
        let statuses = handles.statuses(count: paths.count) { paths[$0] }
        for (path, status) in zip(paths, statuses) {
            let expected = path.flatMap { try? FileSystem.statusIfPresent(of: $0) }
            #expect(status == expected, "\(path.map(displayPath) ?? "nil")")
        }
        #expect(statuses.map { $0?.size } == [1, 2, 3, nil, 1, 3, nil, nil, nil, statuses[9]?.size, nil, statuses[11]?.size, nil, 1, statuses[14]?.size, 2])
        #expect(statuses[9]?.isDirectory == true)
        // Asked again (folders now open), the same answers; and of the same paths as bytes.
        #expect(handles.statuses(count: paths.count) { paths[$0] } == statuses)
        #expect(handles.statuses(count: paths.count, ofBytes: { paths[$0]?.bytes }) == statuses)
        #expect(handles.statuses(count: 1, ofBytes: { _ in [] }) == [nil])
    }

    @Test func pastTheLimitOfOpenFoldersAnswersStayTheSame() throws {
        let directory = TemporaryDirectory()
        let count = DirectoryHandles.limit + 20
        for index in 0..<count { try writeFile(directory("d\(index)/f"), Array(repeating: 1, count: index)) }
        let handles = DirectoryHandles()
        let statuses = handles.statuses(count: count * 2) { directory("d\($0 % count)/f") }
        #expect(statuses.map { $0?.size } == (0..<(count * 2)).map { Int64($0 % count) })
    }

    @Test func opensByNameAndNamesWhatItCannotOpen() throws {
        let directory = TemporaryDirectory()
        try writeFile(directory("layers/a.usda"), "#usda 1.0")
        let handles = DirectoryHandles()
        #expect(try FileSystem.readAll(directory("layers/a.usda"), regularOnly: true, directories: handles) == Array("#usda 1.0".utf8))
        let error = #expect(throws: FileSystemError.self) { try FileSystem.readAll(directory("layers/b.usda"), directories: handles) }
        #expect(error?.description.contains("b.usda") == true)
        #expect(mkfifo(directory("layers/fifo.usda").string, 0o600) == 0)
        let fifo = #expect(throws: FileSystemError.self) { try FileSystem.readAll(directory("layers/fifo.usda"), regularOnly: true, directories: handles) }
        #expect(fifo?.description.contains("FIFO") == true)
    }

    @Test(arguments: [
        ("a.png", true), ("/x/y/b.usda", true), ("c.PNG", false), (".png", false), ("/x/.png", false), ("d.", false),
        ("e.png.bak", false), ("/x.png/f", false), ("g.tar.png", true), ("png", false), ("/", false), ("h..png", true),
    ])
    func extensionsAreComparedAsBytes(path: String, matches: Bool) {
        let extensions = [Array("png".utf8), Array("usda".utf8)]
        #expect(FilePath(path).hasExtension(in: extensions) == matches)
        #expect(FilePath(path).hasExtension(in: extensions) == extensions.contains(Array((FilePath(path).extension ?? "").utf8)))
    }

    // Past sixteen bytes too: the slash found sixteen bytes at a time from the end.
    @Test(arguments: [("", 0), ("a", 0), ("/", 1), ("/a", 1), ("a/bc", 2), ("/a/b/", 5), ("/a/bc.png", 3),
                      ("/a/a_name_of_exactly_16", 3), ("/a/a_name_longer_than_sixteen_bytes.png", 3),
                      ("no_slash_in_a_name_longer_than_32_bytes", 0), ("/stage/textures/tex_00010.png", 16)])
    func theLastComponentStartsAfterTheLastSlash(path: String, start: Int) {
        #expect(Array(path.utf8).withUnsafeBufferPointer { FilePath.lastComponentStart(of: $0) } == start)
    }

    @Test func pathsMadeFromBytesKeepThemUpToANUL() {
        let bytes: [UInt8] = Array("/a/we".utf8) + [0xFF] + Array("ird.png".utf8)
        #expect(FilePath(bytes: bytes).bytes == bytes)
        #expect(FilePath(bytes: []).bytes == [])
        #expect(FilePath(bytes: Array("/a".utf8) + [0] + Array("b".utf8)).bytes == Array("/a".utf8))
        #expect(FilePath.Component(bytes: [0x61, 0xFE]) == FilePath(bytes: [0x61, 0xFE]).lastComponent)
    }

    @Test func pathBytesAreReadFromTheirStorageAsSwiftSystemWritesThem() {
        // The fast path is on (were it off, paths would be read correctly but slowly: this fails
        // when a new swift-system keeps paths otherwise, to say so).
        #expect(FilePath.storageIsBytes)
        let paths: [FilePath] = [FilePath(""), FilePath("/"), FilePath("a"), FilePath("/a//b/"), FilePath("./x/../y"),
                                 FilePath(bytes: Array("/t/\u{e9}".utf8) + [0xFF, 0x80]), FilePath(String(repeating: "n/", count: 300))]
        for path in paths {
            let slow = path.withPlatformString { Array(UnsafeBufferPointer(start: UnsafeRawPointer($0).assumingMemoryBound(to: UInt8.self), count: strlen($0))) }
            #expect(path.bytes == slow)
            #expect(path.sharedStorage == slow + [0])
        }
        // A path changed after it was shared keeps what was shared unchanged.
        var path = FilePath("/a")
        let shared = path.sharedStorage
        path.append("b")
        #expect(shared == Array("/a".utf8) + [0] && path.bytes == Array("/a/b".utf8))
    }

    /// Paths made of their bytes as they are (`FilePath(bytes:)`'s fast way) are the paths
    /// swift-system makes of them, and behave so; bytes not in that form are made its way.
    @Test func pathsMadeFromTheirBytesAreSwiftSystemsPaths() {
        #expect(FilePath.madeFromStorage)
        var generator = SystemRandomNumberGenerator()
        let pieces: [[UInt8]] = [[0x2F], [0x2F, 0x2F], [0x2E], [0x2E, 0x2E], Array("layer_0001.usda".utf8), Array("\u{e9}".utf8), [0xFF, 0x80], [0x20], Array("a".utf8)]
        var samples: [[UInt8]] = [[], [0x2F], [0x2F, 0x2F], Array("/a/".utf8), Array("a//b".utf8), Array("/stage/root.usda".utf8), Array(repeating: 0x61, count: 600)]
        for _ in 0..<500 { samples.append((0..<Int.random(in: 1...8, using: &generator)).flatMap { _ in pieces.randomElement(using: &generator)! }) }
        for bytes in samples {
            let made = FilePath(bytes: bytes)
            let real = bytes.withUnsafeBufferPointer { FilePath.withCString(of: $0) { FilePath(platformString: $0) } }
            #expect(made == real && made.hashValue == real.hashValue && made.bytes == real.bytes, "\(bytes)")
            #expect(made.sharedStorage == real.sharedStorage && Array(made.components) == Array(real.components))
            #expect(made.lexicallyNormalized() == real.lexicallyNormalized() && made.appending("x") == real.appending("x"))
            #expect(made.removingLastComponent() == real.removingLastComponent() && made.isAbsolute == real.isAbsolute)
        }
        // Changing a path made so changes it alone.
        let bytes = Array("/stage/a".utf8)
        var path = FilePath(bytes: bytes)
        let copy = path
        path.append("b")
        #expect(path.bytes == Array("/stage/a/b".utf8) && copy.bytes == bytes && FilePath(bytes: bytes) == copy)
    }

    @Test func keysOfPathsEqualKeysOfTheirBytes() {
        let paths = ["/stage/root.usda", "/stage/layers/layer_0001.usda", "", "/", "/t/\u{e9}.png"]
        for path in paths {
            let fromPath = ByteKey(FilePath(path))
            let fromBytes = ByteKey(Array(path.utf8))
            #expect(fromPath == fromBytes && fromPath.hashValue == fromBytes.hashValue)
            #expect(fromPath.bytes == Array(path.utf8))
        }
        var set = Set(paths.map { ByteKey(FilePath($0)) })
        #expect(set.count == paths.count)
        #expect(!set.insert(ByteKey(Array("/stage/root.usda".utf8))).inserted)
        // A key of a prefix, or of the bytes with the NUL that ends the path's storage, is another.
        #expect(!set.contains(ByteKey(Array("/stage/root.usd".utf8))))
        #expect(!set.contains(ByteKey(Array("/stage/root.usda".utf8) + [0])))
        // A key shares its path's storage: the path changed after leaves the key as it was.
        var changing = FilePath("/stage/a")
        let key = ByteKey(changing)
        changing.append("b")
        #expect(key == ByteKey(Array("/stage/a".utf8)) && key.bytes == Array("/stage/a".utf8))
        #expect(ByteKey(changing) == ByteKey(Array("/stage/a/b".utf8)))
    }
}

@Suite struct JSONWriterTests {
    @Test(arguments: [Int64(0), 7, 10, -1, -10, 1_234_567_890, .max, .min])
    func integersAreWrittenInDecimal(value: Int64) {
        var out: [UInt8] = Array("x".utf8)
        JSONWriter.appendInteger(value, to: &out)
        #expect(String(decoding: out, as: UTF8.self) == "x\(value)")
    }

    /// The vectorised check against the byte-at-a-time rule, around every boundary value, at
    /// every position of strings short (padded), of eight to sixteen bytes (two overlapping
    /// halves) and longer (blocks, the last overlapping).
    @Test func plainBytesAreExactlyPrintableASCIIWithoutQuoteOrBackslash() {
        func rule(_ bytes: [UInt8]) -> Bool { bytes.allSatisfy { $0 >= 0x20 && $0 <= 0x7E && $0 != 0x22 && $0 != 0x5C } }
        let specials: [UInt8] = [0x00, 0x01, 0x1F, 0x20, 0x21, 0x22, 0x23, 0x5B, 0x5C, 0x5D, 0x7E, 0x7F, 0x80, 0xA0, 0xDC, 0xFE, 0xFF]
        for length in 0..<50 {
            for position in 0..<max(length, 1) {
                for special in specials {
                    var bytes = [UInt8](repeating: UInt8(ascii: "a"), count: length)
                    if length > 0 { bytes[position] = special }
                    #expect(bytes.withUnsafeBufferPointer { JSONWriter.isPlain($0) } == rule(bytes))
                }
            }
        }
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let bytes = (0..<Int.random(in: 0..<40, using: &generator)).map { _ in UInt8.random(in: 0x1E...0x80, using: &generator) }
            #expect(bytes.withUnsafeBufferPointer { JSONWriter.isPlain($0) } == rule(bytes))
        }
        var out: [UInt8] = []
        JSONWriter.appendFileName(FilePath("/a/b \"c\".png"), to: &out)
        #expect(String(decoding: out, as: UTF8.self) == #""/a/b \"c\".png""#)
    }
}

@Suite struct PlainAssetEntryTests {
    /// `buildcat_json_plain_asset` writes what the entry's fields written one by one would be,
    /// for texts of every length its sixteen- and eight-byte reads treat apart (0…40), and
    /// refuses (0) any entry with a byte JSON must escape, wherever it is.
    @Test func composedEntriesAreTheFieldsInOrderOrNothing() {
        var generator = SystemRandomNumberGenerator()
        let plain = Array(" !#$%&()*+,-./0123456789:;<=>?@ABCXYZ[]^_`abcxyz{|}~".utf8)
        let escaped: [UInt8] = [0x22, 0x5C, 0x0A, 0x00, 0x1F, 0x7F, 0x80, 0xE9, 0xFF]
        for round in 0..<3_000 {
            var texts = (0..<6).map { _ in (0..<Int.random(in: 0...40, using: &generator)).map { _ in plain.randomElement(using: &generator)! } }
            let spoiled = round % 3 == 0 ? Int.random(in: 0..<6, using: &generator) : nil
            if let spoiled {
                if texts[spoiled].isEmpty { texts[spoiled] = [0] }
                texts[spoiled][Int.random(in: 0..<texts[spoiled].count, using: &generator)] = escaped.randomElement(using: &generator)!
            }
            let size = Int64.random(in: Int64.min...Int64.max, using: &generator) >> Int64.random(in: 0...63, using: &generator)
            let room = texts.reduce(Int(BUILDCAT_JSON_ASSET_OVERHEAD)) { $0 + $1.count }
            var out = [UInt8](repeating: 0, count: room)
            let written = withTexts(texts) { pieces in
                out.withUnsafeMutableBufferPointer { buildcat_json_plain_asset($0.baseAddress!, pieces[0], size, pieces[1], pieces[2], pieces[3], pieces[4], pieces[5]) }
            }
            if spoiled != nil {
                #expect(written == 0)
                continue
            }
            let t = texts.map { String(decoding: $0, as: UTF8.self) }
            let expected = #"{"path":"\#(t[0])","size":\#(size),"kind":"\#(t[1])","raw":"\#(t[2])","scene":"\#(t[3])","block":"\#(t[4])","field":"\#(t[5])"}"#
            #expect(String(decoding: out[..<written], as: UTF8.self) == expected)
        }
    }

    private func withTexts<Result>(_ texts: [[UInt8]], _ body: ([buildcat_text]) -> Result) -> Result {
        // Each text in memory of its own, exactly as long as it is, as a reference lends them.
        let copies = texts.map { text -> UnsafeMutableBufferPointer<UInt8> in
            let copy = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: text.count)
            _ = copy.initialize(from: text)
            return copy
        }
        defer { copies.forEach { $0.deallocate() } }
        return body(copies.map { buildcat_text(bytes: $0.baseAddress.map(UnsafeRawPointer.init), count: $0.count) })
    }
}

@Suite struct JSONParserTests {
    @Test func keepsLoneSurrogatesAndParsesEveryKind() throws {
        let value = try JSONParser.parse(Array(#" {"a":[1,-2,3.5,true,false,null],"s":"\udcff\u00e9x\"","e":{}} "#.utf8))
        #expect(value.member("s") == .string([0xDCFF, 0xE9, 0x78, 0x22]))
        #expect(value.member("a") == .array([.integer(1), .integer(-2), .number("3.5"), .bool(true), .bool(false), .null]))
        #expect(value.member("e") == .object([]))
    }

    @Test(arguments: ["", "{", "[1,]", "{\"a\" 1}", "\"\u{01}\"", "01", "[1] x", "\"\\x\"", String(repeating: "[", count: 600)])
    func rejectsWhatIsNotJSON(text: String) {
        #expect(throws: JSONError.self) { try JSONParser.parse(Array(text.utf8)) }
    }

    @Test func rejectsInvalidUTF8InStrings() {
        #expect(throws: JSONError.self) { try JSONParser.parse([0x22, 0xFF, 0x22]) }
    }
}

@Suite struct ParallelTests {
    /// A thread that asks has its heap (a heap of its own: a new thread's first allocation
    /// makes one) marked for huge pages: `hg` among the flags of the mapping holding what it
    /// allocates next. Linux has marked madvised memory so since 2.6.38.
    @Test func aThreadsHeapIsMarkedForHugePages() throws {
        let found = Mutex<(address: UInt, flags: String?)>((0, nil))
        let thread = DedicatedThread {
            Parallel.adviseHugeHeap()
            let block = malloc(4096)!
            defer { free(block) }
            let address = UInt(bitPattern: block)
            let maps = (try? FileSystem.readAll("/proc/self/smaps")).map { String(decoding: $0, as: UTF8.self) } ?? ""
            var inside = false
            var flags: String?
            for line in maps.split(separator: "\n") {
                if let dash = line.firstIndex(of: "-"), let space = line.firstIndex(of: " "), dash < space,
                   let start = UInt(line[..<dash], radix: 16), let end = UInt(line[line.index(after: dash)..<space], radix: 16) {
                    inside = start <= address && address < end
                } else if inside && line.hasPrefix("VmFlags:") {
                    flags = String(line)
                }
            }
            found.withLock { $0 = (address, flags) }
        }
        thread.join()
        let result = found.withLock { $0 }
        let flags = try #require(result.flags, "no mapping holds \(String(result.address, radix: 16))")
        #expect(flags.split(separator: " ").contains("hg"), "\(flags)")
    }

    /// Urgent work runs in the order it was handed over, whether a thread is running, spinning
    /// for more, or asleep past its spin (`Spin.limit`) when the work comes.
    @Test func urgentWorkRunsInOrderWhetherItsThreadsRunSpinOrSleep() {
        let ran = Mutex<[Int]>([])
        var next = 0
        // Microseconds: busy, spinning, asleep; the first many pieces of work, handed over
        // faster than they run, so that the queue lets go of what ran while it never drains.
        for (pause, count) in [(0, 5_000), (50, 100), (5_000, 100)] {
            usleep(UInt32(pause))
            let done = HandOff()
            let last = next + count - 1
            for index in next...last {
                Parallel.urgently {
                    ran.withLock { $0.append(index) }
                    if index == last { done.give() }
                }
            }
            next += count
            done.wait()
        }
        #expect(ran.withLock { $0 } == Array(0..<5_200))
    }

    /// A hand-off reaches its waiter whether it is given at once, while the waiter spins, or
    /// after the waiter has gone to sleep; and what the giver wrote before is seen after.
    @Test(arguments: [0, 50, 5_000])
    func aHandOffReachesItsWaiter(afterMicroseconds delay: Int) {
        let handOff = HandOff()
        let written = Mutex(0)
        let giver = DedicatedThread {
            usleep(UInt32(delay))
            written.withLock { $0 = 42 }
            handOff.give()
        }
        handOff.wait()
        #expect(written.withLock { $0 } == 42)
        giver.join()
    }

    /// A thread started beside the caller's leaves every signal to the threads that wait for
    /// them: a worker's SIGTERM, reaching it, would have ended the process.
    @Test func aThreadStartedElsewhereBlocksSignals() {
        let blocked = Mutex<Bool?>(nil)
        // Made by a thread that blocks none (as a program's main thread), since a new thread
        // takes its maker's mask (the test runner's threads block some).
        let maker = DedicatedThread {
            var none = sigset_t()
            sigemptyset(&none)
            pthread_sigmask(SIG_SETMASK, &none, nil)
            let thread = DedicatedThread(elsewhere: true) {
                var mask = sigset_t()
                pthread_sigmask(SIG_BLOCK, nil, &mask)
                blocked.withLock { $0 = sigismember(&mask, SIGTERM) == 1 && sigismember(&mask, SIGINT) == 1 }
            }
            thread.join()
        }
        maker.join()
        #expect(blocked.withLock { $0 } == true)
    }

    /// A thread started beside its maker may in the end run wherever its maker may: on one
    /// processor if the maker is held to one (as by `taskset`), on all the maker's otherwise.
    @Test func aThreadStartedElsewhereEndsWhereItsMakerMayRun() {
        let pairs = Mutex<[(maker: String, thread: String)]>([])
        for limited in [true, false] {
            let maker = DedicatedThread {
                if limited { _ = buildcat_hold_to_processor(0) }
                let makers = Self.allowedProcessors()
                let thread = DedicatedThread(elsewhere: true) { pairs.withLock { $0.append((makers, Self.allowedProcessors())) } }
                thread.join()
            }
            maker.join()
        }
        let found = pairs.withLock { $0 }
        #expect(found.count == 2)
        #expect(found.first?.maker == "0")
        for pair in found { #expect(pair.thread == pair.maker) }
    }

    /// The calling thread's `Cpus_allowed_list` (`0`, `0-1`).
    private static func allowedProcessors() -> String {
        let status = (try? FileSystem.readAll("/proc/thread-self/status")).map { String(decoding: $0, as: UTF8.self) } ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("Cpus_allowed_list:") } ?? ""
        return String(line.dropFirst("Cpus_allowed_list:".count).drop { $0 == " " || $0 == "\t" })
    }

    @Test func mapKeepsOrderAcrossThreads() {
        let values = Parallel.map(count: 10_000, threads: 4, makeContext: { 0 }) { index, _ in index * 2 }
        #expect(values == (0..<10_000).map { $0 * 2 })
        #expect(Parallel.processorCount >= 1)
    }

    /// Pieces come out in order however the threads finish, each rendered into an emptied
    /// buffer, and only a few buffers are ever made.
    @Test func renderInOrderRendersFewPiecesAheadOfASlowEmitter() {
        let ahead = Mutex((rendered: 0, emitted: 0, most: 0))
        Parallel.renderInOrder(count: 300, threads: 3, render: { _, buffer in
            buffer.append(1)
            ahead.withLock { $0.rendered += 1; $0.most = max($0.most, $0.rendered - $0.emitted) }
        }, emit: { _ in
            usleep(100)
            ahead.withLock { $0.emitted += 1 }
        })
        let counts = ahead.withLock { $0 }
        #expect(counts.emitted == 300)
        #expect(counts.most <= 6)
    }

    @Test func renderInOrderEmitsInOrderReusingBuffers() {
        var emitted: [UInt8] = []
        var buffers: Set<UnsafeRawPointer> = []
        Parallel.renderInOrder(count: 200, threads: 4, render: { index, buffer in
            #expect(buffer.isEmpty)
            if index % 7 == 0 { usleep(200) }  // later pieces finish first
            buffer.append(contentsOf: Array(repeating: UInt8(index % 251), count: 1 + index % 5))
        }, emit: { piece in
            emitted += piece
            _ = piece.withUnsafeBytes { buffers.insert($0.baseAddress!) }
        })
        var expected: [UInt8] = []
        for index in 0..<200 { expected += [UInt8](repeating: UInt8(index % 251), count: 1 + index % 5) }
        #expect(emitted == expected)
        // At most two pieces a thread are rendered and not yet emitted, each in its buffer.
        #expect(buffers.count <= 8)
        Parallel.renderInOrder(count: 0, render: { _, _ in Issue.record("nothing to render") }, emit: { _ in Issue.record("nothing to emit") })
    }
}

@Suite struct ShortLockTests {
    /// Every change made under the lock by four threads at once is kept.
    @Test func changesUnderTheLockAreNeverLost() {
        let counter = ShortLock(0)
        let threads = (0..<4).map { _ in
            DedicatedThread { for _ in 0..<100_000 { counter.withLock { $0 += 1 } } }
        }
        for thread in threads { thread.join() }
        #expect(counter.withLock { $0 } == 400_000)
    }

    /// A thread that finds the lock held past its spin sleeps, after marking the lock as slept
    /// on, and is woken when the lock is freed; the lock is free once that thread frees it.
    @Test func aThreadHeldOutSleepsAndIsWokenWhenTheLockIsFreed() {
        let lock = UnsafeMutablePointer<buildcat_short_lock>.allocate(capacity: 1)
        defer { lock.deallocate() }
        lock.initialize(to: buildcat_short_lock(word: 0))
        let address = UInt(bitPattern: lock)
        let acquired = Mutex(false)
        buildcat_short_lock_acquire(lock)
        let waiter = DedicatedThread {
            let lock = UnsafeMutablePointer<buildcat_short_lock>(bitPattern: address)!
            buildcat_short_lock_acquire(lock)
            acquired.withLock { $0 = true }
            buildcat_short_lock_release(lock)
        }
        var waited = 0
        while lock.pointee.word != 2 && waited < 5_000 {
            usleep(1_000)
            waited += 1
        }
        #expect(lock.pointee.word == 2, "the waiting thread never marked the lock as slept on")
        #expect(!acquired.withLock { $0 })
        buildcat_short_lock_release(lock)
        waiter.join()
        #expect(acquired.withLock { $0 })
        #expect(lock.pointee.word == 0)
    }
}
