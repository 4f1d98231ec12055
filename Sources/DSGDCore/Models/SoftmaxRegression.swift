#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Multi-class softmax (multinomial logistic) regression over `classes` classes.
///
/// Parameters: `[W, b]`, `W` the `K x d` weight matrix row-major (row k = weights of class k),
/// then the `K` biases. Targets hold the class index as a float, `0 ... K-1`.
///
/// Shapes (one example):
///
///     x : [d]        input
///     W : [K, d]     weights, row-major
///     b : [K]        biases
///     z : [K]        logits, z = W x + b
///     p : [K]        probabilities, p = softmax(z)
///
/// Loss over B examples: mean cross-entropy `E = (1/B) sum_i [logsumexp(z_i) - z_i[y_i]]`, with the
/// log-sum-exp taken stably as `m + log sum_k e^(z_k - m)`, `m = max_k z_k` (no overflow for large
/// logits, and at least one term of the sum is 1, so no `log 0`).
/// Per example: `dl/dz = p - onehot(y)`, hence `dE/dW = (1/B) sum (p - onehot(y)) x^T` and
/// `dE/db = (1/B) sum (p - onehot(y))`. At `W = 0, b = 0` every example's loss is `log K`.
///
/// With `K = 2`, `W = [0; w]` and `b = [0; c]` this is exactly `LogisticRegression` with `[w, c]`.
public struct SoftmaxRegression: Model {
    /// Number of input features `d`.
    public let dimension: Int
    /// Number of classes `K` (at least 2).
    public let classes: Int

    public init(dimension: Int, classes: Int) {
        precondition(dimension >= 1, "softmax regression needs at least one feature (got \(dimension))")
        precondition(classes >= 2, "softmax regression needs at least two classes (got \(classes))")
        self.dimension = dimension
        self.classes = classes
    }

    public var kind: ModelKind { .softmax }
    public var parameterCount: Int { classes * dimension + classes }
    public var shapes: [ParameterShape] {
        [ParameterShape(name: "W", shape: [classes, dimension]), ParameterShape(name: "b", shape: [classes])]
    }
    /// All zeros: every class equally likely, loss `log K` (the softmax loss is convex, so there
    /// is no symmetry to break).
    public func initialParameters() -> [Float] { [Float](repeating: 0, count: parameterCount) }

    /// The `K` logits scratch floats live in `withUnsafeTemporaryAllocation` (on the stack for
    /// any reasonable `K`), taken once per call, so the call makes no heap allocation.
    public func lossAndGradient(
        parameters: UnsafeBufferPointer<Float>, data: Dataset, batch: UnsafeBufferPointer<UInt32>,
        gradient: UnsafeMutableBufferPointer<Float>
    ) -> Double {
        let d = dimension, k = classes
        let w = parameters.baseAddress!, bias = w + k * d
        let gw = gradient.baseAddress!, gb = gw + k * d
        gw.update(repeating: 0, count: k * d + k)
        var total = 0.0
        withUnsafeTemporaryAllocation(of: Float.self, capacity: k) { scratch in
            let z = scratch.baseAddress!                                     // [K] logits, then e^(z_c - m)
            data.features.withUnsafeBufferPointer { xs in
                data.targets.withUnsafeBufferPointer { ys in
                    for i in batch {
                        let x = xs.baseAddress! + Int(i) * d
                        let y = Self.classIndex(ys[Int(i)], classes: k)
                        // forward: z = W x + b, l = logsumexp(z) - z[y]; z now holds e^(z_c - m)
                        let (l, sum) = Self.forward(z, w, bias, x, d, k, y)
                        total += Double(l)
                        // backward: dl/dz = p - onehot(y); dW += dl/dz x^T, db += dl/dz
                        let inverseSum = 1 / sum
                        for c in 0..<k {
                            var s = z[c] * inverseSum                                // p_c
                            if c == y { s -= 1 }
                            let row = gw + c * d
                            for j in 0..<d { row[j] += s * x[j] }
                            gb[c] += s
                        }
                    }
                }
            }
        }
        let scale = 1 / Float(batch.count)
        for j in 0..<(k * d + k) { gw[j] *= scale }
        return total / Double(batch.count)
    }

    public func loss(parameters: UnsafeBufferPointer<Float>, data: Dataset) -> Double {
        let d = dimension, k = classes
        let w = parameters.baseAddress!, bias = w + k * d
        var total = 0.0
        withUnsafeTemporaryAllocation(of: Float.self, capacity: k) { scratch in
            let z = scratch.baseAddress!
            data.features.withUnsafeBufferPointer { xs in
                data.targets.withUnsafeBufferPointer { ys in
                    for i in 0..<data.examples {
                        let y = Self.classIndex(ys[i], classes: k)
                        total += Double(Self.forward(z, w, bias, xs.baseAddress! + i * d, d, k, y).loss)
                    }
                }
            }
        }
        return total / Double(data.examples)
    }

    /// The fraction of examples whose largest logit is their class.
    public func accuracy(parameters: UnsafeBufferPointer<Float>, data: Dataset) -> Double? {
        guard data.examples > 0 else { return nil }
        let d = dimension, k = classes
        let w = parameters.baseAddress!, bias = w + k * d
        var correct = 0
        data.features.withUnsafeBufferPointer { xs in
            data.targets.withUnsafeBufferPointer { ys in
                for i in 0..<data.examples {
                    let x = xs.baseAddress! + i * d
                    var best = 0, bestZ = -Float.infinity
                    for c in 0..<k {
                        let z = dot(w + c * d, x, d) + bias[c]
                        if z > bestZ { best = c; bestZ = z }
                    }
                    if best == Self.classIndex(ys[i], classes: k) { correct += 1 }
                }
            }
        }
        return Double(correct) / Double(data.examples)
    }

    /// The forward pass of one example: the logits `z = W x + b`, their maximum `m`, and the loss
    /// `l = log sum_c e^(z_c - m) - (z_y - m)` (= logsumexp(z) - z_y). However large the logits,
    /// nothing overflows: every `e^(z_c - m)` is at most 1 and their sum lies in [1, K].
    /// Leaves `e^(z_c - m)` in `z` (so `p_c = z[c] / sum`) and returns the sum.
    @inline(__always)
    static func forward(
        _ z: UnsafeMutablePointer<Float>, _ w: UnsafePointer<Float>, _ bias: UnsafePointer<Float>,
        _ x: UnsafePointer<Float>, _ d: Int, _ k: Int, _ y: Int
    ) -> (loss: Float, sum: Float) {
        for c in 0..<k { z[c] = dot(w + c * d, x, d) + bias[c] }
        return softmaxCrossEntropyInPlace(z, k, y)
    }

    /// The class index a target holds; a target that is not one of `0 ... K-1` is a programming error.
    @inline(__always)
    static func classIndex(_ y: Float, classes k: Int) -> Int {
        precondition(y >= 0 && y < Float(k) && y == y.rounded(.towardZero),
                     "softmax targets must be class indices 0...\(k - 1) (got \(y))")
        return Int(y)
    }
}
