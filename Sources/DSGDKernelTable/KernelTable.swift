/// The function table one kernel variant exports (`Variant.table` in DSGDKernelsAVX512,
/// DSGDKernelsAVX2 and DSGDKernelsPortable). DSGDKernels picks one table at start-up and calls
/// through it; each entry runs a whole operation (a matrix product, a minibatch gradient), so the
/// indirect call costs nothing next to the work, and every hot loop stays inside the variant.
public struct KernelTable: Sendable {
    /// `C = op(A) · op(B) [+ bias]` (`accumulate`: `C += ...`), optionally ReLU'd; see `SGEMM.multiply`.
    /// Arguments: m, n, k, a, lda, transposeA, b, ldb, transposeB, c, ldc, accumulate, bias, relu,
    /// workspace (at least `sgemmWorkspaceCount` floats).
    public typealias Multiply = @Sendable (
        Int, Int, Int, UnsafePointer<Float>, Int, Bool, UnsafePointer<Float>, Int, Bool,
        UnsafeMutablePointer<Float>, Int, Bool, UnsafePointer<Float>?, Bool, UnsafeMutablePointer<Float>
    ) -> Void
    /// Column sums: a, rows, cols, lda, out.
    public typealias ColumnSums = @Sendable (UnsafePointer<Float>, Int, Int, Int, UnsafeMutablePointer<Float>) -> Void
    /// ReLU backward: d, mask h, count.
    public typealias ReLUBackward = @Sendable (UnsafeMutablePointer<Float>, UnsafePointer<Float>, Int) -> Void
    /// Fused affine loss and gradient: logistic (else squared), parameters, dimension, features,
    /// the rows features holds (0 if unknown; an access-order hint), targets, batch, gradient, the
    /// next call's batch (a prefetch hint, possibly empty); returns the mean loss.
    public typealias AffineGradient = @Sendable (
        Bool, UnsafePointer<Float>, Int, UnsafePointer<Float>, Int, UnsafePointer<Float>, UnsafeBufferPointer<UInt32>,
        UnsafeMutablePointer<Float>, UnsafeBufferPointer<UInt32>
    ) -> Double
    /// Affine mean loss over rows `0..<examples`: logistic, parameters, dimension, features, targets, examples.
    public typealias AffineLoss = @Sendable (Bool, UnsafePointer<Float>, Int, UnsafePointer<Float>, UnsafePointer<Float>, Int) -> Double
    /// An elementwise function over `count` floats: function, input, output, count.
    public typealias Elementwise = @Sendable (ElementwiseFunction, UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void
    /// The logistic loss and slope over `count` lanes: z, y, loss, slope, count.
    public typealias LogisticLossAndSlope = @Sendable (
        UnsafePointer<Float>, UnsafePointer<Float>, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>, Int
    ) -> Void
    /// The sum of `count` floats read with this variant's vector loads (the read-bandwidth yardstick).
    public typealias ReadSum = @Sendable (UnsafePointer<Float>, Int) -> Float
    /// `ReadSum` with compute (a stream's bandwidth against its work): pointer, count, rounds of
    /// eight multiply-adds per four vectors read; returns the sum read and the work's value.
    public typealias ReadSumWithWork = @Sendable (UnsafePointer<Float>, Int, Int) -> (sum: Float, work: Float)
    /// The register-only multiply-add loop (the peak yardstick): iterations, two seeds; returns a
    /// value that depends on every accumulator, and the floating-point operations done.
    public typealias PeakLoop = @Sendable (Int, Float, Float) -> (value: Float, flops: Double)

    /// The variant's name: "avx512", "avx2" or "portable" (a test build adds others).
    public let name: String
    /// Floats per vector register of the variant (16, 8 or 4).
    public let lanes: Int
    /// Whether the variant's multiply-adds are fused (one FMA instruction each).
    public let fusedMultiplyAdd: Bool
    /// Rows and columns of the SGEMM microkernel tile.
    public let tile: (rows: Int, columns: Int)
    /// Floats of workspace one `multiply` needs.
    public let sgemmWorkspaceCount: Int
    public let multiply: Multiply
    public let columnSums: ColumnSums
    public let reluBackward: ReLUBackward
    public let affineGradient: AffineGradient
    public let affineLoss: AffineLoss
    public let elementwise: Elementwise
    public let logisticLossAndSlope: LogisticLossAndSlope
    public let readSum: ReadSum
    public let readSumWithWork: ReadSumWithWork
    public let peakLoop: PeakLoop
    /// The wire encodings (bf16, fp16, sign).
    public let wire: WireKernels
    /// The coordinator's dense mean-and-step.
    public let step: StepKernels

    public init(name: String, lanes: Int, fusedMultiplyAdd: Bool, tile: (rows: Int, columns: Int), sgemmWorkspaceCount: Int,
                multiply: @escaping Multiply, columnSums: @escaping ColumnSums, reluBackward: @escaping ReLUBackward,
                affineGradient: @escaping AffineGradient, affineLoss: @escaping AffineLoss, elementwise: @escaping Elementwise,
                logisticLossAndSlope: @escaping LogisticLossAndSlope, readSum: @escaping ReadSum,
                readSumWithWork: @escaping ReadSumWithWork, peakLoop: @escaping PeakLoop,
                wire: WireKernels, step: StepKernels) {
        self.name = name
        self.lanes = lanes
        self.fusedMultiplyAdd = fusedMultiplyAdd
        self.tile = tile
        self.sgemmWorkspaceCount = sgemmWorkspaceCount
        self.multiply = multiply
        self.columnSums = columnSums
        self.reluBackward = reluBackward
        self.affineGradient = affineGradient
        self.affineLoss = affineLoss
        self.elementwise = elementwise
        self.logisticLossAndSlope = logisticLossAndSlope
        self.readSum = readSum
        self.readSumWithWork = readSumWithWork
        self.peakLoop = peakLoop
        self.wire = wire
        self.step = step
    }
}

/// The elementwise functions a table evaluates over buffers (for tests and callers outside the
/// kernels; the kernels themselves inline them).
public enum ElementwiseFunction: Sendable {
    case exp, log1p, sigmoid
}
