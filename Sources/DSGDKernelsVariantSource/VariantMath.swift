/// Single-precision elementary functions on eight lanes at once (`SIMD8<Float>`: one AVX register
/// in the AVX2 and AVX-512 variants, two SSE registers in the portable one), for the per-example
/// losses of the affine models: `exp`, `log1p`, `sigmoid`, and the logistic loss with its slope.
/// One variant's copy (see VariantConfig.swift); the public entry points are `VectorMath` in
/// DSGDKernels. In the portable variant on x86-64 every multiply-add below is a product and a sum
/// (no FMA there); the accuracy bounds hold for both (tested for every variant).
///
/// How they are computed (the Cephes single-precision algorithms, made branch-free):
/// - `exp(x)`: `n = round(x / ln 2)`, `r = x - n ln 2` (`ln 2` in two parts, so `r` is exact to
///   float precision, `|r| <= ln 2 / 2`), `e^r = 1 + r + r^2 P(r)` (Cephes' degree-5 `expf`
///   polynomial), then `e^r 2^n` as two multiplications by `2^n1` and `2^n2` (`n1 = floor(n/2)`,
///   `n2 = n - n1`, both normal floats built from exponent bits), so subnormal results are rounded
///   once. `x` is clamped to `[-110, 89]` first: below `-103.98` the answer rounds to 0, above
///   `88.73` it overflows to `+inf`, as the exact values do.
/// - `log1p(x)`: `u = 1 + x` (rounded), `u = 2^k m` with `m` in `[sqrt(1/2), sqrt 2)` read from its
///   bits, `f = m - 1` (exact), `log(1 + f) = f - f^2/2 + f^3 P(f)` (Cephes' degree-8 `logf`
///   polynomial), plus `k ln 2` (two parts) and the first-order correction `c / u` for the rounding
///   error `c = (1 + x) - u` (the musl `log1pf` reduction). Tiny `x` gives `x`.
///
/// Accuracy, tested in `AffineKernelTests` against float64 over dense grids: `exp` and `log1p`
/// within 2 ulps (measured 0.98 and 1.18), `sigmoid` and the logistic loss and slope within 3 ulps
/// (measured 2.25, 1.53 and 2.33, labels 0 and 1). IEEE specials as the
/// exact functions: NaN in, NaN out; `exp(-inf) = 0`, `exp(+inf) = +inf`; `log1p(-1) = -inf`,
/// `log1p(x < -1) = NaN`, `log1p(+inf) = +inf`.
///
/// The functions are `@inline(__always)` (the logistic loss `@_transparent`) so this module's
/// kernels inline them.
enum VariantMath {
    /// Eight float lanes.
    typealias Vector = Vector8

    /// `e^x` in every lane (within 2 ulps; subnormal results rounded once; NaN stays NaN).
    @inline(__always)
    static func exp(_ x: Vector) -> Vector {
        // Clamp to [-110, 89] (NaN compares false and passes through).
        var xc = x.replacing(with: 89, where: x .> 89)
        xc.replace(with: -110, where: xc .< -110)
        // n = round(x log2(e)): adding 1.5 * 2^23 leaves the rounded integer in the low bits of t.
        let magic: Float = 12_582_912
        let t = Vector(repeating: magic).madd(xc, 1.44269504088896341)
        let n = t - magic
        // r = x - n ln 2 with ln 2 = 0.693359375 - 2.12194440e-4 (n * 0.693359375 is exact).
        let r = xc.madd(n, -0.693359375).madd(n, 2.12194440e-4)
        // e^r = 1 + (r + r^2 P(r)).
        var p = Vector(repeating: 1.3981999507e-3).madd(r, 1.9875691500e-4)
        p = Vector(repeating: 8.3334519073e-3).madd(p, r)
        p = Vector(repeating: 4.1665795894e-2).madd(p, r)
        p = Vector(repeating: 1.6666665459e-1).madd(p, r)
        p = Vector(repeating: 5.0000001201e-1).madd(p, r)
        let er = 1 + r.madd(p, r * r)
        // 2^n = 2^n1 2^n2, n in [-159, 128]: n1 = floor(n/2) and n2 = n - n1 in [-80, 64], normal floats.
        let ni = unsafeBitCast(t, to: SIMD8<Int32>.self) &- 0x4B40_0000
        let n1 = ni &>> 1
        let n2 = ni &- n1
        let s1 = unsafeBitCast((n1 &+ 127) &<< 23, to: Vector.self)
        let s2 = unsafeBitCast((n2 &+ 127) &<< 23, to: Vector.self)
        return er * s1 * s2
    }

    /// `log(1 + x)` in every lane (within 2 ulps; accurate for tiny `x`; NaN stays NaN).
    @inline(__always)
    static func log1p(_ x: Vector) -> Vector {
        let u = 1 + x
        var y = log1p(x, onePlus: u, reciprocal: 1 / u)
        y.replace(with: .infinity, where: x .== .infinity)
        y.replace(with: -.infinity, where: x .== -1)
        y.replace(with: .nan, where: x .< -1)
        return y
    }

    /// `log(1 + x)` for finite `x > -1`, given `u = 1 + x` rounded to float and `1/u` (the logistic
    /// loss has both at hand). NaN in `x` gives NaN.
    @inline(__always)
    static func log1p(_ x: Vector, onePlus u: Vector, reciprocal ru: Vector) -> Vector {
        // u = 2^k m, m in [sqrt(1/2), sqrt 2): offset the bits so that the exponent field reads k.
        let iu = unsafeBitCast(u, to: SIMD8<Int32>.self) &+ (0x3F80_0000 - 0x3F35_04F3)
        let k = (iu &>> 23) &- 127
        let m = unsafeBitCast((iu & 0x007F_FFFF) &+ 0x3F35_04F3, to: Vector.self)
        let f = m - 1
        // c = (1 + x) - u exactly (Sterbenz: each subtraction is exact in its range of k). k >= 2
        // exactly when u >= 2 sqrt 2 (0x403504F3; a float comparison: Swift lowers integer vector
        // comparisons lane by lane).
        let c = (x - (u - 1)).replacing(with: 1 - (u - x), where: u .>= Float(bitPattern: 0x4035_04F3))
        let kf = int32ToFloat(k)
        // log(1 + f) = f - f^2/2 + f^3 P(f), |f| <= 0.2929.
        let f2 = f * f
        var p = Vector(repeating: -1.1514610310e-1).madd(f, 7.0376836292e-2)
        p = Vector(repeating: 1.1676998740e-1).madd(p, f)
        p = Vector(repeating: -1.2420140846e-1).madd(p, f)
        p = Vector(repeating: 1.4249322787e-1).madd(p, f)
        p = Vector(repeating: -1.6668057665e-1).madd(p, f)
        p = Vector(repeating: 2.0000714765e-1).madd(p, f)
        p = Vector(repeating: -2.4999993993e-1).madd(p, f)
        p = Vector(repeating: 3.3333331174e-1).madd(p, f)
        let tail = (f2 * f * p).madd(f2, -0.5)              // -f^2/2 + f^3 P(f)
        let small = c * ru                                           // c / u
        let low = tail + small.madd(kf, -2.12194440e-4)     // + k ln2 (low part)
        return (f + low).madd(kf, 0.693359375)              // + k ln2 (high part)
    }

    /// `Float(k)` for `|k| < 2^22` (through the bits of `1.5 * 2^23 + k`).
    @inline(__always)
    static func int32ToFloat(_ k: SIMD8<Int32>) -> Vector {
        unsafeBitCast(k &+ 0x4B40_0000, to: Vector.self) - 12_582_912
    }

    /// `1 / (1 + e^-x)` in every lane (the logistic function, within 3 ulps; NaN stays NaN).
    @inline(__always)
    static func sigmoid(_ x: Vector) -> Vector {
        let e = exp(negativeMagnitude(x))      // e^-|x| in [0, 1]
        let r = 1 / (1 + e)                    // sigmoid(|x|)
        return r.replacing(with: e * r, where: .!(x .>= 0))   // sigmoid(-|x|) = e^-|x| / (1 + e^-|x|)
    }

    /// `-|x|` in every lane (sets the sign bit).
    @inline(__always)
    static func negativeMagnitude(_ x: Vector) -> Vector {
        unsafeBitCast(unsafeBitCast(x, to: SIMD8<UInt32>.self) | 0x8000_0000, to: Vector.self)
    }

    /// The logistic loss of logits `z` against targets `y` and its derivative in `z`, per lane:
    ///
    ///     loss  = log(1 + e^z) - y z = [max(z, 0) - y z] + log(1 + e^-|z|)
    ///     slope = sigmoid(z) - y     = (1 - y) - sigmoid(-z)
    ///
    /// The bracket is computed as `(1 - y) z` for `z > 0` and `-y z` otherwise, and as exactly 0
    /// when that coefficient is 0 (so `z = +inf, y = 1` gives loss 0, not `inf - inf`). The slope
    /// uses the first form for `y <= 1/2` and the second otherwise, so for labels 0 and 1 it keeps
    /// full relative precision in the tails (`z = 30, y = 1`: `-9.4e-14`, not 0). NaN `z` gives NaN
    /// loss and slope; `z = -inf` gives loss `+inf` for `y > 0` and 0 for `y = 0`.
    ///
    /// `@_transparent`, not only `@inline(__always)`: with the latter the affine kernel kept a call
    /// here (spills and a `vzeroupper` per block of eight rows, and no overlap between blocks).
    @_transparent
    static func logisticLossAndSlope(z: Vector, y: Vector) -> (loss: Vector, slope: Vector) {
        let e = exp(negativeMagnitude(z))      // e^-|z| in [0, 1]
        let u = 1 + e
        let r = 1 / u                          // sigmoid(|z|)
        let er = e * r                         // sigmoid(-|z|)
        // Loss: [max(z, 0) - y z] + log(1 + e^-|z|).
        let positive = z .> 0
        let coefficient = (-y).replacing(with: 1 - y, where: positive)
        let linear = (coefficient * z).replacing(with: 0, where: coefficient .== 0)
        let loss = linear + log1p(e, onePlus: u, reciprocal: r)
        // Slope: sigmoid(z) - y, or (1 - y) - sigmoid(-z).
        let nonNegative = z .>= 0
        let p = er.replacing(with: r, where: nonNegative)      // sigmoid(z)
        let q = r.replacing(with: er, where: nonNegative)      // sigmoid(-z)
        let slope = ((1 - y) - q).replacing(with: p - y, where: y .<= 0.5)
        return (loss, slope)
    }
}
