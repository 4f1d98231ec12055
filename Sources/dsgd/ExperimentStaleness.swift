import ArgumentParser
import DSGDCluster
import DSGDCore
import Foundation

extension DSGD {
    /// `dsgd experiment staleness`: the largest stable learning rate of gradient descent with
    /// gradients exactly tau steps stale, found by bisection over real cluster runs, beside the
    /// bound of the delayed recurrence `w_{t+1} = w_t - eta H w_{t-tau}`,
    /// `eta_max(tau) = 2 sin(pi / (2 (2 tau + 1))) / lambda_max`, with and without the
    /// staleness-aware rate `--lr-staleness inverse` (eta / tau).
    ///
    /// Every run is full-batch gradient descent on `lecun-2d` with one async worker and
    /// `--delay tau` (README, "Update policies": one worker's staleness is exactly tau after the
    /// first tau updates), so the recurrence above is exactly what runs. lambda_max comes from
    /// `Curvature.analyze` on the same training set.
    struct ExperimentStaleness: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "staleness",
            abstract: "Largest stable learning rate against gradient staleness tau, measured by bisection, beside 2 sin(pi/(2(2 tau+1)))/lambda_max.",
            discussion: """
                For each tau, runs `dsgd run --model linear --data lecun-2d --examples N --workers 1 \
                --batch N --mode async --delay tau --lr ETA --steps S` at the rates a bisection picks \
                (from 1.5/lambda_max: doubled until unstable or halved until stable, then bisected in \
                log scale), once with the same rate for every update and once with \
                --lr-staleness inverse. A rate is stable when its run completes and the training loss \
                after S steps is below the loss at step 0. Each bisection is followed by two checks, \
                at 0.95x and 1.05x the predicted limit.
                """)

        @OptionGroup var output: ExperimentOutputOptions

        @Option(parsing: .upToNextOption, help: "Staleness values tau (default 0 ... 7; --quick: 0 ... 4).")
        var taus: [Int] = []

        @Option(help: "Steps of every run, S (default 3000; --quick: 600).")
        var steps: Int?

        @Option(help: "Relative precision of the bisection: it stops when smallest unstable / largest stable <= 1 + this (default 0.01; --quick: 0.05).")
        var precision: Double?

        @Flag(inversion: .prefixedNo, help: "After each bisection, run 0.95x and 1.05x the predicted limit (default: on; --quick: off).")
        var checks: Bool?

        @Option(help: "Examples of lecun-2d (and the batch: full-batch gradient descent).")
        var examples: Int = 100

        @Option(help: "Seed of the data set.")
        var seed: UInt64 = 1

        func validate() throws {
            if taus.contains(where: { $0 < 0 }) { throw ValidationError("--taus must be 0 or more") }
            if let s = steps, s < 10 { throw ValidationError("--steps must be at least 10 (got \(s))") }
            if let p = precision, !(p > 0 && p < 1) { throw ValidationError("--precision must be in (0, 1) (got \(p))") }
            if examples < 2 { throw ValidationError("--examples must be at least 2 (got \(examples))") }
        }

        /// The settings after `--quick` and the defaults.
        var resolved: (taus: [Int], steps: Int, precision: Double, checks: Bool) {
            (taus.isEmpty ? Array(0...(output.quick ? 4 : 7)) : taus,
             steps ?? (output.quick ? 600 : 3000),
             precision ?? (output.quick ? 0.05 : 0.01),
             checks ?? !output.quick)
        }

        /// The bisection's first rate, times 1/lambda_max: between the bounds of tau = 0 and 1 and no
        /// power-of-two multiple of any bound (`1/lambda_max` doubled would land exactly on the
        /// marginally stable `2/lambda_max`, and is itself the bound of tau = 1).
        static let startFactor = 1.5

        /// The bound of the delayed recurrence: `2 sin(pi / (2 (2 tau + 1))) / lambda_max`.
        static func bound(tau: Int, lambdaMax: Double) -> Double {
            2 * sin(Double.pi / Double(2 * (2 * tau + 1))) / lambdaMax
        }

        /// The job of one run at rate `eta`.
        func job(tau: Int, inverse: Bool, eta: Float, steps: Int) -> JobConfig {
            var j = JobConfig()
            j.mode = .async
            j.workers = 1
            j.model = .linear
            j.dataset = DatasetSpec(name: "lecun-2d", examples: examples, features: 2, seed: seed)
            j.seed = seed
            j.batch = examples
            j.epochs = nil
            j.steps = steps
            j.evalEvery = max(1, steps / 30)
            j.evaluation = .inline
            j.delay = tau
            j.lrStaleness = inverse ? .inverse : .none
            j.learningRate = eta
            return j
        }

        func run() throws {
            let (taus, steps, precision, checks) = resolved
            let report = try ExperimentReport(directory: output.directory(name: "staleness"))
            var runs = ExperimentRuns(root: report.runsDirectory)
            let name = "staleness"

            // lambda_max of the training set exactly as the runs train on it.
            let template = job(tau: 0, inverse: false, eta: 1, steps: steps)
            let data = try template.trainingData()
            let curvature = Curvature.analyze(model: template.makeModel(), parameters: try template.initialParameters(), data: data, seed: seed)
            let lambdaMax = curvature.summary.lambdaMax
            guard lambdaMax.isFinite, lambdaMax > 0 else { throw CleanFailure("lambda_max of lecun-2d is \(lambdaMax), not positive") }
            experimentProgress(name, "lambda_max \(ExperimentFormat.rate(lambdaMax)) (\(curvature.method.rawValue), \(data.examples) examples); taus \(taus.map(String.init).joined(separator: " ")), \(steps) steps a run, precision \(precision)")

            /// Runs one rate and says what came of it (stable or not, the losses, the run directory).
            func probe(tau: Int, inverse: Bool, rate: Double, label: String) throws -> StalenessResults.Probe {
                let eta = Float(rate)
                let runName = "tau\(tau)-\(inverse ? "inverse" : "plain")-\(label)"
                let r = try runs.run(job(tau: tau, inverse: inverse, eta: eta, steps: steps), name: runName)
                let initial = r.initialLoss, final = r.summary.finalLoss
                let stable = r.summary.status == .completed && final != nil && initial != nil && final! < initial!
                let loss = { (x: Double?) in x.map { String(format: "%.4g", $0) } ?? "n/a" }
                let outcome = r.summary.status != .completed
                    ? "unstable: \(r.summary.status.rawValue) at step \(r.summary.steps)\(r.summary.status == .failed ? " (diverged)" : "")"
                    : "\(stable ? "stable" : "unstable"), loss \(loss(final)) after \(r.summary.steps) steps (\(loss(initial)) at step 0)"
                experimentProgress(name, "tau \(tau) \(inverse ? "eta/tau" : "plain  ") lr \(ExperimentFormat.rate(Double(eta))): \(outcome) [run \(runs.count), \(String(format: "%.0f", runs.elapsed)) s]")
                return StalenessResults.Probe(rate: Double(eta), stable: stable, run: "runs/" + runName,
                                              status: r.summary.status.rawValue, steps: r.summary.steps,
                                              initialLoss: initial, finalLoss: final)
            }

            var rows: [StalenessResults.Row] = []
            for tau in taus {
                let bound = Self.bound(tau: tau, lambdaMax: lambdaMax)
                var searches: [StalenessResults.Search] = []
                for inverse in [false, true] {
                    var probes: [StalenessResults.Probe] = []
                    let search = try StabilitySearch(start: Self.startFactor / lambdaMax, precision: precision) { rate, i in
                        let p = try probe(tau: tau, inverse: inverse, rate: rate, label: String(format: "%02d", i + 1))
                        probes.append(p)
                        return p.stable
                    }
                    // The limit the recurrence predicts: eta_max(tau), or tau x eta_max(tau) when each
                    // stale gradient is applied at eta / tau.
                    let predicted = inverse && tau >= 1 ? Double(tau) * bound : bound
                    let below = checks ? try probe(tau: tau, inverse: inverse, rate: 0.95 * predicted, label: "check-0.95") : nil
                    let above = checks ? try probe(tau: tau, inverse: inverse, rate: 1.05 * predicted, label: "check-1.05") : nil
                    searches.append(StalenessResults.Search(
                        predicted: predicted, largestStable: search.largestStable.map { Double(Float($0)) },
                        smallestUnstable: search.smallestUnstable.map { Double(Float($0)) },
                        ratioToPredicted: search.largestStable.map { Double(Float($0)) / predicted },
                        checkBelowStable: below?.stable, checkAboveStable: above?.stable, probes: probes + [below, above].compactMap { $0 }))
                }
                rows.append(StalenessResults.Row(tau: tau, bound: bound, plain: searches[0], inverse: searches[1]))
            }

            let results = StalenessResults(
                command: ExperimentReport.invocation,
                resolvedCommand: "dsgd experiment staleness --taus \(taus.map(String.init).joined(separator: " ")) --steps \(steps) --precision \(precision) \(checks ? "--checks" : "--no-checks") --examples \(examples) --seed \(seed) --out \(report.directory)",
                runCommand: "dsgd run --model linear --data lecun-2d --examples \(examples) --seed \(seed) --workers 1 --batch \(examples) --mode async --delay TAU [--lr-staleness inverse] --lr ETA --steps \(steps) --eval-every \(template.evalEvery) --evaluation inline",
                lambdaMax: lambdaMax, lambdaMethod: curvature.method.rawValue, examples: examples, seed: seed, steps: steps, evalEvery: template.evalEvery,
                precision: precision, runs: runs.count, seconds: runs.elapsed, rows: rows)
            try StalenessReport(results: results).write(to: report)
            experimentProgress(name, "\(runs.count) runs in \(String(format: "%.0f", runs.elapsed)) s; report in \(report.directory)/report.md")
        }
    }
}
