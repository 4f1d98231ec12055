/// A dense float32 data set held in memory: `features` is row-major `[examples x dimension]`,
/// `targets` holds one value per example (a regression target, or a class label 0/1).
public final class Dataset: Sendable {
    /// Number of examples (rows).
    public let examples: Int
    /// Number of input features per example (columns), not counting a bias.
    public let dimension: Int
    /// Row-major features, `examples * dimension` floats.
    public let features: [Float]
    /// One target per example.
    public let targets: [Float]

    public init(examples: Int, dimension: Int, features: [Float], targets: [Float]) {
        precondition(features.count == examples * dimension, "features must hold examples x dimension floats")
        precondition(targets.count == examples, "one target per example")
        self.examples = examples
        self.dimension = dimension
        self.features = features
        self.targets = targets
    }
}
