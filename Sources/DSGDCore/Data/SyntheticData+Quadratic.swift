extension SyntheticData {
    /// Ill-conditioned linear regression: x = Q diag(sqrt(lambda)) z with z ~ N(0, I), Q a random
    /// orthogonal matrix and eigenvalues lambda_k = condition^(-k/(d-1)), log-spaced from 1 down
    /// to 1/condition (lambda_0 = 1 when d = 1); y = w*.x + N(0, 0.01^2) with |w*| = 1, no bias.
    /// The inputs' second-moment matrix E[x x^T] = Q diag(lambda) Q^T has condition number
    /// `condition`, and so (with a zero-mean input) does the Hessian of the `linear` model's loss.
    ///
    /// Draw order (one generator): Q's Gaussian columns, then w*, then per row d draws of z and
    /// one noise draw. Building Q costs O(d^3), each row O(d^2).
    public static func quadratic(examples n: Int, features d: Int, condition: Double, seed: UInt64) -> Dataset {
        var rng = SplitMix64(seed: seed, stream: 0x0A_D4A7)
        let q = randomOrthogonal(d, rng: &rng)
        var wStar = (0..<d).map { _ in rng.nextGaussian() }
        let len = wStar.reduce(0) { $0 + $1 * $1 }.squareRoot()
        for j in 0..<d { wStar[j] /= len }
        let scale = (0..<d).map { k in
            d == 1 ? 1 : _exp(-Double(k) / Double(d - 1) * _log(condition)).squareRoot()
        }
        var x = [Float](repeating: 0, count: n * d)
        var y = [Float](repeating: 0, count: n)
        var u = [Double](repeating: 0, count: d)
        var row = [Double](repeating: 0, count: d)
        for i in 0..<n {
            for k in 0..<d { u[k] = scale[k] * rng.nextGaussian() }
            var t = 0.0
            for r in 0..<d {
                var v = 0.0
                for k in 0..<d { v += q[k * d + r] * u[k] }
                row[r] = v
                t += wStar[r] * v
            }
            for r in 0..<d { x[i * d + r] = Float(row[r]) }
            y[i] = Float(t + 0.01 * rng.nextGaussian())
        }
        return Dataset(examples: n, dimension: d, features: x, targets: y)
    }

    /// A random d x d orthogonal matrix as its columns, `q[k * d + r]` = row r of column k:
    /// draws d Gaussian columns (column k's d entries in row order, columns in order), then
    /// orthonormalises them by modified Gram-Schmidt: for k = 0..d-1, v = g_k; for j = 0..k-1,
    /// v -= (q_j . v) q_j; q_k = v / |v|.
    static func randomOrthogonal(_ d: Int, rng: inout SplitMix64) -> [Double] {
        var q = (0..<(d * d)).map { _ in rng.nextGaussian() }
        for k in 0..<d {
            for j in 0..<k {
                var dot = 0.0
                for r in 0..<d { dot += q[j * d + r] * q[k * d + r] }
                for r in 0..<d { q[k * d + r] -= dot * q[j * d + r] }
            }
            var norm = 0.0
            for r in 0..<d { norm += q[k * d + r] * q[k * d + r] }
            norm = norm.squareRoot()
            for r in 0..<d { q[k * d + r] /= norm }
        }
        return q
    }
}
