import BuildcatBasics
import SystemPackage

/// The container of a Houdini scene: a `.hip` is an old-format ASCII cpio archive (`070707`
/// headers) of small text files — `.variables`, and per node `<path>.init`, `.def`, `.parm`…;
/// `.hipnc` and `.hiplc` (Apprentice and Indie) put the same files behind `HouNC`/`HouLC`
/// headers that hide node file names and carry a checksum, with the bodies in plain text.
struct HoudiniArchive {
    enum Kind: Equatable {
        case cpio
        /// `HouNC` or `HouLC`: every section starts with this six-byte magic.
        case protected([UInt8])
    }

    struct Section {
        /// The file name inside the archive; nil where a protected file hides it.
        var name: [UInt8]?
        /// Where the header starts and the body lies in the archive.
        var headerStart: Int
        var body: Range<Int>
    }

    static let cpioMagic = Array("070707".utf8)
    static let ncMagic = Array("HouNC".utf8) + [0x1A]
    static let lcMagic = Array("HouLC".utf8) + [0x1A]

    let kind: Kind
    let sections: [Section]

    static func recognizes(_ firstBytes: [UInt8]) -> Bool {
        firstBytes.starts(with: cpioMagic) || firstBytes.starts(with: ncMagic) || firstBytes.starts(with: lcMagic)
    }

    /// - Throws: `SceneError` naming the file and where the archive is damaged.
    init(_ bytes: [UInt8], path: FilePath) throws {
        func bad(_ reason: String) -> SceneError { SceneError(scene: displayPath(path), reason: "it is not a readable Houdini file: \(reason)") }
        if bytes.starts(with: Self.cpioMagic) {
            kind = .cpio
            var sections: [Section] = []
            var offset = 0
            while true {
                guard offset + 76 <= bytes.count, bytes[offset...].starts(with: Self.cpioMagic) else {
                    throw bad("no archive header at byte \(offset) (cut short, or damaged)")
                }
                guard let nameSize = Self.octal(bytes[(offset + 59)..<(offset + 65)]), let fileSize = Self.octal(bytes[(offset + 65)..<(offset + 76)]),
                      nameSize >= 1 else { throw bad("the archive header at byte \(offset) has sizes that are not octal numbers") }
                let nameStart = offset + 76
                let bodyStart = nameStart + nameSize
                guard bodyStart <= bytes.count, fileSize <= bytes.count - bodyStart else {
                    throw bad("the entry at byte \(offset) runs past the end of the file")
                }
                let name = Array(bytes[nameStart..<(bodyStart - 1)])
                if name == Array("TRAILER!!!".utf8) { break }
                sections.append(Section(name: name, headerStart: offset, body: bodyStart..<(bodyStart + fileSize)))
                offset = bodyStart + fileSize
            }
            self.sections = sections
        } else if bytes.starts(with: Self.ncMagic) || bytes.starts(with: Self.lcMagic) {
            let magic = Array(bytes[0..<6])
            kind = .protected(magic)
            // Each section: the magic, 28 hex digits, a NUL-terminated name, then the body up to
            // the next magic (the header's sizes are not readable).
            var starts: [Int] = []
            var index = 0
            while let found = Self.find(magic, in: bytes, from: index) {
                starts.append(found)
                index = found + magic.count
            }
            var sections: [Section] = []
            for (position, start) in starts.enumerated() {
                let end = position + 1 < starts.count ? starts[position + 1] : bytes.count
                let nameStart = start + 6 + 28
                guard nameStart <= end, let nul = bytes[nameStart..<end].firstIndex(of: 0) else {
                    throw bad("the section at byte \(start) has no name")
                }
                let name = Array(bytes[nameStart..<nul])
                let hidden = name.hasSuffix(Array("_FILE!!!".utf8))
                sections.append(Section(name: hidden ? nil : name, headerStart: start, body: (nul + 1)..<end))
            }
            self.sections = sections
        } else {
            throw bad("it starts with neither a cpio header (070707) nor HouNC/HouLC")
        }
    }

    private static func octal(_ digits: ArraySlice<UInt8>) -> Int? {
        var value = 0
        for digit in digits {
            guard digit >= 0x30, digit <= 0x37 else { return nil }
            value = value * 8 + Int(digit - 0x30)
        }
        return value
    }

    private static func find(_ needle: [UInt8], in bytes: [UInt8], from start: Int) -> Int? {
        guard needle.count <= bytes.count else { return nil }
        var index = start
        while index + needle.count <= bytes.count {
            guard let first = bytes[index...].firstIndex(of: needle[0]) else { return nil }
            if first + needle.count <= bytes.count && bytes[first..<(first + needle.count)].elementsEqual(needle) { return first }
            index = first + 1
        }
        return nil
    }
}

extension Array where Element == UInt8 {
    func hasSuffix(_ suffix: [UInt8]) -> Bool { count >= suffix.count && self[(count - suffix.count)...].elementsEqual(suffix) }
}
