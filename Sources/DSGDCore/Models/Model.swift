/// The models dsgd can train. Parameters are one flat float32 vector; each model documents its layout.
public enum ModelKind: String, Codable, CaseIterable, Sendable {
    /// Linear regression, quadratic loss E = 1/(2B) sum (y - w.x - b)^2.
    case linear
    /// Logistic regression, mean binary cross-entropy with labels in {0, 1}.
    case logistic
    /// A communication benchmark: `dimension` parameters, gradient identically zero, loss 0.
    case noop
    /// Multi-class softmax regression, mean cross-entropy with class indices 0..K-1 as targets.
    case softmax
    /// The 1-1-1 linear network of LeCun's lecture, `y = w1 w2 x`, quadratic loss; inputs of one
    /// feature. Spelled `deep-linear-111` on the command line and in JSON (lowercase with dashes,
    /// like the data set names, so it needs no quoting in a shell).
    case deepLinear111 = "deep-linear-111"
    /// A ReLU multi-layer perceptron with a softmax cross-entropy output (`MLP`); `make` builds one
    /// hidden layer of 64 units unless given other widths.
    case mlp
}

/// One named block of the flat parameter vector (for `params.json` and readers of it).
public struct ParameterShape: Codable, Equatable, Sendable {
    public var name: String
    public var shape: [Int]
    public init(name: String, shape: [Int]) {
        self.name = name
        self.shape = shape
    }
}

/// A differentiable model: a loss over examples and its gradient, side by side.
///
/// Implementations do not allocate in `lossAndGradient`: the worker calls it once per minibatch.
public protocol Model: Sendable {
    /// Which model this is.
    var kind: ModelKind { get }
    /// Length of the flat parameter vector.
    var parameterCount: Int { get }
    /// The blocks of the flat parameter vector, in order.
    var shapes: [ParameterShape] { get }
    /// Starting parameters (deterministic).
    func initialParameters() -> [Float]
    /// Writes the mean gradient over the examples `batch` of `data` into `gradient` (overwriting it)
    /// and returns the mean loss over the same examples.
    func lossAndGradient(
        parameters: UnsafeBufferPointer<Float>, data: Dataset, batch: UnsafeBufferPointer<UInt32>,
        gradient: UnsafeMutableBufferPointer<Float>
    ) -> Double
    /// `lossAndGradient`, told which examples the next call will read (`next`, possibly empty), so
    /// that a model that streams its examples from memory can start loading them while it finishes
    /// this batch (the affine models prefetch the first rows of `next`). The result is exactly
    /// that of `lossAndGradient` without the hint; by default the hint is ignored.
    func lossAndGradient(
        parameters: UnsafeBufferPointer<Float>, data: Dataset, batch: UnsafeBufferPointer<UInt32>,
        gradient: UnsafeMutableBufferPointer<Float>, next: UnsafeBufferPointer<UInt32>
    ) -> Double
    /// Mean loss over every example of `data`.
    func loss(parameters: UnsafeBufferPointer<Float>, data: Dataset) -> Double
    /// Classifiers: the fraction of examples of `data` whose predicted class equals the target
    /// (logistic: sigmoid(z) > 0.5 against a 0/1 label; softmax and mlp: argmax of the logits
    /// against the class index). nil for models that do not classify (the default).
    func accuracy(parameters: UnsafeBufferPointer<Float>, data: Dataset) -> Double?
}

extension ModelKind {
    /// Builds the model for inputs of `inputDimension` features; `noop` takes `parameters` instead,
    /// `softmax` also takes `classes` (ignored by the others), and `deepLinear111` always has one
    /// input (`inputDimension` must be 1 for the data it is given); `mlp` has hidden layers of
    /// widths `hidden`, each layer-normalized before its ReLU when `layerNorm` is set (ignored by
    /// the other models); `noopPattern` gives `noop` its fixed non-zero gradient.
    public func make(
        inputDimension: Int, parameters: Int? = nil, classes: Int = 2, hidden: [Int] = [64], layerNorm: Bool = false,
        noopPattern: Bool = false
    ) -> any Model {
        switch self {
        case .linear: return LinearRegression(dimension: inputDimension)
        case .logistic: return LogisticRegression(dimension: inputDimension)
        case .noop: return NoopModel(parameterCount: parameters ?? inputDimension, pattern: noopPattern)
        case .softmax: return SoftmaxRegression(dimension: inputDimension, classes: classes)
        case .deepLinear111: return DeepLinear111()
        case .mlp: return MLP(inputDimension: inputDimension, hidden: hidden, classes: classes, layerNorm: layerNorm)
        }
    }
}

extension Model {
    /// Ignores the hint (see the requirement).
    public func lossAndGradient(
        parameters: UnsafeBufferPointer<Float>, data: Dataset, batch: UnsafeBufferPointer<UInt32>,
        gradient: UnsafeMutableBufferPointer<Float>, next: UnsafeBufferPointer<UInt32>
    ) -> Double {
        lossAndGradient(parameters: parameters, data: data, batch: batch, gradient: gradient)
    }

    /// Not a classifier.
    public func accuracy(parameters: UnsafeBufferPointer<Float>, data: Dataset) -> Double? { nil }

    /// `accuracy` over a Swift array.
    public func accuracy(parameters: [Float], data: Dataset) -> Double? {
        parameters.withUnsafeBufferPointer { accuracy(parameters: $0, data: data) }
    }

    /// `lossAndGradient` over Swift arrays (tests and one-off use; allocates).
    public func lossAndGradient(parameters: [Float], data: Dataset, batch: [UInt32]) -> (loss: Double, gradient: [Float]) {
        var g = [Float](repeating: 0, count: parameterCount)
        let l = parameters.withUnsafeBufferPointer { p in
            batch.withUnsafeBufferPointer { b in
                g.withUnsafeMutableBufferPointer { lossAndGradient(parameters: p, data: data, batch: b, gradient: $0) }
            }
        }
        return (l, g)
    }

    /// `loss` over a Swift array.
    public func loss(parameters: [Float], data: Dataset) -> Double {
        parameters.withUnsafeBufferPointer { loss(parameters: $0, data: data) }
    }
}

/// Dot product of two float vectors of length `n` with four partial sums (lets the loop vectorize).
@inline(__always)
func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
    var s0: Float = 0, s1: Float = 0, s2: Float = 0, s3: Float = 0
    var j = 0
    while j + 4 <= n {
        s0 += a[j] * b[j]
        s1 += a[j + 1] * b[j + 1]
        s2 += a[j + 2] * b[j + 2]
        s3 += a[j + 3] * b[j + 3]
        j += 4
    }
    while j < n {
        s0 += a[j] * b[j]
        j += 1
    }
    return (s0 + s1) + (s2 + s3)
}
