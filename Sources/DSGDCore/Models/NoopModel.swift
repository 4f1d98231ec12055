/// A model for measuring communication alone: `parameterCount` parameters, a gradient that is
/// identically zero and a loss of 0. It leaves the gradient buffer untouched after zeroing it
/// once, so a worker's step costs no compute and a round times only the transport and aggregation.
public struct NoopModel: Model {
    public let parameterCount: Int
    public init(parameterCount: Int) { self.parameterCount = parameterCount }

    public var kind: ModelKind { .noop }
    public var shapes: [ParameterShape] { [ParameterShape(name: "theta", shape: [parameterCount])] }
    public func initialParameters() -> [Float] { [Float](repeating: 0, count: parameterCount) }

    /// Leaves `gradient` as it is: callers hand in zero-filled buffers (see `ZeroCopyBuffer`).
    public func lossAndGradient(
        parameters: UnsafeBufferPointer<Float>, data: Dataset, batch: UnsafeBufferPointer<UInt32>,
        gradient: UnsafeMutableBufferPointer<Float>
    ) -> Double { 0 }

    public func loss(parameters: UnsafeBufferPointer<Float>, data: Dataset) -> Double { 0 }
}
