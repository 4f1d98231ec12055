import ArgumentParser
import DSGDCluster
import DSGDCore
import Foundation

extension DSGD {
    /// `dsgd experiment scaling`: throughput (examples/s, updates/s) and time to a target loss
    /// against the number of workers, per mode, over several trials, at one rate per example; with
    /// the machine's CPU count and load, and every row that runs more processes than cores marked
    /// as such (it measures contention, not scaling).
    struct ExperimentScaling: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "scaling",
            abstract: "Examples/s, updates/s and time to a target loss against workers, per mode, over trials.",
            discussion: """
                For every trial, mode M and worker count N (in that order, so that slow drifts of the \
                machine's load spread over all rows), runs `dsgd run --model MODEL --data D ... --mode M \
                --workers N --batch B --lr N x RATE --lr-scaling linear --epochs E`: every run applies \
                RATE per minibatch of B examples (RATE / B per example) and the same example budget. \
                Reports the median and range over trials of summary.json's examples_per_second, of \
                updates per training second and of the training time to the first evaluation at or \
                below TARGET = --target-fraction x E(w0); speedup is the median examples/s over the \
                1-worker median of the same mode, efficiency the speedup over N. Rows whose N + 1 \
                processes (the coordinator too) exceed the CPU count are marked: they measure contention.
                """)

        @OptionGroup var output: ExperimentOutputOptions

        @Option(parsing: .upToNextOption, help: "Modes (default: sync async).")
        var modes: [TrainingMode] = [.sync, .async]

        @Option(name: .customLong("workers"), parsing: .upToNextOption, help: "Worker counts, 1 among them (default 1 2 4 8; --quick: 1 2).")
        var workerCounts: [Int] = []

        @Option(help: "Trials of every (mode, workers) (default 3; --quick: 2).")
        var trials: Int?

        @Option(help: "Model.")
        var model: ModelKind = .mlp

        @Option(parsing: .upToNextOption, help: "Hidden layer widths of --model mlp (default 128 128; --quick: 32).")
        var hidden: [Int] = []

        @Option(help: "Data set.")
        var data: String = "synthetic-logistic"

        @Option(help: "Examples of a synthetic data set (default 16384; --quick: 2048).")
        var examples: Int?

        @Option(help: "Features of a synthetic data set (default 64; --quick: 16).")
        var features: Int?

        @Option(help: "Examples per minibatch per worker, B (default 64; --quick: 32).")
        var batch: Int?

        @Option(help: "The example budget of every run, in epochs (default 8; --quick: 2).")
        var epochs: Double?

        @Option(help: "Seed of the data set, the initial parameters and the sharding.")
        var seed: UInt64 = 1

        @Option(help: "The rate per minibatch update of B examples: every run uses --lr workers x this with --lr-scaling linear.")
        var rate: Double = 0.1

        @Option(help: "ssp: --staleness s.")
        var staleness: Int = 2

        @Option(help: "local and easgd: --sync-every H (easgd's rho makes workers x lr x rho = 0.9).")
        var syncEvery: Int = 4

        @Option(help: "The target loss as a fraction of the loss at the initial parameters, E(w0) (default 0.2; --quick: 0.35).")
        var targetFraction: Double?

        @Option(help: "Most evaluations of one run (every run evaluates at the same example counts).")
        var evaluations: Int = 48

        func validate() throws {
            if modes.isEmpty || Set(modes).count != modes.count { throw ValidationError("--modes must name distinct modes") }
            if !workerCounts.isEmpty {
                if workerCounts.contains(where: { $0 < 1 }) || Set(workerCounts).count != workerCounts.count {
                    throw ValidationError("--workers must be distinct counts of at least 1")
                }
                if !workerCounts.contains(1) { throw ValidationError("--workers must include 1 (the baseline of the speedup)") }
            }
            if let t = trials, t < 1 { throw ValidationError("--trials must be at least 1") }
            if let e = epochs, !(e > 0) { throw ValidationError("--epochs must be positive") }
            if !(rate > 0 && rate.isFinite) { throw ValidationError("--rate must be positive") }
            if let f = targetFraction, !(f > 0 && f < 1) { throw ValidationError("--target-fraction must be in (0, 1)") }
            if evaluations < 2 { throw ValidationError("--evaluations must be at least 2") }
            if syncEvery < 1 || staleness < 0 { throw ValidationError("--sync-every must be at least 1 and --staleness 0 or more") }
        }

        /// The settings after `--quick` and the defaults.
        var resolved: (workers: [Int], trials: Int, hidden: [Int], examples: Int, features: Int, batch: Int, epochs: Double, targetFraction: Double) {
            let q = output.quick
            return ((workerCounts.isEmpty ? (q ? [1, 2] : [1, 2, 4, 8]) : workerCounts).sorted(), trials ?? (q ? 2 : 3),
                    hidden.isEmpty ? (q ? [32] : [128, 128]) : hidden, examples ?? (q ? 2048 : 16384), features ?? (q ? 16 : 64),
                    batch ?? (q ? 32 : 64), epochs ?? (q ? 2 : 8), targetFraction ?? (q ? 0.35 : 0.2))
        }

        /// The job of `mode` with `workers` workers (evaluation cadence not yet set).
        func job(mode: TrainingMode, workers n: Int) -> JobConfig {
            let s = resolved
            var j = JobConfig()
            j.mode = mode
            j.workers = n
            j.model = model
            j.hidden = s.hidden
            j.dataset = DatasetSpec(name: data, examples: s.examples, features: s.features, seed: seed)
            j.seed = seed
            j.batch = s.batch
            j.learningRate = Float(Double(n) * rate)
            j.lrScaling = .linear
            j.epochs = s.epochs
            j.evaluation = .inline  // the training clock stops while the loop evaluates, and no thread competes with the workers
            if mode == .ssp { j.staleness = staleness }
            if mode.takesLocalSteps { j.syncEvery = syncEvery }
            // easgd: each worker's rate per update is `rate`; alpha = rate x rho = 0.9 / n.
            if mode == .easgd { j.rho = Float(0.9 / (Double(n) * Double(j.effectiveLearningRate))) }
            return j
        }

        /// The `dsgd run` flags of `mode` beyond `--mode` ("--staleness 2").
        func policyFlags(_ j: JobConfig) -> String {
            switch j.mode {
            case .ssp: return " --staleness \(j.staleness)"
            case .local: return " --sync-every \(j.syncEvery)"
            case .easgd: return " --sync-every \(j.syncEvery) --rho \(j.rho)"
            case .sync, .async: return ""
            }
        }

        func run() throws {
            let name = "scaling"
            let s = resolved
            let cpus = MachineInfo.cpuCount
            let loadBefore = MachineInfo.loadAverage()
            var planned: [TrainingMode: [Int: JobConfig]] = [:]
            for m in modes {
                for n in s.workers {
                    let j = job(mode: m, workers: n)
                    if let problem = j.problems().first { throw CleanFailure("\(m.rawValue), \(n) workers: \(problem)") }
                    planned[m, default: [:]][n] = j
                }
            }
            let all = planned.values.flatMap(\.values)
            let budget = try ExampleGrid.budget(of: all, epochs: s.epochs)
            let spacing = ExampleGrid.spacing(of: all, budget: budget, maxEvaluations: evaluations)

            // E(w0): every run starts from the same parameters on the same training set.
            let probe = job(mode: .sync, workers: 1)
            let set = try probe.trainingData()
            let w0 = try probe.initialParameters()
            let initial = w0.withUnsafeBufferPointer { probe.makeModel().loss(parameters: $0, data: set) }
            guard initial.isFinite, initial > 0 else { throw CleanFailure("the loss at the initial parameters is \(initial), not positive") }
            let targetFraction = s.targetFraction
            let target = targetFraction * initial

            let report = try ExperimentReport(directory: output.directory(name: name))
            var runs = ExperimentRuns(root: report.runsDirectory)
            experimentProgress(name, "\(model.rawValue) on \(data), modes \(modes.map(\.rawValue).joined(separator: " ")), workers \(s.workers.map(String.init).joined(separator: " ")), \(s.trials) trials, \(budget) examples a run; \(cpus) CPUs, load \(loadBefore.map { String(format: "%.2f", $0) }.joined(separator: " ")); target \(String(format: "%.6g", target)) (\(targetFraction) x E(w0) \(String(format: "%.6g", initial)))")

            var trialsOf: [TrainingMode: [Int: [ScalingResults.Trial]]] = [:]
            for t in 1...s.trials {
                for m in modes {
                    for n in s.workers {
                        let j = ExampleGrid.evaluating(planned[m]![n]!, every: spacing)
                        let runName = "\(m.rawValue)-w\(n)-t\(t)"
                        let r = try runs.run(j, name: runName)
                        let sum = r.summary
                        let training = sum.trainingSeconds ?? sum.wallSeconds
                        let reached = r.record.firstPoint(reaching: target)
                        let trial = ScalingResults.Trial(
                            trial: t, run: "runs/" + runName, status: sum.status.rawValue, steps: sum.steps, examples: sum.examples,
                            trainingSeconds: training, examplesPerSecond: sum.examplesPerSecond,
                            updatesPerSecond: training > 0 ? Double(sum.steps) / training : 0,
                            timeToTarget: reached?.time, examplesToTarget: reached?.examples, stalenessMean: sum.stalenessMean)
                        trialsOf[m, default: [:]][n, default: []].append(trial)
                        experimentProgress(name, "\(m.rawValue) \(n) worker\(n == 1 ? "" : "s") trial \(t): \(sum.status.rawValue), \(ExperimentFormat.count(sum.examplesPerSecond)) examples/s, \(reached.map { String(format: "target at %.3f s", $0.time) } ?? "target not reached") [run \(runs.count), \(String(format: "%.0f", runs.elapsed)) s]")
                    }
                }
            }
            let loadAfter = MachineInfo.loadAverage()

            var rows: [ScalingResults.Row] = []
            for m in modes {
                for n in s.workers {
                    let j = planned[m]![n]!
                    rows.append(ScalingResults.Row(mode: m.rawValue, workers: n, cpus: cpus, learningRate: Double(j.learningRate),
                                                   effectiveLearningRate: Double(j.effectiveLearningRate), options: policyFlags(j).trimmingCharacters(in: .whitespaces),
                                                   trials: trialsOf[m]![n]!))
                }
            }
            rows = ScalingResults.withSpeedups(rows)

            let example = planned[modes[0]]![s.workers.last!]!
            let dataFlags = "--data \(data) --examples \(s.examples) --features \(s.features)"
            let modelFlags = "--model \(model.rawValue)" + (model == .mlp ? " --hidden \(s.hidden.map(String.init).joined(separator: " "))" : "")
            let results = ScalingResults(
                command: ExperimentReport.invocation,
                resolvedCommand: "dsgd experiment scaling --modes \(modes.map(\.rawValue).joined(separator: " ")) --workers \(s.workers.map(String.init).joined(separator: " ")) --trials \(s.trials) --model \(model.rawValue)\(model == .mlp ? " --hidden \(s.hidden.map(String.init).joined(separator: " "))" : "") --data \(data) --examples \(s.examples) --features \(s.features) --batch \(s.batch) --epochs \(String(format: "%g", s.epochs)) --seed \(seed) --rate \(String(format: "%g", rate)) --staleness \(staleness) --sync-every \(syncEvery) --target-fraction \(String(format: "%g", targetFraction)) --evaluations \(evaluations) --out \(report.directory)",
                runCommand: "dsgd run \(modelFlags) \(dataFlags) --seed \(seed) --batch \(s.batch) --lr LR --lr-scaling linear --epochs \(String(format: "%g", s.epochs)) --eval-every K --evaluation inline --mode M [POLICY] --workers N",
                exampleCommand: "dsgd run \(modelFlags) \(dataFlags) --seed \(seed) --batch \(s.batch) --lr \(example.learningRate) --lr-scaling linear --epochs \(String(format: "%g", s.epochs)) --eval-every \(ExampleGrid.evaluating(example, every: spacing).evalEvery) --evaluation inline --mode \(example.mode.rawValue)\(policyFlags(example)) --workers \(example.workers)",
                cpuCount: cpus, cpuModel: MachineInfo.cpuModel, loadBefore: loadBefore, loadAfter: loadAfter,
                model: model.rawValue, hidden: model == .mlp ? s.hidden : nil, data: data, examples: s.examples, features: s.features, batch: s.batch,
                epochs: s.epochs, budgetExamples: budget, evalExamples: spacing, seed: seed, rate: rate, targetFraction: targetFraction,
                initialLoss: initial, target: target, modes: modes.map(\.rawValue), workers: s.workers, trials: s.trials,
                rows: rows, runs: runs.count, seconds: runs.elapsed)
            try ScalingReport(results: results).write(to: report)
            experimentProgress(name, "\(runs.count) runs in \(String(format: "%.0f", runs.elapsed)) s; report in \(report.directory)/report.md")
        }
    }
}

/// The machine an experiment runs on, as a report states it: CPU count, CPU model, load.
enum MachineInfo {
    /// `ProcessInfo.activeProcessorCount`.
    static var cpuCount: Int { ProcessInfo.processInfo.activeProcessorCount }

    /// The first "model name" of /proc/cpuinfo, or nil where there is none.
    static var cpuModel: String? {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("model name") {
            if let colon = line.firstIndex(of: ":") { return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces) }
        }
        return nil
    }

    /// The 1, 5 and 15 minute load averages of /proc/loadavg (empty where there is none).
    static func loadAverage() -> [Double] {
        guard let text = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8) else { return [] }
        return text.split(separator: " ").prefix(3).compactMap { Double($0) }
    }
}
