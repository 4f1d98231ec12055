import DSGDCluster
import Foundation

/// What `dsgd experiment sync-vs-async` measured: results.json (keys in snake_case).
struct SyncVsAsyncResults: Codable {
    /// One set-up's run: its policy, its rates and what it reached.
    struct Setup: Codable {
        /// `sync`, `async`, `ssp`, `sync-backup`, `local` or `easgd`.
        var name: String
        /// summary.json's `mode`.
        var mode: String
        /// The policy flags of `dsgd run` ("--staleness 2"; empty for plain sync and async).
        var options: String
        /// The run directory, relative to the report directory, and the command that repeats it.
        var run: String
        var command: String
        var status: String
        var workers: Int
        /// `--lr`, and the rate one update applies after `--lr-scaling linear` (summary.json).
        var learningRate: Double
        var effectiveLearningRate: Double
        /// Examples one step of the rate stands for (`JobConfig.examplesPerRateStep`), and the
        /// rate per example, `effectiveLearningRate / examplesPerRateStep`.
        var examplesPerRateStep: Int
        var ratePerExample: Double
        /// Examples one update applies (`JobConfig.examplesPerStep`) and `--eval-every`.
        var examplesPerUpdate: Int
        var evalEvery: Int
        var steps: Int
        var examples: Int
        /// summary.json's `training_seconds` (evaluation excluded).
        var trainingSeconds: Double
        var finalLoss: Double?
        /// The first evaluation at or below the target: its examples, step and training time.
        var examplesToTarget: Int?
        var updatesToTarget: Int?
        var timeToTarget: Double?
        /// Updates and examples per training second.
        var updatesPerSecond: Double?
        var examplesPerSecond: Double
        var stalenessMean: Double?
        var stalenessMax: Int?
        var bytesMoved: Int?
        var droppedGradients: Int?
        var sspLeadMax: Int?
    }

    var experiment = "sync-vs-async"
    var command: String
    var resolvedCommand: String
    var data: String
    var examples: Int
    var features: Int
    var condition: Double
    var seed: UInt64
    var workers: Int
    var batch: Int
    var epochs: Double
    /// Examples every run applies (epochs x examples per epoch) and the evaluation spacing.
    var budgetExamples: Int
    var evalExamples: Int
    var lambdaMax: Double
    var lrFactor: Double
    /// `--lr` (lrFactor / lambda_max as float32), the global batch N x B it is the rate of, and
    /// the rate per example every set-up applies under `--lr-scaling linear`, lr / (N B).
    var learningRate: Double
    var globalBatch: Int
    var ratePerExample: Double
    var staleness: Int
    var backupWorkers: Int
    var syncEvery: Int
    var rho: Double
    /// E*, E(w0) and the target E* + gap (E(w0) - E*), float64.
    var optimum: Double
    var initialLoss: Double
    var gap: Double
    var target: Double
    var setups: [Setup]
    var runs: Int
    var seconds: Double
    /// `ProcessInfo.activeProcessorCount` and /proc/loadavg's 1, 5 and 15 minute load averages
    /// before the first run and after the last (the seconds depend on what else the machine ran).
    var cpuCount: Int
    var loadBefore: [Double]
    var loadAfter: [Double]
}

/// The report of `dsgd experiment sync-vs-async`: the table, results.csv, the loss curves
/// (`LossPlot`, as `dsgd compare` draws them) and report.md.
struct SyncVsAsyncReport: ExperimentFindings {
    static let plotFile = "sync-vs-async.svg"
    let results: SyncVsAsyncResults
    /// The runs, in set-up order, for the plot.
    let records: [RunRecord]

    /// "1.01 MB", "850.0 kB".
    static func bytes(_ n: Int?) -> String {
        guard let n else { return "-" }
        return n >= 1_000_000 ? String(format: "%.2f MB", Double(n) / 1e6) : String(format: "%.1f kB", Double(n) / 1e3)
    }

    /// The table printed on standard output and in report.md.
    var table: MarkdownTable {
        let rows = results.setups.map { s -> [String] in
            let final = s.status == "completed" ? s.finalLoss.map { String(format: "%.6g", $0) } ?? "-" : "\(s.status)"
            return [s.mode, s.options.isEmpty ? "-" : s.options, String(s.workers), ExperimentFormat.rate(s.effectiveLearningRate),
                    String(s.examplesPerUpdate), ExperimentFormat.count(Double(s.steps)), ExperimentFormat.count(Double(s.examples)),
                    String(format: "%.3f", s.trainingSeconds), final,
                    s.examplesToTarget.map { ExperimentFormat.count(Double($0)) } ?? "not reached",
                    s.timeToTarget.map { String(format: "%.3f", $0) } ?? "not reached",
                    s.updatesPerSecond.map(ExperimentFormat.count) ?? "-",
                    s.stalenessMean.map { String(format: "%.2f", $0) } ?? "-", s.stalenessMax.map(String.init) ?? "-",
                    Self.bytes(s.bytesMoved)]
        }
        return MarkdownTable(
            headers: ["mode", "options", "workers", "lr per update", "examples per update", "updates", "examples", "training s",
                      "final loss", "examples to target", "s to target", "updates/s", "staleness mean", "staleness max", "bytes moved"],
            rightAligned: [false, false, true, true, true, true, true, true, true, true, true, true, true, true, true],
            rows: rows)
    }

    /// One row per set-up, every number at full precision.
    var csv: String {
        var lines = ["setup,mode,options,workers,status,learning_rate,effective_learning_rate,examples_per_rate_step,rate_per_example,examples_per_update,eval_every,steps,examples,training_seconds,final_loss,target,examples_to_target,updates_to_target,time_to_target,updates_per_second,examples_per_second,staleness_mean,staleness_max,bytes_moved,dropped_gradients,ssp_lead_max,run"]
        func int(_ x: Int?) -> String { x.map(String.init) ?? "" }
        for s in results.setups {
            lines.append([s.name, s.mode, s.options, String(s.workers), s.status, "\(s.learningRate)", "\(s.effectiveLearningRate)",
                          String(s.examplesPerRateStep), "\(s.ratePerExample)", String(s.examplesPerUpdate), String(s.evalEvery),
                          String(s.steps), String(s.examples), "\(s.trainingSeconds)", ExperimentFormat.csv(s.finalLoss), "\(results.target)",
                          int(s.examplesToTarget), int(s.updatesToTarget), ExperimentFormat.csv(s.timeToTarget), ExperimentFormat.csv(s.updatesPerSecond),
                          "\(s.examplesPerSecond)", ExperimentFormat.csv(s.stalenessMean), int(s.stalenessMax), int(s.bytesMoved),
                          int(s.droppedGradients), int(s.sspLeadMax), s.run].joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The training loss minus E* of every run against training time, examples and epochs.
    var plot: LossPlot {
        let r = results
        var p = LossPlot(runs: records, names: r.setups.map(\.name), optimum: r.optimum, logY: true,
                         subtitle: "--model linear --data \(r.data) (\(r.examples) x \(r.features)), \(r.workers) workers, batch \(r.batch), --lr \(ExperimentFormat.rate(r.learningRate)) --lr-scaling linear, seed \(r.seed); time is the training clock")
        p.title = "Training loss − E* of six update policies at the same rate per example"
        return p
    }

    /// "async 1.02x, ssp 0.98x": `value` of every set-up but sync over sync's.
    func relativeToSync(_ value: (SyncVsAsyncResults.Setup) -> Double?) -> String {
        guard let sync = results.setups.first(where: { $0.name == PolicySetup.sync.rawValue }), let base = value(sync), base > 0 else {
            return "n/a (sync has none)"
        }
        return results.setups.filter { $0.name != sync.name }.map { s in
            "\(s.name) " + (value(s).map { String(format: "%.2fx", $0 / base) } ?? "none")
        }.joined(separator: ", ")
    }

    /// report.md.
    var markdown: String {
        let r = results
        let n = r.workers, b = r.batch
        let g = { (x: Double) in String(format: "%.6g", x) }
        let load = { (xs: [Double]) in xs.isEmpty ? "n/a" : xs.map { String(format: "%.2f", $0) }.joined(separator: ", ") }
        let rateRows = r.setups.map { s -> String in
            "| \(s.name) | \(s.examplesPerRateStep) | \(s.examplesPerRateStep) / \(r.globalBatch) | \(g(s.effectiveLearningRate)) | \(g(s.ratePerExample)) |"
        }
        let reached = r.setups.filter { $0.timeToTarget != nil }
        let fastest = reached.min { $0.timeToTarget! < $1.timeToTarget! }, slowest = reached.max { $0.timeToTarget! < $1.timeToTarget! }
        let ranking = fastest.flatMap { f in slowest.map { s in
            "Fastest to the target in training time: \(f.name) (\(String(format: "%.3f", f.timeToTarget!)) s); slowest: \(s.name) (\(String(format: "%.3f", s.timeToTarget!)) s)."
        } } ?? "No run reached the target."
        let missed = r.setups.filter { $0.examplesToTarget == nil }.map(\.name)
        var lines = [
            "# Sync against async: six update policies at the same rate per example",
            "",
            "Command: `\(r.command)`  ",
            "Resolved: `\(r.resolvedCommand)`",
            "",
            "One task (`--model linear --data \(r.data)`, \(r.examples) examples x \(r.features) features, seed \(r.seed)), \(n) workers,",
            "batch \(b), and one budget of \(ExperimentFormat.count(Double(r.budgetExamples))) examples (\(SyncVsAsyncReport.number(r.epochs)) epochs) for every run:",
            "",
            "```sh",
        ] + r.setups.map(\.command) + [
            "```",
            "",
            "Policies: `ssp --staleness \(r.staleness)` (no worker more than \(r.staleness) gradients ahead of the slowest; with \(n) workers plain",
            "async runs about \(n - 1) behind on average), `sync --backup-workers \(r.backupWorkers)` (each step averages the first",
            "\(n - r.backupWorkers) of \(n) gradients and drops the rest), `local --sync-every \(r.syncEvery)` (local SGD: \(r.syncEvery) steps per",
            "worker between averages) and `easgd --sync-every \(r.syncEvery) --rho \(Float(r.rho))` (elastic averaging with the same",
            "communication period; rho makes \(n) x alpha = \(n) x lr per update x rho = \(g(Double(n) * r.rho * (r.setups.first { $0.name == "easgd" }?.effectiveLearningRate ?? .nan))), the beta = 0.9 Zhang et al. 2015",
            "recommend, unless `--rho` was given).",
            "",
            "## Comparable rates: `--lr-scaling linear`",
            "",
            "`--lr` = \(g(r.lrFactor)) / lambda_max = \(g(r.learningRate)) (lambda_max = \(g(r.lambdaMax)) of the training set, `Curvature.analyze`) is the",
            "rate of an update that averages a global batch of N x B = \(r.globalBatch) examples, as a sync step does. With",
            "`--lr-scaling linear` an update whose rate stands for m examples applies `lr x m / (N B)`",
            "(`JobConfig.effectiveLearningRate`, m = `examplesPerRateStep`: (N - b) B for sync with b backup workers, N B for",
            "local SGD, whose summed local steps are averaged like one sync step, B for async, ssp and easgd), so every",
            "set-up applies lr / (N B) = \(g(r.ratePerExample)) per example. With `none` async, ssp and easgd would apply \(n)x that",
            "per example (README, \"What `--lr` means\") and with `sqrt` sqrt(\(n))x; `linear` is the rule under which",
            "`effective rate / m` is the same in every mode:",
            "",
            "| set-up | m (examples per rate step) | m / (N B) | lr per update | lr per example |",
            "|---|---:|---:|---:|---:|",
        ] + rateRows + [
            "",
            "In local SGD each worker steps at the full `--lr` on its own B examples, and averaging the \(n) local models",
            "divides the movement by \(n) again. In easgd the rate per update is each worker's local step on its own copy,",
            "which sees only 1/\(n) of the examples, and the centre (whose loss is logged) moves only by the elastic pull",
            "alpha = lr x rho towards the workers, so equal rates per example do not make easgd's centre move as fast.",
            "",
            "**Target.** E* = \(g(r.optimum)) is the least-squares loss of the training set (normal equations in float64,",
            "`LeastSquares`), E(w0) = \(g(r.initialLoss)) the loss at the initial parameters, and the target",
            "E* + \(g(r.gap)) x (E(w0) - E*) = \(g(r.target)). Every run evaluates the training loss every",
            "\(ExperimentFormat.count(Double(r.evalExamples))) examples (`--eval-every` = that / examples per update), so all runs are evaluated at the",
            "same example counts; examples, updates and seconds to the target are those of the first evaluation at or below it",
            "(metrics.jsonl). Seconds are the training clock (`--evaluation inline`: training pauses while the coordinator",
            "evaluates, and the pause is not counted), and updates/s is updates / training seconds.",
            "",
            "\(r.runs) runs, \(String(format: "%.0f", r.seconds)) s, one after another on \(r.cpuCount) CPUs (\(n + 1) busy processes a run); load average",
            "(1, 5, 15 minutes, /proc/loadavg) before the first run: \(load(r.loadBefore)); after the last: \(load(r.loadAfter)). One run per set-up:",
            "the seconds vary from run to run with what else the machine does; the examples of sync and local do not",
            "(they are deterministic), those of async, ssp, backup workers and easgd only through the order gradients arrive in.",
            "",
            table.markdown(),
            "Examples to the target relative to sync (to the nearest \(ExperimentFormat.count(Double(r.evalExamples))), the evaluation spacing): \(relativeToSync { $0.examplesToTarget.map(Double.init) }).  ",
            "Seconds to the target relative to sync: \(relativeToSync(\.timeToTarget)).  ",
            "Bytes moved relative to sync: \(relativeToSync { $0.bytesMoved.map(Double.init) }).  ",
            ranking + (missed.isEmpty ? "" : " Not reached within the budget: \(missed.joined(separator: ", "))."),
            "",
            "![Training loss minus E* against training time, examples and epochs](\(Self.plotFile))",
            "",
            "Files: `results.csv` (one row per set-up), `results.json` (every number above and each run's command), `runs/`",
            "(one run directory per set-up, named after it, with the coordinator's and workers' standard error in `stderr.log`).",
            "",
        ]
        if lines.last != "" { lines.append("") }
        return lines.joined(separator: "\n")
    }

    /// `x` as `%g` prints it.
    static func number(_ x: Double) -> String { String(format: "%g", x) }
}
