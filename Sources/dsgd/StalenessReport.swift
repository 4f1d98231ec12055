import DSGDCluster
import Foundation

/// What `dsgd experiment staleness` measured: results.json (keys in snake_case).
struct StalenessResults: Codable {
    /// One run: its rate, whether it was stable, and what it wrote.
    struct Probe: Codable {
        var rate: Double
        var stable: Bool
        /// The run directory, relative to the report directory.
        var run: String
        var status: String
        var steps: Int
        var initialLoss: Double?
        var finalLoss: Double?
    }

    /// One bisection and its two checks.
    struct Search: Codable {
        /// The limit the delayed recurrence predicts: `bound`, or `tau x bound` at eta / tau.
        var predicted: Double
        /// The largest rate found stable and the smallest found unstable.
        var largestStable: Double?
        var smallestUnstable: Double?
        /// `largestStable / predicted`.
        var ratioToPredicted: Double?
        /// Whether the runs at 0.95 and 1.05 times `predicted` were stable (nil: not run, `--no-checks`).
        var checkBelowStable: Bool?
        var checkAboveStable: Bool?
        /// Every run, the bisection's first and the two checks last.
        var probes: [Probe]
    }

    /// One staleness value: the bound and both searches.
    struct Row: Codable {
        var tau: Int
        /// `2 sin(pi / (2 (2 tau + 1))) / lambda_max`.
        var bound: Double
        /// The same rate for every update.
        var plain: Search
        /// `--lr-staleness inverse`: a gradient of staleness tau >= 1 applied at eta / tau.
        var inverse: Search
    }

    var experiment = "staleness"
    var command: String
    var resolvedCommand: String
    /// The `dsgd run` command of every run, with TAU and ETA to fill in.
    var runCommand: String
    var lambdaMax: Double
    /// How `Curvature.analyze` computed it (`exact`, `lanczos`, `power`).
    var lambdaMethod: String
    var examples: Int
    var seed: UInt64
    var steps: Int
    var evalEvery: Int
    var precision: Double
    var criterion = "a rate is stable when its run completes (no \"training diverged\") and the training loss after the run's steps is below the training loss at step 0"
    var runs: Int
    var seconds: Double
    var rows: [Row]
}

/// The report of `dsgd experiment staleness`: the table, results.csv, the plot and report.md.
struct StalenessReport: ExperimentFindings {
    static let plotFile = "staleness.svg"
    let results: StalenessResults

    /// Whether the 0.95x / 1.05x checks ran.
    var checksRan: Bool { results.rows.contains { $0.plain.checkBelowStable != nil } }

    /// The table printed on standard output and in report.md (the check columns only when they ran).
    var table: MarkdownTable {
        func rate(_ x: Double?) -> String { x.map(ExperimentFormat.rate) ?? "none found" }
        func ratio(_ x: Double?) -> String { x.map(ExperimentFormat.ratio) ?? "-" }
        func checks(_ s: StalenessResults.Search) -> String {
            guard let below = s.checkBelowStable, let above = s.checkAboveStable else { return "-" }
            return (below ? "stable" : "UNSTABLE") + " / " + (above ? "STABLE" : "unstable")
        }
        var headers = ["tau", "bound eta_max(tau)", "plain: largest stable", "plain / bound", "plain at 0.95x / 1.05x bound",
                       "eta/tau: largest stable", "max(tau,1) x bound", "eta/tau / (max(tau,1) x bound)", "eta/tau / plain",
                       "eta/tau at 0.95x / 1.05x"]
        var right = [true, true, true, true, false, true, true, true, true, false]
        var rows = results.rows.map { r -> [String] in
            let inversePerPlain = r.inverse.largestStable.flatMap { i in r.plain.largestStable.map { i / $0 } }
            return [
                String(r.tau), ExperimentFormat.rate(r.bound), rate(r.plain.largestStable), ratio(r.plain.ratioToPredicted), checks(r.plain),
                rate(r.inverse.largestStable), ExperimentFormat.rate(r.inverse.predicted), ratio(r.inverse.ratioToPredicted),
                ratio(inversePerPlain), checks(r.inverse),
            ]
        }
        if !checksRan {
            for i in [9, 4] {
                headers.remove(at: i)
                right.remove(at: i)
                for j in rows.indices { rows[j].remove(at: i) }
            }
        }
        return MarkdownTable(headers: headers, rightAligned: right, rows: rows)
    }

    /// One row per (tau, policy), every number at full precision.
    var csv: String {
        var lines = ["tau,lr_staleness,bound,predicted,largest_stable,smallest_unstable,ratio_to_predicted,stable_at_0.95,stable_at_1.05,runs"]
        for r in results.rows {
            for (policy, s) in [("none", r.plain), ("inverse", r.inverse)] {
                let cells = [String(r.tau), policy, "\(r.bound)", "\(s.predicted)", ExperimentFormat.csv(s.largestStable),
                             ExperimentFormat.csv(s.smallestUnstable), ExperimentFormat.csv(s.ratioToPredicted),
                             s.checkBelowStable.map(String.init) ?? "", s.checkAboveStable.map(String.init) ?? "", String(s.probes.count)]
                lines.append(cells.joined(separator: ","))
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Largest stable rate against tau: measured (markers) and predicted (lines), plain and eta/tau.
    var plot: PointPlot {
        let rows = results.rows
        func measured(_ s: KeyPath<StalenessResults.Row, StalenessResults.Search>) -> [PointPlot.Point] {
            rows.compactMap { r in r[keyPath: s].largestStable.map { y in
                PointPlot.Point(x: Double(r.tau), y: y, low: y, high: r[keyPath: s].smallestUnstable ?? y)
            } }
        }
        return PointPlot(
            title: "Largest stable learning rate against gradient staleness",
            subtitle: "full-batch GD on lecun-2d (\(results.examples) examples), one async worker, --delay tau; lambda_max = \(ExperimentFormat.rate(results.lambdaMax))\n"
                + "\(results.steps) steps a run; a bar reaches from the largest stable rate to the smallest unstable one tried",
            xLabel: "staleness tau (updates)", yLabel: "learning rate (--lr)",
            xTicks: max(2, (rows.map(\.tau).max() ?? 0) - (rows.map(\.tau).min() ?? 0)),
            series: [
                PointPlot.Series(name: "bound 2 sin(pi/(2(2 tau+1))) / lambda_max", style: .line, colour: 0,
                                 points: rows.map { PointPlot.Point(x: Double($0.tau), y: $0.bound) }),
                PointPlot.Series(name: "plain: largest stable (bisection)", style: .markers, colour: 0, points: measured(\.plain)),
                PointPlot.Series(name: "tau x bound", style: .line, colour: 1, dashed: true,
                                 points: rows.map { PointPlot.Point(x: Double($0.tau), y: $0.inverse.predicted) }),
                PointPlot.Series(name: "--lr-staleness inverse (eta/tau): largest stable", style: .markers, colour: 1, hollow: true,
                                 points: measured(\.inverse)),
            ])
    }

    /// report.md.
    var markdown: String {
        let r = results
        let tableText = table.markdown()
        let plainRatios = r.rows.filter { (1...4).contains($0.tau) }.compactMap(\.plain.ratioToPredicted)
        let inversePerPlain = r.rows.filter { $0.tau >= 1 }.compactMap { row -> (Int, Double)? in
            guard let i = row.inverse.largestStable, let p = row.plain.largestStable else { return nil }
            return (row.tau, i / p)
        }
        let checksHeld = r.rows.allSatisfy { row in
            [row.plain, row.inverse].allSatisfy { $0.checkBelowStable == true && $0.checkAboveStable == false }
        }
        let checkSentence = !checksRan
            ? "the checks after each bisection (runs at 0.95x and 1.05x the predicted limit) were not run here (`--no-checks`, the default of `--quick`)."
            : "the two checks after each bisection (runs at 0.95x and 1.05x the predicted limit) show whether S is long enough to tell those apart: "
                + (checksHeld ? "every 0.95x run was stable and every 1.05x run unstable." : "NOT every check came out as predicted (see the table).")
        let within = plainRatios.count == r.rows.filter({ (1...4).contains($0.tau) }).count && plainRatios.allSatisfy { abs($0 - 1) <= 0.1 }
        var lines = [
            "# Delayed gradients: the largest stable learning rate against staleness",
            "",
            "Command: `\(r.command)`  ",
            "Resolved: `\(r.resolvedCommand)`",
            "",
            "Every run is full-batch gradient descent on a quadratic loss (linear regression on lecun-2d) with gradients",
            "exactly tau updates stale:",
            "",
            "```sh",
            r.runCommand,
            "```",
            "",
            "With one worker, `--delay tau` sends it the parameters of tau versions ago, so after the first tau updates",
            "every update is `w_{t+1} = w_t - eta H w_{t-tau}` on the loss `E = 1/(2n) sum (y - w.x - b)^2` (the first tau",
            "updates use version 0). That recurrence is stable iff `eta lambda < 2 sin(pi / (2 (2 tau + 1)))` for every",
            "eigenvalue lambda of H, so the bound is `eta_max(tau) = 2 sin(pi / (2 (2 tau + 1))) / lambda_max`",
            "(`2 / lambda_max` at tau = 0). lambda_max = \(String(format: "%.6g", r.lambdaMax)) comes from `Curvature.analyze` on the",
            "same \(r.examples) examples (method: \(r.lambdaMethod); the bias input included), as",
            "`dsgd analyze --model linear --data lecun-2d --examples \(r.examples)` computes it.",
            "",
            "**Stability criterion.** A rate is stable when its run completes (it is not stopped as \"training diverged\")",
            "and the training loss after S = \(r.steps) steps is below the training loss at step 0. An unstable rate makes",
            "the component of `w - w*` along the top eigenvector grow geometrically, so its loss eventually passes any",
            "level; a stable one makes every component shrink. A rate just above the bound grows so slowly that S steps",
            "may not carry it past the loss at step 0, so the criterion can call a rate a little above the bound stable:",
            "that is the bias of a finite S; " + checkSentence,
            "",
            "**Bisection.** Theory-free apart from lambda_max: it starts at `1.5 / lambda_max` (no power-of-two multiple of",
            "any bound, so no run lands exactly on one), doubles the rate until a run is",
            "unstable (or halves it until one is stable), then tries the geometric midpoint of the bracket",
            "`[largest stable, smallest unstable]` until their ratio is at most 1 + \(r.precision). The table gives the",
            "largest rate found stable; results.json has every run.",
            "",
            "**`--lr-staleness inverse`.** A gradient of staleness tau >= 1 is applied at `eta / tau`, so the recurrence is",
            "the same with `eta / tau` in place of eta and the predicted limit of the bisected `--lr` is `tau x eta_max(tau)`",
            "(tau = 0: `eta_max(0)`, nothing is stale). What is measured is the bisected `--lr`; the effective step of the stale",
            "updates is that divided by tau. Measured ratio of the two largest stable rates, eta/tau over plain:",
            inversePerPlain.map { "\(String(format: "%.2f", $0.1)) at tau = \($0.0)" }.joined(separator: ", ") + ".",
            "In theory the largest stable `--lr` with `eta/tau` stays between 1/lambda_max (tau = 1) and (pi/2)/lambda_max",
            "for every tau >= 1 (`tau x 2 sin(pi / (2 (2 tau + 1)))` rises from 1 to pi/2), so any rate below 1/lambda_max",
            "is stable at every staleness, where the plain rate has to shrink like 1/tau.",
            "",
            "\(r.runs) runs, \(String(format: "%.0f", r.seconds)) s.",
            "",
            tableText,
            "Plain rates within 10% of the bound for tau = 1..4: **\(within ? "yes" : "no")**" +
                (plainRatios.isEmpty ? "" : " (largest stable / bound from \(ExperimentFormat.ratio(plainRatios.min()!)) to \(ExperimentFormat.ratio(plainRatios.max()!)))") + ".",
            "",
            "![Largest stable learning rate against staleness](staleness.svg)",
            "",
            "Files: `results.csv` (one row per tau and policy), `results.json` (every run: rate, outcome, losses), `runs/`",
            "(one run directory per run, named `tau<T>-<plain|inverse>-<NN|check-0.95|check-1.05>`, each with the",
            "coordinator's and worker's standard error in `stderr.log`).",
            "",
        ]
        if lines.last != "" { lines.append("") }
        return lines.joined(separator: "\n")
    }
}
