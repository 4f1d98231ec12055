import DSGDKernels
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Logistic regression (binary), labels in {0, 1}.
///
/// Parameters: `[w_0 ... w_{d-1}, b]`. Logit `z = w.x + b`, probability `sigmoid(z)`.
/// Loss over B examples: mean cross-entropy `(1/B) sum [log(1 + e^z) - y z]`.
/// Per example: `l = max(z, 0) - y z + log(1 + e^-|z|)` (stable form), `dl/dz = sigmoid(z) - y`.
/// The minibatch loss and gradient run eight examples at a time in
/// `VectorMath.logisticLossAndSlope` (vectorised exp and log1p, within 2 ulps).
public struct LogisticRegression: AffineModel {
    public let dimension: Int
    public init(dimension: Int) { self.dimension = dimension }

    public var kind: ModelKind { .logistic }

    static var kernelLoss: AffineKernels.Loss { .logistic }

    /// The fraction of examples with `sigmoid(z) > 0.5` (i.e. `z > 0`) equal to their 0/1 label.
    public func accuracy(parameters: UnsafeBufferPointer<Float>, data: Dataset) -> Double? {
        guard data.examples > 0 else { return nil }
        var correct = 0
        forEachOutput(parameters: parameters, data: data) { z, y in
            if (Self.sigmoid(z) > 0.5) == (y > 0.5) { correct += 1 }
        }
        return Double(correct) / Double(data.examples)
    }

    /// As the kernel: `[max(z, 0) - y z]` as `(1 - y) z` for `z > 0`, else `-y z`, and exactly 0
    /// when that coefficient is 0 (so `z = +inf, y = 1` gives 0, not `inf - inf`); the slope as
    /// `sigmoid(z) - y` for `y <= 1/2`, else `(1 - y) - sigmoid(-z)` (no cancellation for 0/1 labels).
    @inline(__always)
    static func lossAndSlope(z: Float, y: Float) -> (loss: Float, slope: Float) {
        let coefficient = z > 0 ? 1 - y : -y
        let linear = coefficient == 0 ? 0 : coefficient * z
        let slope = y <= 0.5 ? sigmoid(z) - y : (1 - y) - sigmoid(-z)
        return (linear + log1pf(expf(-abs(z))), slope)
    }

    @inline(__always)
    static func sigmoid(_ z: Float) -> Float {
        if z >= 0 { return 1 / (1 + expf(-z)) }
        let e = expf(z)
        return e / (1 + e)
    }
}
