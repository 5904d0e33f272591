import BuildcatBasics
import BuildcatScenes
import Foundation
import SystemPackage
import Testing

/// What a hand-built fixture's `<scene>.expected.json` (written by its tools/fixtures script)
/// says a reader must find, checked against a scan.
struct ExpectedReference: Decodable {
    var raw: String
    var block: String?
    var node: String?
    var field: String?
    var parameter: String?
    var path: String?
    var files: [String]?
    var missing: Bool?
    var unresolvable: String?
    var scene: String?

    static func load(_ path: FilePath) throws -> [ExpectedReference] {
        try JSONDecoder().decode([ExpectedReference].self, from: Data(contentsOf: URL(fileURLWithPath: path.string)))
    }

    /// Each reference in order: where it came from, what it resolves to, whether it is missing
    /// or unresolvable (the record gives a word the reason must hold), and its files.
    static func check(_ result: ScanResult, against expected: [ExpectedReference], fixtures: FilePath, scene: String,
                      sourceLocation: SourceLocation = #_sourceLocation) {
        func relative(_ path: FilePath) -> String { String(path.string.dropFirst(fixtures.string.count + 1)) }
        #expect(result.references.map { String(decoding: $0.raw, as: UTF8.self) } == expected.map(\.raw), sourceLocation: sourceLocation)
        for (index, (reference, want)) in zip(result.references, expected).enumerated() {
            if let block = want.block ?? want.node.map({ "node \($0)" }) { #expect(reference.block == block, "\(want.raw)", sourceLocation: sourceLocation) }
            if let field = want.field ?? want.parameter { #expect(reference.field == field, "\(want.raw)", sourceLocation: sourceLocation) }
            #expect(relative(reference.scene) == (want.scene ?? scene), sourceLocation: sourceLocation)
            if let word = want.unresolvable {
                #expect(reference.unresolvable?.contains(word) == true, "\(want.raw): \(reference.unresolvable ?? "resolved")", sourceLocation: sourceLocation)
                #expect(result.missing.contains(index), sourceLocation: sourceLocation)
                continue
            }
            #expect(reference.unresolvable == nil, "\(want.raw)", sourceLocation: sourceLocation)
            #expect(relative(reference.resolved) == want.path, "\(want.raw)", sourceLocation: sourceLocation)
            #expect(result.missing.contains(index) == (want.missing ?? false), "\(want.raw)", sourceLocation: sourceLocation)
            let files = result.assets.filter { $0.reference == index }.map { relative($0.file.path) }.sorted()
            #expect(files == (want.files ?? (want.missing == true ? [] : [want.path ?? ""])), "\(want.raw)", sourceLocation: sourceLocation)
        }
    }
}
