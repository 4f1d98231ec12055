import DSGDKernelTable
import DSGDKernelsCPU
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One kernel variant's operations, called through its function table. `Kernels.active` is the
/// variant of this process (`KernelVariant.active`); `SGEMM`, `AffineKernels` and `VectorMath`
/// call it. Tests and benchmarks can hold any supported variant (`Kernels(.avx2)`) and call it
/// directly. Each call runs one whole operation inside the variant: the dispatch is one indirect
/// call per matrix product or minibatch, never per element.
public struct Kernels: Sendable {
    /// The variant's function table.
    public let table: KernelTable

    /// The variant's name ("avx512", "avx2", "portable").
    public var name: String { table.name }

    /// Floats per vector register of the variant.
    public var lanes: Int { table.lanes }

    /// The variant `variant`; it must be supported here (`variant.isSupported`).
    public init(_ variant: KernelVariant) {
        precondition(variant.isSupported, "the \(variant) kernels cannot run here (they need \(variant.requirement))")
        table = variant.table!
    }

    /// A variant given by its table (a test build's extra variants).
    public init(table: KernelTable) {
        self.table = table
    }

    /// The kernels of this process, chosen once (see `KernelVariant.active`).
    public static let active = Kernels(KernelVariant.active)

    /// Every variant this build has and this CPU runs, fastest first.
    public static var supported: [Kernels] { KernelVariant.allCases.filter(\.isSupported).map { Kernels($0) } }

    // MARK: - SGEMM

    /// `SGEMM.multiply` on this variant.
    public func multiply(
        m: Int, n: Int, k: Int,
        a: UnsafePointer<Float>, lda: Int, transposeA: Bool,
        b: UnsafePointer<Float>, ldb: Int, transposeB: Bool,
        c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool,
        bias: UnsafePointer<Float>? = nil, relu: Bool = false,
        workspace: SGEMMWorkspace
    ) {
        precondition(m >= 0 && n >= 0 && k >= 0, "negative matrix dimension")
        precondition(workspace.count >= table.sgemmWorkspaceCount,
                     "SGEMM workspace too small (\(workspace.count) < \(table.sgemmWorkspaceCount) floats)")
        table.multiply(m, n, k, a, lda, transposeA, b, ldb, transposeB, c, ldc, accumulate, bias, relu, workspace.pointer)
    }

    /// `SGEMM.columnSums` on this variant.
    public func columnSums(_ a: UnsafePointer<Float>, rows: Int, cols: Int, lda: Int, into out: UnsafeMutablePointer<Float>) {
        table.columnSums(a, rows, cols, lda, out)
    }

    /// `SGEMM.reluBackward` on this variant.
    public func reluBackward(_ d: UnsafeMutablePointer<Float>, mask h: UnsafePointer<Float>, count: Int) {
        table.reluBackward(d, h, count)
    }

    // MARK: - Affine models

    /// `AffineKernels.lossAndGradient` on this variant.
    public func lossAndGradient(
        _ loss: AffineKernels.Loss, parameters: UnsafePointer<Float>, dimension: Int,
        features: UnsafePointer<Float>, featureRows: Int = 0, targets: UnsafePointer<Float>,
        batch: UnsafeBufferPointer<UInt32>, gradient: UnsafeMutablePointer<Float>,
        next: UnsafeBufferPointer<UInt32> = UnsafeBufferPointer(start: nil, count: 0)
    ) -> Double {
        table.affineGradient(loss == .logistic, parameters, dimension, features, featureRows, targets, batch, gradient, next)
    }

    /// `AffineKernels.meanLoss` on this variant.
    public func meanLoss(
        _ loss: AffineKernels.Loss, parameters: UnsafePointer<Float>, dimension: Int,
        features: UnsafePointer<Float>, targets: UnsafePointer<Float>, examples: Int
    ) -> Double {
        table.affineLoss(loss == .logistic, parameters, dimension, features, targets, examples)
    }

    // MARK: - Vector math (eight lanes)

    /// `f` over the eight lanes of `x`, on this variant.
    func apply(_ f: ElementwiseFunction, _ x: SIMD8<Float>) -> SIMD8<Float> {
        var input = x, output = SIMD8<Float>()
        withUnsafePointer(to: &input) { ip in
            withUnsafeMutablePointer(to: &output) { op in
                ip.withMemoryRebound(to: Float.self, capacity: 8) { i in
                    op.withMemoryRebound(to: Float.self, capacity: 8) { o in table.elementwise(f, i, o, 8) }
                }
            }
        }
        return output
    }

    /// `VectorMath.exp` on this variant.
    public func exp(_ x: SIMD8<Float>) -> SIMD8<Float> { apply(.exp, x) }
    /// `VectorMath.log1p` on this variant.
    public func log1p(_ x: SIMD8<Float>) -> SIMD8<Float> { apply(.log1p, x) }
    /// `VectorMath.sigmoid` on this variant.
    public func sigmoid(_ x: SIMD8<Float>) -> SIMD8<Float> { apply(.sigmoid, x) }

    /// `VectorMath.logisticLossAndSlope` on this variant.
    public func logisticLossAndSlope(z: SIMD8<Float>, y: SIMD8<Float>) -> (loss: SIMD8<Float>, slope: SIMD8<Float>) {
        var zv = z, yv = y, loss = SIMD8<Float>(), slope = SIMD8<Float>()
        withUnsafePointer(to: &zv) { zp in
            withUnsafePointer(to: &yv) { yp in
                withUnsafeMutablePointer(to: &loss) { lp in
                    withUnsafeMutablePointer(to: &slope) { sp in
                        table.logisticLossAndSlope(
                            UnsafeRawPointer(zp).assumingMemoryBound(to: Float.self),
                            UnsafeRawPointer(yp).assumingMemoryBound(to: Float.self),
                            UnsafeMutableRawPointer(lp).assumingMemoryBound(to: Float.self),
                            UnsafeMutableRawPointer(sp).assumingMemoryBound(to: Float.self), 8)
                    }
                }
            }
        }
        return (loss, slope)
    }

    // MARK: - Yardsticks

    /// The sum of `count` floats at `p`, read with this variant's vector loads (time it for the
    /// read bandwidth of one core).
    public func readSum(_ p: UnsafePointer<Float>, count: Int) -> Float { table.readSum(p, count) }

    /// `readSum` plus `rounds` rounds of eight multiply-adds (`a = s + a / 2`, on the running sums)
    /// after every four vectors read: a read stream with a set amount of compute per byte (time it
    /// against `readSum` for how much bandwidth a stream keeps as its compute grows). Returns
    /// `readSum`'s sum and the accumulators' total.
    public func readSumWithWork(_ p: UnsafePointer<Float>, count: Int, rounds: Int) -> (sum: Float, work: Float) {
        table.readSumWithWork(p, count, rounds)
    }

    /// `iterations` rounds of a register-only multiply-add loop of this variant's width on twelve
    /// independent accumulators (time it for the peak rate of one core); returns a value that
    /// depends on all of them, and the floating-point operations done.
    public func peakLoop(iterations: Int, x: Float = 0.999_999, y: Float = 1e-6) -> (value: Float, flops: Double) {
        table.peakLoop(iterations, x, y)
    }

    // MARK: - The processor

    /// The processor's model name: the CPUID brand string on x86-64, else the first "model name"
    /// (or "Model", "Hardware") line of /proc/cpuinfo, else "unknown".
    public static var cpuModel: String {
        var buffer = [CChar](repeating: 0, count: 64)
        dsgd_kernels_cpu_model(&buffer, buffer.count)
        let brand = buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        if !brand.isEmpty { return brand }
        guard let file = fopen("/proc/cpuinfo", "r") else { return "unknown" }
        defer { fclose(file) }
        var line: UnsafeMutablePointer<CChar>?
        var capacity = 0
        defer { free(line) }
        while getline(&line, &capacity, file) > 0, let line {
            let text = String(cString: line)
            let parts = text.split(separator: ":", maxSplits: 1)
            guard parts.count == 2 else { continue }
            let key = String(parts[0]).trimmingBlanks
            if key == "model name" || key == "Model" || key == "Hardware" { return String(parts[1]).trimmingBlanks }
        }
        return "unknown"
    }
}
