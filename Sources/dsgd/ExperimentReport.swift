import ArgumentParser
import DSGDCluster
import Foundation

/// The flags every `dsgd experiment` shares: where the report goes and the short CI form.
struct ExperimentOutputOptions: ParsableArguments {
    @Option(help: "Report directory (default: experiments/<name>-<UTC time>).")
    var out: String?

    @Flag(help: "The short form (CI): fewer points and runs, looser precision.")
    var quick = false

    /// `out`, or `experiments/<name>-<UTC yyyyMMdd-HHmmss>`.
    func directory(name: String) -> String {
        if let out { return out }
        let f = DateFormatter()
        f.dateFormat = "yyyyMMdd-HHmmss"
        f.timeZone = TimeZone(identifier: "UTC")
        f.locale = Locale(identifier: "en_US_POSIX")
        return "experiments/\(name)-\(f.string(from: Date()))"
    }
}

/// A GitHub-flavoured Markdown table: a header row, an alignment row, one row per entry. The same
/// text goes to report.md and to standard output.
struct MarkdownTable {
    var headers: [String]
    /// Per column: right-aligned (numbers) or left.
    var rightAligned: [Bool]
    var rows: [[String]]

    /// The table, one line per row, ending in a newline.
    func markdown() -> String {
        func escaped(_ s: String) -> String { s.replacingOccurrences(of: "|", with: "\\|") }
        var lines = ["| " + headers.map(escaped).joined(separator: " | ") + " |"]
        lines.append("|" + rightAligned.map { $0 ? "---:|" : "---|" }.joined())
        for r in rows { lines.append("| " + r.map(escaped).joined(separator: " | ") + " |") }
        return lines.joined(separator: "\n") + "\n"
    }
}

/// The report directory of one experiment: report.md, results.csv, results.json, one SVG plot,
/// and the run directories under runs/.
struct ExperimentReport {
    /// The report directory as given.
    let directory: String

    /// Creates `directory` and its `runs/`.
    init(directory: String) throws {
        self.directory = directory
        do {
            try FileManager.default.createDirectory(atPath: directory + "/runs", withIntermediateDirectories: true)
        } catch {
            throw CleanFailure("cannot create report directory \(directory): \(error.localizedDescription)")
        }
    }

    /// Where the run directories go.
    var runsDirectory: String { directory + "/runs" }

    /// Writes `text` to `name` inside the report directory.
    func write(_ text: String, to name: String) throws {
        let path = directory + "/" + name
        do { try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic) } catch {
            throw CleanFailure("cannot write \(path): \(error.localizedDescription)")
        }
    }

    /// Writes `value` as results.json (snake_case keys, sorted, indented).
    func writeJSON<T: Encodable>(_ value: T) throws {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let data = try encoder.encode(value)
        try write(String(decoding: data, as: UTF8.self) + "\n", to: "results.json")
    }

    /// The command line this process was started with, as `dsgd ...` (arguments with spaces or
    /// shell characters quoted).
    static var invocation: String {
        let args = CommandLine.arguments.dropFirst().map { a -> String in
            a.allSatisfy({ $0.isLetter || $0.isNumber || "-_./=:,+".contains($0) }) && !a.isEmpty ? a : "'" + a.replacingOccurrences(of: "'", with: "'\\''") + "'"
        }
        return (["dsgd"] + args).joined(separator: " ")
    }
}

/// Number formats of the experiment tables.
enum ExperimentFormat {
    /// Four significant figures, trailing zeros kept ("0.4437", "1.997", "0.9980").
    static func rate(_ x: Double) -> String { String(format: "%#.4g", x) }

    /// A ratio with three decimals ("1.004").
    static func ratio(_ x: Double) -> String { String(format: "%.3f", x) }

    /// A whole number with thousands separators.
    static func count(_ x: Double) -> String {
        let n = Int64(x.rounded())
        let digits = String(n.magnitude)
        var out = ""
        for (i, c) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return (n < 0 ? "-" : "") + out
    }

    /// A CSV cell: the shortest decimal of `x`, or empty for nil.
    static func csv(_ x: Double?) -> String { x.map { "\($0)" } ?? "" }

    /// The median of `xs` (the mean of the middle two for an even count), nil when empty.
    static func median(_ xs: [Double]) -> Double? {
        guard !xs.isEmpty else { return nil }
        let s = xs.sorted(), n = s.count
        return n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2
    }
}

/// A picture an experiment writes as its SVG: a `PointPlot`, or the loss curves of a `LossPlot`.
protocol ExperimentPlot {
    /// The SVG document.
    func svg() -> String
}

extension PointPlot: ExperimentPlot {}
extension LossPlot: ExperimentPlot {}

/// One experiment's findings as its report directory holds them: the table, results.csv,
/// results.json, the plot and report.md.
protocol ExperimentFindings {
    associatedtype Results: Encodable
    associatedtype Plot: ExperimentPlot
    var results: Results { get }
    var table: MarkdownTable { get }
    var csv: String { get }
    var plot: Plot { get }
    var markdown: String { get }
    /// The plot's file name in the report directory (report.md links to it).
    static var plotFile: String { get }
}

extension ExperimentFindings {
    /// Writes report.md, results.csv, results.json and the plot, and prints the table on
    /// standard output.
    func write(to report: ExperimentReport) throws {
        try report.write(markdown, to: "report.md")
        try report.write(csv, to: "results.csv")
        try report.writeJSON(results)
        try report.write(plot.svg(), to: Self.plotFile)
        writeAll(Array(table.markdown().utf8), to: 1)
    }
}
