import ArgumentParser
import DSGDCluster
import DSGDCore
import Foundation

/// The six set-ups `dsgd experiment sync-vs-async` compares: an update policy with its options.
enum PolicySetup: String, CaseIterable, Codable {
    case sync, async, ssp
    case syncBackup = "sync-backup"
    case local, easgd

    /// The `--mode` of its run.
    var mode: TrainingMode {
        switch self {
        case .sync, .syncBackup: return .sync
        case .async: return .async
        case .ssp: return .ssp
        case .local: return .local
        case .easgd: return .easgd
        }
    }
}

extension DSGD {
    /// `dsgd experiment sync-vs-async`: one task, one seed and one example budget under sync,
    /// async, ssp, sync with a backup worker, local SGD and EASGD, all at the same learning rate
    /// per example (`--lr-scaling linear`), timed to a target loss E* + gap (E(w0) - E*) above the
    /// least-squares optimum E* (`LeastSquares`).
    struct ExperimentSyncVsAsync: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "sync-vs-async",
            abstract: "One task and example budget under sync, async, ssp, backup workers, local SGD and EASGD at the same rate per example.",
            discussion: """
                Runs `dsgd run --model linear --data D ... --workers N --batch B --lr ETA --lr-scaling linear \
                --epochs E --mode M` for M = sync, async, ssp (--staleness), sync --backup-workers, local \
                (--sync-every) and easgd (--sync-every, --rho). ETA = --lr-factor / lambda_max is the rate \
                of a sync step over N x B examples; with --lr-scaling linear an update of m examples \
                applies ETA x m / (N B), the same rate per example in every mode. Every run evaluates at \
                the same example counts; examples and seconds to the target come from the first \
                evaluation at or below E* + gap x (E(w0) - E*).
                """)

        @OptionGroup var output: ExperimentOutputOptions

        @Option(help: "Data set (a regression set for --model linear): quadratic, synthetic-linear or lecun-2d.")
        var data: String = "quadratic"

        @Option(help: "Examples of the data set (default 16384; --quick: 4096).")
        var examples: Int?

        @Option(help: "Features of the data set.")
        var features: Int = 32

        @Option(help: "quadratic: condition number of the inputs' second-moment matrix (1000: its slow directions make the target take tens of thousands of examples).")
        var condition: Double = 1000

        @Option(help: "Workers of every run (default 4; --quick: 2).")
        var workers: Int?

        @Option(help: "Examples per minibatch per worker, B.")
        var batch: Int = 32

        @Option(help: "The example budget of every run, in epochs.")
        var epochs: Double = 24

        @Option(help: "Seed of the data set, sharding and everything random.")
        var seed: UInt64 = 1

        @Option(help: "--lr, the rate of a sync step over workers x batch examples, times 1/lambda_max.")
        var lrFactor: Double = 1

        @Option(help: "ssp: how many gradients a worker may run ahead of the slowest.")
        var staleness: Int = 2

        @Option(help: "The backup-worker run: --backup-workers b.")
        var backupWorkers: Int = 1

        @Option(help: "local and easgd: local SGD steps per exchange, H.")
        var syncEvery: Int = 4

        @Option(help: "easgd: the elastic coefficient (default 0.9 / (workers x easgd's rate per update): workers x alpha = 0.9, the beta of Zhang et al. 2015).")
        var rho: Double?

        @Option(help: "The target: E* + gap x (E(w0) - E*).")
        var gap: Double = 0.001

        @Option(help: "Most evaluations of one run (every run evaluates at the same example counts).")
        var evaluations: Int = 200

        func validate() throws {
            if !["quadratic", "synthetic-linear", "lecun-2d"].contains(data) {
                throw ValidationError("--data must be quadratic, synthetic-linear or lecun-2d (regression sets with a least-squares optimum; got \(data))")
            }
            if let w = workers, w < 2 { throw ValidationError("--workers must be at least 2 (got \(w))") }
            if !(epochs > 0) { throw ValidationError("--epochs must be positive") }
            if batch < 1 { throw ValidationError("--batch must be at least 1") }
            if !(lrFactor > 0 && lrFactor < 2) { throw ValidationError("--lr-factor must be in (0, 2): times 1/lambda_max, below 2/lambda_max") }
            if staleness < 0 { throw ValidationError("--staleness must be 0 or more") }
            if backupWorkers < 1 || backupWorkers >= resolvedWorkers { throw ValidationError("--backup-workers must be in 1 ... workers - 1 (got \(backupWorkers))") }
            if syncEvery < 1 { throw ValidationError("--sync-every must be at least 1") }
            if let r = rho, !(r > 0) { throw ValidationError("--rho must be positive") }
            if !(gap > 0 && gap < 1) { throw ValidationError("--gap must be in (0, 1) (got \(gap))") }
            if evaluations < 2 { throw ValidationError("--evaluations must be at least 2") }
        }

        /// `--workers`, or 4 (`--quick`: 2).
        var resolvedWorkers: Int { workers ?? (output.quick ? 2 : 4) }
        /// `--examples`, or 16384 (`--quick`: 4096).
        var resolvedExamples: Int { examples ?? (output.quick ? 4096 : 16384) }
        /// `--epochs`.
        var resolvedEpochs: Double { epochs }

        /// The job every set-up shares (sync, no policy options) at rate `lr`.
        func baseJob(lr: Float) -> JobConfig {
            var j = JobConfig()
            j.mode = .sync
            j.workers = resolvedWorkers
            j.model = .linear
            j.dataset = DatasetSpec(name: data, examples: resolvedExamples, features: features, seed: seed, condition: condition)
            j.seed = seed
            j.batch = batch
            j.learningRate = lr
            j.lrScaling = .linear
            j.epochs = resolvedEpochs
            j.evaluation = .inline  // the training clock stops while the loop evaluates
            return j
        }

        /// The job of `setup` and its policy flags as `dsgd run` spells them.
        func job(_ setup: PolicySetup, base: JobConfig, rho: Float) -> (job: JobConfig, flags: String) {
            var j = base
            j.mode = setup.mode
            switch setup {
            case .sync, .async: return (j, "")
            case .ssp: j.staleness = staleness; return (j, "--staleness \(staleness)")
            case .syncBackup: j.backupWorkers = backupWorkers; return (j, "--backup-workers \(backupWorkers)")
            case .local: j.syncEvery = syncEvery; return (j, "--sync-every \(syncEvery)")
            case .easgd: j.syncEvery = syncEvery; j.rho = rho; return (j, "--sync-every \(syncEvery) --rho \(rho)")
            }
        }

        func run() throws {
            let name = "sync-vs-async"
            let loadBefore = MachineInfo.loadAverage()
            let n = resolvedWorkers
            // lambda_max, the optimum and the loss at the start, in float64.
            let problem = try LeastSquaresProblem(job: baseJob(lr: 1), what: data)
            let lambda = problem.lambdaMax, best = problem.optimum, initial = problem.initialLoss
            let target = best + gap * (initial - best)
            let base = baseJob(lr: Float(lrFactor / lambda))
            var easgd = base
            easgd.mode = .easgd
            easgd.syncEvery = syncEvery
            let rho = Float(self.rho ?? 0.9 / (Double(n) * Double(easgd.effectiveLearningRate)))

            var planned = PolicySetup.allCases.map { job($0, base: base, rho: rho) }
            for (s, p) in zip(PolicySetup.allCases, planned) {
                if let problem = p.job.problems().first { throw CleanFailure("\(s.rawValue): \(problem)") }
            }
            let budget = try ExampleGrid.budget(of: planned.map(\.job), epochs: resolvedEpochs)
            let spacing = ExampleGrid.spacing(of: planned.map(\.job), budget: budget, maxEvaluations: evaluations)
            planned = planned.map { (ExampleGrid.evaluating($0.job, every: spacing), $0.flags) }

            let report = try ExperimentReport(directory: output.directory(name: name))
            var runs = ExperimentRuns(root: report.runsDirectory)
            experimentProgress(name, "\(data) (\(resolvedExamples) x \(features)), \(n) workers, batch \(batch), \(budget) examples a run (\(resolvedEpochs) epochs), --lr \(base.learningRate) (\(lrFactor)/lambda_max, lambda_max \(ExperimentFormat.rate(lambda))) --lr-scaling linear; E* \(String(format: "%.6g", best)), target \(String(format: "%.6g", target))")

            var setups: [SyncVsAsyncResults.Setup] = []
            var records: [RunRecord] = []
            for (setup, p) in zip(PolicySetup.allCases, planned) {
                let r = try runs.run(p.job, name: setup.rawValue)
                let s = r.summary
                let reached = r.record.firstPoint(reaching: target)
                let training = s.trainingSeconds ?? s.wallSeconds
                let effective = s.effectiveLearningRate ?? Double(p.job.effectiveLearningRate)
                let command = "dsgd run --model linear \(dataFlags) --seed \(seed) --workers \(n) --batch \(batch) --lr \(base.learningRate) --lr-scaling linear --epochs \(Self.number(resolvedEpochs)) --eval-every \(p.job.evalEvery) --evaluation inline --mode \(setup.mode.rawValue)" + (p.flags.isEmpty ? "" : " " + p.flags)
                setups.append(SyncVsAsyncResults.Setup(
                    name: setup.rawValue, mode: s.mode.rawValue, options: p.flags, run: "runs/" + setup.rawValue, command: command,
                    status: s.status.rawValue, workers: s.workers, learningRate: s.learningRate ?? Double(p.job.learningRate),
                    effectiveLearningRate: effective, examplesPerRateStep: p.job.examplesPerRateStep,
                    ratePerExample: effective / Double(p.job.examplesPerRateStep), examplesPerUpdate: p.job.examplesPerStep, evalEvery: p.job.evalEvery,
                    steps: s.steps, examples: s.examples, trainingSeconds: training, finalLoss: s.finalLoss,
                    examplesToTarget: reached?.examples, updatesToTarget: reached?.step, timeToTarget: reached?.time,
                    updatesPerSecond: training > 0 ? Double(s.steps) / training : nil, examplesPerSecond: s.examplesPerSecond,
                    stalenessMean: s.stalenessMean, stalenessMax: s.stalenessMax, bytesMoved: s.bytesMoved,
                    droppedGradients: s.droppedGradients, sspLeadMax: s.sspLeadMax))
                records.append(r.record)
                let outcome = reached.map { "target after \($0.examples) examples, \(String(format: "%.3f", $0.time)) s" } ?? "target NOT reached"
                experimentProgress(name, "\(setup.rawValue): \(s.status.rawValue), \(s.steps) updates, final loss \(s.finalLoss.map { String(format: "%.6g", $0) } ?? "n/a"); \(outcome) [run \(runs.count), \(String(format: "%.0f", runs.elapsed)) s]")
            }

            var results = SyncVsAsyncResults(
                command: ExperimentReport.invocation,
                resolvedCommand: "dsgd experiment sync-vs-async --data \(data) --examples \(resolvedExamples) --features \(features) --condition \(Self.number(condition)) --workers \(n) --batch \(batch) --epochs \(Self.number(resolvedEpochs)) --seed \(seed) --lr-factor \(Self.number(lrFactor)) --staleness \(staleness) --backup-workers \(backupWorkers) --sync-every \(syncEvery) --rho \(rho) --gap \(Self.number(gap)) --evaluations \(evaluations) --out \(report.directory)",
                data: data, examples: resolvedExamples, features: features, condition: condition, seed: seed, workers: n, batch: batch,
                epochs: resolvedEpochs, budgetExamples: budget, evalExamples: spacing, lambdaMax: lambda, lrFactor: lrFactor,
                learningRate: Double(base.learningRate), globalBatch: n * batch, ratePerExample: Double(base.learningRate) / Double(n * batch),
                staleness: staleness, backupWorkers: backupWorkers, syncEvery: syncEvery, rho: Double(rho),
                optimum: best, initialLoss: initial, gap: gap, target: target, setups: setups, runs: runs.count, seconds: runs.elapsed,
                cpuCount: MachineInfo.cpuCount, loadBefore: loadBefore, loadAfter: [])
            results.loadAfter = MachineInfo.loadAverage()
            try SyncVsAsyncReport(results: results, records: records).write(to: report)
            experimentProgress(name, "\(runs.count) runs in \(String(format: "%.0f", runs.elapsed)) s; report in \(report.directory)/report.md")
        }

        /// The data set's flags of `dsgd run`.
        var dataFlags: String {
            "--data \(data) --examples \(resolvedExamples)" + (data == "lecun-2d" ? "" : " --features \(features)")
                + (data == "quadratic" ? " --condition \(Self.number(condition))" : "")
        }

        /// `x` as `%g` prints it ("12", "0.001").
        static func number(_ x: Double) -> String { String(format: "%g", x) }
    }
}
