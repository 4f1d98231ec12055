import DSGDKernelTable

/// Single-precision matrix multiply for the compute core: `C = op(A) · op(B)` or `C += op(A) · op(B)`,
/// every matrix row-major, `op(X)` either `X` or `Xᵀ`. The three products an MLP layer needs are
///
///     forward       Z  = H · Wᵀ      (A·Bᵀ)   H: [B, in], W: [out, in], Z: [B, out]
///     backward dW   dW = dZᵀ · H     (Aᵀ·B)   dZ: [B, out]
///     backward dH   dH = dZ · W      (A·B)
///
/// It runs on the kernel variant of this process (`Kernels.active`: AVX-512, AVX2 + FMA or
/// portable, see `KernelVariant`); how each computes it (packing, blocking, an `mr x nr`
/// register-tile microkernel) is described in DSGDKernelsVariantSource/VariantSGEMM.swift.
///
/// No allocation per call: the caller passes an `SGEMMWorkspace` (`SGEMM.workspaceCount` floats,
/// allocated once, enough for any variant). A workspace serves one call at a time.
public enum SGEMM {
    /// Floats of workspace one call needs, whichever variant runs it.
    public static let workspaceCount = KernelVariant.allCases.compactMap { $0.table?.sgemmWorkspaceCount }.max() ?? 0

    /// `C = op(A) · op(B) [+ bias]` (or `C += ...` with `accumulate`), optionally `relu`'d;
    /// `op(A)` is `m x k`, `op(B)` is `k x n`.
    ///
    /// - `a`: `transposeA ? k x m : m x k`, row stride `lda`.
    /// - `b`: `transposeB ? n x k : k x n`, row stride `ldb`.
    /// - `c`: `m x n`, row stride `ldc`; with `k == 0` the product is taken as zero (bias and relu still apply).
    /// - `bias`: if given, `n` floats added to every row of C (the layer bias, fused into the store).
    /// - `relu`: if set, C is replaced by `max(C, 0)` after everything else (fused into the last store).
    /// - `workspace`: packing space (not shared with a concurrent call).
    public static func multiply(
        m: Int, n: Int, k: Int,
        a: UnsafePointer<Float>, lda: Int, transposeA: Bool,
        b: UnsafePointer<Float>, ldb: Int, transposeB: Bool,
        c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool,
        bias: UnsafePointer<Float>? = nil, relu: Bool = false,
        workspace: SGEMMWorkspace
    ) {
        Kernels.active.multiply(m: m, n: n, k: k, a: a, lda: lda, transposeA: transposeA, b: b, ldb: ldb, transposeB: transposeB,
                                c: c, ldc: ldc, accumulate: accumulate, bias: bias, relu: relu, workspace: workspace)
    }

    /// `d[j] = h[j] > 0 ? d[j] : 0` for `count` floats: the ReLU backward, reading the mask off
    /// the layer's output `h` (positive exactly where the pre-activation was).
    public static func reluBackward(_ d: UnsafeMutablePointer<Float>, mask h: UnsafePointer<Float>, count: Int) {
        Kernels.active.reluBackward(d, mask: h, count: count)
    }

    /// `out[j] = sum_i a[i*lda + j]` for `rows x cols` (the bias gradient: column sums of dZ).
    public static func columnSums(_ a: UnsafePointer<Float>, rows: Int, cols: Int, lda: Int, into out: UnsafeMutablePointer<Float>) {
        Kernels.active.columnSums(a, rows: rows, cols: cols, lda: lda, into: out)
    }
}

/// A workspace for `SGEMM.multiply`: `SGEMM.workspaceCount` floats, allocated once.
/// Not thread-safe: one call at a time uses it.
public final class SGEMMWorkspace {
    public let pointer: UnsafeMutablePointer<Float>
    /// Floats at `pointer`.
    public let count: Int
    public init() {
        count = SGEMM.workspaceCount
        pointer = .allocate(capacity: count)
        pointer.initialize(repeating: 0, count: count)
    }
    deinit { pointer.deallocate() }
}
