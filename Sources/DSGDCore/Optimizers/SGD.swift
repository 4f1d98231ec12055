/// Stochastic gradient descent with optional momentum, heavy-ball or Nesterov (the
/// PyTorch/Sutskever form): `v <- momentum * v + g`, then the step direction is `d = v` (heavy
/// ball) or `d = g + momentum * v` (Nesterov), and `w <- w - lr * d`. With momentum 0:
/// `w <- w - lr * g` (Nesterov then changes nothing).
///
/// The update reads the old parameters and writes the new ones to a separate buffer, so a
/// parameter buffer that is still being sent is never written.
public struct SGD: Codable, Equatable, Sendable {
    public var learningRate: Float
    public var momentum: Float
    /// Nesterov momentum: step along `g + momentum * v` instead of `v`.
    public var nesterov: Bool

    public init(learningRate: Float, momentum: Float = 0, nesterov: Bool = false) {
        self.learningRate = learningRate
        self.momentum = momentum
        self.nesterov = nesterov
    }

    enum CodingKeys: String, CodingKey {
        case learningRate, momentum, nesterov
    }

    /// Decodes `nesterov` as false when absent (files written before it existed).
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        learningRate = try c.decode(Float.self, forKey: .learningRate)
        momentum = try c.decode(Float.self, forKey: .momentum)
        nesterov = try c.decodeIfPresent(Bool.self, forKey: .nesterov) ?? false
    }

    /// Applies one step to `count` parameters: `out = params - lr * d` with `g = scale * gradient`.
    /// `velocity` is read and written only when momentum is non-zero. `out` may alias `params`.
    /// Eight parameters at a time, each lane the same operations as the scalar remainder (the same
    /// bits as one at a time).
    public func step(
        params: UnsafePointer<Float>, gradient: UnsafePointer<Float>, scale: Float,
        velocity: UnsafeMutablePointer<Float>, out: UnsafeMutablePointer<Float>, count: Int
    ) {
        let lr = learningRate, mu = momentum
        var i = 0
        if mu == 0 {
            while i + 8 <= count {
                store8(load8(params + i) - lr * (scale * load8(gradient + i)), out + i)
                i += 8
            }
            while i < count {
                out[i] = params[i] - lr * (scale * gradient[i])
                i += 1
            }
        } else if nesterov {
            while i + 8 <= count {
                let g = scale * load8(gradient + i)
                let v = mu * load8(velocity + i) + g
                store8(v, velocity + i)
                store8(load8(params + i) - lr * (g + mu * v), out + i)
                i += 8
            }
            while i < count {
                let g = scale * gradient[i]
                let v = mu * velocity[i] + g
                velocity[i] = v
                out[i] = params[i] - lr * (g + mu * v)
                i += 1
            }
        } else {
            while i + 8 <= count {
                let v = mu * load8(velocity + i) + scale * load8(gradient + i)
                store8(v, velocity + i)
                store8(load8(params + i) - lr * v, out + i)
                i += 8
            }
            while i < count {
                let v = mu * velocity[i] + scale * gradient[i]
                velocity[i] = v
                out[i] = params[i] - lr * v
                i += 1
            }
        }
    }
}
