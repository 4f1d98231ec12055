import ArgumentParser
import DSGDCluster
import DSGDCore
import DSGDKernels
import Foundation

extension DSGD {
    /// `dsgd bench core`: single-thread compute-core throughput, the same workloads as
    /// `scripts/torch_core.py` (forward + backward + SGD step per minibatch).
    struct BenchCore: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "core",
            abstract: "Time the compute core on one thread (forward+backward+SGD step, and SGEMM); JSON lines.",
            discussion: """
                Workloads (as scripts/torch_core.py): logistic regression d=100 at b=64 and b=1024, MLP \
                784-256-256-10 at b=64 and b=256, each over minibatches of consecutive rows of a random \
                data set, lr 0.01. Also SGEMM GFLOP/s for the three products of the MLP's first layer. \
                Each line: benchmark, workload, batch, steps, samples_per_s (or gflop_per_s); the best of \
                --repeats timed runs is reported.
                """)

        @Option(help: "Timed runs per workload (the fastest is reported).")
        var repeats: Int = 3

        @Option(parsing: .upToNextOption, help: "Which to run: sgemm, logreg, mlp.")
        var only: [String] = ["sgemm", "logreg", "mlp"]

        func validate() throws {
            guard repeats >= 1 else { throw ValidationError("--repeats must be at least 1") }
            for w in only where !["sgemm", "logreg", "mlp"].contains(w) {
                throw ValidationError("unknown workload '\(w)' (sgemm, logreg or mlp)")
            }
        }

        func run() throws {
            if only.contains("sgemm") { benchGEMM() }
            if only.contains("logreg") {
                let logreg = LogisticRegression(dimension: 100)
                let data = randomData(examples: 200_000, dimension: 100, classes: 2)
                benchModel(name: "logreg d=100", model: logreg, data: data, batch: 64, steps: 3000)
                benchModel(name: "logreg d=100", model: logreg, data: data, batch: 1024, steps: 300)
            }
            if only.contains("mlp") {
                let mlp = MLP(inputDimension: 784, hidden: [256, 256], classes: 10, seed: 1)
                let data = randomData(examples: 60_000, dimension: 784, classes: 10)
                benchModel(name: "mlp 784-256-256-10", model: mlp, data: data, batch: 64, steps: 300)
                benchModel(name: "mlp 784-256-256-10", model: mlp, data: data, batch: 256, steps: 100)
            }
        }

        /// Features uniform in [-sqrt 3, sqrt 3] (unit variance; as torch_core.py's randn, only the
        /// size matters for speed); with 2 classes the label is `x_0 > 0`, else uniform.
        func randomData(examples: Int, dimension: Int, classes: Int) -> Dataset {
            var rng = SplitMix64(seed: 3)
            var x = [Float](repeating: 0, count: examples * dimension)
            var y = [Float](repeating: 0, count: examples)
            let width = Float(2 * 3.0.squareRoot())
            for i in 0..<examples {
                for j in 0..<dimension { x[i * dimension + j] = (Float(rng.nextUnit()) - 0.5) * width }
                y[i] = classes == 2 ? (x[i * dimension] > 0 ? 1 : 0) : Float(rng.next() % UInt64(classes))
            }
            return Dataset(examples: examples, dimension: dimension, features: x, targets: y)
        }

        /// GFLOP/s of `SGEMM.multiply` at the MLP's first-layer shapes: forward `X Wᵀ` (m = batch,
        /// n = 256, k = 784, "nt"), `dZᵀ X` ("tn": m = 256, n = 784, k = batch) and plain `A B`
        /// ("nn": m = batch, n = 256, k = 784).
        func benchGEMM() {
            let ws = SGEMMWorkspace()
            for batch in [64, 256] {
                for (label, ta, tb, m, n, k) in [("nn", false, false, batch, 256, 784), ("nt", false, true, batch, 256, 784),
                                                 ("tn", true, false, 256, 784, batch)] {
                    let rowsA = ta ? k : m, colsA = ta ? m : k
                    let rowsB = tb ? n : k, colsB = tb ? k : n
                    var rng = SplitMix64(seed: 7)
                    let a = (0..<(rowsA * colsA)).map { _ in Float(rng.nextUnit() - 0.5) }
                    let b = (0..<(rowsB * colsB)).map { _ in Float(rng.nextUnit() - 0.5) }
                    var c = [Float](repeating: 0, count: m * n)
                    let reps = max(5, Int(2e9 / Double(2 * m * n * k)))
                    var best = Double.infinity
                    a.withUnsafeBufferPointer { ap in
                        b.withUnsafeBufferPointer { bp in
                            c.withUnsafeMutableBufferPointer { cp in
                                for r in 0..<(repeats + 1) {
                                    let t0 = monotonicSeconds()
                                    for _ in 0..<reps {
                                        SGEMM.multiply(m: m, n: n, k: k, a: ap.baseAddress!, lda: colsA, transposeA: ta,
                                                       b: bp.baseAddress!, ldb: colsB, transposeB: tb,
                                                       c: cp.baseAddress!, ldc: n, accumulate: false, workspace: ws)
                                    }
                                    let t = (monotonicSeconds() - t0) / Double(reps)
                                    if r > 0 { best = min(best, t) }  // the first run is warm-up
                                }
                            }
                        }
                    }
                    let gflops = 2 * Double(m * n * k) / best / 1e9
                    writeLine("{\"benchmark\":\"sgemm\",\"op\":\"\(label)\",\"m\":\(m),\"n\":\(n),\"k\":\(k),"
                        + "\"gflop_per_s\":\(String(format: "%.2f", gflops))}", to: 1)
                }
            }
        }

        /// Samples/s of `steps` minibatch steps (loss and gradient, then `w -= lr g` in place) over
        /// consecutive rows `j = (i * batch) % (examples - batch)`, like torch_core.py.
        func benchModel(name: String, model: any Model, data: Dataset, batch: Int, steps: Int) {
            let examples = data.examples
            var params = model.initialParameters()
            var grad = [Float](repeating: 0, count: model.parameterCount)
            var indices = [UInt32](repeating: 0, count: batch)
            let sgd = SGD(learningRate: 0.01)
            var lastLoss = 0.0
            func run(_ count: Int) {
                params.withUnsafeMutableBufferPointer { p in
                    grad.withUnsafeMutableBufferPointer { g in
                        indices.withUnsafeMutableBufferPointer { idx in
                            for i in 0..<count {
                                let start = (i * batch) % (examples - batch)
                                for r in 0..<batch { idx[r] = UInt32(start + r) }
                                lastLoss = model.lossAndGradient(parameters: UnsafeBufferPointer(p), data: data,
                                                              batch: UnsafeBufferPointer(idx), gradient: g)
                                sgd.step(params: p.baseAddress!, gradient: g.baseAddress!, scale: 1,
                                         velocity: p.baseAddress!, out: p.baseAddress!, count: p.count)
                            }
                        }
                    }
                }
            }
            run(min(50, steps))  // warm-up, as torch_core.py
            var best = Double.infinity
            for _ in 0..<repeats {
                let t0 = monotonicSeconds()
                run(steps)
                best = min(best, monotonicSeconds() - t0)
            }
            let rate = Double(steps * batch) / best
            writeLine("{\"benchmark\":\"core\",\"workload\":\"\(name)\",\"batch\":\(batch),\"steps\":\(steps),"
                + "\"samples_per_s\":\(String(format: "%.0f", rate)),\"last_loss\":\(String(format: "%.4f", lastLoss))}", to: 1)
        }
    }
}
