/// Linear regression with quadratic loss.
///
/// Parameters: `[w_0 ... w_{d-1}, b]`. Prediction `p = w.x + b`.
/// Loss over B examples: `E = 1/(2B) sum (y - p)^2` (the 1/2 makes the Hessian the second-moment
/// matrix of the inputs extended by a constant 1: `H = (1/B) sum [x;1][x;1]^T`).
/// Gradient: `dE/dw = -(1/B) sum (y - p) x`, `dE/db = -(1/B) sum (y - p)`.
public struct LinearRegression: Model {
    public let dimension: Int
    public init(dimension: Int) { self.dimension = dimension }

    public var kind: ModelKind { .linear }
    public var parameterCount: Int { dimension + 1 }
    public var shapes: [ParameterShape] { [ParameterShape(name: "w", shape: [dimension]), ParameterShape(name: "b", shape: [1])] }
    public func initialParameters() -> [Float] { [Float](repeating: 0, count: parameterCount) }

    public func lossAndGradient(
        parameters: UnsafeBufferPointer<Float>, data: Dataset, batch: UnsafeBufferPointer<UInt32>,
        gradient: UnsafeMutableBufferPointer<Float>
    ) -> Double {
        let d = dimension
        let w = parameters.baseAddress!, g = gradient.baseAddress!
        let bias = parameters[d]
        g.update(repeating: 0, count: d + 1)
        var total = 0.0
        data.features.withUnsafeBufferPointer { xs in
            data.targets.withUnsafeBufferPointer { ys in
                for i in batch {
                    let x = xs.baseAddress! + Int(i) * d
                    let r = ys[Int(i)] - (dot(w, x, d) + bias)  // residual y - p
                    total += Double(r * r)
                    for j in 0..<d { g[j] -= r * x[j] }  // forward residual, backward into w
                    g[d] -= r
                }
            }
        }
        let scale = 1 / Float(batch.count)
        for j in 0...d { g[j] *= scale }
        return total / (2 * Double(batch.count))
    }

    public func loss(parameters: UnsafeBufferPointer<Float>, data: Dataset) -> Double {
        let d = dimension
        let w = parameters.baseAddress!
        let bias = parameters[d]
        var total = 0.0
        data.features.withUnsafeBufferPointer { xs in
            for i in 0..<data.examples {
                let r = data.targets[i] - (dot(w, xs.baseAddress! + i * d, d) + bias)
                total += Double(r * r)
            }
        }
        return total / (2 * Double(data.examples))
    }
}
