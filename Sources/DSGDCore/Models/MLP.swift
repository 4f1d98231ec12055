#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import DSGDKernels
import Synchronization

/// A multi-layer perceptron: affine layers with ReLU between them and a softmax cross-entropy
/// output over `classes` classes; targets are class indices `0 ... K-1` held as floats. Optionally
/// (`layerNorm`) every hidden layer normalizes its pre-activations before the ReLU.
///
/// Layer sizes `n_0 = d` (input), `n_1 ... n_{L-1}` (hidden widths), `n_L = K` (classes).
/// Parameters, one flat vector, layer by layer: `[W1, b1, W2, b2, ..., WL, bL]`, `Wl` the
/// `n_l x n_{l-1}` weight matrix row-major (PyTorch's `Linear.weight` layout), `bl` its `n_l` biases.
/// With `layerNorm`, each hidden layer's `[Wl, bl]` is followed by its `[gamma_l, beta_l]` (`n_l`
/// each): `[W1, b1, gamma1, beta1, ..., W(L-1), b(L-1), gamma(L-1), beta(L-1), WL, bL]`.
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
/// With `layerNorm`, a hidden layer `l < L` inserts a row-wise layer normalization between `Zl`
/// and the ReLU (PyTorch's `nn.LayerNorm(n_l)`, biased variance over the row, eps = 1e-5); the
/// output layer is not normalized. Forward on the left, its backward on the right (`mean_j`, `sum_j`
/// over the `n_l` features of a row, `sum_i` over the B rows):
///
///     mu_i    = mean_j Zl_ij                        dNl     = dHl ⊙ [Hl > 0]    (H > 0 exactly where N > 0)
///     r_i     = 1 / sqrt(mean_j (Zl_ij - mu_i)² + eps)
///     Xhat_ij = (Zl_ij - mu_i) r_i                  dgamma_l = sum_i dNl ⊙ Xhat
///     Nl      = gamma_l ⊙ Xhat + beta_l             dbeta_l  = sum_i dNl
///     Hl      = relu(Nl)                            dXhat   = dNl ⊙ gamma_l
///                                                   dZl_i   = r_i (dXhat_i - mean_j dXhat_i - Xhat_i mean_j(dXhat_i ⊙ Xhat_i))
///
/// `Xhat` and `r` are kept from the forward pass for the backward. Each row of `dZl` sums to zero
/// (the normalization removes a shift common to a row), so the entries of a normalized layer's
/// `dbl` sum to zero.
///
/// The three matrix products run on `SGEMM` (DSGDKernels, on the variant chosen at start-up); the
/// normalization steps are in `MLP+LayerNorm.swift`.
///
/// Initial parameters: He initialisation, `Wl ~ N(0, 2 / n_{l-1})` from `SplitMix64(seed, stream: l)`,
/// biases 0, `gamma_l = 1`, `beta_l = 0`; the same seed gives the same parameters in every process,
/// and the same `Wl` with or without `layerNorm`.
///
/// Scratch memory (activations, with `layerNorm` also `Xhat` and `r` of every hidden layer,
/// gradients of activations, GEMM packing) lives in a workspace object allocated once per `MLP`
/// value and grown to the largest batch seen; `lossAndGradient` and `loss` then allocate nothing.
/// The workspace is confined to one thread at a time: a worker owns its model and calls it from
/// its one compute thread. Copies of an `MLP` value share the workspace; should two threads ever
/// call the same one at once, the loser of an atomic flag builds a private workspace for that call
/// (correct, but allocating), so results never race.
public struct MLP: Model {
    /// Input features `d`.
    public let inputDimension: Int
    /// Hidden layer widths `n_1 ... n_{L-1}` (may be empty: softmax regression).
    public let hidden: [Int]
    /// Output classes `K` (at least 2).
    public let classes: Int
    /// Seed of the initial parameters.
    public let seed: UInt64
    /// Whether every hidden layer normalizes its pre-activations (`LayerNorm`, with `gamma_l`,
    /// `beta_l` parameters) before the ReLU.
    public let layerNorm: Bool
    /// `[d, hidden..., K]`.
    let sizes: [Int]
    /// Offset of `Wl` in the flat vector for each layer (`bl` follows it at `+ n_l * n_{l-1}`, and
    /// with `layerNorm` `gamma_l`, `beta_l` follow `bl`, see `gammaOffset`).
    let offsets: [Int]
    let workspace: MLPWorkspace

    /// An MLP `inputDimension -> hidden... -> classes`, initialised from `seed`; with `layerNorm`
    /// every hidden layer is `relu(LayerNorm(H · Wᵀ + b))` (see the type's documentation).
    public init(inputDimension: Int, hidden: [Int], classes: Int, seed: UInt64 = 1, layerNorm: Bool = false) {
        precondition(inputDimension >= 1, "an MLP needs at least one input feature (got \(inputDimension))")
        precondition(hidden.allSatisfy { $0 >= 1 }, "hidden widths must be positive (got \(hidden))")
        precondition(classes >= 2, "an MLP classifier needs at least two classes (got \(classes))")
        self.inputDimension = inputDimension
        self.hidden = hidden
        self.classes = classes
        self.seed = seed
        self.layerNorm = layerNorm
        sizes = [inputDimension] + hidden + [classes]
        var offsets: [Int] = []
        var offset = 0
        for l in 1..<sizes.count {
            offsets.append(offset)
            offset += sizes[l] * sizes[l - 1] + sizes[l]
            if layerNorm && l < sizes.count - 1 { offset += 2 * sizes[l] }   // gamma_l, beta_l
        }
        self.offsets = offsets
        workspace = MLPWorkspace(sizes: sizes, layerNorm: layerNorm)
    }

    public var kind: ModelKind { .mlp }
    /// Number of affine layers `L`.
    public var layers: Int { sizes.count - 1 }
    public var parameterCount: Int { offsets[layers - 1] + sizes[layers] * sizes[layers - 1] + sizes[layers] }
    public var shapes: [ParameterShape] {
        (1...layers).flatMap { l in
            let affine = [ParameterShape(name: "W\(l)", shape: [sizes[l], sizes[l - 1]]), ParameterShape(name: "b\(l)", shape: [sizes[l]])]
            guard layerNorm && l < layers else { return affine }
            return affine + [ParameterShape(name: "gamma\(l)", shape: [sizes[l]]), ParameterShape(name: "beta\(l)", shape: [sizes[l]])]
        }
    }

    public func initialParameters() -> [Float] {
        var p = [Float](repeating: 0, count: parameterCount)
        for l in 1...layers {
            var rng = SplitMix64(seed: seed, stream: UInt64(l))
            let fanIn = sizes[l - 1], std = (2.0 / Double(fanIn)).squareRoot()
            let w = offsets[l - 1]
            for j in 0..<(sizes[l] * fanIn) { p[w + j] = Float(std * rng.nextGaussian()) }
            if layerNorm && l < layers {
                for j in 0..<sizes[l] { p[gammaOffset(l) + j] = 1 }                   // gamma 1, beta 0
            }
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

    /// Z1 ... ZL for `n` rows of `x`; H1 ... H(L-1) (ReLU applied) and the logits ZL in `ws`;
    /// with `layerNorm` also Xhat and 1/sigma of every hidden layer.
    func forward(_ p: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ n: Int, _ ws: MLPWorkspace.Buffers) {
        var input = x
        for l in 1...layers {
            let fanIn = sizes[l - 1], width = sizes[l]
            let w = p + offsets[l - 1], b = w + width * fanIn
            let out = ws.activation(l)
            let normalized = layerNorm && l < layers
            let z = normalized ? ws.normalized(l) : out                                    // LN: Zl into the Xhat buffer
            SGEMM.multiply(m: n, n: width, k: fanIn, a: input, lda: fanIn, transposeA: false,  // Zl = H(l-1) · Wlᵀ + bl
                           b: w, ldb: fanIn, transposeB: true,
                           c: z, ldc: width, accumulate: false,
                           bias: b, relu: l < layers && !normalized, workspace: ws.gemm)   // Hl = relu(Zl), l < L
            if normalized {                                                                // Hl = relu(LN(Zl))
                let gamma = p + gammaOffset(l)
                Self.layerNormForward(z, rows: n, width: width, gamma: gamma, beta: gamma + width,
                                      inverseSigma: ws.inverseSigma(l), output: out)
            }
            input = UnsafePointer(out)
        }
    }

    /// Given dZL in the logits buffer, writes every dWl and dbl (and dgamma_l, dbeta_l) into `g`.
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
                if layerNorm {                                                                     // (LN: that was dN(l-1))
                    let gamma = p + gammaOffset(l - 1), gGamma = g + gammaOffset(l - 1)
                    Self.layerNormBackward(dH, rows: n, width: fanIn, normalized: ws.normalized(l - 1),
                                           inverseSigma: ws.inverseSigma(l - 1), gamma: gamma,
                                           gammaGradient: gGamma, betaGradient: gGamma + fanIn)  // dZ(l-1)
                }
                dZ = dH
                spare = 1 - spare
            }
        }
    }
}

/// The scratch memory of one `MLP` (see its documentation for the threading rule): activations
/// `H1 ... H(L-1)` and logits `[B, n_l]`, two `[B, max n_l]` buffers for dH/dZ, a gathered-input
/// buffer `[B, d]`, and with layer normalization `Xhat_l` `[B, n_l]` and `1/sigma_l` `[B]` of every
/// hidden layer, in one allocation sized for the largest batch seen so far; and an SGEMM packing
/// workspace.
final class MLPWorkspace: @unchecked Sendable {
    /// Raw pointers into the allocation for one call.
    struct Buffers {
        let base: UnsafeMutablePointer<Float>
        let activationOffsets: [Int]   // index l = 1 ... L
        let normalizedOffsets: [Int]   // index l = 1 ... L-1 (layer normalization only)
        let inverseSigmaOffsets: [Int] // index l = 1 ... L-1 (layer normalization only)
        let deltaOffsets: (Int, Int)
        let x: UnsafeMutablePointer<Float>
        let gemm: SGEMMWorkspace
        @inline(__always) func activation(_ l: Int) -> UnsafeMutablePointer<Float> { base + activationOffsets[l] }
        /// `Xhat_l`, `[B, n_l]` (holds `Zl` until the normalization overwrites it).
        @inline(__always) func normalized(_ l: Int) -> UnsafeMutablePointer<Float> { base + normalizedOffsets[l] }
        /// `1 / sigma_l` per row, `[B]`.
        @inline(__always) func inverseSigma(_ l: Int) -> UnsafeMutablePointer<Float> { base + inverseSigmaOffsets[l] }
        @inline(__always) func delta(_ which: Int) -> UnsafeMutablePointer<Float> { base + (which == 0 ? deltaOffsets.0 : deltaOffsets.1) }
    }

    let sizes: [Int]
    let layerNorm: Bool
    /// Set while a call is using the buffers (guards against accidental sharing across threads).
    private let inUse = Atomic<Bool>(false)
    // Mutated only by the holder of `inUse`.
    private var capacity = 0
    private var storage: UnsafeMutablePointer<Float>?
    private var buffers: Buffers?
    private let gemm = SGEMMWorkspace()

    init(sizes: [Int], layerNorm: Bool) {
        self.sizes = sizes
        self.layerNorm = layerNorm
    }

    deinit { storage?.deallocate() }

    /// Runs `body` with buffers for at least `batch` rows: this workspace's if it is free, else
    /// a private one (only if two threads share one MLP value, which dsgd never does).
    func borrow<R>(batch: Int, _ body: (Buffers) -> R) -> R {
        if inUse.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged {
            defer { inUse.store(false, ordering: .releasing) }
            if batch > capacity || buffers == nil { grow(to: max(batch, capacity)) }
            return body(buffers!)
        }
        let spare = MLPWorkspace(sizes: sizes, layerNorm: layerNorm)
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
        var normalizedOffsets = [0], inverseSigmaOffsets = [0]
        if layerNorm {
            for l in 1..<(sizes.count - 1) {
                normalizedOffsets.append(offset)
                offset += rows * sizes[l]
                inverseSigmaOffsets.append(offset)
                offset += rows
            }
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
        buffers = Buffers(base: p, activationOffsets: activationOffsets, normalizedOffsets: normalizedOffsets,
                          inverseSigmaOffsets: inverseSigmaOffsets, deltaOffsets: (d0, d1), x: p + x, gemm: gemm)
    }
}
