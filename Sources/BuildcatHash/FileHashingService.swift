import BuildcatBasics
import SystemPackage

/// How many files and bytes a hashing run read, and how many it took from the cache.
public struct HashingStatistics: Sendable, Equatable {
    public var filesRead = 0
    public var bytesRead: Int64 = 0
    public var filesFromCache = 0
    public var bytesFromCache: Int64 = 0

    public init() {}
}

/// Hashes many files on all cores, through a hash cache when one is given.
public struct FileHashingService: Sendable {
    public var cache: HashCache?
    /// Read every file even when the cache has it (the fresh digests are still recorded).
    public var rehash: Bool
    public var threads: Int

    public init(cache: HashCache?, rehash: Bool = false, threads: Int = Parallel.processorCount) {
        self.cache = cache
        self.rehash = rehash
        self.threads = threads
    }

    /// Hashes each file, in order.
    /// - Parameters:
    ///   - paths: absolute paths of the files (relative paths work but are cached less usefully).
    ///   - statuses: the files' statuses if the caller already has them (from a directory walk),
    ///     saving a stat per file on a cache lookup; nil to stat here.
    /// - Returns: per file, its digest and status or the error that stopped it; and statistics.
    public func hash(_ paths: [FilePath], statuses: [FileStatus]? = nil) -> (results: [Result<FileDigest, FileSystemError>], statistics: HashingStatistics) {
        precondition(statuses == nil || statuses!.count == paths.count)
        if !rehash, let cache, let statuses {
            // Statuses known: take what the cache has in one pass, and read only the rest.
            let known = cache.digests(forPaths: paths.map(\.bytes), statuses: statuses)
            let missing = known.indices.filter { known[$0] == nil || !statuses[$0].isRegularFile }
            guard !missing.isEmpty else {
                var statistics = HashingStatistics()
                statistics.filesFromCache = paths.count
                statistics.bytesFromCache = statuses.reduce(0) { $0 + $1.size }
                return (zip(known, statuses).map { .success(FileDigest(digest: $0!, status: $1)) }, statistics)
            }
            var reading = self
            reading.rehash = true  // these are not in the cache: no second lookup
            let (read, readStatistics) = reading.hash(missing.map { paths[$0] }, statuses: missing.map { statuses[$0] })
            var results = zip(known, statuses).map { digest, status -> Result<FileDigest, FileSystemError> in
                digest.map { .success(FileDigest(digest: $0, status: status)) } ?? .failure(FileSystemError(.other, operation: "hash", path: "", detail: ""))
            }
            for (index, result) in zip(missing, read) { results[index] = result }
            var statistics = readStatistics
            for index in known.indices where known[index] != nil && statuses[index].isRegularFile {
                statistics.filesFromCache += 1
                statistics.bytesFromCache += statuses[index].size
            }
            return (results, statistics)
        }
        let cache = self.rehash ? nil : self.cache
        let recordingCache = self.cache
        let results = Parallel.map(count: paths.count, threads: threads, makeContext: { StreamBuffer() }) { index, buffer -> (Result<FileDigest, FileSystemError>, fromCache: Bool) in
            let path = paths[index]
            do {
                let key = path.bytes
                if let cache {
                    let status = try statuses?[index] ?? FileSystem.status(of: path)
                    if status.isRegularFile, let digest = cache.digest(forPath: key, status: status) {
                        return (.success(FileDigest(digest: digest, status: status)), true)
                    }
                }
                let started = wallClockNanoseconds()
                let fileDigest = try XXH128Hasher.hashFile(at: path, buffer: buffer)
                recordingCache?.record(path: key, status: fileDigest.status, digest: fileDigest.digest, readStartNanoseconds: started)
                return (.success(fileDigest), false)
            } catch let error as FileSystemError {
                return (.failure(error), false)
            } catch {
                return (.failure(FileSystemError(.other, operation: "hash", path: displayPath(path), detail: "\(error)")), false)
            }
        }
        var statistics = HashingStatistics()
        for (result, fromCache) in results {
            guard case .success(let fileDigest) = result else { continue }
            if fromCache {
                statistics.filesFromCache += 1
                statistics.bytesFromCache += fileDigest.status.size
            } else {
                statistics.filesRead += 1
                statistics.bytesRead += fileDigest.status.size
            }
        }
        return (results.map(\.0), statistics)
    }
}
