/// Eigenvalues of Hessians: matrix-free iterations on a Hessian-vector product (power iteration,
/// Lanczos, shifted power iteration), a dense symmetric Jacobi solver for small matrices, and the
/// learning rates the extreme eigenvalues imply. Float64 throughout; for analysis, not training.
///
/// A `SymmetricOperator` is `v -> A v` for a symmetric `A` of size `n` (for a model, the
/// Hessian-vector product at fixed parameters, see `Curvature.hessianOperator`).
public typealias SymmetricOperator = ([Double]) -> [Double]

/// What the extreme eigenvalues of a Hessian say about gradient descent on the quadratic model
/// `E(w) ~ E(w*) + (w - w*)^T H (w - w*) / 2` (LeCun's lecture, GUIDE.md section 4.1-4.2).
public struct CurvatureSummary: Sendable, Equatable {
    /// Largest eigenvalue of the Hessian.
    public var lambdaMax: Double
    /// Smallest eigenvalue of the Hessian (negative at a saddle).
    public var lambdaMin: Double

    public init(lambdaMax: Double, lambdaMin: Double) {
        self.lambdaMax = lambdaMax
        self.lambdaMin = lambdaMin
    }

    /// `lambda_max / lambda_min`; nil unless both are positive (not convex there, or singular).
    public var conditionNumber: Double? {
        lambdaMax > 0 && lambdaMin > 0 ? lambdaMax / lambdaMin : nil
    }
    /// `1 / lambda_max`: lands on the minimum in one step along the steepest direction.
    public var etaOpt: Double? { lambdaMax > 0 ? 1 / lambdaMax : nil }
    /// `2 / lambda_max`: gradient descent diverges at any larger fixed step.
    public var etaMax: Double? { lambdaMax > 0 ? 2 / lambdaMax : nil }
    /// `2 / (lambda_max + lambda_min)`: the fixed step with the fastest worst-case convergence on
    /// a positive-definite quadratic (nil unless `lambda_min > 0`).
    public var bestFixedStep: Double? { lambdaMax > 0 && lambdaMin > 0 ? 2 / (lambdaMax + lambdaMin) : nil }
}

public enum Eigen {
    // MARK: dense

    /// Eigenvalues (ascending) and eigenvectors of the symmetric `n x n` row-major matrix `a` by the
    /// cyclic Jacobi method. `vectors` is row-major `n x n` with eigenvector k in **column** k,
    /// matching `values[k]`.
    ///
    /// A rotation is skipped when `|a_pq| <= eps sqrt(|a_pp a_qq|)` (Demmel and Veselic's
    /// criterion), so on positive-definite matrices even the tiny eigenvalues come out with high
    /// relative accuracy (a graded second-moment matrix with condition 1e12 is fine). Stops after a
    /// sweep without rotations (at most `maxSweeps`).
    public static func jacobi(_ a: [Double], n: Int, maxSweeps: Int = 100) -> (values: [Double], vectors: [Double]) {
        precondition(a.count == n * n, "jacobi: expected \(n * n) entries, got \(a.count)")
        var m = a
        let largest = a.reduce(0.0) { max($0, abs($1)) }
        for r in 0..<n {
            for c in 0..<r {
                precondition(abs(m[r * n + c] - m[c * n + r]) <= 1e-12 * largest, "jacobi: the matrix must be symmetric")
            }
        }
        var v = [Double](repeating: 0, count: n * n)
        for k in 0..<n { v[k * n + k] = 1 }
        let eps = Double.ulpOfOne
        for _ in 0..<maxSweeps {
            var rotated = false
            for p in 0..<n {
                for q in (p + 1)..<n {
                    let apq = m[p * n + q]
                    if apq == 0 || abs(apq) <= eps * (abs(m[p * n + p] * m[q * n + q])).squareRoot() { continue }
                    rotated = true
                    let theta = (m[q * n + q] - m[p * n + p]) / (2 * apq)
                    let t = (theta >= 0 ? 1.0 : -1.0) / (abs(theta) + (theta * theta + 1).squareRoot())
                    let c = 1 / (t * t + 1).squareRoot(), s = t * c
                    // A <- J^T A J with J = [[c, s], [-s, c]] in rows/columns p, q.
                    for k in 0..<n {
                        let akp = m[k * n + p], akq = m[k * n + q]
                        m[k * n + p] = c * akp - s * akq
                        m[k * n + q] = s * akp + c * akq
                    }
                    for k in 0..<n {
                        let apk = m[p * n + k], aqk = m[q * n + k]
                        m[p * n + k] = c * apk - s * aqk
                        m[q * n + k] = s * apk + c * aqk
                    }
                    m[p * n + q] = 0
                    m[q * n + p] = 0
                    for k in 0..<n {
                        let vkp = v[k * n + p], vkq = v[k * n + q]
                        v[k * n + p] = c * vkp - s * vkq
                        v[k * n + q] = s * vkp + c * vkq
                    }
                }
            }
            if !rotated { break }
        }
        let order = (0..<n).sorted { m[$0 * n + $0] < m[$1 * n + $1] }
        var vectors = [Double](repeating: 0, count: n * n)
        for (k, j) in order.enumerated() { for r in 0..<n { vectors[r * n + k] = v[r * n + j] } }
        return (order.map { m[$0 * n + $0] }, vectors)
    }

    /// Eigenvalues (ascending) of a symmetric `n x n` row-major matrix (Jacobi).
    public static func symmetricEigenvalues(_ a: [Double], n: Int) -> [Double] {
        jacobi(a, n: n).values
    }

    // MARK: matrix-free

    /// Power iteration: the eigenvalue of largest **magnitude** of the operator (for a positive
    /// semi-definite Hessian, lambda_max), as the Rayleigh quotient `v.Av` of the normalised iterate.
    /// Starts from a seeded random unit vector; stops when the Rayleigh quotient changes by at most
    /// `tolerance` relative between iterations, or after `maxIterations`. Converges like
    /// `(lambda_2 / lambda_1)^(2k)`; at a saddle with `|lambda_min| >= lambda_max` it finds
    /// `lambda_min` (or does not settle when they are equal): use `lanczos` there.
    public static func powerIteration(
        dimension n: Int, seed: UInt64 = 1, tolerance: Double = 1e-10, maxIterations: Int = 2000,
        _ apply: SymmetricOperator
    ) -> (value: Double, vector: [Double], iterations: Int) {
        var v = randomUnitVector(n, seed: seed)
        var lambda = 0.0
        for k in 1...maxIterations {
            let w = apply(v)
            let next = dot(v, w)
            let norm = dot(w, w).squareRoot()
            if norm == 0 { return (0, v, k) }
            v = w.map { $0 / norm }
            if k > 1 && abs(next - lambda) <= tolerance * abs(next) { return (next, v, k) }
            lambda = next
        }
        return (lambda, v, maxIterations)
    }

    /// Shifted power iteration for the smallest eigenvalue: power iteration on `shift I - A` with
    /// `shift >= lambda_max` (pass lambda_max), whose dominant eigenvalue is `shift - lambda_min`.
    /// Slow when `A` is ill-conditioned (ratio `(shift - lambda_2) / (shift - lambda_min)` near 1):
    /// prefer `lanczos`.
    public static func shiftedPowerIteration(
        dimension n: Int, shift: Double, seed: UInt64 = 1, tolerance: Double = 1e-10, maxIterations: Int = 10_000,
        _ apply: SymmetricOperator
    ) -> (value: Double, iterations: Int) {
        let r = powerIteration(dimension: n, seed: seed, tolerance: tolerance, maxIterations: maxIterations) { v in
            let av = apply(v)
            return (0..<n).map { shift * v[$0] - av[$0] }
        }
        return (shift - r.value, r.iterations)
    }

    /// Lanczos with full reorthogonalisation (every new vector is orthogonalised twice against all
    /// previous ones), `steps` matrix-vector products at most (default `min(n, 60)`), from a seeded
    /// random unit vector. Returns the Ritz values (the eigenvalues of the tridiagonal matrix,
    /// ascending, by Jacobi): the first and last approximate lambda_min and lambda_max from inside,
    /// exactly (to rounding) when `steps >= n` or the Krylov space closes earlier.
    public static func lanczos(
        dimension n: Int, steps: Int? = nil, seed: UInt64 = 1, _ apply: SymmetricOperator
    ) -> (ritzValues: [Double], steps: Int) {
        let k = max(1, min(n, steps ?? 60))
        var basis: [[Double]] = [randomUnitVector(n, seed: seed)]
        var alpha: [Double] = [], beta: [Double] = []
        var scale = 0.0
        for j in 0..<k {
            var w = apply(basis[j])
            let a = dot(basis[j], w)
            alpha.append(a)
            for i in 0..<n { w[i] -= a * basis[j][i] }
            if j > 0 { for i in 0..<n { w[i] -= beta[j - 1] * basis[j - 1][i] } }
            for _ in 0..<2 {
                for q in basis {
                    let c = dot(q, w)
                    for i in 0..<n { w[i] -= c * q[i] }
                }
            }
            let b = dot(w, w).squareRoot()
            scale = max(scale, abs(a), b)
            if j == k - 1 || b <= 1e-12 * scale { break }     // done, or an invariant subspace
            beta.append(b)
            basis.append(w.map { $0 / b })
        }
        let m = alpha.count
        var t = [Double](repeating: 0, count: m * m)
        for i in 0..<m {
            t[i * m + i] = alpha[i]
            if i + 1 < m {
                t[i * m + i + 1] = beta[i]
                t[(i + 1) * m + i] = beta[i]
            }
        }
        return (symmetricEigenvalues(t, n: m), m)
    }

    // MARK: helpers

    static func dot(_ a: [Double], _ b: [Double]) -> Double {
        var s = 0.0
        for i in 0..<a.count { s += a[i] * b[i] }
        return s
    }

    /// A seeded random unit vector (Gaussian direction), so every run starts the same way.
    public static func randomUnitVector(_ n: Int, seed: UInt64) -> [Double] {
        var rng = SplitMix64(seed: seed, stream: 0xE16E)
        var v = (0..<n).map { _ in rng.nextGaussian() }
        let norm = dot(v, v).squareRoot()
        v = v.map { $0 / norm }
        return v
    }
}

/// How `Curvature.analyze` found the extreme eigenvalues.
public enum CurvatureMethod: String, Sendable, Equatable, Codable {
    /// The exact dense Hessian (linear and logistic regression), float64 Jacobi.
    case exact
    /// Lanczos with full reorthogonalisation on the Hessian-vector product.
    case lanczos
    /// Power iteration (lambda_max) and shifted power iteration (lambda_min).
    case power
}

/// The curvature of one model on one data set at one point.
public struct CurvatureReport: Sendable {
    public var summary: CurvatureSummary
    public var method: CurvatureMethod
    /// Lanczos steps taken (0 for `exact`), or power iterations for `power`.
    public var steps: Int
    /// lambda_max by power iteration on the Hessian-vector product (a cross-check of `summary`).
    public var powerLambdaMax: Double
    /// Power iterations it took.
    public var powerIterations: Int
}

public enum Curvature {
    /// `v -> H v` for `model` on all of `data` at `parameters`, in float64 around the model's
    /// float32 Hessian-vector product.
    public static func hessianOperator(model: any Model, parameters: [Float], data: Dataset) -> SymmetricOperator {
        { v in model.hessianVectorProduct(parameters: parameters, data: data, vector: v.map { Float($0) }).map { Double($0) } }
    }

    /// The exact dense Hessian (float64, row-major) where dsgd has one: linear and logistic
    /// regression, the 1-1-1 network. Nil for the others.
    public static func exactHessian(model: any Model, parameters: [Float], data: Dataset) -> [Double]? {
        if let m = model as? LinearRegression { return m.hessian(data: data) }
        if let m = model as? LogisticRegression { return m.hessian(parameters: parameters, data: data) }
        if let m = model as? DeepLinear111 { return m.hessian(parameters: parameters, data: data).map { Double($0) } }
        return nil
    }

    /// The extreme eigenvalues of `model`'s Hessian on `data` at `parameters`. With `method` nil:
    /// exact (dense float64 Jacobi) when the model has an exact Hessian of at most `exactLimit`
    /// parameters, otherwise Lanczos (`lanczosSteps`, default `min(n, 60)`) on the Hessian-vector
    /// product. `.power` uses power iteration and shifted power iteration (slow when ill-conditioned).
    /// Power iteration always runs too, as a cross-check of lambda_max.
    public static func analyze(
        model: any Model, parameters: [Float], data: Dataset, seed: UInt64 = 1,
        method: CurvatureMethod? = nil, exactLimit: Int = 256, lanczosSteps: Int? = nil
    ) -> CurvatureReport {
        let n = model.parameterCount
        let op = hessianOperator(model: model, parameters: parameters, data: data)
        let power = Eigen.powerIteration(dimension: n, seed: seed, op)
        if method == .power {
            let low = Eigen.shiftedPowerIteration(dimension: n, shift: power.value, seed: seed &+ 1, op)
            return CurvatureReport(
                summary: CurvatureSummary(lambdaMax: power.value, lambdaMin: low.value),
                method: .power, steps: power.iterations + low.iterations,
                powerLambdaMax: power.value, powerIterations: power.iterations)
        }
        if method == nil || method == .exact, n <= exactLimit || method == .exact,
           let h = exactHessian(model: model, parameters: parameters, data: data) {
            let values = Eigen.symmetricEigenvalues(h, n: n)
            return CurvatureReport(
                summary: CurvatureSummary(lambdaMax: values.last!, lambdaMin: values.first!),
                method: .exact, steps: 0, powerLambdaMax: power.value, powerIterations: power.iterations)
        }
        let l = Eigen.lanczos(dimension: n, steps: lanczosSteps, seed: seed, op)
        return CurvatureReport(
            summary: CurvatureSummary(lambdaMax: l.ritzValues.last!, lambdaMin: l.ritzValues.first!),
            method: .lanczos, steps: l.steps, powerLambdaMax: power.value, powerIterations: power.iterations)
    }
}
