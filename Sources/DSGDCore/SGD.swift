/// Stochastic gradient descent with optional heavy-ball momentum:
/// `v <- momentum * v + g`, `w <- w - lr * v` (with momentum 0: `w <- w - lr * g`).
///
/// The update reads the old parameters and writes the new ones to a separate buffer, so a
/// parameter buffer that is still being sent is never written.
public struct SGD: Codable, Equatable, Sendable {
    public var learningRate: Float
    public var momentum: Float

    public init(learningRate: Float, momentum: Float = 0) {
        self.learningRate = learningRate
        self.momentum = momentum
    }

    /// Applies one step to `count` parameters: `out = params - lr * v` with `g = scale * gradient`.
    /// `velocity` is read and written only when momentum is non-zero. `out` may alias `params`.
    @inline(__always)
    public func step(
        params: UnsafePointer<Float>, gradient: UnsafePointer<Float>, scale: Float,
        velocity: UnsafeMutablePointer<Float>, out: UnsafeMutablePointer<Float>, count: Int
    ) {
        let lr = learningRate
        if momentum == 0 {
            for i in 0..<count { out[i] = params[i] - lr * (scale * gradient[i]) }
        } else {
            let mu = momentum
            for i in 0..<count {
                let v = mu * velocity[i] + scale * gradient[i]
                velocity[i] = v
                out[i] = params[i] - lr * v
            }
        }
    }
}
