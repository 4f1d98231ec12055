import ArgumentParser
import DSGDCluster
import DSGDCore
import Foundation

extension DSGD {
    /// `dsgd bench aggregate`: the coordinator's averaging + SGD step alone, in one process.
    struct BenchAggregate: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "aggregate",
            abstract: "Time averaging N gradients and applying the SGD step (no transport); JSON lines.",
            discussion: "Reports GB/s of memory traffic (N gradients + parameters read, new parameters written) beside a memcpy of the same bytes, with the kernel variant (DSGD_KERNEL) and the CPU.")

        @Option(parsing: .upToNextOption, help: "Parameter counts.")
        var dims: [Int] = [1_000, 100_000, 1_000_000]

        @Option(parsing: .upToNextOption, help: "Gradient counts (workers).")
        var workers: [Int] = [2, 4]

        @Option(help: "Repetitions (median reported).")
        var repeats: Int = 50

        @Option(parsing: .upToNextOption, help: "How the gradients are stored: float32, or bfloat16 as received with --compress bf16.")
        var storage: [String] = ["float32"]

        func validate() throws {
            guard repeats >= 1 else { throw ValidationError("--repeats must be at least 1") }
            for d in dims where d < 1 { throw ValidationError("--dims must be positive") }
            for n in workers where n < 1 { throw ValidationError("--workers must be positive") }
            for s in storage where s != "float32" && s != "bfloat16" { throw ValidationError("unknown --storage '\(s)' (float32 or bfloat16)") }
        }

        func run() throws {
            for kind in storage {
                let bf16 = kind == "bfloat16"
                for d in dims {
                    for n in workers {
                        // bf16 gradients take half the bytes: the same buffers, read as 16-bit values.
                        let grads = (0..<n).map { k in ZeroCopyBufferStandIn(count: d, value: Float(k + 1) * 1e-3) }
                        let params = ZeroCopyBufferStandIn(count: d, value: 1)
                        let out = ZeroCopyBufferStandIn(count: d, value: 0)
                        let agg = Aggregator(parameterCount: d, maxGradients: n)
                        for k in 0..<n { agg.setGradient(k, UnsafeRawPointer(grads[k].pointer)) }
                        let sgd = SGD(learningRate: 0.1)
                        var times: [Double] = []
                        var copyTimes: [Double] = []
                        for _ in 0..<repeats {
                            let t0 = monotonicSeconds()
                            _ = agg.apply(count: n, range: 0..<d, optimizer: sgd, params: params.pointer, out: out.pointer,
                                          storage: bf16 ? .bfloat16 : .float32)
                            let t1 = monotonicSeconds()
                            for k in 0..<n { UnsafeMutableRawPointer(out.pointer).copyMemory(from: grads[k].pointer, byteCount: d * (bf16 ? 2 : 4)) }
                            let t2 = monotonicSeconds()
                            times.append(t1 - t0)
                            copyTimes.append(t2 - t1)
                        }
                        times.sort()
                        copyTimes.sort()
                        let med = times[times.count / 2], copyMed = copyTimes[copyTimes.count / 2]
                        let gradientBytes = Double(n * d * (bf16 ? 2 : 4)), bytes = gradientBytes + Double(2 * d * 4)
                        writeLine("{\"benchmark\":\"aggregate\",\"storage\":\"\(kind)\",\"dim\":\(d),\"gradients\":\(n),\"median_ms\":\(String(format: "%.4f", med * 1e3)),"
                            + "\"gb_per_s\":\(String(format: "%.2f", bytes / med / 1e9)),\"memcpy_gb_per_s\":\(String(format: "%.2f", 2 * gradientBytes / copyMed / 1e9)),\(benchMachineFields)}", to: 1)
                    }
                }
            }
        }
    }
}

/// A float buffer for the benchmark (allocated and touched once).
final class ZeroCopyBufferStandIn {
    let pointer: UnsafeMutablePointer<Float>
    init(count: Int, value: Float) {
        pointer = .allocate(capacity: count)
        pointer.initialize(repeating: value, count: count)
    }
    deinit { pointer.deallocate() }
}
