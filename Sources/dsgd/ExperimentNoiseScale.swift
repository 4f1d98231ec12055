import ArgumentParser
import DSGDCluster
import DSGDCore
import Foundation

extension DSGD {
    /// `dsgd experiment noise-scale`: steps to a target loss against the global batch size of
    /// synchronous SGD, each batch at its best learning rate from a grid, beside the gradient
    /// noise scale B_simple that the coordinator estimates during those runs (`--noise-scale`,
    /// the two-batch estimator). McCandlish et al. 2018 predict steps S = S_min (1 + B_noise / B):
    /// a knee near B_noise, past which a larger batch saves few steps and costs more examples.
    struct ExperimentNoiseScale: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "noise-scale",
            abstract: "Steps to a target loss against the global batch, and the gradient noise scale B_simple measured in training.",
            discussion: """
                For every global batch B and every rate in --rates (times 1/lambda_max), runs `dsgd run \
                --model linear --data D --workers N --batch B/N --lr ETA --noise-scale --target-loss T \
                --eval-every 1 --evaluation inline` and keeps the rate with the fewest steps to the \
                target. B_simple near the target pools the best runs of the batches B <= n/16 (larger \
                minibatches are a large part of the set, and drawn without replacement their noise is \
                smaller than the estimator assumes): the sums of metrics noise_trace and \
                noise_gradient_square over the steps taken from parameters within twice the target's \
                excess over E*. The report fits S = S_min (1 + B_crit / B) to the best steps by least \
                squares in 1/B and sets B_crit beside it.
                """)

        @OptionGroup var output: ExperimentOutputOptions

        @Option(parsing: .upToNextOption, help: "Global batch sizes B (multiples of --workers; default 2 8 32 128 512 2048, --quick: 2 16 128 512).")
        var batches: [Int] = []

        @Option(parsing: .upToNextOption, help: "Learning rates to try at each B, times 1/lambda_max (default 1 0.5 0.25 0.125 0.0625 0.03125, --quick: 1 0.25 0.0625).")
        var rates: [Double] = []

        @Option(help: "Data set (a regression set for --model linear): quadratic, synthetic-linear or lecun-2d.")
        var data: String = "quadratic"

        @Option(help: "Examples of the set n (default 8192, --quick: 2048).")
        var examples: Int?

        @Option(help: "Features of the set (default 32, --quick: 16).")
        var features: Int?

        @Option(help: "quadratic: condition number of the inputs' second-moment matrix.")
        var condition: Double = 10

        @Option(help: "Seed of the data set and the runs.")
        var seed: UInt64 = 1

        @Option(help: "Workers of every run (the estimator needs 2 or more).")
        var workers: Int = 2

        @Option(help: "The target: E* x (1 + excess), near the optimum, where the gradient noise matters.")
        var excess: Double = 0.1

        @Option(help: "Most updates of one run (a run that reaches no target stops here).")
        var maxSteps: Int = 4000

        func validate() throws {
            if workers < 2 { throw ValidationError("--workers must be at least 2: the estimator compares each worker's gradient with their average") }
            if batches.contains(where: { $0 < workers || $0 % workers != 0 }) {
                throw ValidationError("--batches must be multiples of --workers (\(workers)): each worker computes B / N examples")
            }
            if rates.contains(where: { !($0 > 0 && $0 < 2) }) { throw ValidationError("--rates must be in (0, 2): times 1/lambda_max, below 2/lambda_max") }
            if !["quadratic", "synthetic-linear", "lecun-2d"].contains(data) {
                throw ValidationError("--data must be quadratic, synthetic-linear or lecun-2d (regression sets with a least-squares optimum; got \(data))")
            }
            if let e = examples, e < 2 * workers { throw ValidationError("--examples must be at least 2 x --workers") }
            if let f = features, f < 1 { throw ValidationError("--features must be at least 1") }
            if !(excess > 0 && excess.isFinite) { throw ValidationError("--excess must be positive (got \(excess))") }
            if maxSteps < 1 { throw ValidationError("--max-steps must be at least 1") }
        }

        var resolvedBatches: [Int] {
            if !batches.isEmpty { return batches.sorted() }
            return (output.quick ? [2, 16, 128, 512] : [2, 8, 32, 128, 512, 2048]).map { max($0, workers) / workers * workers }
        }
        var resolvedRates: [Double] {
            if !rates.isEmpty { return rates.sorted(by: >) }
            return output.quick ? [1, 0.25, 0.0625] : [1, 0.5, 0.25, 0.125, 0.0625, 0.03125]
        }
        var resolvedExamples: Int { examples ?? (output.quick ? 2048 : 8192) }
        var resolvedFeatures: Int { features ?? (output.quick ? 16 : 32) }

        /// The job of one run at global batch `batch` and rate `rate`.
        func job(batch: Int, rate: Double, target: Double) -> JobConfig {
            var j = JobConfig()
            j.mode = .sync
            j.workers = workers
            j.model = .linear
            j.dataset = DatasetSpec(name: data, examples: resolvedExamples, features: resolvedFeatures, seed: seed, condition: condition)
            j.seed = seed
            j.batch = batch / workers
            j.learningRate = Float(rate)
            j.epochs = nil
            j.steps = maxSteps
            j.targetLoss = target
            j.evalEvery = 1
            j.evaluation = .inline
            j.noiseScale = true
            return j
        }

        func run() throws {
            let name = "noise-scale"
            let report = try ExperimentReport(directory: output.directory(name: name))
            var runs = ExperimentRuns(root: report.runsDirectory)
            let bs = resolvedBatches, factors = resolvedRates

            let problem = try LeastSquaresProblem(job: job(batch: bs[0], rate: 1, target: 0), what: data)
            let lambda = problem.lambdaMax, best = problem.optimum, initial = problem.initialLoss
            let target = best * (1 + excess)
            // "Near the target": parameters whose loss is within twice the target's excess over E*.
            let near = best * (1 + 2 * excess)
            guard target < initial else { throw CleanFailure("the target \(target) is above the starting loss \(initial): use a smaller --excess") }
            experimentProgress(name, "\(data), \(resolvedExamples) examples x \(resolvedFeatures) features, \(workers) workers, B \(bs.map(String.init).joined(separator: " ")), rates \(factors.map { String(format: "%g", $0) }.joined(separator: " ")) / lambda_max; lambda_max \(ExperimentFormat.rate(lambda)), E* \(String(format: "%.6g", best)), target \(String(format: "%.6g", target))")

            var rows: [NoiseScaleResults.Row] = []
            for b in bs {
                var outcomes: [NoiseScaleResults.Outcome] = []
                for f in factors {
                    let rate = Double(Float(f / lambda))
                    let runName = "B\(b)-lr\(String(format: "%g", f))"
                    let r = try runs.run(job(batch: b, rate: rate, target: target), name: runName)
                    let reached = r.summary.status == .completed && r.summary.stepsToTarget != nil
                    let steps = r.summary.stepsToTarget ?? r.summary.steps
                    outcomes.append(NoiseScaleResults.Outcome(
                        rateFactor: f, learningRate: rate, run: "runs/" + runName, reached: reached, status: r.summary.status.rawValue,
                        steps: steps, examples: r.summary.examplesToTarget ?? r.summary.examples,
                        nearTarget: reached ? Self.noiseSums(of: r.record, upTo: steps, lossAtMost: near) : nil, runNoiseScale: r.summary.noiseScale))
                    experimentProgress(name, "B \(b) at \(String(format: "%g", f))/lambda_max: \(reached ? "target after \(steps) steps" : "target NOT reached (\(r.summary.status.rawValue), \(r.summary.steps) steps)") [run \(runs.count), \(String(format: "%.0f", runs.elapsed)) s]")
                }
                rows.append(NoiseScaleResults.Row(batch: b, outcomes: outcomes))
            }

            let results = NoiseScaleResults(
                command: ExperimentReport.invocation,
                resolvedCommand: "dsgd experiment noise-scale --batches \(bs.map(String.init).joined(separator: " ")) --rates \(factors.map { String(format: "%g", $0) }.joined(separator: " ")) --data \(data) --examples \(resolvedExamples) --features \(resolvedFeatures) --condition \(String(format: "%g", condition)) --seed \(seed) --workers \(workers) --excess \(String(format: "%g", excess)) --max-steps \(maxSteps) --out \(report.directory)",
                runCommand: "dsgd run --model linear --data \(data) --examples \(resolvedExamples) --features \(resolvedFeatures)\(data == "quadratic" ? " --condition \(String(format: "%g", condition))" : "") --seed \(seed) --workers \(workers) --batch $((B / \(workers))) --lr $ETA --noise-scale --target-loss \(String(format: "%.17g", target)) --steps \(maxSteps) --eval-every 1 --evaluation inline",
                data: data, examples: resolvedExamples, features: resolvedFeatures, condition: data == "quadratic" ? condition : nil, seed: seed, workers: workers,
                lambdaMax: lambda, optimum: best, initialLoss: initial, target: target, excess: excess, maxSteps: maxSteps,
                rows: rows, runs: runs.count, seconds: runs.elapsed)
            try NoiseScaleReport(results: results).write(to: report)
            experimentProgress(name, "\(runs.count) runs in \(String(format: "%.0f", runs.elapsed)) s; report in \(report.directory)/report.md")
        }

        /// The sums of a run's metrics points' `noise_trace` and `noise_gradient_square` over its
        /// steps up to `steps` taken from parameters whose loss was at most `ceiling` (with
        /// `--eval-every 1`, the point before each step has the loss of the parameters that step's
        /// gradients were computed on); nil when no step qualifies.
        static func noiseSums(of record: RunRecord, upTo steps: Int, lossAtMost ceiling: Double) -> NoiseScaleResults.Sums? {
            var sums = NoiseScaleResults.Sums(trace: 0, gradientSquare: 0, steps: 0)
            for (before, m) in zip(record.metrics, record.metrics.dropFirst()) {
                guard m.step <= steps, m.step == before.step + 1, let l = before.loss, l <= ceiling,
                      let t = m.object["noise_trace"]?.double, let g = m.object["noise_gradient_square"]?.double else { continue }
                sums.trace += t
                sums.gradientSquare += g
                sums.steps += 1
            }
            return sums.steps > 0 ? sums : nil
        }
    }
}
