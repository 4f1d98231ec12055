import Foundation

/// The table of `dsgd compare`: one row per run, in four formats (aligned text, Markdown, CSV,
/// JSON). Text and Markdown show the settings every run shares above the table and a column for
/// each setting that differs; CSV and JSON always carry every column.
public struct CompareTable {
    /// A cell: what a person reads, and what a machine reads (nil: absent).
    struct Cell {
        var shown: String
        var raw: Raw?
    }

    enum Raw {
        case int(Int64), double(Double), string(String)

        var csv: String {
            switch self {
            case .int(let i): return String(i)
            case .double(let d): return d.isFinite ? "\(d)" : ""
            case .string(let s): return CompareTable.csvQuoted(s)
            }
        }

        var json: String {
            switch self {
            case .int(let i): return String(i)
            case .double(let d): return d.isFinite ? "\(d)" : "null"
            case .string(let s): return CompareTable.jsonQuoted(s)
            }
        }
    }

    struct Column {
        var header: String
        var key: String
        var rightAligned: Bool
        var cells: [Cell]
    }

    /// The runs, in the order given.
    public let runs: [RunRecord]
    /// `--target L`: the loss every run is timed to; nil to use each run's own `--target-loss`.
    public let target: Double?

    let names: [String]
    let settingColumns: [Column]
    let resultColumns: [Column]

    /// Builds the table of `runs`; `target` overrides the runs' own targets.
    public init(runs: [RunRecord], target: Double?) {
        self.runs = runs
        self.target = target
        names = runs.map(\.name)
        let targets = runs.map { target ?? $0.targetLoss }
        let reached: [MetricsRecord?] = zip(runs, targets).map { run, t in t.flatMap { run.firstPoint(reaching: $0) } }

        func column(_ header: String, _ key: String, right: Bool = true, _ cell: (Int) -> Cell) -> Column {
            Column(header: header, key: key, rightAligned: right, cells: runs.indices.map(cell))
        }
        func absent() -> Cell { Cell(shown: "-", raw: nil) }
        func int(_ x: Int?) -> Cell { x.map { Cell(shown: Self.grouped(Int64($0)), raw: .int(Int64($0))) } ?? absent() }
        func double(_ x: Double?, _ f: (Double) -> String) -> Cell {
            guard let x, x.isFinite else { return absent() }
            return Cell(shown: f(x), raw: .double(x))
        }
        func string(_ s: String?) -> Cell { s.map { Cell(shown: $0, raw: .string($0)) } ?? absent() }
        /// A target-derived cell: "-" without a target, "not reached" when the run never got there.
        func toTarget(_ i: Int, _ value: (MetricsRecord) -> Cell) -> Cell {
            guard targets[i] != nil else { return absent() }
            guard let p = reached[i] else { return Cell(shown: "not reached", raw: nil) }
            return value(p)
        }

        settingColumns = [
            column("model", "model", right: false) { string(runs[$0].model) },
            column("data", "dataset", right: false) { string(runs[$0].dataset) },
            column("lr", "learning_rate") { double(runs[$0].learningRate, Self.shortest) },
            column("lr scaling", "lr_scaling", right: false) { string(runs[$0].lrScaling) },
            column("batch", "batch") { int(runs[$0].batch) },
            column("seed", "seed") { int(runs[$0].seed) },
        ]
        resultColumns = [
            column("mode", "mode", right: false) { string(runs[$0].mode) },
            column("workers", "workers") { int(runs[$0].workers) },
            column("status", "status", right: false) { string(runs[$0].status) },
            column("updates", "updates") { int(runs[$0].steps) },
            column("examples", "examples") { int(runs[$0].examples) },
            column("epochs", "epochs") { double(runs[$0].epochs, Self.seconds) },
            column("wall s", "wall_seconds") { double(runs[$0].wallSeconds, Self.seconds) },
            column("setup s", "setup_seconds") { double(runs[$0].setupSeconds, Self.seconds) },
            column("final loss", "final_loss") { double(runs[$0].finalLoss, Self.loss) },
            column("target", "target") { double(targets[$0], Self.shortest) },
            column("s to target", "time_to_target") { i in
                toTarget(i) { p in
                    // The run's own target: its own clock (summary time_to_target) when it has one.
                    let t = target == nil ? runs[i].timeToTarget ?? p.time : p.time
                    return double(t, Self.seconds)
                }
            },
            column("updates to target", "updates_to_target") { i in toTarget(i) { int($0.step) } },
            column("examples to target", "examples_to_target") { i in toTarget(i) { int($0.examples) } },
            column("updates/s", "updates_per_second") { i in
                guard let s = runs[i].steps, let w = runs[i].wallSeconds, w > 0 else { return absent() }
                return double(Double(s) / w, Self.seconds)
            },
            column("staleness mean", "staleness_mean") { double(runs[$0].stalenessMean, { String(format: "%.2f", $0) }) },
            column("staleness max", "staleness_max") { int(runs[$0].stalenessMax) },
            column("bytes moved", "bytes_moved") { i in
                runs[i].bytesMoved.map { Cell(shown: Self.bytes($0), raw: .int($0)) } ?? absent()
            },
        ]
    }

    // MARK: - Formats

    /// Lines above the text and Markdown tables: the shared settings and how targets were timed.
    public var notes: [String] {
        var notes: [String] = []
        let same = sharedSettings
        let differ = settingColumns.filter { Set($0.cells.map(\.shown)).count > 1 }.map(\.header)
        if !same.isEmpty { notes.append((runs.count > 1 ? "every run: " : "run: ") + same) }
        if !differ.isEmpty {
            notes.append("warning: the runs differ in \(differ.joined(separator: ", ")): not a like-for-like comparison")
        }
        if let target {
            notes.append("target loss \(Self.shortest(target)): the first evaluation (metrics.jsonl) at or below it")
        } else if runs.contains(where: { $0.targetLoss != nil }) {
            notes.append("target: each run's own --target-loss")
        }
        return notes
    }

    /// The settings every run shares, e.g. "model logistic, data synthetic-logistic, lr 0.5,
    /// batch 32, seed 1" (empty when none is known and shared).
    public var sharedSettings: String {
        settingColumns.compactMap { c -> String? in
            let values = Set(c.cells.map(\.shown))
            guard values.count == 1, let v = values.first, v != "-" else { return nil }
            return "\(c.header) \(v)"
        }.joined(separator: ", ")
    }

    /// The columns text and Markdown show: run, the settings that differ, the results.
    var shownColumns: [Column] {
        let differing = settingColumns.filter { Set($0.cells.map(\.shown)).count > 1 }
        var results = resultColumns
        // Columns with nothing in any row say nothing; drop them (target ones stay when a target was asked for).
        results.removeAll { c in
            c.cells.allSatisfy { $0.shown == "-" } && !(target != nil && c.key.hasSuffix("target"))
        }
        // Status matters only when some run did not complete.
        results.removeAll { c in c.key == "status" && c.cells.allSatisfy { $0.shown == "completed" } }
        return [Column(header: "run", key: "run", rightAligned: false, cells: names.map { Cell(shown: $0, raw: .string($0)) })]
            + differing + results
    }

    /// Aligned plain text: notes, a blank line, a header row and one row per run.
    public func text() -> String {
        let columns = shownColumns
        let widths = columns.map { c in max(c.header.count, c.cells.map(\.shown.count).max() ?? 0) }
        func row(_ values: [String]) -> String {
            zip(columns.indices, values).map { i, v in
                let pad = String(repeating: " ", count: widths[i] - v.count)
                return columns[i].rightAligned ? pad + v : v + pad
            }.joined(separator: "  ").replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression)
        }
        var lines = notes
        if !lines.isEmpty { lines.append("") }
        lines.append(row(columns.map(\.header)))
        for r in runs.indices { lines.append(row(columns.map { $0.cells[r].shown })) }
        return lines.joined(separator: "\n") + "\n"
    }

    /// A GitHub-flavoured Markdown table, with the notes as a paragraph above it.
    public func markdown() -> String {
        let columns = shownColumns
        var lines = notes.map { $0 + "  " }
        if !lines.isEmpty { lines[lines.count - 1].removeLast(2); lines.append("") }
        func escaped(_ s: String) -> String { s.replacingOccurrences(of: "|", with: "\\|") }
        lines.append("| " + columns.map { escaped($0.header) }.joined(separator: " | ") + " |")
        lines.append("|" + columns.map { $0.rightAligned ? "---:|" : "---|" }.joined())
        for r in runs.indices { lines.append("| " + columns.map { escaped($0.cells[r].shown) }.joined(separator: " | ") + " |") }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Every column, machine-readable: a header of snake_case keys, full-precision numbers, empty
    /// cells for absent values.
    public func csv() -> String {
        let columns = allColumns
        var lines = [columns.map(\.key).joined(separator: ",")]
        for r in runs.indices { lines.append(columns.map { $0.cells[r].raw?.csv ?? "" }.joined(separator: ",")) }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Every column as a JSON array of objects (one per run, keys in column order, null for absent
    /// values), plus `path` and `worker_minibatches`.
    public func json() -> String {
        let columns = allColumns
        let objects = runs.indices.map { r -> String in
            var fields = columns.map { "\(Self.jsonQuoted($0.key)): \($0.cells[r].raw?.json ?? "null")" }
            fields.insert("\"path\": \(Self.jsonQuoted(runs[r].path))", at: 1)
            let mb = runs[r].workerMinibatches.map { "[" + $0.map(String.init).joined(separator: ", ") + "]" } ?? "null"
            fields.append("\"worker_minibatches\": \(mb)")
            return "  {" + fields.joined(separator: ", ") + "}"
        }
        return "[\n" + objects.joined(separator: ",\n") + "\n]\n"
    }

    var allColumns: [Column] {
        let run = Column(header: "run", key: "run", rightAligned: false, cells: names.map { Cell(shown: $0, raw: .string($0)) })
        return [run] + resultColumns.prefix(2) + settingColumns + resultColumns.dropFirst(2)
    }

    // MARK: - Number formats

    /// Three significant figures for 0.01 <= x < 1000, whole numbers with thousands separators above.
    static func seconds(_ x: Double) -> String {
        let a = abs(x)
        if a >= 999.5 { return grouped(Int64(x.rounded())) }
        if a >= 99.95 { return String(format: "%.0f", x) }
        if a >= 9.995 { return String(format: "%.1f", x) }
        if a >= 0.9995 || a == 0 { return String(format: "%.2f", x) }
        if a >= 0.001 { return String(format: "%.3f", x) }
        return String(format: "%.2g", x)
    }

    static func loss(_ x: Double) -> String { String(format: "%.6g", x) }

    /// The shortest decimal that reads back as `x` ("0.5", "0.001").
    static func shortest(_ x: Double) -> String {
        x == x.rounded() && abs(x) < 1e15 ? String(Int64(x)) : "\(x)"
    }

    static func grouped(_ x: Int64) -> String {
        let digits = String(x.magnitude)
        var out = ""
        for (i, c) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return (x < 0 ? "-" : "") + out
    }

    /// SI bytes: "512 B", "12.3 kB", "4.56 MB", "1.20 GB".
    static func bytes(_ n: Int64) -> String {
        let units = ["B", "kB", "MB", "GB", "TB", "PB"]
        var x = Double(n)
        var u = 0
        while abs(x) >= 999.5 && u < units.count - 1 { x /= 1000; u += 1 }
        if u == 0 { return "\(n) B" }
        return (x >= 99.95 ? String(format: "%.0f", x) : x >= 9.995 ? String(format: "%.1f", x) : String(format: "%.2f", x)) + " " + units[u]
    }

    static func csvQuoted(_ s: String) -> String {
        guard s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return s }
        return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// `s` as a JSON string literal (also the benchmarks' hand-written JSON lines).
    public static func jsonQuoted(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 { out += String(format: "\\u%04x", u.value) } else { out.unicodeScalars.append(u) }
            }
        }
        return out + "\""
    }
}
