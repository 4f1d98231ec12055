import DSGDCluster
import Foundation

/// What `dsgd experiment scaling` measured: results.json (keys in snake_case).
struct ScalingResults: Codable {
    /// One run.
    struct Trial: Codable {
        var trial: Int
        var run: String
        var status: String
        var steps: Int
        var examples: Int
        /// summary.json's `training_seconds` (evaluation excluded) and `examples_per_second`.
        var trainingSeconds: Double
        var examplesPerSecond: Double
        /// steps / training seconds.
        var updatesPerSecond: Double
        /// The training time and examples at the first evaluation at or below the target.
        var timeToTarget: Double?
        var examplesToTarget: Int?
        var stalenessMean: Double?
    }

    /// The median, smallest and largest of some trials' values.
    struct Spread: Codable, Equatable {
        var median: Double
        var min: Double
        var max: Double

        /// Nil for no values.
        init?(_ xs: [Double]) {
            guard let m = ExperimentFormat.median(xs), let lo = xs.min(), let hi = xs.max() else { return nil }
            median = m
            min = lo
            max = hi
        }
    }

    /// One (mode, workers): its trials and their statistics.
    struct Row: Codable {
        var mode: String
        var workers: Int
        /// Busy processes of a run (the workers and the coordinator), the CPUs, and whether the
        /// first exceeds the second: then the row measures contention for cores.
        var processes: Int
        var cpus: Int
        var processesExceedCores: Bool
        /// Policy flags beyond `--mode` ("--staleness 2").
        var options: String
        /// `--lr` (workers x rate) and the rate one update applies after `--lr-scaling linear`.
        var learningRate: Double
        var effectiveLearningRate: Double
        var trials: [Trial]
        var examplesPerSecond: Spread?
        var updatesPerSecond: Spread?
        /// Over the trials that reached the target.
        var timeToTarget: Spread?
        var examplesToTarget: Spread?
        var reachedTarget: Int
        /// Median examples/s over the 1-worker median of the same mode; speedup / workers.
        var speedup: Double?
        var efficiency: Double?

        init(mode: String, workers: Int, cpus: Int, learningRate: Double, effectiveLearningRate: Double, options: String, trials: [Trial]) {
            self.mode = mode
            self.workers = workers
            processes = workers + 1
            self.cpus = cpus
            processesExceedCores = workers + 1 > cpus
            self.options = options
            self.learningRate = learningRate
            self.effectiveLearningRate = effectiveLearningRate
            self.trials = trials
            examplesPerSecond = Spread(trials.map(\.examplesPerSecond))
            updatesPerSecond = Spread(trials.map(\.updatesPerSecond))
            timeToTarget = Spread(trials.compactMap(\.timeToTarget))
            examplesToTarget = Spread(trials.compactMap { $0.examplesToTarget.map(Double.init) })
            reachedTarget = trials.filter { $0.timeToTarget != nil }.count
        }
    }

    var experiment = "scaling"
    var command: String
    var resolvedCommand: String
    /// Every run's `dsgd run` command with LR (workers x rate), K (evaluation spacing / examples
    /// per update), M, POLICY and N to fill in, and the largest run of the first mode spelled out.
    var runCommand: String
    var exampleCommand: String
    /// `ProcessInfo.activeProcessorCount`, /proc/cpuinfo's model name, and /proc/loadavg's 1, 5
    /// and 15 minute load averages before the first run and after the last.
    var cpuCount: Int
    var cpuModel: String?
    var loadBefore: [Double]
    var loadAfter: [Double]
    var model: String
    var hidden: [Int]?
    var data: String
    var examples: Int
    var features: Int
    var batch: Int
    var epochs: Double
    var budgetExamples: Int
    var evalExamples: Int
    var seed: UInt64
    /// The rate per minibatch update of `batch` examples, in every run.
    var rate: Double
    var targetFraction: Double
    var initialLoss: Double
    var target: Double
    var modes: [String]
    var workers: [Int]
    var trials: Int
    var rows: [Row]
    var runs: Int
    var seconds: Double

    /// `rows` with speedup and efficiency against the 1-worker row of the same mode.
    static func withSpeedups(_ rows: [Row]) -> [Row] {
        rows.map { r in
            var r = r
            if let base = rows.first(where: { $0.mode == r.mode && $0.workers == 1 })?.examplesPerSecond?.median, base > 0,
               let x = r.examplesPerSecond?.median {
                r.speedup = x / base
                r.efficiency = x / base / Double(r.workers)
            }
            return r
        }
    }
}

/// The report of `dsgd experiment scaling`: the table, results.csv, the plot and report.md.
struct ScalingReport: ExperimentFindings {
    static let plotFile = "scaling.svg"
    /// The sentence that marks over-subscribed rows in report.md (present exactly when a row has
    /// more processes than cores).
    static let contentionNote = "measure CPU contention, not a scaling law"
    let results: ScalingResults

    /// "123,456 (120,000 to 130,000)"; one trial: the value alone.
    static func spread(_ s: ScalingResults.Spread?, trials: Int, _ format: (Double) -> String) -> String {
        guard let s else { return "-" }
        return trials == 1 || s.min == s.max ? format(s.median) : "\(format(s.median)) (\(format(s.min)) to \(format(s.max)))"
    }

    /// The table printed on standard output and in report.md.
    var table: MarkdownTable {
        let rows = results.rows.map { r -> [String] in
            let n = r.trials.count
            var toTarget = Self.spread(r.timeToTarget, trials: r.reachedTarget) { String(format: "%.3f", $0) }
            if r.reachedTarget < n { toTarget = r.reachedTarget == 0 ? "not reached" : toTarget + ", \(r.reachedTarget) of \(n) reached" }
            return [r.mode, String(r.workers),
                    r.processesExceedCores ? "yes (\(r.processes) > \(r.cpus))" : "no (\(r.processes) <= \(r.cpus))",
                    String(n), Self.spread(r.examplesPerSecond, trials: n, ExperimentFormat.count),
                    Self.spread(r.updatesPerSecond, trials: n, ExperimentFormat.count),
                    r.examplesToTarget.map { ExperimentFormat.count($0.median) } ?? "-", toTarget,
                    r.speedup.map { String(format: "%.2f", $0) } ?? "-", r.efficiency.map { String(format: "%.2f", $0) } ?? "-"]
        }
        return MarkdownTable(
            headers: ["mode", "workers", "processes > cores", "trials", "examples/s: median (min to max)", "updates/s: median (min to max)",
                      "examples to target: median", "s to target: median (min to max)", "speedup", "efficiency"],
            rightAligned: [false, true, false, true, true, true, true, true, true, true],
            rows: rows)
    }

    /// One row per run, every number at full precision.
    var csv: String {
        var lines = ["mode,workers,trial,processes,cpus,processes_exceed_cores,status,steps,examples,training_seconds,examples_per_second,updates_per_second,time_to_target,examples_to_target,learning_rate,effective_learning_rate,run"]
        for r in results.rows {
            for t in r.trials {
                lines.append([r.mode, String(r.workers), String(t.trial), String(r.processes), String(r.cpus), String(r.processesExceedCores),
                              t.status, String(t.steps), String(t.examples), "\(t.trainingSeconds)", "\(t.examplesPerSecond)",
                              "\(t.updatesPerSecond)", ExperimentFormat.csv(t.timeToTarget), t.examplesToTarget.map(String.init) ?? "",
                              "\(r.learningRate)", "\(r.effectiveLearningRate)", t.run].joined(separator: ","))
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Median examples/s against workers, one series per mode, the range over trials as bars.
    var plot: PointPlot {
        let r = results
        let series = r.modes.enumerated().map { i, mode in
            PointPlot.Series(name: "\(mode): median and range over \(r.trials) trial\(r.trials == 1 ? "" : "s")", style: .lineAndMarkers, colour: i,
                             points: r.rows.filter { $0.mode == mode }.compactMap { row in
                                 row.examplesPerSecond.map { PointPlot.Point(x: Double(row.workers), y: $0.median, low: $0.min, high: $0.max) }
                             })
        }
        let over = r.rows.filter(\.processesExceedCores).map(\.workers)
        let contention = over.isEmpty ? "no run had more processes than cores"
            : "runs with \(Set(over).sorted().map(String.init).joined(separator: ", ")) workers had more processes (workers + 1) than cores"
        return PointPlot(
            title: "Throughput against workers",
            subtitle: "\(r.model) on \(r.data), batch \(r.batch) per worker, \(ExperimentFormat.count(Double(r.budgetExamples))) examples a run\n"
                + "\(r.cpuCount) CPUs: \(contention)",
            xLabel: "workers", yLabel: "examples per second (training clock)",
            xTicks: max(2, (r.workers.max() ?? 2) - (r.workers.min() ?? 1)), series: series)
    }

    /// report.md.
    var markdown: String {
        let r = results
        let load = { (xs: [Double]) in xs.isEmpty ? "n/a" : xs.map { String(format: "%.2f", $0) }.joined(separator: ", ") }
        let over = r.rows.filter(\.processesExceedCores)
        let overWorkers = Set(over.map(\.workers)).sorted().map(String.init).joined(separator: ", ")
        let contention = over.isEmpty
            ? ["Every row ran at most as many busy processes (workers + 1) as this machine has cores (\(r.cpuCount))."]
            : ["**More processes than cores.** A run with N workers keeps N + 1 processes busy (the workers and the coordinator;",
               "the experiment's own process only waits), and this machine has \(r.cpuCount) cores. The rows marked yes in",
               "\"processes > cores\" (N = \(overWorkers)) time-share the cores, so those rows \(Self.contentionNote):",
               "what they show is how this machine divides \(r.cpuCount) cores among more processes, not how the algorithm",
               "would scale with one core per process."]
        let otherLoad = (r.loadBefore.first ?? 0) >= 0.5
            ? ["", "**Other load.** The 1-minute load average was \(String(format: "%.2f", r.loadBefore[0])) before the first run, on \(r.cpuCount) cores: other",
               "processes were competing for them. A scheduler that shares CPU time among runnable processes gives a run of",
               "N + 1 busy processes a larger share of a busy machine than a run of 2, so throughput can grow with N here for",
               "reasons that have nothing to do with the algorithm."]
            : []
        let best = r.modes.compactMap { mode -> String? in
            guard let top = r.rows.filter({ $0.mode == mode }).max(by: { ($0.examplesPerSecond?.median ?? 0) < ($1.examplesPerSecond?.median ?? 0) }),
                  let x = top.examplesPerSecond?.median, let s = top.speedup else { return nil }
            return "\(mode) at \(top.workers) worker\(top.workers == 1 ? "" : "s") (\(ExperimentFormat.count(x)) examples/s, speedup \(String(format: "%.2f", s)))"
        }
        let modelText = r.model + (r.hidden.map { " (hidden \($0.map(String.init).joined(separator: " ")))" } ?? "")
        var lines = [
            "# Scaling: throughput and time to a target against workers",
            "",
            "Command: `\(r.command)`  ",
            "Resolved: `\(r.resolvedCommand)`",
            "",
            "**Machine.** \(r.cpuCount) CPUs (`ProcessInfo.activeProcessorCount`)" + (r.cpuModel.map { ", \($0)" } ?? ", CPU model unknown (no /proc/cpuinfo model name)") + ".",
            "Load average (1, 5, 15 minutes, /proc/loadavg) before the first run: \(load(r.loadBefore)); after the last: \(load(r.loadAfter)).",
            "",
            "Every run trains `--model \(modelText)` on `\(r.data)` (\(r.examples) examples x \(r.features) features, seed \(r.seed)) for the same",
            "\(ExperimentFormat.count(Double(r.budgetExamples))) examples (\(String(format: "%g", r.epochs)) epochs), with B = \(r.batch) examples per minibatch per worker:",
            "",
            "```sh",
            r.runCommand,
            r.exampleCommand + "   # e.g.",
            "```",
            "",
            "**Rates.** LR = N x \(String(format: "%g", r.rate)) with `--lr-scaling linear`: a sync step averages N x B examples at LR, an async",
            "update applies B examples at LR / N = \(String(format: "%g", r.rate)), so every run applies \(String(format: "%g", r.rate)) per minibatch of \(r.batch), the",
            "same rate per example at every N. The time to the target is then the examples to the target over the throughput;",
            "the examples to the target (median over the trials that reached it) grow where sync's larger global batch or",
            "async's staleness buys less progress per example. ssp, local and easgd take their policy flags as listed in",
            "results.json (easgd: rho such that N x alpha = 0.9).",
            "",
            "**Measures.** examples/s is summary.json's `examples_per_second` (examples applied / training seconds; the",
            "training clock excludes evaluation: `--evaluation inline` pauses training while the coordinator evaluates, so no\n"
                + "evaluation thread competes with the workers), updates/s is updates / training seconds, and the time to the target is the",
            "training clock at the first evaluation at or below \(String(format: "%.6g", r.target)) = \(String(format: "%g", r.targetFraction)) x E(w0) (E(w0) = \(String(format: "%.6g", r.initialLoss)), the",
            "loss at the initial parameters; every run evaluates every \(ExperimentFormat.count(Double(r.evalExamples))) examples). Medians and ranges are over",
            "\(r.trials) trial\(r.trials == 1 ? "" : "s"), run in the order trial, mode, workers so that a drift in the machine's load touches every row.",
            "Speedup is the median examples/s over the 1-worker median of the same mode; efficiency is speedup / workers.",
            "",
        ] + contention + otherLoad + [
            "",
            "\(r.runs) runs, \(String(format: "%.0f", r.seconds)) s.",
            "",
            table.markdown(),
            "Highest median throughput: \(best.isEmpty ? "n/a" : best.joined(separator: "; ")).",
            "",
            "![Examples per second against workers](\(Self.plotFile))",
            "",
            "Files: `results.csv` (one row per run), `results.json` (every trial, the medians and ranges, the machine), `runs/`",
            "(one run directory per run, named `<mode>-w<N>-t<trial>`, with the processes' standard error in `stderr.log`).",
            "",
        ]
        if lines.last != "" { lines.append("") }
        return lines.joined(separator: "\n")
    }
}
