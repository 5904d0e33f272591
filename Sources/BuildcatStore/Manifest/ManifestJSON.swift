import BuildcatBasics
import BuildcatHash

extension Manifest {
    /// The manifest as canonical JSON bytes, identical to Deadline's for the same entries.
    public func canonicalJSON() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(128 + entries.count * 120)
        out += Array(#"{"hashAlg":"xxh128","manifestVersion":"2023-03-03","paths":["#.utf8)
        for (index, entry) in entries.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            out += Array(#"{"hash":""#.utf8)
            out += entry.hash.hexBytes
            out += Array(#"","mtime":"#.utf8)
            out += Array(String(entry.mtime).utf8)
            out += Array(#","path":"#.utf8)
            JSONWriter.appendFileName(entry.path, to: &out)
            out += Array(#","size":"#.utf8)
            out += Array(String(entry.size).utf8)
            out.append(UInt8(ascii: "}"))
        }
        out += Array(#"],"totalSize":"#.utf8)
        out += Array(String(totalSize).utf8)
        out.append(UInt8(ascii: "}"))
        return out
    }

    /// Reads a manifest written by Buildcat, Deadline or anything else that follows the format.
    /// - Parameters:
    ///   - bytes: the JSON document.
    ///   - source: where it came from, for messages.
    /// - Throws: `ManifestError` naming the source and what is wrong.
    public static func decode(_ bytes: [UInt8], source: String) throws -> Manifest {
        func invalid(_ reason: String) -> ManifestError { ManifestError(source: source, reason: reason) }
        let document: JSONValue
        do {
            document = try JSONParser.parse(bytes)
        } catch {
            throw invalid("\(error)")
        }
        guard case .object = document else { throw invalid("it is not a JSON object") }
        guard document.member("manifestVersion")?.text == version else {
            throw invalid("manifestVersion must be \"\(version)\"")
        }
        guard document.member("hashAlg")?.text == hashAlgorithm else {
            throw invalid("hashAlg must be \"\(hashAlgorithm)\"")
        }
        guard case .array(let items)? = document.member("paths") else { throw invalid("paths must be an array") }
        guard case .integer(let declaredTotal)? = document.member("totalSize") else { throw invalid("totalSize must be an integer") }
        var entries: [ManifestEntry] = []
        entries.reserveCapacity(items.count)
        for (index, item) in items.enumerated() {
            guard case .string(let units)? = item.member("path") else { throw invalid("paths[\(index)].path must be a string") }
            guard let path = FileNameEncoding.fileName(fromUTF16: units) else {
                throw invalid("paths[\(index)].path is not the encoding of any file name")
            }
            guard let hashText = item.member("hash")?.text, let hash = XXH128Digest(hex: hashText) else {
                throw invalid("paths[\(index)].hash must be 32 hexadecimal digits")
            }
            guard case .integer(let size)? = item.member("size"), size >= 0 else {
                throw invalid("paths[\(index)].size must be a non-negative integer")
            }
            guard case .integer(let mtime)? = item.member("mtime") else { throw invalid("paths[\(index)].mtime must be an integer") }
            entries.append(ManifestEntry(path: path, hash: hash, size: size, mtime: mtime))
        }
        let manifest: Manifest
        do {
            manifest = try Manifest(entries: entries)
        } catch let error as ManifestError {
            throw invalid(error.reason)
        }
        guard manifest.totalSize == declaredTotal else {
            throw invalid("totalSize is \(declaredTotal) but the sizes add up to \(manifest.totalSize)")
        }
        return manifest
    }
}
