/// The shared forward/backward of models whose output is one affine function of the input,
/// `z = w.x + b`, with a per-example loss `l(z, y)` (linear and logistic regression).
///
/// Parameters: `[w_0 ... w_{d-1}, b]`. The mean loss over a batch is `(1/B) sum l(z_i, y_i)`; its
/// gradient is `(1/B) sum l'(z_i, y_i) [x_i; 1]` (chain rule through `z`).
protocol AffineModel: Model {
    /// Number of input features `d`.
    var dimension: Int { get }
    /// The loss of one example and its derivative with respect to `z`.
    static func lossAndSlope(z: Float, y: Float) -> (loss: Float, slope: Float)
}

extension AffineModel {
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
                    let z = dot(w, x, d) + bias                                  // forward
                    let (loss, s) = Self.lossAndSlope(z: z, y: ys[Int(i)])       // s = dl/dz
                    total += Double(loss)
                    for j in 0..<d { g[j] += s * x[j] }                          // backward
                    g[d] += s
                }
            }
        }
        let scale = 1 / Float(batch.count)
        for j in 0...d { g[j] *= scale }
        return total / Double(batch.count)
    }

    public func loss(parameters: UnsafeBufferPointer<Float>, data: Dataset) -> Double {
        var total = 0.0
        forEachOutput(parameters: parameters, data: data) { z, y in
            total += Double(Self.lossAndSlope(z: z, y: y).loss)
        }
        return total / Double(data.examples)
    }

    /// Calls `body` with the output `z = w.x + b` and the target of every example of `data`.
    @inline(__always)
    func forEachOutput(parameters: UnsafeBufferPointer<Float>, data: Dataset, _ body: (Float, Float) -> Void) {
        let d = dimension
        let w = parameters.baseAddress!
        let bias = parameters[d]
        data.features.withUnsafeBufferPointer { xs in
            data.targets.withUnsafeBufferPointer { ys in
                for i in 0..<data.examples { body(dot(w, xs.baseAddress! + i * d, d) + bias, ys[i]) }
            }
        }
    }
}
