/// The 1-1-1 linear network of LeCun's optimization lecture: one input, one hidden unit, one
/// output, no non-linearity and no biases, `y_hat = w1 * w2 * x`. Its inputs have one feature.
///
/// Parameters: `[w1, w2]` (`w2` the input-to-hidden weight, `w1` the hidden-to-output weight).
///
/// Shapes (one example, all scalars):
///
///     x  : [1]    input
///     h  : [1]    hidden unit, h = w2 x
///     z  : [1]    output, z = w1 h = w1 w2 x
///
/// Loss over B examples: `E = 1/(2B) sum (y - w1 w2 x)^2`, the same 1/2 convention as
/// `LinearRegression`. With `r = y - w1 w2 x`:
/// `dE/dw1 = -(1/B) sum r w2 x`, `dE/dw2 = -(1/B) sum r w1 x`, and the exact Hessian is
///
///     H = (1/B) sum [ w2^2 x^2              2 w1 w2 x^2 - x y ]
///                   [ 2 w1 w2 x^2 - x y     w1^2 x^2          ]
///
/// For the lecture's single example `x = 1, y = 1`, `E = (1 - w1 w2)^2 / 2` and
/// `H = [[w2^2, 2 w1 w2 - 1], [2 w1 w2 - 1, w1^2]]`. The lecture writes the loss without the 1/2,
/// `(1 - w1 w2)^2`, whose Hessian is twice this one, `[[2 w2^2, 4 w1 w2 - 2], [4 w1 w2 - 2, 2 w1^2]]`.
/// Under the 1/2 convention:
/// - the origin is a saddle point: the gradient is exactly 0 there and `H = [[0, -1], [-1, 0]]`,
///   eigenvalues -1 and +1;
/// - the minima form the hyperbola `w1 w2 = 1`, where `H = [[w2^2, 1], [1, w1^2]]` has eigenvalues
///   0 (along the valley) and `w1^2 + w2^2 >= 2`; so the largest stable learning rate `2 / lambda_max`
///   is at most 1 and shrinks the more unbalanced the weights are.
public struct DeepLinear111: Model {
    public init() {}

    /// Number of input features: always 1.
    public var dimension: Int { 1 }

    public var kind: ModelKind { .deepLinear111 }
    public var parameterCount: Int { 2 }
    public var shapes: [ParameterShape] { [ParameterShape(name: "w1", shape: [1]), ParameterShape(name: "w2", shape: [1])] }

    /// `[0.1, 0.05]`: small, deterministic, and on neither diagonal. The origin is a stationary
    /// point (a saddle, see above) where the gradient is exactly zero, so gradient descent started
    /// there never moves (`--init zeros` shows it). A start on a diagonal is no better: exact
    /// gradient descent keeps `w1 = w2` (and `w1 = -w2`) for ever, so from `(0.1, 0.1)` the
    /// product `w1 w2` can never turn negative, and on data with a negative slope (`sum x y < 0`)
    /// the run would slide into the saddle and leave it only when float32 rounding happens to
    /// break the symmetry. Off both diagonals, gradient descent escapes for either sign of the
    /// slope (gradient flow keeps `w1^2 - w2^2` constant, here 0.0075, so the path passes the
    /// saddle at a distance and ends near the balanced minimum).
    public func initialParameters() -> [Float] { [0.1, 0.05] }

    public func lossAndGradient(
        parameters: UnsafeBufferPointer<Float>, data: Dataset, batch: UnsafeBufferPointer<UInt32>,
        gradient: UnsafeMutableBufferPointer<Float>
    ) -> Double {
        precondition(data.dimension == 1, "the 1-1-1 network takes inputs of one feature (got \(data.dimension))")
        let w1 = parameters[0], w2 = parameters[1]
        var total = 0.0
        var g1: Float = 0, g2: Float = 0
        data.features.withUnsafeBufferPointer { xs in
            data.targets.withUnsafeBufferPointer { ys in
                for i in batch {
                    let x = xs[Int(i)], y = ys[Int(i)]
                    let h = w2 * x                                  // forward
                    let z = w1 * h
                    let s = z - y                                   // dl/dz = -r, l = r^2 / 2
                    total += Double(0.5 * (s * s))
                    g1 += s * h                                     // backward: dl/dw1 = dl/dz h
                    g2 += s * w1 * x                                //           dl/dw2 = dl/dz w1 x
                }
            }
        }
        let scale = 1 / Float(batch.count)
        gradient[0] = g1 * scale
        gradient[1] = g2 * scale
        return total / Double(batch.count)
    }

    public func loss(parameters: UnsafeBufferPointer<Float>, data: Dataset) -> Double {
        precondition(data.dimension == 1, "the 1-1-1 network takes inputs of one feature (got \(data.dimension))")
        let w = parameters[0] * parameters[1]
        var total = 0.0
        for i in 0..<data.examples {
            let r = data.targets[i] - w * data.features[i]
            total += Double(0.5 * (r * r))
        }
        return total / Double(data.examples)
    }

    /// The exact Hessian of the mean loss over every example of `data` at `parameters` (`[w1, w2]`),
    /// 2 x 2 row-major `[d2E/dw1^2, d2E/dw1dw2, d2E/dw2dw1, d2E/dw2^2]`, under the 1/2 convention of
    /// the loss (see the type's documentation); summed in float64. For analysis, not the training loop.
    public func hessian(parameters: [Float], data: Dataset) -> [Float] {
        precondition(data.dimension == 1, "the 1-1-1 network takes inputs of one feature (got \(data.dimension))")
        precondition(parameters.count == 2, "the 1-1-1 network has two parameters (got \(parameters.count))")
        let w1 = Double(parameters[0]), w2 = Double(parameters[1])
        var xx = 0.0, xy = 0.0                                      // sum x^2, sum x y
        for i in 0..<data.examples {
            let x = Double(data.features[i])
            xx += x * x
            xy += x * Double(data.targets[i])
        }
        let n = Double(data.examples)
        let offDiagonal = Float((2 * w1 * w2 * xx - xy) / n)
        return [Float(w2 * w2 * xx / n), offDiagonal, offDiagonal, Float(w1 * w1 * xx / n)]
    }
}
