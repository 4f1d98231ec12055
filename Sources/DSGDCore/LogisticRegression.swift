#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Logistic regression (binary), labels in {0, 1}.
///
/// Parameters: `[w_0 ... w_{d-1}, b]`. Logit `z = w.x + b`, probability `sigmoid(z)`.
/// Loss over B examples: mean cross-entropy `(1/B) sum [log(1 + e^z) - y z]`, computed stably as
/// `max(z, 0) - y z + log(1 + e^-|z|)`.
/// Gradient: `dE/dw = (1/B) sum (sigmoid(z) - y) x`, `dE/db = (1/B) sum (sigmoid(z) - y)`.
public struct LogisticRegression: Model {
    public let dimension: Int
    public init(dimension: Int) { self.dimension = dimension }

    public var kind: ModelKind { .logistic }
    public var parameterCount: Int { dimension + 1 }
    public var shapes: [ParameterShape] { [ParameterShape(name: "w", shape: [dimension]), ParameterShape(name: "b", shape: [1])] }
    public func initialParameters() -> [Float] { [Float](repeating: 0, count: parameterCount) }

    @inline(__always)
    static func crossEntropy(logit z: Float, label y: Float) -> Float {
        max(z, 0) - y * z + log1pf(expf(-abs(z)))
    }

    @inline(__always)
    static func sigmoid(_ z: Float) -> Float {
        z >= 0 ? 1 / (1 + expf(-z)) : { let e = expf(z); return e / (1 + e) }()
    }

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
                    let y = ys[Int(i)]
                    let z = dot(w, x, d) + bias                     // forward
                    total += Double(Self.crossEntropy(logit: z, label: y))
                    let s = Self.sigmoid(z) - y                      // backward: dE/dz
                    for j in 0..<d { g[j] += s * x[j] }
                    g[d] += s
                }
            }
        }
        let scale = 1 / Float(batch.count)
        for j in 0...d { g[j] *= scale }
        return total / Double(batch.count)
    }

    public func loss(parameters: UnsafeBufferPointer<Float>, data: Dataset) -> Double {
        let d = dimension
        let w = parameters.baseAddress!
        let bias = parameters[d]
        var total = 0.0
        data.features.withUnsafeBufferPointer { xs in
            for i in 0..<data.examples {
                let z = dot(w, xs.baseAddress! + i * d, d) + bias
                total += Double(Self.crossEntropy(logit: z, label: data.targets[i]))
            }
        }
        return total / Double(data.examples)
    }
}
