import ArgumentParser
import DSGDCluster
import DSGDCore
import Foundation

extension DSGD {
    /// `dsgd experiment redundancy`: examples to reach a target loss on a data set replicated k
    /// times, for full-batch gradient descent (one worker, a batch of the whole replicated set)
    /// and for minibatch SGD (one worker, a small batch), over a few seeds (Bottou, Curtis and
    /// Nocedal 2018, §3.3: replication leaves SGD's progress per update alone and multiplies
    /// the cost of every GD step by k).
    struct ExperimentRedundancy: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "redundancy",
            abstract: "Examples to a target loss against data replication k, full-batch GD against minibatch SGD.",
            discussion: """
                For every seed and k, runs `dsgd run --model linear --data D ... --replicate k --workers 1 \
                --target-loss T --eval-every 1 --evaluation inline` twice: with --batch k x N (full-batch gradient descent) \
                and with --batch B (SGD). Replicated data have the same loss at every parameter, so the \
                optimum E*, lambda_max and the target T = E* + gap x (E(w0) - E*) are those of the base \
                set; rates are multiples of 1/lambda_max. Examples to the target are summary.json's \
                `examples` when the run stops at the target.
                """)

        @OptionGroup var output: ExperimentOutputOptions

        @Option(parsing: .upToNextOption, help: "Replication factors k (default 1 2 4 8 16).")
        var ks: [Int] = [1, 2, 4, 8, 16]

        @Option(help: "Seeds 1 ... this many (data set and shuffling; default 3, --quick: 2).")
        var seeds: Int?

        @Option(help: "Data set (a regression set for --model linear): quadratic, synthetic-linear or lecun-2d.")
        var data: String = "quadratic"

        @Option(help: "Examples of the base set, N.")
        var examples: Int = 100

        @Option(help: "Features of the base set.")
        var features: Int = 4

        @Option(help: "quadratic: condition number of the inputs' second-moment matrix.")
        var condition: Double = DatasetSpec.defaultCondition

        @Option(help: "SGD's minibatch B.")
        var sgdBatch: Int = 10

        @Option(help: "GD's learning rate, times 1/lambda_max.")
        var gdLr: Double = 1

        @Option(help: "SGD's learning rate, times 1/lambda_max.")
        var sgdLr: Double = 0.5

        @Option(help: "The target: E* + gap x (E(w0) - E*).")
        var gap: Double = 0.001

        @Option(help: "Most updates of one run (a run that reaches no target stops here).")
        var maxSteps: Int = 20_000

        func validate() throws {
            if ks.isEmpty || ks.contains(where: { $0 < 1 }) { throw ValidationError("--ks must be at least 1") }
            if let s = seeds, s < 1 { throw ValidationError("--seeds must be at least 1 (got \(s))") }
            if !["quadratic", "synthetic-linear", "lecun-2d"].contains(data) {
                throw ValidationError("--data must be quadratic, synthetic-linear or lecun-2d (regression sets with a least-squares optimum; got \(data))")
            }
            if sgdBatch < 1 || sgdBatch > examples { throw ValidationError("--sgd-batch must be in 1 ... --examples (got \(sgdBatch))") }
            if !(gdLr > 0 && gdLr < 2) || !(sgdLr > 0 && sgdLr < 2) { throw ValidationError("--gd-lr and --sgd-lr must be in (0, 2): times 1/lambda_max, below 2/lambda_max") }
            if !(gap > 0 && gap < 1) { throw ValidationError("--gap must be in (0, 1) (got \(gap))") }
            if maxSteps < 1 { throw ValidationError("--max-steps must be at least 1") }
        }

        /// The data set of `seed` replicated `k` times.
        func spec(seed: UInt64, k: Int) -> DatasetSpec {
            DatasetSpec(name: data, examples: examples, features: features, seed: seed, condition: condition, replicate: k)
        }

        /// The job of one run: full-batch GD (`batch == nil`) or SGD with `batch`.
        func job(seed: UInt64, k: Int, batch: Int?, rate: Double, target: Double) -> JobConfig {
            var j = JobConfig()
            j.mode = .sync
            j.workers = 1
            j.model = .linear
            j.dataset = spec(seed: seed, k: k)
            j.seed = seed
            j.batch = batch ?? examples * k
            j.learningRate = Float(rate)
            j.epochs = nil
            j.steps = maxSteps
            j.targetLoss = target
            j.evalEvery = 1
            j.evaluation = .inline
            return j
        }

        func run() throws {
            let seedCount = seeds ?? (output.quick ? 2 : 3)
            let report = try ExperimentReport(directory: output.directory(name: "redundancy"))
            var runs = ExperimentRuns(root: report.runsDirectory)
            let name = "redundancy"
            experimentProgress(name, "\(data), \(examples) examples x \(features) features, k \(ks.map(String.init).joined(separator: " ")), \(seedCount) seeds; GD at \(gdLr)/lambda_max, SGD (batch \(sgdBatch)) at \(sgdLr)/lambda_max")

            // Per seed: lambda_max, the optimum, the loss at the start and the target, all of the base set.
            var problems: [RedundancyResults.Problem] = []
            for s in 1...UInt64(seedCount) {
                let problem = try LeastSquaresProblem(job: job(seed: s, k: 1, batch: nil, rate: 1, target: 0), what: "\(data) with seed \(s)")
                let lambda = problem.lambdaMax, best = problem.optimum, initial = problem.initialLoss
                let target = best + gap * (initial - best)
                problems.append(RedundancyResults.Problem(seed: s, lambdaMax: lambda, optimum: best, initialLoss: initial, target: target))
                experimentProgress(name, "seed \(s): lambda_max \(ExperimentFormat.rate(lambda)), E* \(String(format: "%.6g", best)), E(w0) \(String(format: "%.6g", initial)), target \(String(format: "%.6g", target))")
            }

            var rows: [RedundancyResults.Row] = []
            for k in ks {
                var methods: [RedundancyResults.Method] = []
                for (method, batch, factor) in [("gd", nil, gdLr), ("sgd", sgdBatch, sgdLr)] as [(String, Int?, Double)] {
                    var outcomes: [RedundancyResults.Outcome] = []
                    for p in problems {
                        let rate = factor / p.lambdaMax
                        let runName = "k\(k)-\(method)-seed\(p.seed)"
                        let r = try runs.run(job(seed: p.seed, k: k, batch: batch, rate: rate, target: p.target), name: runName)
                        let reached = r.summary.status == .completed && r.summary.timeToTarget != nil
                        outcomes.append(RedundancyResults.Outcome(
                            seed: p.seed, run: "runs/" + runName, learningRate: Double(Float(rate)), reached: reached,
                            steps: r.summary.stepsToTarget ?? r.summary.steps, examples: r.summary.examplesToTarget ?? r.summary.examples, timeToTarget: r.summary.timeToTarget,
                            finalLoss: r.summary.finalLoss))
                        experimentProgress(name, "k \(k) \(method == "gd" ? "GD " : "SGD") seed \(p.seed): \(reached ? "target after \(r.summary.stepsToTarget ?? r.summary.steps) updates, \(r.summary.examplesToTarget ?? r.summary.examples) examples" : "target NOT reached (\(r.summary.status.rawValue), \(r.summary.steps) updates)") [run \(runs.count), \(String(format: "%.0f", runs.elapsed)) s]")
                    }
                    methods.append(RedundancyResults.Method(batch: batch ?? examples * k, outcomes: outcomes))
                }
                rows.append(RedundancyResults.Row(k: k, setExamples: examples * k, gd: methods[0], sgd: methods[1]))
            }

            func g(_ x: Double) -> String { String(format: "%g", x) }
            let setFlags = "--model linear --data \(data) --examples \(examples)" + (data == "lecun-2d" ? "" : " --features \(features)")
                + (data == "quadratic" ? " --condition \(g(condition))" : "") + " --seed $SEED --replicate $K --workers 1"
            let tail = "--target-loss $TARGET --steps \(maxSteps) --eval-every 1 --evaluation inline"
            let results = RedundancyResults(
                command: ExperimentReport.invocation,
                resolvedCommand: "dsgd experiment redundancy --ks \(ks.map(String.init).joined(separator: " ")) --seeds \(seedCount) --data \(data) --examples \(examples) --features \(features) --condition \(g(condition)) --sgd-batch \(sgdBatch) --gd-lr \(g(gdLr)) --sgd-lr \(g(sgdLr)) --gap \(g(gap)) --max-steps \(maxSteps) --out \(report.directory)",
                gdCommand: "dsgd run \(setFlags) --batch $((\(examples) * K)) --lr $ETA_GD \(tail)",
                sgdCommand: "dsgd run \(setFlags) --batch \(sgdBatch) --lr $ETA_SGD \(tail)",
                data: data, examples: examples, features: features, condition: condition, sgdBatch: sgdBatch,
                gdLr: gdLr, sgdLr: sgdLr, gap: gap, maxSteps: maxSteps, problems: problems, rows: rows,
                runs: runs.count, seconds: runs.elapsed)
            try RedundancyReport(results: results).write(to: report)
            experimentProgress(name, "\(runs.count) runs in \(String(format: "%.0f", runs.elapsed)) s; report in \(report.directory)/report.md")
        }
    }
}
