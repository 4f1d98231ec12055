import ArgumentParser
import DSGDCluster
import DSGDCore
import Foundation

/// A gradient encoding as `dsgd experiment compression` runs it: `--compress`, with or without
/// error feedback, and the parameters' encoding that goes with it.
struct CompressionScheme: Codable {
    /// "none", "bf16", "topk:0.01", "topk:0.01 no-ef", ...
    var name: String
    var compress: String
    var errorFeedback: Bool
    /// none, or sparse with top-k (lossless, so the training is the same as with none).
    var compressParams: String

    /// The schemes compared, for top-k fraction `fraction`.
    static func all(fraction: Double) -> [CompressionScheme] {
        let topk = "topk:\(fraction)"
        return [
            CompressionScheme(name: "none", compress: "none", errorFeedback: true, compressParams: "none"),
            CompressionScheme(name: "bf16", compress: "bf16", errorFeedback: true, compressParams: "none"),
            CompressionScheme(name: "fp16", compress: "fp16", errorFeedback: true, compressParams: "none"),
            CompressionScheme(name: topk, compress: topk, errorFeedback: true, compressParams: "sparse"),
            CompressionScheme(name: topk + " no-ef", compress: topk, errorFeedback: false, compressParams: "sparse"),
            CompressionScheme(name: "sign", compress: "sign", errorFeedback: true, compressParams: "none"),
            CompressionScheme(name: "sign no-ef", compress: "sign", errorFeedback: false, compressParams: "none"),
        ]
    }

    /// The flags of `dsgd run`.
    var flags: String {
        "--compress \(compress)" + (compressParams == "none" ? "" : " --compress-params \(compressParams)") + (errorFeedback ? "" : " --no-error-feedback")
    }

    /// The run directory's name.
    var directoryName: String { name.replacingOccurrences(of: " ", with: "-").replacingOccurrences(of: ":", with: "") }
}

/// One task of the experiment: a model on a data set, trained by sync workers.
struct CompressionTask: Codable {
    var name: String
    /// The `dsgd run` flags of the model and data.
    var flags: String
}

extension DSGD {
    /// `dsgd experiment compression`: the same sync runs with every gradient encoding, on logistic
    /// regression and on the digits MLP: final loss, examples to a target, bytes moved, time.
    struct ExperimentCompression: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "compression",
            abstract: "Sync training with every gradient encoding (none, bf16, fp16, top-k and sign with and without error feedback) on logistic regression and the digits MLP.",
            discussion: """
                Every run of a task has the same job, seed and example budget; only --compress (and \
                --compress-params sparse with top-k, which is lossless) changes. The target of a task is \
                the training loss the uncompressed run has after --target-fraction of the budget; \
                examples to the target are those of the first evaluation at or below it.
                """)

        @OptionGroup var output: ExperimentOutputOptions

        @Option(help: "Workers of every run.")
        var workers: Int = 4

        @Option(help: "Top-k's fraction F (--compress topk:F).")
        var fraction: Double = 0.01

        @Option(help: "Logistic regression: examples of synthetic-logistic (default 8192; --quick 2048).")
        var examples: Int?

        @Option(help: "Logistic regression: features.")
        var features: Int = 32

        @Option(help: "Logistic regression: epochs (default 8; --quick 3).")
        var epochs: Double?

        @Option(help: "The digits MLP: epochs (default 30; --quick: the MLP is left out).")
        var mlpEpochs: Double?

        @Option(help: "The target: the uncompressed run's loss after this fraction of the budget.")
        var targetFraction: Double = 0.25

        @Option(help: "Seed of data, sharding and everything random.")
        var seed: UInt64 = 1

        func validate() throws {
            if workers < 2 { throw ValidationError("--workers must be at least 2") }
            if !(fraction > 0 && fraction <= 1) { throw ValidationError("--fraction must be in (0, 1]") }
            if !(targetFraction > 0 && targetFraction < 1) { throw ValidationError("--target-fraction must be in (0, 1)") }
        }

        /// The tasks and their jobs (every scheme's job differs only in its encoding).
        func tasks() -> [(task: CompressionTask, job: JobConfig)] {
            var logistic = JobConfig()
            logistic.mode = .sync
            logistic.workers = workers
            logistic.model = .logistic
            let n = examples ?? (output.quick ? 2048 : 8192)
            logistic.dataset = DatasetSpec(name: "synthetic-logistic", examples: n, features: features, seed: seed)
            logistic.batch = 32
            logistic.learningRate = 0.5
            logistic.epochs = epochs ?? (output.quick ? 3 : 8)
            var result = [(CompressionTask(name: "logistic", flags: "--model logistic --data synthetic-logistic --examples \(n) --features \(features) --batch 32 --lr 0.5 --epochs \(Self.number(logistic.epochs!))"), logistic)]
            if !output.quick || mlpEpochs != nil {
                var mlp = JobConfig()
                mlp.mode = .sync
                mlp.workers = workers
                mlp.model = .mlp
                mlp.hidden = [64]
                mlp.dataset = DatasetSpec(name: "digits", examples: 0, features: 0, seed: seed)
                mlp.normalize = .standardize
                mlp.batch = 16
                mlp.learningRate = 0.1
                mlp.momentum = 0.9
                mlp.epochs = mlpEpochs ?? 30
                result.append((CompressionTask(name: "digits-mlp", flags: "--model mlp --hidden 64 --data digits --normalize standardize --batch 16 --lr 0.1 --momentum 0.9 --epochs \(Self.number(mlp.epochs!))"), mlp))
            }
            for i in result.indices {
                result[i].1.seed = seed
                result[i].1.evaluation = .inline
                result[i].1.checkpointSeconds = 0
                // About 60 evaluations a run, at the same steps in every run of the task.
                let steps = Int((result[i].1.epochs! * Double(result[i].1.examplesPerEpoch) / Double(result[i].1.examplesPerStep)).rounded(.up))
                result[i].1.evalEvery = max(1, steps / 60)
            }
            return result
        }

        func run() throws {
            let name = "compression"
            let loadBefore = MachineInfo.loadAverage()
            let schemes = CompressionScheme.all(fraction: fraction)
            let report = try ExperimentReport(directory: output.directory(name: name))
            var runs = ExperimentRuns(root: report.runsDirectory)
            var rows: [CompressionResults.Row] = []
            var curves: [CompressionResults.Curve] = []
            for (task, base) in tasks() {
                experimentProgress(name, "\(task.name): \(task.flags), \(workers) sync workers, seed \(seed)")
                var target: Double?
                for scheme in schemes {
                    var job = base
                    job.compress = try GradientCodec(parsing: scheme.compress)
                    job.gradientChunk = JobConfig.defaultGradientChunk(compress: job.compress)
                    job.compressParams = try GradientCodec(parsing: scheme.compressParams)
                    job.errorFeedback = scheme.errorFeedback
                    let r = try runs.run(job, name: "\(task.name)-\(scheme.directoryName)")
                    let points = r.record.metrics.map {
                        (examples: $0.examples, bytes: Int($0.value("bytes_moved") ?? 0), time: $0.time, loss: $0.loss)
                    }
                    if target == nil {
                        // The uncompressed run's loss after targetFraction of its budget.
                        let budget = Double(points.last?.examples ?? 0)
                        target = points.first { Double($0.examples) >= targetFraction * budget }?.loss
                    }
                    let s = r.summary
                    let reached = target.flatMap { t in points.first { ($0.loss ?? .infinity) <= t } }
                    rows.append(CompressionResults.Row(
                        task: task.name, scheme: scheme.name, compress: scheme.compress, errorFeedback: scheme.errorFeedback,
                        compressParams: scheme.compressParams, run: "runs/\(task.name)-\(scheme.directoryName)",
                        command: "dsgd run \(task.flags) --workers \(workers) --mode sync --seed \(seed) --eval-every \(job.evalEvery) --evaluation inline \(scheme.flags)",
                        status: s.status.rawValue, steps: s.steps, examples: s.examples, finalLoss: s.finalLoss, target: target,
                        examplesToTarget: reached?.examples, gradientBytes: s.workerBytesReceived?.reduce(0, +),
                        parameterBytes: s.workerBytesSent?.reduce(0, +), bytesMoved: s.bytesMoved,
                        trainingSeconds: s.trainingSeconds ?? s.wallSeconds))
                    curves.append(CompressionResults.Curve(task: task.name, scheme: scheme.name,
                                                           points: points.map { .init(examples: $0.examples, bytes: $0.bytes, time: $0.time, loss: $0.loss) }))
                    experimentProgress(name, "\(task.name) \(scheme.name): \(s.status.rawValue), final loss \(s.finalLoss.map { String(format: "%.6g", $0) } ?? "n/a"), \(SyncVsAsyncReport.bytes(s.bytesMoved)) moved [run \(runs.count), \(String(format: "%.0f", runs.elapsed)) s]")
                }
            }
            var results = CompressionResults(
                command: ExperimentReport.invocation, workers: workers, fraction: fraction, targetFraction: targetFraction, seed: seed,
                rows: rows, curves: curves, runs: runs.count, seconds: runs.elapsed, cpuCount: MachineInfo.cpuCount,
                cpuModel: MachineInfo.cpuModel, loadBefore: loadBefore, loadAfter: [])
            results.loadAfter = MachineInfo.loadAverage()
            try CompressionReport(results: results).write(to: report)
            experimentProgress(name, "\(runs.count) runs in \(String(format: "%.0f", runs.elapsed)) s; report in \(report.directory)/report.md")
        }

        static func number(_ x: Double) -> String { String(format: "%g", x) }
    }
}
