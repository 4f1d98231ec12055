import DSGDCluster
import Foundation

/// What `dsgd experiment noise-scale` measured: results.json (keys in snake_case).
struct NoiseScaleResults: Codable {
    /// One run: a global batch at one rate.
    struct Outcome: Codable {
        /// The rate as a multiple of 1/lambda_max, and as given to `--lr`.
        var rateFactor: Double
        var learningRate: Double
        var run: String
        var reached: Bool
        var status: String
        /// summary.json's `steps_to_target` and `examples_to_target` (when reached; else the
        /// steps and examples of the whole run).
        var steps: Int
        var examples: Int
        /// The noise estimates near the target (over the steps taken from parameters whose loss
        /// was within twice the target's excess over E*; nil when none was), and B_simple over the
        /// whole run.
        var nearTarget: Sums?
        var runNoiseScale: Double?

        /// B_simple near the target.
        var noiseScale: Double? { nearTarget?.noiseScale }
    }

    /// Sums of per-step estimates of tr(Sigma) and |G|^2 over some steps.
    struct Sums: Codable {
        var trace: Double
        var gradientSquare: Double
        var steps: Int

        /// B_simple over those steps: the ratio of the sums (nil unless the |G|^2 sum is positive).
        var noiseScale: Double? { gradientSquare > 0 ? trace / gradientSquare : nil }
    }

    /// One global batch size, every rate.
    struct Row: Codable {
        var batch: Int
        var outcomes: [Outcome]

        /// The run with the fewest steps to the target (nil when none reached it).
        var best: Outcome? { outcomes.filter(\.reached).min { $0.steps < $1.steps } }
    }

    /// The least-squares fit of S = S_min (1 + B_crit / B), relative errors weighted alike.
    struct Fit: Codable {
        var stepsMin: Double
        var criticalBatch: Double
        /// Examples at the knee's limit, E_min = S_min x B_crit.
        var examplesMin: Double

        /// The fitted steps at batch `b`.
        func steps(at b: Double) -> Double { stepsMin * (1 + criticalBatch / b) }
    }

    var experiment = "noise-scale"
    var command: String
    var resolvedCommand: String
    /// The `dsgd run` command of every run, with B and ETA to fill in.
    var runCommand: String
    var data: String
    var examples: Int
    var features: Int
    /// `quadratic`: the inputs' condition number.
    var condition: Double?
    var seed: UInt64
    var workers: Int
    var lambdaMax: Double
    var optimum: Double
    var initialLoss: Double
    var target: Double
    var excess: Double
    var maxSteps: Int
    var rows: [Row]
    var runs: Int
    var seconds: Double

    /// Fits S = a + c / B to the best steps of every batch that reached the target, minimising
    /// sum ((S - a - c / B) / S)^2; nil with fewer than two batches or a fit with a <= 0 or c < 0.
    var fit: Fit? {
        let points = rows.compactMap { r in r.best.map { (x: 1 / Double(r.batch), s: Double($0.steps)) } }
        guard points.count >= 2 else { return nil }
        // Weighted normal equations, weights 1 / S^2.
        var sw = 0.0, sx = 0.0, sxx = 0.0, sy = 0.0, sxy = 0.0
        for p in points {
            let w = 1 / (p.s * p.s)
            sw += w; sx += w * p.x; sxx += w * p.x * p.x; sy += w * p.s; sxy += w * p.x * p.s
        }
        let det = sw * sxx - sx * sx
        guard det > 0 else { return nil }
        let a = (sxx * sy - sx * sxy) / det, c = (sw * sxy - sx * sy) / det
        guard a > 0, c >= 0 else { return nil }
        return Fit(stepsMin: a, criticalBatch: c / a, examplesMin: c)
    }

    /// The batches whose estimate is pooled: B <= n / 16.
    var pooledBatches: [Int] { rows.map(\.batch).filter { $0 * 16 <= examples } }

    /// B_simple near the target, pooled over the best runs of `pooledBatches`: the ratio of the
    /// summed sums.
    var measuredNoiseScale: Double? {
        let sums = rows.filter { $0.batch * 16 <= examples }.compactMap { $0.best?.nearTarget }
        let total = sums.reduce(Sums(trace: 0, gradientSquare: 0, steps: 0)) {
            Sums(trace: $0.trace + $1.trace, gradientSquare: $0.gradientSquare + $1.gradientSquare, steps: $0.steps + $1.steps)
        }
        return total.steps > 0 ? total.noiseScale : nil
    }

    enum CodingKeys: String, CodingKey {
        case experiment, command, resolvedCommand, runCommand, data, examples, features, condition, seed, workers, lambdaMax, optimum
        case initialLoss, target, excess, maxSteps, rows, runs, seconds, fit, measuredNoiseScale
    }

    init(command: String, resolvedCommand: String, runCommand: String, data: String, examples: Int, features: Int, condition: Double?, seed: UInt64,
         workers: Int, lambdaMax: Double, optimum: Double, initialLoss: Double, target: Double, excess: Double, maxSteps: Int,
         rows: [Row], runs: Int, seconds: Double) {
        self.command = command
        self.resolvedCommand = resolvedCommand
        self.runCommand = runCommand
        self.data = data
        self.examples = examples
        self.features = features
        self.condition = condition
        self.seed = seed
        self.workers = workers
        self.lambdaMax = lambdaMax
        self.optimum = optimum
        self.initialLoss = initialLoss
        self.target = target
        self.excess = excess
        self.maxSteps = maxSteps
        self.rows = rows
        self.runs = runs
        self.seconds = seconds
    }

    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(command: try c.decode(String.self, forKey: .command), resolvedCommand: try c.decode(String.self, forKey: .resolvedCommand),
                  runCommand: try c.decode(String.self, forKey: .runCommand), data: try c.decode(String.self, forKey: .data),
                  examples: try c.decode(Int.self, forKey: .examples), features: try c.decode(Int.self, forKey: .features),
                  condition: try c.decodeIfPresent(Double.self, forKey: .condition),
                  seed: try c.decode(UInt64.self, forKey: .seed), workers: try c.decode(Int.self, forKey: .workers),
                  lambdaMax: try c.decode(Double.self, forKey: .lambdaMax), optimum: try c.decode(Double.self, forKey: .optimum),
                  initialLoss: try c.decode(Double.self, forKey: .initialLoss), target: try c.decode(Double.self, forKey: .target),
                  excess: try c.decode(Double.self, forKey: .excess), maxSteps: try c.decode(Int.self, forKey: .maxSteps),
                  rows: try c.decode([Row].self, forKey: .rows), runs: try c.decode(Int.self, forKey: .runs),
                  seconds: try c.decode(Double.self, forKey: .seconds))
    }

    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(experiment, forKey: .experiment)
        try c.encode(command, forKey: .command)
        try c.encode(resolvedCommand, forKey: .resolvedCommand)
        try c.encode(runCommand, forKey: .runCommand)
        try c.encode(data, forKey: .data)
        try c.encode(examples, forKey: .examples)
        try c.encode(features, forKey: .features)
        try c.encode(condition, forKey: .condition)
        try c.encode(seed, forKey: .seed)
        try c.encode(workers, forKey: .workers)
        try c.encode(lambdaMax, forKey: .lambdaMax)
        try c.encode(optimum, forKey: .optimum)
        try c.encode(initialLoss, forKey: .initialLoss)
        try c.encode(target, forKey: .target)
        try c.encode(excess, forKey: .excess)
        try c.encode(maxSteps, forKey: .maxSteps)
        try c.encode(rows, forKey: .rows)
        try c.encode(runs, forKey: .runs)
        try c.encode(seconds, forKey: .seconds)
        try c.encode(fit, forKey: .fit)
        try c.encode(measuredNoiseScale, forKey: .measuredNoiseScale)
    }
}

/// The report of `dsgd experiment noise-scale`: the table, results.csv, the plot and report.md.
struct NoiseScaleReport: ExperimentFindings {
    static let plotFile = "noise-scale.svg"
    let results: NoiseScaleResults

    /// The table printed on standard output and in report.md.
    var table: MarkdownTable {
        let fit = results.fit
        let rows = results.rows.map { r -> [String] in
            let b = r.best
            return [String(r.batch), String(r.batch / results.workers),
                    b.map { String(format: "%g", $0.rateFactor) } ?? "-",
                    b.map { ExperimentFormat.count(Double($0.steps)) } ?? "not reached",
                    b.map { ExperimentFormat.count(Double($0.examples)) } ?? "-",
                    fit.map { ExperimentFormat.count($0.steps(at: Double(r.batch))) } ?? "-",
                    b?.noiseScale.map(ExperimentFormat.rate) ?? "-",
                    "\(r.outcomes.filter(\.reached).count) of \(r.outcomes.count)"]
        }
        return MarkdownTable(
            headers: ["global batch B", "per worker", "best rate x lambda_max", "steps to target", "examples to target",
                      "fit S_min (1 + B_crit/B)", "B_simple near target", "rates that reached"],
            rightAligned: [true, true, true, true, true, true, true, true],
            rows: rows)
    }

    /// One row per run, every number at full precision.
    var csv: String {
        var lines = ["batch,per_worker_batch,rate_factor,learning_rate,reached,status,steps,examples,noise_scale,near_trace_sum,near_gradient_square_sum,near_steps,run_noise_scale,best"]
        for r in results.rows {
            let best = r.best?.run
            for o in r.outcomes {
                lines.append([String(r.batch), String(r.batch / results.workers), "\(o.rateFactor)", "\(o.learningRate)", String(o.reached),
                              o.status, String(o.steps), String(o.examples), ExperimentFormat.csv(o.noiseScale),
                              ExperimentFormat.csv(o.nearTarget?.trace), ExperimentFormat.csv(o.nearTarget?.gradientSquare), o.nearTarget.map { String($0.steps) } ?? "",
                              ExperimentFormat.csv(o.runNoiseScale), String(o.run == best)].joined(separator: ","))
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Steps to the target against B, log-log: the best runs, the fit, and vertical lines at
    /// B_crit and at the measured B_simple.
    var plot: PointPlot {
        let points = results.rows.compactMap { r in r.best.map { PointPlot.Point(x: Double(r.batch), y: Double($0.steps)) } }
        var series = [PointPlot.Series(name: "steps to the target at the best rate of the grid", style: .lineAndMarkers, colour: 0, points: points)]
        let ys = points.map(\.y)
        if let fit = results.fit, let lo = ys.min(), let hi = ys.max() {
            let xs = results.rows.map { Double($0.batch) }
            let (x0, x1) = (xs.min() ?? 1, xs.max() ?? 1)
            let curve = (0...40).map { i -> PointPlot.Point in
                let x = x0 * pow(x1 / x0, Double(i) / 40)
                return PointPlot.Point(x: x, y: fit.steps(at: x))
            }
            series.append(PointPlot.Series(name: "fit S_min (1 + B_crit / B): S_min \(ExperimentFormat.count(fit.stepsMin)), B_crit \(ExperimentFormat.rate(fit.criticalBatch))", style: .line, colour: 1, dashed: true, points: curve))
            if fit.criticalBatch >= x0 / 4, fit.criticalBatch <= x1 * 4 {
                series.append(PointPlot.Series(name: "B_crit (the fit's knee)", style: .line, colour: 1, points: [
                    PointPlot.Point(x: fit.criticalBatch, y: lo), PointPlot.Point(x: fit.criticalBatch, y: hi)]))
            }
            if let b = results.measuredNoiseScale, b >= x0 / 4, b <= x1 * 4 {
                series.append(PointPlot.Series(name: "B_simple measured in training near the target: \(ExperimentFormat.rate(b))", style: .line, colour: 2, points: [
                    PointPlot.Point(x: b, y: lo), PointPlot.Point(x: b, y: hi)]))
            }
        }
        return PointPlot(
            title: "Steps to a target loss against the global batch",
            subtitle: "--model linear --data \(results.data), \(results.examples) x \(results.features), \(results.workers) sync workers; each B at its best rate of the grid",
            xLabel: "global batch B (log scale)", yLabel: "steps (updates) to the target (log scale)",
            xScale: .log, yScale: .log, series: series)
    }

    /// report.md.
    var markdown: String {
        let r = results
        func g(_ x: Double) -> String { String(format: "%.6g", x) }
        var lines = [
            "# Gradient noise scale: steps to a target loss against the global batch",
            "",
            "Command: `\(r.command)`  ",
            "Resolved: `\(r.resolvedCommand)`",
            "",
            "Every run (B the global batch, ETA a rate of the grid):",
            "",
            "```sh",
            r.runCommand,
            "```",
            "",
            "The set: \(r.examples) examples of `\(r.data)` with \(r.features) features\(r.condition.map { ", condition number \(g($0))" } ?? "") (seed \(r.seed)); lambda_max \(g(r.lambdaMax)) (`Curvature.analyze`),",
            "least-squares optimum E* = \(g(r.optimum)) (float64 normal equations), E(w0) = \(g(r.initialLoss)), target",
            "E* (1 + \(g(r.excess))) = \(g(r.target)), near the optimum, where the gradient's noise matters. Each global batch B runs at every rate of the grid",
            "(multiples of 1/lambda_max) and keeps the one with the fewest steps to the target: the best rate grows",
            "with B until it reaches the stability limit, which is what lets large batches take fewer steps.",
            "",
            "With `--noise-scale` the coordinator estimates, at every step, |G|^2 and tr(Sigma) from the \(r.workers)",
            "worker gradients (B/\(r.workers) examples each) and their average (B examples): the two-batch estimator of",
            "McCandlish, Kaplan, Amodei et al. 2018, appendix A. B_simple = tr(Sigma) / |G|^2 grows as training nears",
            "the optimum (the gradient shrinks, its noise does not); the table gives it near the target: over the",
            "steps of each best run taken from parameters whose loss was at most E* (1 + 2 x \(g(r.excess))). Their model predicts S = S_min (1 + B_noise / B) steps and",
            "E = E_min (1 + B / B_noise) examples: below the knee, doubling B halves the steps; above it, it barely",
            "changes them and doubles the examples.",
            "",
            "\(r.runs) runs, \(String(format: "%.0f", r.seconds)) s.",
            "",
            table.markdown(),
        ]
        if let fit = r.fit {
            lines.append("Fit (least squares in 1/B, relative errors): S_min = \(g(fit.stepsMin)) steps, B_crit = \(g(fit.criticalBatch)), E_min = S_min B_crit = \(g(fit.examplesMin)) examples.")
        } else {
            lines.append("Fit: none (fewer than two batch sizes reached the target, or the best steps do not fall with B).")
        }
        if let b = r.measuredNoiseScale {
            lines.append("B_simple measured in training near the target, pooled over the best runs of B = \(r.pooledBatches.map(String.init).joined(separator: ", ")) (B <= n/16: larger minibatches are a large part of the set, and drawn without replacement they are less noisy than the estimator assumes): \(g(b))" + (r.fit.map { String(format: "; B_crit / B_simple = %.2f.", $0.criticalBatch / b) } ?? "."))
        }
        lines += [
            "",
            "![Steps to the target against the global batch](noise-scale.svg)",
            "",
            "Files: `results.csv` (one row per run; `best` marks each batch's best rate), `results.json` (every run and the",
            "fit), `runs/` (one run directory per run, named `B<B>-lr<factor>`, with metrics.jsonl's `noise_scale`,",
            "`noise_gradient_square` and `noise_trace` per step).",
            "",
        ]
        return lines.joined(separator: "\n")
    }
}
