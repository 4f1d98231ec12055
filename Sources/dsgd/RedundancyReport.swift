import DSGDCluster
import Foundation

/// What `dsgd experiment redundancy` measured: results.json (keys in snake_case).
struct RedundancyResults: Codable {
    /// One seed's base data set: its curvature, optimum, starting loss and the target.
    struct Problem: Codable {
        var seed: UInt64
        var lambdaMax: Double
        /// The least-squares loss E* (float64).
        var optimum: Double
        /// E at the initial parameters.
        var initialLoss: Double
        /// E* + gap x (E(w0) - E*).
        var target: Double
    }

    /// One run: how far it took to the target.
    struct Outcome: Codable {
        var seed: UInt64
        var run: String
        var learningRate: Double
        /// Whether the run stopped at the target (summary `time_to_target` present).
        var reached: Bool
        /// summary.json's `steps` and `examples` (at the target when reached).
        var steps: Int
        var examples: Int
        var timeToTarget: Double?
        var finalLoss: Double?
    }

    /// One method at one k, over the seeds.
    struct Method: Codable {
        var batch: Int
        var outcomes: [Outcome]

        /// Examples to the target of the runs that reached it.
        var examplesReached: [Double] { outcomes.filter(\.reached).map { Double($0.examples) } }
        var allReached: Bool { outcomes.allSatisfy(\.reached) }
        var medianExamples: Double? { ExperimentFormat.median(examplesReached) }
        var minExamples: Double? { examplesReached.min() }
        var maxExamples: Double? { examplesReached.max() }
        var medianSteps: Double? { ExperimentFormat.median(outcomes.filter(\.reached).map { Double($0.steps) }) }

        enum CodingKeys: String, CodingKey { case batch, outcomes, medianExamples, minExamples, maxExamples, medianSteps, allReached }

        init(batch: Int, outcomes: [Outcome]) {
            self.batch = batch
            self.outcomes = outcomes
        }

        init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            batch = try c.decode(Int.self, forKey: .batch)
            outcomes = try c.decode([Outcome].self, forKey: .outcomes)
        }

        func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(batch, forKey: .batch)
            try c.encode(outcomes, forKey: .outcomes)
            try c.encode(medianExamples, forKey: .medianExamples)
            try c.encode(minExamples, forKey: .minExamples)
            try c.encode(maxExamples, forKey: .maxExamples)
            try c.encode(medianSteps, forKey: .medianSteps)
            try c.encode(allReached, forKey: .allReached)
        }
    }

    /// One replication factor.
    struct Row: Codable {
        var k: Int
        /// Examples of the replicated set (k x N).
        var setExamples: Int
        var gd: Method
        var sgd: Method
    }

    var experiment = "redundancy"
    var command: String
    var resolvedCommand: String
    /// The `dsgd run` command of every GD and SGD run, with `$SEED`, `$K`, the rate and `$TARGET`
    /// to fill in (shell variables).
    var gdCommand: String
    var sgdCommand: String
    var data: String
    var examples: Int
    var features: Int
    var condition: Double
    var sgdBatch: Int
    var gdLr: Double
    var sgdLr: Double
    var gap: Double
    var maxSteps: Int
    var problems: [Problem]
    var rows: [Row]
    var runs: Int
    var seconds: Double

    /// The median examples to target at the last k over the first (nil if either has none).
    func growth(_ method: KeyPath<Row, Method>) -> Double? {
        guard let first = rows.first?[keyPath: method].medianExamples, let last = rows.last?[keyPath: method].medianExamples else { return nil }
        return last / first
    }

}

/// The report of `dsgd experiment redundancy`: the table, results.csv, the plot and report.md.
struct RedundancyReport: ExperimentFindings {
    static let plotFile = "redundancy.svg"
    let results: RedundancyResults

    /// "4,700 (3,600 to 5,900)", or "not reached" when some seed missed the target.
    static func range(_ m: RedundancyResults.Method) -> String {
        guard m.allReached, let med = m.medianExamples, let lo = m.minExamples, let hi = m.maxExamples else {
            return "not reached (\(m.outcomes.filter { !$0.reached }.count) of \(m.outcomes.count))"
        }
        if m.outcomes.count == 1 { return ExperimentFormat.count(med) }
        return "\(ExperimentFormat.count(med)) (\(ExperimentFormat.count(lo)) to \(ExperimentFormat.count(hi)))"
    }

    /// The table printed on standard output and in report.md.
    var table: MarkdownTable {
        let first = results.rows.first
        func relative(_ m: RedundancyResults.Method, _ base: RedundancyResults.Method?) -> String {
            guard let a = m.medianExamples, let b = base?.medianExamples else { return "-" }
            return String(format: "%.2f", a / b)
        }
        let rows = results.rows.map { r -> [String] in
            [String(r.k), ExperimentFormat.count(Double(r.setExamples)),
             r.gd.medianSteps.map(ExperimentFormat.count) ?? "-", Self.range(r.gd), relative(r.gd, first?.gd),
             r.sgd.medianSteps.map(ExperimentFormat.count) ?? "-", Self.range(r.sgd),
             r.sgd.medianExamples.map { String(format: "%.2f", $0 / Double(r.setExamples)) } ?? "-", relative(r.sgd, first?.sgd)]
        }
        let k1 = first.map { "k=\($0.k)" } ?? "first k"
        return MarkdownTable(
            headers: ["k", "examples in the set", "GD steps", "GD examples to target", "GD / \(k1)",
                      "SGD updates", "SGD examples to target", "SGD epochs", "SGD / \(k1)"],
            rightAligned: [true, true, true, true, true, true, true, true, true],
            rows: rows)
    }

    /// One row per run, every number at full precision.
    var csv: String {
        var lines = ["k,method,seed,batch,learning_rate,target,reached,steps,examples,time_to_target,final_loss"]
        let targets = Dictionary(uniqueKeysWithValues: results.problems.map { ($0.seed, $0.target) })
        for r in results.rows {
            for (method, m) in [("gd", r.gd), ("sgd", r.sgd)] {
                for o in m.outcomes {
                    lines.append([String(r.k), method, String(o.seed), String(m.batch), "\(o.learningRate)",
                                  ExperimentFormat.csv(targets[o.seed]), String(o.reached), String(o.steps), String(o.examples),
                                  ExperimentFormat.csv(o.timeToTarget), ExperimentFormat.csv(o.finalLoss)].joined(separator: ","))
                }
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Examples to the target against k, log-log: medians joined by lines, ranges as bars.
    var plot: PointPlot {
        func points(_ m: KeyPath<RedundancyResults.Row, RedundancyResults.Method>) -> [PointPlot.Point] {
            results.rows.compactMap { r in
                r[keyPath: m].medianExamples.map { PointPlot.Point(x: Double(r.k), y: $0, low: r[keyPath: m].minExamples, high: r[keyPath: m].maxExamples) }
            }
        }
        let series = [
            PointPlot.Series(name: "full-batch GD: median and range over seeds", style: .lineAndMarkers, colour: 0, points: points(\.gd)),
            PointPlot.Series(name: "SGD, batch \(results.sgdBatch): median and range over seeds", style: .lineAndMarkers, colour: 1, points: points(\.sgd)),
        ]
        return PointPlot(
            title: "Examples to a target loss against data replication",
            subtitle: "--model linear --data \(results.data), \(results.examples) examples replicated k times, one worker; \(results.problems.count) seed\(results.problems.count == 1 ? "" : "s")",
            xLabel: "replication k", yLabel: "examples applied until the target loss (log scale)",
            xScale: .log, yScale: .log, series: series)
    }

    /// report.md.
    var markdown: String {
        let r = results
        let gdGrowth = r.growth(\.gd), sgdGrowth = r.growth(\.sgd)
        let kFirst = r.rows.first?.k ?? 1, kLast = r.rows.last?.k ?? 1
        func growth(_ x: Double?) -> String { x.map { String(format: "%.2f", $0) } ?? "n/a" }
        func g(_ x: Double) -> String { String(format: "%g", x) }
        let problemLines = r.problems.map { p -> String in
            let cells = [String(p.seed), ExperimentFormat.rate(p.lambdaMax), String(format: "%.6g", p.optimum), String(format: "%.6g", p.initialLoss),
                         String(format: "%.6g", p.target), String(format: "%.6g", Double(Float(r.gdLr / p.lambdaMax))),
                         String(format: "%.6g", Double(Float(r.sgdLr / p.lambdaMax)))]
            return "| " + cells.joined(separator: " | ") + " |"
        }
        var lines = [
            "# Minibatch redundancy: examples to a target loss against data replication",
            "",
            "Command: `\(r.command)`  ",
            "Resolved: `\(r.resolvedCommand)`",
            "",
            "For each seed and each k the same base set (\(r.examples) examples of `\(r.data)`) is repeated k times",
            "(`--replicate k`) and trained to a target loss twice, with one worker:",
            "",
            "```sh",
            r.gdCommand + "   # full-batch GD",
            r.sgdCommand + "   # SGD",
            "```",
            "",
            "A replicated set has the same loss at every parameter as its base set (each example's term appears k times",
            "and the mean divides by k N), so the optimum E*, the Hessian and lambda_max do not depend on k. Per seed,",
            "lambda_max comes from `Curvature.analyze` and E* from the least-squares normal equations (float64) of the",
            "base set; the target is E* + \(g(r.gap)) x (E(w0) - E*), and the rates are \(g(r.gdLr))/lambda_max (GD) and",
            "\(g(r.sgdLr))/lambda_max (SGD), both below 2/lambda_max. The training loss is evaluated after every update",
            "(`--eval-every 1`, in the coordinator's loop: `--evaluation inline`) and a run stops at the first evaluation at or below the target; its examples to the target",
            "are summary.json's `examples_to_target` (updates x batch) and its updates `steps_to_target`.",
            "",
            "| seed (`$SEED`) | lambda_max | E* | E(w0) | target (`$TARGET`) | GD rate (`$ETA_GD`) | SGD rate (`$ETA_SGD`) |",
            "|---:|---:|---:|---:|---:|---:|---:|",
        ] + problemLines + [
            "",
            "Each full-batch GD step costs k N examples and makes the same progress whatever k is, so GD's examples to",
            "the target grow in proportion to k. An SGD update costs \(r.sgdBatch) examples whatever k is, and a minibatch",
            "drawn from the replicated set is distributed as one drawn from the base set (up to sampling without",
            "replacement within an epoch), so SGD's examples to the target should not depend on k, whatever the number of",
            "passes over the set that takes (SGD epochs: its examples to the target / the set's size).",
            "",
            "\(r.runs) runs, \(String(format: "%.0f", r.seconds)) s. Medians over the seeds, with their range:",
            "",
            table.markdown(),
            "From k = \(kFirst) to k = \(kLast), GD's median examples to the target grew \(growth(gdGrowth))x and SGD's \(growth(sgdGrowth))x.",
            "",
            "![Examples to the target against replication k](redundancy.svg)",
            "",
            "Files: `results.csv` (one row per run), `results.json` (every run's steps, examples, time to target),",
            "`runs/` (one run directory per run, named `k<K>-<gd|sgd>-seed<S>`, each with the coordinator's and worker's",
            "standard error in `stderr.log`).",
            "",
        ]
        if lines.last != "" { lines.append("") }
        return lines.joined(separator: "\n")
    }
}
