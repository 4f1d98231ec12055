import Foundation
import XCTest

/// The committed run directories and golden outputs of the report tests (`dsgd compare`,
/// `dsgd export`), under Fixtures/: runs/sync, runs/async and runs/sync-target come from real
/// `dsgd run`s (2 workers, logistic on synthetic-logistic, 2048 examples, --holdout 0.25, 2 epochs;
/// sync-target with --target-loss 0.35 --eval-every 4) and are kept fixed.
enum ReportFixtures {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    /// A fixture run directory's path.
    static func run(_ name: String) -> String { root.appendingPathComponent("runs/\(name)").path }

    /// A golden output's text.
    static func expected(_ name: String) throws -> String {
        try String(contentsOf: root.appendingPathComponent("expected/\(name)"), encoding: .utf8)
    }

    /// The points of a run's metrics.jsonl, parsed by JSONDecoder (independently of dsgd's reader).
    static func metrics(_ dir: String) throws -> [[String: JSON]] {
        let text = try String(contentsOfFile: dir + "/metrics.jsonl", encoding: .utf8)
        return try text.split(separator: "\n").map { try JSON.object(Data($0.utf8)) }
    }

    /// A JSON file's top-level object.
    static func object(_ path: String) throws -> [String: JSON] {
        try JSON.object(Data(contentsOf: URL(fileURLWithPath: path)))
    }

    /// Copies a fixture run into `scratch` (to be altered by a test) and returns the copy's path.
    static func copy(_ name: String, into scratch: URL, as newName: String? = nil) throws -> String {
        let target = scratch.appendingPathComponent(newName ?? name)
        try FileManager.default.copyItem(at: root.appendingPathComponent("runs/\(name)"), to: target)
        return target.path
    }
}

extension ClusterTestCase.Result {
    /// Standard output as written (lines joined with newlines, a final newline).
    var output: String { stdout.map { $0 + "\n" }.joined() }

    /// The non-empty lines of standard error.
    var errorLines: [String] { stderr.split(separator: "\n").map(String.init) }
}

/// Any JSON value, decoded with JSONDecoder. (Not JSONSerialization: on Linux it reads many
/// doubles one unit in the last place off, e.g. 0.3076626848620805 as 0.30766268486208037.)
enum JSON: Decodable, Equatable {
    case number(Double), string(String), bool(Bool), null, array([JSON]), object([String: JSON])

    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let x = try? c.decode(Double.self) { self = .number(x) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([JSON].self) { self = .array(a) }
        else { self = .object(try c.decode([String: JSON].self)) }
    }

    static func object(_ data: Data) throws -> [String: JSON] { try JSONDecoder().decode([String: JSON].self, from: data) }
    static func array(_ data: Data) throws -> [[String: JSON]] { try JSONDecoder().decode([[String: JSON]].self, from: data) }

    var double: Double? { if case .number(let x) = self { return x }; return nil }
    var int: Int? { double.flatMap { Int(exactly: $0) } }
    var string: String? { if case .string(let s) = self { return s }; return nil }
    var isNull: Bool { self == .null }
    var ints: [Int]? { if case .array(let a) = self { return a.compactMap(\.int) }; return nil }
}
