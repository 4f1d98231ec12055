/// Single-precision elementary functions on eight lanes at once, as the affine kernels compute
/// them for their per-example losses: `exp`, `log1p`, `sigmoid`, and the logistic loss with its
/// slope, on the kernel variant of this process (`Kernels.active`; `Kernels(.avx2).exp(x)` and so
/// on for a given variant). The algorithms (Cephes, branch-free) and their accuracy are described
/// in DSGDKernelsVariantSource/VariantMath.swift:
///
/// - `exp` and `log1p` within 2 ulps, `sigmoid` and the logistic loss and slope within 3 ulps
///   (tested for every variant in `AffineKernelTests` against float64 over dense grids);
/// - IEEE specials as the exact functions: NaN in, NaN out; `exp(-inf) = 0`, `exp(+inf) = +inf`;
///   `log1p(-1) = -inf`, `log1p(x < -1) = NaN`, `log1p(+inf) = +inf`.
///
/// These entry points copy through a buffer into the variant (they are for tests and callers
/// outside the kernels; the kernels inline their own copy).
public enum VectorMath {
    /// Eight float lanes.
    public typealias Vector = SIMD8<Float>

    /// `e^x` in every lane (within 2 ulps; subnormal results rounded once; NaN stays NaN).
    public static func exp(_ x: Vector) -> Vector { Kernels.active.exp(x) }

    /// `log(1 + x)` in every lane (within 2 ulps; accurate for tiny `x`; NaN stays NaN).
    public static func log1p(_ x: Vector) -> Vector { Kernels.active.log1p(x) }

    /// `1 / (1 + e^-x)` in every lane (the logistic function, within 3 ulps; NaN stays NaN).
    public static func sigmoid(_ x: Vector) -> Vector { Kernels.active.sigmoid(x) }

    /// The logistic loss `log(1 + e^z) - y z` of logits `z` against targets `y` and its slope
    /// `sigmoid(z) - y`, per lane, stable in both tails (see VariantMath.swift for the form and
    /// the special values).
    public static func logisticLossAndSlope(z: Vector, y: Vector) -> (loss: Vector, slope: Vector) {
        Kernels.active.logisticLossAndSlope(z: z, y: y)
    }
}
