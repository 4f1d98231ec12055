import DSGDCluster
import Foundation

/// What `dsgd experiment compression` measured: results.json (keys in snake_case).
struct CompressionResults: Codable {
    /// One run: a task under one encoding.
    struct Row: Codable {
        var task: String
        var scheme: String
        var compress: String
        var errorFeedback: Bool
        var compressParams: String
        /// The run directory, relative to the report directory, and the command that repeats it.
        var run: String
        var command: String
        var status: String
        var steps: Int
        var examples: Int
        var finalLoss: Double?
        /// The task's target (the uncompressed run's loss after the target fraction of its budget)
        /// and the examples of this run's first evaluation at or below it.
        var target: Double?
        var examplesToTarget: Int?
        /// Bytes of GRADIENT the coordinator received, of PARAMS it sent, and their sum with headers.
        var gradientBytes: Int?
        var parameterBytes: Int?
        var bytesMoved: Int?
        var trainingSeconds: Double
    }

    /// One run's loss curve (metrics.jsonl).
    struct Curve: Codable {
        struct Point: Codable {
            var examples: Int
            var bytes: Int
            var time: Double
            var loss: Double?
        }
        var task: String
        var scheme: String
        var points: [Point]
    }

    var experiment = "compression"
    var command: String
    var workers: Int
    var fraction: Double
    var targetFraction: Double
    var seed: UInt64
    var rows: [Row]
    var curves: [Curve]
    var runs: Int
    var seconds: Double
    var cpuCount: Int
    var cpuModel: String?
    var loadBefore: [Double]
    var loadAfter: [Double]
}

/// The report of `dsgd experiment compression`: the table, results.csv, loss against bytes moved
/// (`PointPlot`) and report.md with the comparisons the encodings are judged by.
struct CompressionReport: ExperimentFindings {
    static let plotFile = "compression.svg"
    let results: CompressionResults

    /// The uncompressed row of `task`.
    func reference(_ task: String) -> CompressionResults.Row? { results.rows.first { $0.task == task && $0.compress == "none" } }

    /// Final loss relative to the uncompressed run's, as a signed percentage.
    func lossChange(_ r: CompressionResults.Row) -> Double? {
        guard let f = r.finalLoss, let b = reference(r.task)?.finalLoss, b > 0 else { return nil }
        return (f / b - 1) * 100
    }

    /// Examples to the target over the uncompressed run's.
    func examplesRatio(_ r: CompressionResults.Row) -> Double? {
        guard let e = r.examplesToTarget, let b = reference(r.task)?.examplesToTarget, b > 0 else { return nil }
        return Double(e) / Double(b)
    }

    var table: MarkdownTable {
        let rows = results.rows.map { r -> [String] in
            [r.task, r.scheme, r.finalLoss.map { String(format: "%.6g", $0) } ?? r.status,
             lossChange(r).map { String(format: "%+.2f%%", $0) } ?? "-",
             r.examplesToTarget.map { ExperimentFormat.count(Double($0)) } ?? "not reached",
             examplesRatio(r).map { String(format: "%.2fx", $0) } ?? "-",
             SyncVsAsyncReport.bytes(r.gradientBytes), SyncVsAsyncReport.bytes(r.parameterBytes), SyncVsAsyncReport.bytes(r.bytesMoved),
             String(format: "%.3f", r.trainingSeconds)]
        }
        return MarkdownTable(
            headers: ["task", "encoding", "final loss", "vs none", "examples to target", "vs none", "gradient bytes", "parameter bytes", "bytes moved", "training s"],
            rightAligned: [false, false, true, true, true, true, true, true, true, true], rows: rows)
    }

    var csv: String {
        var lines = ["task,scheme,compress,error_feedback,compress_params,status,steps,examples,final_loss,final_loss_change_percent,target,examples_to_target,examples_ratio,gradient_bytes,parameter_bytes,bytes_moved,training_seconds,run"]
        func int(_ x: Int?) -> String { x.map(String.init) ?? "" }
        for r in results.rows {
            lines.append([r.task, r.scheme, r.compress, String(r.errorFeedback), r.compressParams, r.status, String(r.steps), String(r.examples),
                          ExperimentFormat.csv(r.finalLoss), ExperimentFormat.csv(lossChange(r)), ExperimentFormat.csv(r.target),
                          int(r.examplesToTarget), ExperimentFormat.csv(examplesRatio(r)), int(r.gradientBytes), int(r.parameterBytes),
                          int(r.bytesMoved), "\(r.trainingSeconds)", r.run].joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Training loss over the task's initial loss against bytes moved, both on log scales: one
    /// line per run (the digits MLP dashed).
    var plot: PointPlot {
        let schemes = Array(NSOrderedSet(array: results.rows.map(\.scheme))) as! [String]
        let series = results.curves.compactMap { c -> PointPlot.Series? in
            guard let initial = c.points.first?.loss, initial > 0 else { return nil }
            let points = c.points.compactMap { p -> PointPlot.Point? in
                guard let l = p.loss, l > 0, p.bytes > 0 else { return nil }
                return PointPlot.Point(x: Double(p.bytes), y: l / initial)
            }
            return PointPlot.Series(name: "\(c.task) \(c.scheme)", style: .line, colour: schemes.firstIndex(of: c.scheme) ?? 0,
                                    dashed: c.task != results.rows.first?.task, points: points)
        }
        return PointPlot(title: "Training loss against bytes moved, per gradient encoding",
                         subtitle: "\(results.workers) sync workers; loss over the loss at step 0; solid: \(results.rows.first?.task ?? ""), dashed: the others",
                         xLabel: "bytes moved (PARAMS + GRADIENT)", yLabel: "training loss / initial loss", xScale: .log, yScale: .log, series: series)
    }

    /// The judgements of the issue's targets, one line each.
    var verdicts: [String] {
        var out: [String] = []
        let f = results.fraction
        for task in Array(NSOrderedSet(array: results.rows.map(\.task))) as! [String] {
            let rows = results.rows.filter { $0.task == task }
            func row(_ scheme: String) -> CompressionResults.Row? { rows.first { $0.scheme == scheme } }
            if let b = row("bf16"), let c = lossChange(b) {
                out.append("- \(task): bf16's final loss is \(String(format: "%+.2f%%", c)) from float32's: \(abs(c) <= 0.5 ? "within" : "NOT within") 0.5%.")
            }
            for scheme in ["topk:\(f)", "sign"] {
                guard let with = row(scheme), let without = row(scheme + " no-ef") else { continue }
                let w = examplesRatio(with).map { String(format: "%.2fx", $0) } ?? "not reached"
                let wo = examplesRatio(without).map { String(format: "%.2fx", $0) } ?? "not reached"
                let within = examplesRatio(with).map { $0 <= 2 } ?? false
                out.append("- \(task): \(scheme) with error feedback reaches the target in \(w) float32's examples (\(within ? "within" : "NOT within") 2x); without it \(wo); final loss \(with.finalLoss.map { String(format: "%.6g", $0) } ?? "-") against \(without.finalLoss.map { String(format: "%.6g", $0) } ?? "-") without.")
            }
        }
        return out
    }

    var markdown: String {
        let r = results
        let load = { (xs: [Double]) in xs.isEmpty ? "n/a" : xs.map { String(format: "%.2f", $0) }.joined(separator: ", ") }
        var lines = [
            "# Compressed gradients: loss against bytes",
            "",
            "Command: `\(r.command)`",
            "",
            "Every run of a task is the same sync job (\(r.workers) workers, seed \(r.seed), the same example budget); only the",
            "gradient encoding changes: `--compress none | bf16 | fp16 | topk:\(r.fraction) | sign`, top-k and sign with and without",
            "error feedback (`--no-error-feedback`). Top-k runs send parameters as `--compress-params sparse` (only the entries that",
            "changed, lossless: the training is the same as with float32 parameters); the others send float32 parameters. The",
            "coordinator keeps float32 parameters and decodes every gradient before averaging. The target of a task is the loss",
            "of the float32 run after \(Int(r.targetFraction * 100))% of its budget; \"examples to target\" is the first evaluation at or below it.",
            "",
            "```sh",
        ] + r.rows.map(\.command) + [
            "```",
            "",
            table.markdown(),
        ] + verdicts + [
            "",
            "![Training loss over the initial loss against bytes moved](\(Self.plotFile))",
            "",
            "\(r.runs) runs, \(String(format: "%.0f", r.seconds)) s on \(r.cpuCount) CPUs (\(r.cpuModel ?? "unknown CPU")); load average before: \(load(r.loadBefore)),",
            "after: \(load(r.loadAfter)). Bytes are counted by the coordinator (PARAMS sent, GRADIENT received, headers included;",
            "`worker_bytes_sent` and `worker_bytes_received` in each run's summary.json). Training seconds are the training clock",
            "(evaluation excluded).",
            "",
            "Files: `results.csv`, `results.json` (with every loss curve), `runs/`.",
            "",
        ]
        if lines.last != "" { lines.append("") }
        return lines.joined(separator: "\n")
    }
}
