import ArgumentParser
import DSGDCluster
import DSGDCore
import DSGDKernelTable
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
                data set, lr 0.01, each step told the next step's rows (the prefetch hint a worker gives \
                from its shard). Also SGEMM GFLOP/s for the three products of the MLP's first layer. \
                Each line: benchmark, workload, batch, steps, samples_per_s (or gflop_per_s); the best of \
                --repeats timed runs is reported. \
                The first lines name the CPU and the kernel variant (avx512, avx2 or portable: the fastest \
                this CPU runs, or DSGD_KERNEL's) and measure two yardsticks of one core with that variant's \
                instructions: its read bandwidth over a buffer the size of the logistic data set (80.8 MB; \
                --logistic-rows 5000 makes both 2 MB, in cache, and times the kernel's compute alone), \
                and its peak multiply-add rate (a register-only loop on twelve independent accumulators). \
                Logistic lines add their bytes/s as a fraction of that bandwidth (4 (d + 1) bytes per \
                example), SGEMM and MLP lines their GFLOP/s as a fraction of that peak (the MLP's FLOPs \
                per example from its shapes: forward, dW and dH products, 1.21 MFLOP at 784-256-256-10). \
                A fraction is taken in pairs: each timed run follows one measurement of its yardstick, and \
                the line gives the median over the pairs of run / yardstick (fraction_range: the lowest \
                and highest), so that a machine whose bandwidth or clock drifts (another tenant) slows \
                both sides of a ratio alike; yardstick_range and run_range give each side's lowest and \
                highest over the pairs (GB/s or GFLOP/s), to tell a fraction that moved with the machine \
                from one that moved with the code. \
                --only stream (not run by default) times a sequential read with 0 to 8 rounds of \
                multiply-adds fed by its data (32 per 64-byte line a round), in cache (its compute \
                alone, ns per line) and from memory (as a fraction of plain reads), and the logistic \
                kernel in cache: how much bandwidth a stream with the kernel's compute keeps.
                """)

        @Option(help: "Timed runs per workload (the fastest is reported).")
        var repeats: Int = 3

        @Option(help: "Rows of the logistic data set (at least 2048; 100 floats each).")
        var logisticRows: Int = 200_000

        @Option(parsing: .upToNextOption, help: "Which to run: sgemm, logreg, mlp; stream (not by default: a read stream's bandwidth against its compute, and the logistic kernel's compute).")
        var only: [String] = ["sgemm", "logreg", "mlp"]

        func validate() throws {
            guard repeats >= 1 else { throw ValidationError("--repeats must be at least 1") }
            guard logisticRows >= 2048 else { throw ValidationError("--logistic-rows must be at least 2048 (twice the largest batch)") }
            guard logisticRows <= Int(UInt32.max) else { throw ValidationError("--logistic-rows must be at most \(UInt32.max) (rows are numbered in 32 bits)") }
            for w in only where !["sgemm", "logreg", "mlp", "stream"].contains(w) {
                throw ValidationError("unknown workload '\(w)' (sgemm, logreg, mlp or stream)")
            }
        }

        func run() throws {
            let kernels = Kernels.active
            let logregShape = (examples: logisticRows, dimension: 100)
            writeLine("{\"benchmark\":\"machine\",\"cpu\":\(CompareTable.jsonQuoted(Kernels.cpuModel)),\"kernel\":\"\(kernels.name)\","
                + "\"lanes\":\(kernels.lanes),\"sgemm_tile\":\"\(kernels.table.tile.rows)x\(kernels.table.tile.columns)\","
                + "\"fused_multiply_add\":\(kernels.table.fusedMultiplyAdd)}", to: 1)
            let probe = BandwidthProbe(kernels: kernels, bytes: logregShape.examples * (logregShape.dimension + 1) * 4)
            readBandwidth(probe)
            fmaPeak(kernels)
            let peak = { peakRate(kernels) }
            if only.contains("sgemm") { benchGEMM(kernels: kernels, peak: peak) }
            if only.contains("logreg") {
                let logreg = LogisticRegression(dimension: logregShape.dimension)
                let data = randomData(examples: logregShape.examples, dimension: logregShape.dimension, classes: 2)
                let bytes = 4 * Double(logregShape.dimension + 1)
                for (batch, steps) in [(64, 3000), (1024, 300)] {
                    let (rate, fraction, line) = benchModel(name: "logreg d=100", model: logreg, data: data, batch: batch, steps: steps,
                                                            kernels: kernels, perExample: bytes, yardstick: probe.pass)
                    writeLine(line + ",\"bytes_per_example\":\(Int(bytes)),\"gb_per_s\":\(format(rate * bytes / 1e9, 2)),"
                        + "\"fraction_of_read_bandwidth\":\(fraction)}", to: 1)
                }
            }
            if only.contains("stream") { benchStream(kernels: kernels, probe: probe) }
            if only.contains("mlp") {
                let (input, hidden, classes) = (784, [256, 256], 10)
                let mlp = MLP(inputDimension: input, hidden: hidden, classes: classes, seed: 1)
                let data = randomData(examples: 60_000, dimension: input, classes: classes)
                let flops = Self.mlpFlopsPerExample(widths: [input] + hidden + [classes])
                for (batch, steps) in [(64, 300), (256, 100)] {
                    let (rate, fraction, line) = benchModel(name: "mlp 784-256-256-10", model: mlp, data: data, batch: batch, steps: steps,
                                                            kernels: kernels, perExample: flops, yardstick: peak)
                    writeLine(line + ",\"flop_per_example\":\(Int(flops)),\"gflop_per_s\":\(format(rate * flops / 1e9, 2)),"
                        + "\"fraction_of_fma_peak\":\(fraction)}", to: 1)
                }
            }
        }

        /// `--only stream`: how much of the read bandwidth a sequential stream keeps as its compute
        /// per byte grows, and where the logistic kernel's compute stands among the stream's. For
        /// 0, 1, 2, 3, 4, 6 and 8 rounds of `Kernels.readSumWithWork` (32 scalar multiply-adds per
        /// 64-byte line a round, fed by the data), one line each: the stream's time per line over
        /// 2,048 logistic rows' worth of floats (0.8 MB) in cache, `in_cache_ns_per_line` (its
        /// compute alone), and its rate over the read-bandwidth buffer from memory as a fraction
        /// of plain read passes (paired, as every fraction). Then one line per logistic batch: the
        /// kernel's time per line over 2,048 rows in cache (as `--only logreg --logistic-rows
        /// 2048`), to place it among the stream's.
        func benchStream(kernels: Kernels, probe: BandwidthProbe) {
            let inCacheRows = 2048, dimension = 100
            let rowBytes = 4 * Double(dimension + 1)
            let small = BandwidthProbe(kernels: kernels, bytes: inCacheRows * Int(rowBytes))
            small.passes = 20
            _ = small.pass(rounds: 0)
            for rounds in [0, 1, 2, 3, 4, 6, 8] {
                let inCache = (0..<(repeats + 5)).map { _ in small.pass(rounds: rounds) }.max()!
                let (best, fraction) = paired(pairs: max(repeats, 5), perUnit: 1, yardstick: probe.pass) { probe.pass(rounds: rounds) }
                writeLine("{\"benchmark\":\"stream\",\"kernel\":\"\(kernels.name)\",\"rounds\":\(rounds),\"madds_per_line\":\(32 * rounds),"
                    + "\"in_cache_ns_per_line\":\(format(64e9 / inCache, 3)),\"gb_per_s\":\(format(best / 1e9, 2)),"
                    + "\"fraction_of_read_bandwidth\":\(fraction)}", to: 1)
            }
            let logreg = LogisticRegression(dimension: dimension)
            let data = randomData(examples: inCacheRows, dimension: dimension, classes: 2)
            for (batch, steps) in [(64, 3000), (1024, 300)] {
                let (rate, _, _) = benchModel(name: "logreg d=100", model: logreg, data: data, batch: batch, steps: steps,
                                              kernels: kernels, perExample: rowBytes, yardstick: { small.pass(rounds: 0) })
                writeLine("{\"benchmark\":\"stream_logreg_in_cache\",\"kernel\":\"\(kernels.name)\",\"batch\":\(batch),\"rows\":\(inCacheRows),"
                    + "\"samples_per_s\":\(format(rate, 0)),\"ns_per_line\":\(format(64e9 / (rate * rowBytes), 3))}", to: 1)
            }
        }

        /// Floating-point operations of one example's forward and backward pass through an MLP of
        /// layer widths `widths` (input first), counting the matrix products only (2 per
        /// multiply-add): forward `Z = H Wᵀ` and backward `dW = dZᵀ H` for every layer, `dH = dZ W`
        /// for every layer but the first (whose input needs no gradient). 784-256-256-10: 1,211,392.
        static func mlpFlopsPerExample(widths: [Int]) -> Double {
            var flops = 0.0
            for l in 1..<widths.count {
                let products = Double(widths[l - 1] * widths[l])
                flops += 2 * products * (l == 1 ? 2 : 3)
            }
            return flops
        }

        /// Prints one core's read bandwidth: the best of `repeats + 8` passes of `probe`, after one
        /// of warm-up. A yardstick is what the core can do at best: on a shared machine a few passes
        /// can all be slowed. (Each fraction is taken against passes paired with its timed runs.)
        func readBandwidth(_ probe: BandwidthProbe) {
            _ = probe.pass()
            let best = (0..<(repeats + 8)).map { _ in probe.pass() }.max()!
            writeLine("{\"benchmark\":\"read_bandwidth\",\"kernel\":\"\(probe.kernels.name)\",\"bytes\":\(probe.count * 4),"
                + "\"gb_per_s\":\(format(best / 1e9, 2)),\"checksum\":\(format(Double(probe.sink), 0))}", to: 1)
        }

        /// Prints one core's peak multiply-add rate: the best of `repeats + 10` runs of `peakRate`,
        /// after one of warm-up (see `readBandwidth` on why so many).
        func fmaPeak(_ kernels: Kernels) {
            _ = peakRate(kernels)
            let best = (0..<(repeats + 10)).map { _ in peakRate(kernels) }.max()!
            writeLine("{\"benchmark\":\"fma_peak\",\"kernel\":\"\(kernels.name)\",\"accumulators\":12,\"lanes\":\(kernels.lanes),"
                + "\"fused\":\(kernels.table.fusedMultiplyAdd),\"gflop_per_s\":\(format(best / 1e9, 2))}", to: 1)
        }

        /// FLOP/s of one run of `kernels.peakLoop` (twelve independent vector accumulators,
        /// registers only; about 10 ms).
        func peakRate(_ kernels: Kernels) -> Double {
            let iterations = 20_000_000 / max(1, kernels.lanes / 4)
            let t0 = monotonicSeconds()
            let (value, flops) = kernels.peakLoop(iterations: iterations)
            let t = monotonicSeconds() - t0
            return value.isNaN ? 0 : flops / t  // using the value keeps the loop from being optimised away
        }

        /// Measures `run` (a rate) `pairs` times, each right after one measurement of `yardstick`
        /// (a rate); returns the best rate of `run` and, as a JSON fragment, the median over the
        /// pairs of `run`'s rate × `perUnit` / the yardstick's, then `fraction_range` (lowest and
        /// highest), `pairs`, and the two sides' ranges over the pairs in units of 10^9 (GB/s or
        /// GFLOP/s): `yardstick_range` and `run_range` (the run's rate × `perUnit`), which tell
        /// whether a fraction moved with the machine or with the code.
        func paired(pairs: Int, perUnit: Double, yardstick: () -> Double, run: () -> Double) -> (best: Double, fraction: String) {
            var best = 0.0
            var fractions: [Double] = [], yardsticks: [Double] = [], runs: [Double] = []
            for _ in 0..<pairs {
                let y = yardstick()
                let r = run()
                best = max(best, r)
                fractions.append(r * perUnit / y)
                yardsticks.append(y / 1e9)
                runs.append(r * perUnit / 1e9)
            }
            fractions.sort()
            let n = fractions.count
            let median = n % 2 == 1 ? fractions[n / 2] : (fractions[n / 2 - 1] + fractions[n / 2]) / 2
            func range(_ xs: [Double], _ digits: Int) -> String { "[\(format(xs.min()!, digits)),\(format(xs.max()!, digits))]" }
            return (best, "\(format(median, 3)),\"fraction_range\":\(range(fractions, 3)),\"pairs\":\(n),"
                + "\"yardstick_range\":\(range(yardsticks, 2)),\"run_range\":\(range(runs, 2))")
        }

        func format(_ x: Double, _ digits: Int) -> String { x.isFinite ? String(format: "%.\(digits)f", x) : "null" }

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
        func benchGEMM(kernels: Kernels, peak: () -> Double) {
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
                    let product = 2 * Double(m * n * k)
                    var result: (best: Double, fraction: String) = (0, "null")
                    a.withUnsafeBufferPointer { ap in
                        b.withUnsafeBufferPointer { bp in
                            c.withUnsafeMutableBufferPointer { cp in
                                // Products per second over `reps` products.
                                func timed() -> Double {
                                    let t0 = monotonicSeconds()
                                    for _ in 0..<reps {
                                        kernels.multiply(m: m, n: n, k: k, a: ap.baseAddress!, lda: colsA, transposeA: ta,
                                                         b: bp.baseAddress!, ldb: colsB, transposeB: tb,
                                                         c: cp.baseAddress!, ldc: n, accumulate: false, workspace: ws)
                                    }
                                    return Double(reps) / (monotonicSeconds() - t0)
                                }
                                _ = timed()  // warm-up
                                result = paired(pairs: repeats + 8, perUnit: product, yardstick: peak, run: timed)
                            }
                        }
                    }
                    writeLine("{\"benchmark\":\"sgemm\",\"kernel\":\"\(kernels.name)\",\"op\":\"\(label)\",\"m\":\(m),\"n\":\(n),\"k\":\(k),"
                        + "\"gflop_per_s\":\(format(result.best * product / 1e9, 2)),\"fraction_of_fma_peak\":\(result.fraction)}", to: 1)
                }
            }
        }

        /// Samples/s of `steps` minibatch steps (loss and gradient, then `w -= lr g` in place) over
        /// consecutive rows `j = (i * batch) % (examples - batch)`, like torch_core.py, each step told
        /// the next step's rows (the prefetch hint a worker gives from its shard): the best of
        /// `max(repeats, 5)` runs, each paired with one measurement of `yardstick`; the fraction of
        /// it (`paired`, with `perExample` bytes or FLOPs an example); and the start of the JSON line
        /// (without the closing brace).
        func benchModel(name: String, model: any Model, data: Dataset, batch: Int, steps: Int, kernels: Kernels,
                        perExample: Double, yardstick: () -> Double) -> (Double, String, String) {
            let examples = data.examples
            var params = model.initialParameters()
            var grad = [Float](repeating: 0, count: model.parameterCount)
            var indices = [UInt32](repeating: 0, count: 2 * batch)   // this step's rows, then the next's
            let sgd = SGD(learningRate: 0.01)
            var lastLoss = 0.0
            func run(_ count: Int) {
                params.withUnsafeMutableBufferPointer { p in
                    grad.withUnsafeMutableBufferPointer { g in
                        indices.withUnsafeMutableBufferPointer { idx in
                            // Step i's rows in half i % 2 of `idx` (a loop without checks, which the
                            // compiler vectorises: this harness's work, not the step's; rows fit in
                            // UInt32, see `validate`).
                            func fill(step i: Int) {
                                let start = (i * batch) % (examples - batch), half = (i % 2) * batch
                                let rows = idx.baseAddress! + half
                                for r in 0..<batch { rows[r] = UInt32(truncatingIfNeeded: start &+ r) }
                            }
                            fill(step: 0)
                            for i in 0..<count {
                                fill(step: i + 1)
                                let now = (i % 2) * batch, next = batch - now
                                lastLoss = model.lossAndGradient(parameters: UnsafeBufferPointer(p), data: data,
                                                                 batch: UnsafeBufferPointer(rebasing: idx[now ..< now + batch]), gradient: g,
                                                                 next: UnsafeBufferPointer(rebasing: idx[next ..< next + batch]))
                                sgd.step(params: p.baseAddress!, gradient: g.baseAddress!, scale: 1,
                                         velocity: p.baseAddress!, out: p.baseAddress!, count: p.count)
                            }
                        }
                    }
                }
            }
            run(min(50, steps))  // warm-up, as torch_core.py
            let (rate, fraction) = paired(pairs: max(repeats, 5), perUnit: perExample, yardstick: yardstick) {
                let t0 = monotonicSeconds()
                run(steps)
                return Double(steps * batch) / (monotonicSeconds() - t0)
            }
            return (rate, fraction, "{\"benchmark\":\"core\",\"kernel\":\"\(kernels.name)\",\"workload\":\"\(name)\",\"batch\":\(batch),\"steps\":\(steps),"
                + "\"samples_per_s\":\(String(format: "%.0f", rate)),\"last_loss\":\(String(format: "%.4f", lastLoss))")
        }
    }
}

/// One core's read bandwidth over a buffer of a given size, one pass at a time (`pass`), with the
/// kernel variant's vector loads (`Kernels.readSum`).
final class BandwidthProbe {
    let kernels: Kernels
    let count: Int
    private let buffer: UnsafeMutablePointer<Float>
    /// The sums read (printed, so that no pass is optimised away).
    private(set) var sink: Float = 0

    /// A probe over `bytes` bytes, written once so that every page is mapped.
    init(kernels: Kernels, bytes: Int) {
        self.kernels = kernels
        count = bytes / 4
        buffer = .allocate(capacity: count)
        for i in 0..<count { buffer[i] = Float(i & 1023) }
    }

    deinit { buffer.deallocate() }

    /// Passes over the buffer per timing of `pass(rounds:)` (more for a buffer in cache, whose
    /// pass is short).
    var passes = 1

    /// Bytes/s of one pass over the buffer.
    func pass() -> Double {
        let t0 = monotonicSeconds()
        sink += kernels.readSum(buffer, count: count)
        return Double(count * 4) / (monotonicSeconds() - t0)
    }

    /// Bytes/s of `passes` passes of the stream with `rounds` rounds of work
    /// (`Kernels.readSumWithWork`).
    func pass(rounds: Int) -> Double {
        let t0 = monotonicSeconds()
        for _ in 0..<passes {
            let (sum, work) = kernels.readSumWithWork(buffer, count: count, rounds: rounds)
            sink += sum + work
        }
        return Double(passes * count * 4) / (monotonicSeconds() - t0)
    }
}
