#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Hessian-vector products `H v` of a model's mean loss over a whole data set, for curvature
/// analysis (`dsgd analyze`, the eigenvalue tools of `Eigen.swift`). These allocate: they are
/// analysis, not the training loop.
///
/// - `LinearRegression` (exact): `E = 1/(2P) sum (y - w.x~)^2`, `x~ = [x; 1]`, so
///   `H v = (1/P) sum x~ (x~ . v)`, independent of the parameters.
/// - `LogisticRegression` (exact): `H v = (1/P) sum s_i (1 - s_i) x~_i (x~_i . v)`, `s_i = sigmoid(w.x~_i)`.
/// - every other model (softmax, mlp, deep-linear-111): central differences of the full-data gradient,
///   `(g(w + e v) - g(w - e v)) / (2e)`, in the model's own float32 arithmetic (error O(e^2) from
///   the third derivative plus the float32 rounding of the gradients divided by `e`; see
///   `differenceStep`).
///
/// The exact products accumulate in float64 and round the result to float32.
extension Model {
    /// The mean gradient over every example of `data` at `parameters` (allocates).
    public func fullGradient(parameters: [Float], data: Dataset) -> [Float] {
        let all = (0..<data.examples).map { UInt32($0) }
        return lossAndGradient(parameters: parameters, data: data, batch: all).gradient
    }

    /// Whether `hessianVectorProduct` is exact (closed form) for this model rather than a central
    /// difference of gradients.
    public var hasExactHessianVectorProduct: Bool {
        self is LinearRegression || self is LogisticRegression
    }

    /// `H v`, the Hessian of the mean loss over every example of `data` at `parameters` applied to
    /// `vector` (exact for linear and logistic regression, central differences otherwise).
    public func hessianVectorProduct(parameters: [Float], data: Dataset, vector: [Float]) -> [Float] {
        precondition(parameters.count == parameterCount && vector.count == parameterCount,
                     "parameters and vector must have \(parameterCount) entries")
        if let m = self as? LinearRegression {
            return affineHessianVectorProduct(dimension: m.dimension, parameters: parameters, data: data, vector: vector) { _ in 1 }
        }
        if let m = self as? LogisticRegression {
            return affineHessianVectorProduct(dimension: m.dimension, parameters: parameters, data: data, vector: vector) { z in
                let s = LogisticRegression.sigmoid(Float(z))
                return Double(s) * Double(1 - s)
            }
        }
        return finiteDifferenceHessianVectorProduct(parameters: parameters, data: data, vector: vector)
    }

    /// `(g(w + e v) - g(w - e v)) / (2e)` with `g` the full-data gradient in float32 and `e` from
    /// `differenceStep` unless given. Works for every model; exact up to O(e^2) for smooth losses.
    public func finiteDifferenceHessianVectorProduct(
        parameters: [Float], data: Dataset, vector: [Float], step: Float? = nil
    ) -> [Float] {
        let norm = euclideanNorm(vector)
        if norm == 0 { return [Float](repeating: 0, count: parameterCount) }
        let e = step ?? differenceStep(parameters: parameters, vectorNorm: norm)
        var plus = parameters, minus = parameters
        for j in 0..<parameterCount {
            plus[j] += e * vector[j]
            minus[j] -= e * vector[j]
        }
        let gp = fullGradient(parameters: plus, data: data)
        let gm = fullGradient(parameters: minus, data: data)
        let scale = 1 / (2 * e)
        return (0..<parameterCount).map { (gp[$0] - gm[$0]) * scale }
    }

    /// The central-difference step: `e |v| = cbrt(float32 epsilon) * max(1, |w|_inf)`, about
    /// 5e-3 for parameters of order one. Balances the O(e^2) truncation error against the float32
    /// rounding of the gradients, O(epsilon |g| / e).
    public func differenceStep(parameters: [Float], vectorNorm: Float) -> Float {
        let scale = max(1, parameters.map { abs($0) }.max() ?? 1)
        return cbrtf(Float.ulpOfOne) * scale / vectorNorm
    }

    /// `(1/P) sum c(z_i) x~_i (x~_i . v)` over every example, `z_i = w.x_i + b`, float64 sums.
    private func affineHessianVectorProduct(
        dimension d: Int, parameters: [Float], data: Dataset, vector: [Float], weight: (Double) -> Double
    ) -> [Float] {
        precondition(data.dimension == d, "the model takes \(d) features, the data have \(data.dimension)")
        var out = [Double](repeating: 0, count: d + 1)
        let vb = Double(vector[d])
        data.features.withUnsafeBufferPointer { xs in
            for i in 0..<data.examples {
                let x = xs.baseAddress! + i * d
                var z = Double(parameters[d]), xv = vb
                for j in 0..<d {
                    z += Double(parameters[j]) * Double(x[j])
                    xv += Double(x[j]) * Double(vector[j])
                }
                let c = weight(z) * xv
                for j in 0..<d { out[j] += c * Double(x[j]) }
                out[d] += c
            }
        }
        let p = Double(data.examples)
        return out.map { Float($0 / p) }
    }
}

extension LinearRegression {
    /// The exact Hessian of the mean loss over every example of `data`, `(1/P) X~^T X~` with
    /// `X~ = [X, 1]` (the second-moment matrix of the inputs extended by a constant 1), float64,
    /// `(d+1) x (d+1)` row-major. It does not depend on the parameters.
    public func hessian(data: Dataset) -> [Double] {
        precondition(data.dimension == dimension, "the model takes \(dimension) features, the data have \(data.dimension)")
        return affineHessian(dimension: dimension, parameters: nil, data: data)
    }
}

extension LogisticRegression {
    /// The exact Hessian of the mean loss over every example of `data` at `parameters`,
    /// `(1/P) sum s_i (1 - s_i) x~_i x~_i^T`, float64, `(d+1) x (d+1)` row-major.
    public func hessian(parameters: [Float], data: Dataset) -> [Double] {
        precondition(data.dimension == dimension, "the model takes \(dimension) features, the data have \(data.dimension)")
        precondition(parameters.count == parameterCount, "logistic regression has \(parameterCount) parameters")
        return affineHessian(dimension: dimension, parameters: parameters, data: data)
    }
}

/// `(1/P) sum c_i x~_i x~_i^T`, with `c_i = 1` when `parameters` is nil (linear regression) and
/// `c_i = s_i (1 - s_i)` (logistic regression) otherwise; float64, upper triangle mirrored.
private func affineHessian(dimension d: Int, parameters: [Float]?, data: Dataset) -> [Double] {
    let n = d + 1
    var h = [Double](repeating: 0, count: n * n)
    var xt = [Double](repeating: 1, count: n)
    for i in 0..<data.examples {
        for j in 0..<d { xt[j] = Double(data.features[i * d + j]) }
        var c = 1.0
        if let w = parameters {
            var z = Double(w[d])
            for j in 0..<d { z += Double(w[j]) * xt[j] }
            let s = Double(LogisticRegression.sigmoid(Float(z)))
            c = s * (1 - s)
        }
        for r in 0..<n {
            let cr = c * xt[r]
            for col in r..<n { h[r * n + col] += cr * xt[col] }
        }
    }
    let p = Double(data.examples)
    for r in 0..<n {
        for col in r..<n {
            h[r * n + col] /= p
            h[col * n + r] = h[r * n + col]
        }
    }
    return h
}

/// The Euclidean norm of a float vector, accumulated in float64.
func euclideanNorm(_ v: [Float]) -> Float {
    Float(v.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot())
}
