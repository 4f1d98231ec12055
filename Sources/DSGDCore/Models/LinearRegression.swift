import DSGDKernels

/// Linear regression with quadratic loss.
///
/// Parameters: `[w_0 ... w_{d-1}, b]`. Prediction `z = w.x + b`.
/// Loss over B examples: `E = 1/(2B) sum (y - z)^2` (the 1/2 makes the Hessian the second-moment
/// matrix of the inputs extended by a constant 1: `H = (1/B) sum [x;1][x;1]^T`).
/// Per example: `l = (y - z)^2 / 2`, `dl/dz = z - y`.
public struct LinearRegression: AffineModel {
    public let dimension: Int
    public init(dimension: Int) { self.dimension = dimension }

    public var kind: ModelKind { .linear }

    static var kernelLoss: AffineKernels.Loss { .squared }

    @inline(__always)
    static func lossAndSlope(z: Float, y: Float) -> (loss: Float, slope: Float) {
        let r = z - y
        return (0.5 * (r * r), r)
    }
}
