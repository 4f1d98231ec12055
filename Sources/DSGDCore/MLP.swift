#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import DSGDKernels
import Synchronization

/// A multi-layer perceptron: affine layers with ReLU between them and a softmax cross-entropy
/// output over `classes` classes; targets are class indices `0 ... K-1` held as floats.
///
/// Layer sizes `n_0 = d` (input), `n_1 ... n_{L-1}` (hidden widths), `n_L = K` (classes).
/// Parameters, one flat vector, layer by layer: `[W1, b1, W2, b2, ..., WL, bL]`, `Wl` the
/// `n_l x n_{l-1}` weight matrix row-major (PyTorch's `Linear.weight` layout), `bl` its `n_l` biases.
///
/// Shapes for a minibatch of B examples (row-major, one example per row):
///
///     H0 = X : [B, d]            input rows gathered from the data set
///     Zl     : [B, n_l]          Zl = H(l-1) · Wlᵀ + bl
///     Hl     : [B, n_l]          Hl = relu(Zl)                    (l < L)
///     P      : [B, K]            P = softmax(ZL) row by row
///     E      = (1/B) sum_i [logsumexp(ZL_i) - ZL_i[y_i]]          mean cross-entropy
///
/// Backward (each line the chain rule of the forward line above it, read bottom up):
///
///     dZL    = (P - onehot(y)) / B          : [B, K]
///     dWl    = dZlᵀ · H(l-1)                : [n_l, n_{l-1}]
///     dbl    = sum over rows of dZl         : [n_l]
///     dH(l-1) = dZl · Wl                    : [B, n_{l-1}]
///     dZ(l-1) = dH(l-1) ⊙ [H(l-1) > 0]      : relu'(Z) read off H (H > 0 exactly where Z > 0)
///
/// The three matrix products run on `SGEMM` (DSGDKernels, compiled for AVX2+FMA on x86-64).
///
/// Initial parameters: He initialisation, `Wl ~ N(0, 2 / n_{l-1})` from `SplitMix64(seed, stream: l)`,
/// biases 0; the same seed gives the same parameters in every process.
///
/// Scratch memory (activations, gradients of activations, GEMM packing) lives in a workspace
/// object allocated once per `MLP` value and grown to the largest batch seen; `lossAndGradient`
/// and `loss` then allocate nothing. The workspace is confined to one thread at a time: a worker
/// owns its model and calls it from its one compute thread. Copies of an `MLP` value share the
/// workspace; should two threads ever call the same one at once, the loser of an atomic flag
/// builds a private workspace for that call (correct, but allocating), so results never race.
public struct MLP: Model {
    /// Input features `d`.
    public let inputDimension: Int
    /// Hidden layer widths `n_1 ... n_{L-1}` (may be empty: softmax regression).
    public let hidden: [Int]
    /// Output classes `K` (at least 2).
    public let classes: Int
    /// Seed of the initial parameters.
    public let seed: UInt64
    /// `[d, hidden..., K]`.
    let sizes: [Int]
    /// Offset of `Wl` in the flat vector for each layer (`bl` follows it at `+ n_l * n_{l-1}`).
    let offsets: [Int]
    let workspace: MLPWorkspace

    public init(inputDimension: Int, hidden: [Int], classes: Int, seed: UInt64 = 1) {
        precondition(inputDimension >= 1, "an MLP needs at least one input feature (got \(inputDimension))")
        precondition(hidden.allSatisfy { $0 >= 1 }, "hidden widths must be positive (got \(hidden))")
        precondition(classes >= 2, "an MLP classifier needs at least two classes (got \(classes))")
        self.inputDimension = inputDimension
        self.hidden = hidden
        self.classes = classes
        self.seed = seed
        sizes = [inputDimension] + hidden + [classes]
        var offsets: [Int] = []
        var offset = 0
        for l in 1..<sizes.count {
            offsets.append(offset)
            offset += sizes[l] * sizes[l - 1] + sizes[l]
        }
        self.offsets = offsets
        workspace = MLPWorkspace(sizes: sizes)
    }

    public var kind: ModelKind { .mlp }
    /// Number of affine layers `L`.
    public var layers: Int { sizes.count - 1 }
    public var parameterCount: Int { offsets[layers - 1] + sizes[layers] * sizes[layers - 1] + sizes[layers] }
    public var shapes: [ParameterShape] {
        (1...layers).flatMap { l in
            [ParameterShape(name: "W\(l)", shape: [sizes[l], sizes[l - 1]]), ParameterShape(name: "b\(l)", shape: [sizes[l]])]
        }
    }

    public func initialParameters() -> [Float] {
        var p = [Float](repeating: 0, count: parameterCount)
        for l in 1...layers {
            var rng = SplitMix64(seed: seed, stream: UInt64(l))
            let fanIn = sizes[l - 1], std = (2.0 / Double(fanIn)).squareRoot()
            let w = offsets[l - 1]
            for j in 0..<(sizes[l] * fanIn) { p[w + j] = Float(std * rng.nextGaussian()) }
        }
        return p
    }

    public func lossAndGradient(
        parameters: UnsafeBufferPointer<Float>, data: Dataset, batch: UnsafeBufferPointer<UInt32>,
        gradient: UnsafeMutableBufferPointer<Float>
    ) -> Double {
        precondition(parameters.count >= parameterCount && gradient.count >= parameterCount, "parameter vector too short")
        precondition(data.dimension == inputDimension, "data has \(data.dimension) features, the MLP \(inputDimension)")
        let n = batch.count
        precondition(n >= 1, "empty minibatch")
        return workspace.borrow(batch: n) { ws in
            data.features.withUnsafeBufferPointer { xs in
                data.targets.withUnsafeBufferPointer { ys in
                    let x = gather(xs.baseAddress!, batch, into: ws.x)
                    forward(parameters.baseAddress!, x, n, ws)
                    // Loss, and the logits turned into dZL = (P - onehot(y)) / B in place.
                    let logits = ws.activation(layers)
                    var total = 0.0
                    let k = classes, scale = 1 / Float(n)
                    for i in 0..<n {
                        let z = logits + i * k
                        let y = SoftmaxRegression.classIndex(ys[Int(batch[i])], classes: k)
                        let (l, sum) = softmaxCrossEntropyInPlace(z, k, y)
                        total += Double(l)
                        let s = scale / sum
                        for c in 0..<k { z[c] *= s }                 // p_c / B
                        z[y] -= scale                                // - onehot / B
                    }
                    backward(parameters.baseAddress!, x, n, ws, gradient.baseAddress!)
                    return total / Double(n)
                }
            }
        }
    }

    public func loss(parameters: UnsafeBufferPointer<Float>, data: Dataset) -> Double {
        var total = 0.0
        forEachExample(parameters: parameters, data: data) { logits, y in
            total += Double(softmaxCrossEntropyInPlace(logits, classes, y).loss)
        }
        return total / Double(data.examples)
    }

    /// The fraction of examples whose largest logit is their class.
    public func accuracy(parameters: UnsafeBufferPointer<Float>, data: Dataset) -> Double? {
        guard data.examples > 0 else { return nil }
        var correct = 0
        forEachExample(parameters: parameters, data: data) { z, y in
            var best = 0
            for c in 1..<classes where z[c] > z[best] { best = c }
            if best == y { correct += 1 }
        }
        return Double(correct) / Double(data.examples)
    }

    /// Runs the forward pass over every example of `data` in chunks of 256 rows through the
    /// workspace (no per-example allocation) and calls `body` with each example's logits
    /// (`classes` floats, which it may overwrite) and its class index.
    private func forEachExample(parameters: UnsafeBufferPointer<Float>, data: Dataset,
                                _ body: (UnsafeMutablePointer<Float>, Int) -> Void) {
        precondition(data.dimension == inputDimension, "data has \(data.dimension) features, the MLP \(inputDimension)")
        let chunk = 256
        workspace.borrow(batch: min(chunk, max(1, data.examples))) { ws in
            data.features.withUnsafeBufferPointer { xs in
                data.targets.withUnsafeBufferPointer { ys in
                    var start = 0
                    while start < data.examples {
                        let n = min(chunk, data.examples - start)
                        forward(parameters.baseAddress!, xs.baseAddress! + start * inputDimension, n, ws)
                        let logits = ws.activation(layers)
                        for i in 0..<n {
                            body(logits + i * classes, SoftmaxRegression.classIndex(ys[start + i], classes: classes))
                        }
                        start += n
                    }
                }
            }
        }
    }

    // MARK: forward and backward

    /// The rows `batch` of the feature matrix as a contiguous `[B, d]` block: the data set itself
    /// when the indices are consecutive, else copied into `buffer`.
    func gather(_ xs: UnsafePointer<Float>, _ batch: UnsafeBufferPointer<UInt32>, into buffer: UnsafeMutablePointer<Float>) -> UnsafePointer<Float> {
        let d = inputDimension
        let first = Int(batch[0])
        var consecutive = true
        for r in 0..<batch.count where Int(batch[r]) != first + r { consecutive = false; break }
        if consecutive { return xs + first * d }
        for r in 0..<batch.count { (buffer + r * d).update(from: xs + Int(batch[r]) * d, count: d) }
        return UnsafePointer(buffer)
    }

    /// Z1 ... ZL for `n` rows of `x`; H1 ... H(L-1) (ReLU applied) and the logits ZL in `ws`.
    func forward(_ p: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ n: Int, _ ws: MLPWorkspace.Buffers) {
        var input = x
        for l in 1...layers {
            let fanIn = sizes[l - 1], width = sizes[l]
            let w = p + offsets[l - 1], b = w + width * fanIn
            let out = ws.activation(l)
            SGEMM.multiply(m: n, n: width, k: fanIn, a: input, lda: fanIn, transposeA: false,  // Zl = H(l-1) · Wlᵀ + bl
                           b: w, ldb: fanIn, transposeB: true,
                           c: out, ldc: width, accumulate: false,
                           bias: b, relu: l < layers, workspace: ws.gemm)                      // Hl = relu(Zl), l < L
            input = UnsafePointer(out)
        }
    }

    /// Given dZL in the logits buffer, writes every dWl and dbl into `g`.
    func backward(_ p: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ n: Int, _ ws: MLPWorkspace.Buffers, _ g: UnsafeMutablePointer<Float>) {
        var dZ = ws.activation(layers)
        var spare = 0
        for l in stride(from: layers, through: 1, by: -1) {
            let fanIn = sizes[l - 1], width = sizes[l]
            let w = p + offsets[l - 1]
            let gw = g + offsets[l - 1], gb = gw + width * fanIn
            let input = l == 1 ? x : UnsafePointer(ws.activation(l - 1))
            SGEMM.multiply(m: width, n: fanIn, k: n, a: dZ, lda: width, transposeA: true,     // dWl = dZlᵀ · H(l-1)
                           b: input, ldb: fanIn, transposeB: false,
                           c: gw, ldc: fanIn, accumulate: false, workspace: ws.gemm)
            SGEMM.columnSums(dZ, rows: n, cols: width, lda: width, into: gb)                  // dbl = column sums of dZl
            if l > 1 {
                let dH = ws.delta(spare)
                SGEMM.multiply(m: n, n: fanIn, k: width, a: dZ, lda: width, transposeA: false,  // dH(l-1) = dZl · Wl
                               b: w, ldb: fanIn, transposeB: false,
                               c: dH, ldc: fanIn, accumulate: false, workspace: ws.gemm)
                SGEMM.reluBackward(dH, mask: input, count: n * fanIn)                              // dZ(l-1) = dH ⊙ relu'
                dZ = dH
                spare = 1 - spare
            }
        }
    }
}

/// The scratch memory of one `MLP` (see its documentation for the threading rule): activations
/// `H1 ... H(L-1)` and logits `[B, n_l]`, two `[B, max n_l]` buffers for dH/dZ, a gathered-input
/// buffer `[B, d]` in one allocation sized for the largest batch seen so far, and an SGEMM
/// packing workspace.
final class MLPWorkspace: @unchecked Sendable {
    /// Raw pointers into the allocation for one call.
    struct Buffers {
        let base: UnsafeMutablePointer<Float>
        let activationOffsets: [Int]   // index l = 1 ... L
        let deltaOffsets: (Int, Int)
        let x: UnsafeMutablePointer<Float>
        let gemm: SGEMMWorkspace
        @inline(__always) func activation(_ l: Int) -> UnsafeMutablePointer<Float> { base + activationOffsets[l] }
        @inline(__always) func delta(_ which: Int) -> UnsafeMutablePointer<Float> { base + (which == 0 ? deltaOffsets.0 : deltaOffsets.1) }
    }

    let sizes: [Int]
    /// Set while a call is using the buffers (guards against accidental sharing across threads).
    private let inUse = Atomic<Bool>(false)
    // Mutated only by the holder of `inUse`.
    private var capacity = 0
    private var storage: UnsafeMutablePointer<Float>?
    private var buffers: Buffers?
    private let gemm = SGEMMWorkspace()

    init(sizes: [Int]) { self.sizes = sizes }

    deinit { storage?.deallocate() }

    /// Runs `body` with buffers for at least `batch` rows: this workspace's if it is free, else
    /// a private one (only if two threads share one MLP value, which dsgd never does).
    func borrow<R>(batch: Int, _ body: (Buffers) -> R) -> R {
        if inUse.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged {
            defer { inUse.store(false, ordering: .releasing) }
            if batch > capacity || buffers == nil { grow(to: max(batch, capacity)) }
            return body(buffers!)
        }
        let spare = MLPWorkspace(sizes: sizes)
        return spare.borrow(batch: batch, body)
    }

    private func grow(to rows: Int) {
        storage?.deallocate()
        var offset = 0
        var activationOffsets = [0]
        for l in 1..<sizes.count {
            activationOffsets.append(offset)
            offset += rows * sizes[l]
        }
        let widest = sizes.max()!
        let d0 = offset
        offset += rows * widest
        let d1 = offset
        offset += rows * widest
        let x = offset
        offset += rows * sizes[0]
        let p = UnsafeMutablePointer<Float>.allocate(capacity: offset)
        p.initialize(repeating: 0, count: offset)
        storage = p
        capacity = rows
        buffers = Buffers(base: p, activationOffsets: activationOffsets, deltaOffsets: (d0, d1), x: p + x, gemm: gemm)
    }
}
