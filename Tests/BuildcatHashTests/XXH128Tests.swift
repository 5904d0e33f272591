import BuildcatBasics
import BuildcatHash
import BuildcatTestSupport
import CBuildcatXXH3
import Glibc
import SystemPackage
import Testing

/// The digests must be the ones `xxhsum -H2` prints: it is the reference implementation's own tool.
@Suite struct XXH128Tests {
    @Test func emptyInputHasTheKnownDigest() {
        #expect(XXH128Digest.empty.hex == "99aa06d3014798d86001c324468d497f")
    }

    @Test func hexRoundTrips() throws {
        let digest = try #require(XXH128Digest(hex: "0123456789abcdefFEDCBA9876543210"))
        #expect(digest.hex == "0123456789abcdeffedcba9876543210")
        #expect(XXH128Digest(hex: "0123") == nil)
        #expect(XXH128Digest(hex: String(repeating: "g", count: 32)) == nil)
    }

    @Test func streamingEqualsOneShot() {
        let bytes = (0..<100_003).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        let hasher = XXH128Hasher()
        bytes.withUnsafeBytes { all in
            var offset = 0
            for size in [1, 7, 64, 240, 1000, 4096, 65_536] where offset < all.count {
                let end = min(all.count, offset + size)
                hasher.update(UnsafeRawBufferPointer(rebasing: all[offset..<end]))
                offset = end
            }
            hasher.update(UnsafeRawBufferPointer(rebasing: all[offset...]))
        }
        #expect(hasher.finalize() == XXH128Hasher.digest(of: bytes))
    }

    /// Only the variant the processor picks is checked against xxhsum (below); the narrower ones
    /// it runs (SSE2 on every x86-64, AVX2 where AVX-512 is picked) must give the same hashes,
    /// in one call and as a stream given in pieces that cut across XXH3's stripes and blocks.
    @Test func everyVectorVariantHashesAlike() {
        #expect(["avx512", "avx2", "sse2", "scalar", "native"].contains(XXH128Hasher.vectorCode))
        let bytes = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 13) }
        var checked: Set<String> = []
        for variant in ["sse2", "avx2", "avx512"] {
            for (length, piece) in [(0, 1), (17, 5), (240, 240), (241, 7), (1024, 64), (1025, 1000), (65_537, 4_099), (300_000, 65_536)] {
                var whole = buildcat_xxh3_128_hash(), streamed = buildcat_xxh3_128_hash()
                guard bytes.withUnsafeBytes({ buildcat_xxh3_128_checked(variant, $0.baseAddress, length, piece, &whole, &streamed) }) == 1 else { continue }
                checked.insert(variant)
                let expected = XXH128Hasher.digest(of: Array(bytes[..<length]))
                #expect(XXH128Digest(high: whole.high, low: whole.low) == expected, "\(variant), \(length) bytes")
                #expect(XXH128Digest(high: streamed.high, low: streamed.low) == expected, "\(variant), \(length) bytes in pieces of \(piece)")
            }
        }
        #if arch(x86_64)
        #expect(checked.contains("sse2") && checked.contains(XXH128Hasher.vectorCode))
        #endif
    }

    /// Sizes around XXH3's internal block boundaries (16, 128, 240 bytes; 1 KiB stripes; the
    /// read buffer), plus a sparse file of several GiB that crosses 32-bit offsets.
    @Test func fileDigestsEqualXxhsum() throws {
        let xxhsum = try TestEnvironment.program("xxhsum", package: "xxhash")
        let directory = TemporaryDirectory()
        var files: [FilePath] = []
        for size in [0, 1, 3, 16, 17, 128, 129, 240, 241, 1023, 1025, 65_537, FileSystem.streamBufferSize + 13] {
            let path = directory("size-\(size)")
            try writeFile(path, (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ size) })
            files.append(path)
        }
        let sparse = directory("sparse-3GiB")
        let descriptor = try FileDescriptor.open(sparse, .writeOnly, options: [.create], permissions: .ownerReadWrite)
        // Mostly holes, with a few bytes of data past 2 and 3 GiB so the digest depends on offsets.
        _ = try descriptor.writeAll(toAbsoluteOffset: (2 << 30) + 5, Array("after 2 GiB".utf8))
        _ = try descriptor.writeAll(toAbsoluteOffset: (3 << 30) + 11, Array("end".utf8))
        try descriptor.close()
        files.append(sparse)

        let expected = try run(xxhsum, ["-H2"] + files.map(\.string))
        #expect(expected.status == 0)
        let buffer = StreamBuffer()
        let ours = try files.map { path in
            "\(try XXH128Hasher.hashFile(at: path, buffer: buffer).digest.hex)  \(path.string)\n"
        }.joined()
        #expect(ours == expected.stdoutText)
    }

    /// A FIFO must be refused at once, not block the open waiting for a writer.
    @Test(arguments: ["pipe", "directory"])
    func aFileThatIsNotRegularIsRefused(kind: String) throws {
        let directory = TemporaryDirectory()
        let path = directory(kind)
        if kind == "pipe" {
            #expect(mkfifo(path.string, 0o600) == 0)
        } else {
            try FileSystem.createDirectories(path)
        }
        let error = #expect(throws: FileSystemError.self) {
            try XXH128Hasher.hashFile(at: path, buffer: StreamBuffer(size: 4096))
        }
        #expect(error?.code == .notRegularFile)
        #expect(error?.description.contains(path.string) == true)
    }

    @Test func parallelHashingKeepsOrderAndReportsEachFailure() throws {
        let directory = TemporaryDirectory()
        var paths: [FilePath] = []
        for index in 0..<200 {
            let path = directory("f\(index)")
            try writeFile(path, "content \(index)")
            paths.append(path)
        }
        paths.insert(directory("does-not-exist"), at: 57)
        let (results, statistics) = FileHashingService(cache: nil).hash(paths)
        #expect(results.count == paths.count)
        for (index, result) in results.enumerated() {
            if index == 57 {
                #expect(throws: FileSystemError.self) { try result.get() }
                continue
            }
            let fileIndex = index < 57 ? index : index - 1
            #expect(try result.get().digest == XXH128Hasher.digest(of: Array("content \(fileIndex)".utf8)))
        }
        #expect(statistics.filesRead == 200)
    }
}
