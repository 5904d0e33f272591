import BuildcatBasics
import BuildcatHash
@testable import BuildcatStore
import BuildcatTestSupport
import SystemPackage
import Testing

@Suite struct FileNameEncodingTests {
    /// Python's `os.fsdecode` gives these code units; `os.fsencode` gives the bytes back.
    @Test(arguments: [
        ([0x61, 0xFF, 0x62], [0x61, 0xDCFF, 0x62]),                      // a lone invalid byte
        ([0xE2, 0x82, 0x61], [0xDCE2, 0xDC82, 0x61]),                    // a truncated sequence
        ([0xC0, 0xAF], [0xDCC0, 0xDCAF]),                                // an overlong '/'
        ([0xED, 0xA0, 0x80], [0xDCED, 0xDCA0, 0xDC80]),                  // an encoded surrogate
        ([0xF0, 0x9F, 0x98, 0x80], [0xD83D, 0xDE00]),                    // an emoji: a pair
        ([0x63, 0x61, 0x66, 0xC3, 0xA9], [0x63, 0x61, 0x66, 0xE9]),      // café, NFC
    ] as [([UInt8], [UInt16])])
    func bytesEncodeAsPythonDoesAndComeBack(bytes: [UInt8], units: [UInt16]) {
        #expect(FileNameEncoding.utf16(fromFileName: bytes) == units)
        #expect(FileNameEncoding.fileName(fromUTF16: units) == bytes)
    }

    @Test(arguments: [
        [0xD83D],            // a lone high surrogate
        [0xDC41],            // an escaped ASCII byte: Python never escapes those
        [0xDCC3, 0xDCA9],    // escaped bytes that spell a valid character: Python would decode them
        [0x61, 0x00],        // NUL
    ] as [[UInt16]])
    func stringsThatNoFileNameEncodesToAreRefused(units: [UInt16]) {
        #expect(FileNameEncoding.fileName(fromUTF16: units) == nil)
    }
}

@Suite struct ManifestJSONTests {
    func entry(_ path: String, _ size: Int64 = 1, mtime: Int64 = 0) -> ManifestEntry {
        ManifestEntry(path: Array(path.utf8), hash: XXH128Digest(high: 1, low: UInt64(size)), size: size, mtime: mtime)
    }

    @Test func canonicalFormSortsByUTF16AndEscapesAsPython() throws {
        // U+FF61 sorts after U+1F600 by UTF-16 code units (0xFF61 > 0xD83D), before it by scalars.
        let manifest = try Manifest(entries: [
            entry("\u{FF61}"), entry("😀"), entry("b\"q\\s\t\u{7F}", 2, mtime: -1), entry("a/b"), entry("a b"),
        ])
        let json = String(decoding: manifest.canonicalJSON(), as: UTF8.self)
        let expected = #"{"hashAlg":"xxh128","manifestVersion":"2023-03-03","paths":["#
            + #"{"hash":"00000000000000010000000000000001","mtime":0,"path":"a b","size":1},"#
            + #"{"hash":"00000000000000010000000000000001","mtime":0,"path":"a/b","size":1},"#
            + #"{"hash":"00000000000000010000000000000002","mtime":-1,"path":"b\"q\\s\t\u007f","size":2},"#
            + #"{"hash":"00000000000000010000000000000001","mtime":0,"path":"\ud83d\ude00","size":1},"#
            + #"{"hash":"00000000000000010000000000000001","mtime":0,"path":"\uff61","size":1}"#
            + #"],"totalSize":6}"#
        #expect(json == expected)
        #expect(try Manifest.decode(manifest.canonicalJSON(), source: "test") == manifest)
    }

    @Test func decodingAcceptsAnyKeyOrderAndWhiteSpace() throws {
        let text = """
            { "totalSize": 3, "paths": [ { "size": 3, "path": "x\\/y", "mtime": 5,
              "hash": "99AA06D3014798D86001C324468D497F" } ], "manifestVersion": "2023-03-03", "hashAlg": "xxh128" }
            """
        let manifest = try Manifest.decode(Array(text.utf8), source: "test")
        #expect(manifest.entries == [ManifestEntry(path: Array("x/y".utf8), hash: .empty, size: 3, mtime: 5)])
    }

    @Test(arguments: [
        (#"{"hashAlg":"xxh128","manifestVersion":"2023-03-03","paths":[{"hash":"99aa06d3014798d86001c324468d497f","mtime":0,"path":"../etc/passwd","size":0}],"totalSize":0}"#, "'..'"),
        (#"{"hashAlg":"xxh128","manifestVersion":"2023-03-03","paths":[{"hash":"99aa06d3014798d86001c324468d497f","mtime":0,"path":"/etc/passwd","size":0}],"totalSize":0}"#, "absolute"),
        (#"{"hashAlg":"xxh128","manifestVersion":"2023-03-03","paths":[{"hash":"99aa06d3014798d86001c324468d497f","mtime":0,"path":"a","size":0},{"hash":"99aa06d3014798d86001c324468d497f","mtime":0,"path":"a","size":0}],"totalSize":0}"#, "twice"),
        (#"{"hashAlg":"xxh128","manifestVersion":"2023-03-03","paths":[{"hash":"99aa06d3014798d86001c324468d497f","mtime":0,"path":"a","size":5}],"totalSize":0}"#, "totalSize"),
        (#"{"hashAlg":"sha256","manifestVersion":"2023-03-03","paths":[],"totalSize":0}"#, "hashAlg"),
        (#"{"hashAlg":"xxh128","manifestVersion":"2025-12-04","paths":[],"totalSize":0}"#, "manifestVersion"),
        (#"{"hashAlg":"xxh128","manifestVersion":"2023-03-03","paths":[{"hash":"xyz","mtime":0,"path":"a","size":0}],"totalSize":0}"#, "hash"),
        (#"{"hashAlg":"xxh128","manifestVersion":"2023-03-03","paths":[{"hash":"99aa06d3014798d86001c324468d497f","mtime":0,"path":"\udc41","size":0}],"totalSize":0}"#, "file name"),
        (#"{"hashAlg":"xxh128","manifestVersion":"2023-03-03","paths":["#, "end of document"),
        ("[]", "not a JSON object"),
    ])
    func hostileOrBrokenManifestsAreRefusedWithTheReason(text: String, reason: String) {
        let error = #expect(throws: ManifestError.self) { try Manifest.decode(Array(text.utf8), source: "shot.manifest") }
        #expect(error?.description.contains("shot.manifest") == true)
        #expect(error?.description.contains(reason) == true, "\(String(describing: error))")
    }
}

@Suite struct ManifestSnapshotTests {
    @Test func diffFindsNewModifiedAndDeletedByContent() throws {
        let directory = TemporaryDirectory()
        let root = directory("root")
        try writeFile(root.appending("keep"), "same")
        try writeFile(root.appending("edit"), "before")
        try writeFile(root.appending("gone"), "bye")
        try writeFile(root.appending("touched"), "content")
        try writeFile(root.appending("resized"), "short")
        let snapshotter = ManifestSnapshotter(hashing: FileHashingService(cache: nil))
        let manifest = try snapshotter.snapshot(root: root).manifest
        #expect(manifest.entries.count == 5)

        try writeFile(root.appending("edit"), "after!")  // same size, new content
        try writeFile(root.appending("resized"), "much longer")
        try FileSystem.removeFile(root.appending("gone"))
        try writeFile(root.appending("sub/new"), "hello")
        try setModificationTime(root.appending("touched"), nanoseconds: 42)  // time only
        let difference = try snapshotter.difference(between: manifest, and: root)
        #expect(difference.new == [Array("sub/new".utf8)])
        #expect(difference.modified == [Array("edit".utf8), Array("resized".utf8)])
        #expect(difference.deleted == [Array("gone".utf8)])
    }

    @Test func aSymlinkLoopIsAnErrorNamingTheLink() throws {
        let directory = TemporaryDirectory()
        let root = directory("root")
        try writeFile(root.appending("a/file"), "x")
        try makeSymlink(root.appending("a/loop"), to: "..")
        let error = #expect(throws: FileSystemError.self) {
            try ManifestSnapshotter(hashing: FileHashingService(cache: nil)).snapshot(root: root)
        }
        #expect(error?.code == .symlinkLoop)
        #expect(error?.description.contains("a/loop") == true)
    }
}
