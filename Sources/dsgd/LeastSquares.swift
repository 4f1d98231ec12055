import DSGDCluster
import DSGDCore

/// The optimum of `--model linear` on a data set, in float64: the loss
/// `E(w, b) = 1/(2n) sum_i (y_i - w.x_i - b)^2` at the least-squares parameters, which solve the
/// normal equations `H p = g` with `H = (1/n) sum x~ x~^T`, `g = (1/n) sum y x~` over the inputs
/// extended by a constant 1 (`x~ = [x, 1]`), by Cholesky. Replicating a data set changes neither H
/// nor g, so neither the optimum nor the loss at any parameters.
enum LeastSquares {
    /// The least-squares parameters `[w, b]`, or nil when H is not positive definite.
    static func parameters(of data: Dataset) -> [Double]? {
        let d = data.dimension, m = d + 1, n = data.examples
        var h = [Double](repeating: 0, count: m * m), g = [Double](repeating: 0, count: m)
        var x = [Double](repeating: 1, count: m)
        for i in 0..<n {
            for j in 0..<d { x[j] = Double(data.features[i * d + j]) }
            let y = Double(data.targets[i])
            for a in 0..<m {
                g[a] += y * x[a]
                for b in 0...a { h[a * m + b] += x[a] * x[b] }
            }
        }
        for a in 0..<m {
            g[a] /= Double(n)
            for b in 0...a { h[a * m + b] /= Double(n); h[b * m + a] = h[a * m + b] }
        }
        // H = L L^T, then L z = g, L^T p = z.
        var l = [Double](repeating: 0, count: m * m)
        for a in 0..<m {
            for b in 0...a {
                var s = h[a * m + b]
                for k in 0..<b { s -= l[a * m + k] * l[b * m + k] }
                if a == b {
                    guard s > 0 else { return nil }
                    l[a * m + a] = s.squareRoot()
                } else {
                    l[a * m + b] = s / l[b * m + b]
                }
            }
        }
        var z = g
        for a in 0..<m {
            for k in 0..<a { z[a] -= l[a * m + k] * z[k] }
            z[a] /= l[a * m + a]
        }
        var p = z
        for a in stride(from: m - 1, through: 0, by: -1) {
            for k in (a + 1)..<m { p[a] -= l[k * m + a] * p[k] }
            p[a] /= l[a * m + a]
        }
        return p
    }

    /// `E(w, b)` of parameters `p = [w, b]` on `data`, in float64.
    static func loss(_ p: [Double], on data: Dataset) -> Double {
        let d = data.dimension
        var sum = 0.0
        for i in 0..<data.examples {
            var r = Double(data.targets[i]) - p[d]
            for j in 0..<d { r -= p[j] * Double(data.features[i * d + j]) }
            sum += r * r
        }
        return sum / Double(2 * data.examples)
    }
}

/// What the experiments on `--model linear` need to know of a job's training set before they run
/// it: lambda_max at the initial parameters (`Curvature.analyze`), the least-squares optimum E*
/// and the loss E(w0) at the initial parameters, both in float64.
struct LeastSquaresProblem {
    let lambdaMax: Double
    let optimum: Double
    let initialLoss: Double

    /// The problem of `job`'s training set and initial parameters.
    /// - Throws: `CleanFailure` naming `what` when the set has no least-squares optimum.
    init(job: JobConfig, what: String) throws {
        let set = try job.trainingData()
        let start = try job.initialParameters()
        let lambda = Curvature.analyze(model: job.makeModel(), parameters: start, data: set, seed: job.seed).summary.lambdaMax
        guard lambda.isFinite, lambda > 0, let p = LeastSquares.parameters(of: set) else {
            throw CleanFailure("\(what): no least-squares optimum (lambda_max \(lambda))")
        }
        lambdaMax = lambda
        optimum = LeastSquares.loss(p, on: set)
        initialLoss = LeastSquares.loss(start.map(Double.init), on: set)
    }
}
