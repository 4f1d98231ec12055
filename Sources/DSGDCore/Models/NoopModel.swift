/// A model for measuring communication alone: `parameterCount` parameters and a loss of 0. Its
/// gradient is identically zero (it leaves the zero-filled buffer it is handed untouched, so a
/// worker's step costs no compute), or with `pattern` a fixed vector of varied values copied in
/// on every call, `g_i = ((i · 2654435761) mod 2^32 / 2^32 − 1/2) · 10^-3`, so that encodings that
/// look at the values (top-k, sign) and sparse parameter changes do their real work.
public struct NoopModel: Model {
    public let parameterCount: Int
    private let pattern: [Float]?

    public init(parameterCount: Int, pattern: Bool = false) {
        self.parameterCount = parameterCount
        self.pattern = pattern ? Self.pattern(count: parameterCount) : nil
    }

    /// The fixed gradient of `pattern` mode.
    public static func pattern(count: Int) -> [Float] {
        (0..<count).map { i in Float((Double(UInt32(truncatingIfNeeded: UInt64(i) &* 2_654_435_761)) / 4_294_967_296 - 0.5) * 1e-3) }
    }

    public var kind: ModelKind { .noop }
    public var shapes: [ParameterShape] { [ParameterShape(name: "theta", shape: [parameterCount])] }
    public func initialParameters() -> [Float] { [Float](repeating: 0, count: parameterCount) }

    /// Leaves `gradient` as it is (callers hand in zero-filled buffers, see `ZeroCopyBuffer`), or
    /// copies the pattern into it.
    public func lossAndGradient(
        parameters: UnsafeBufferPointer<Float>, data: Dataset, batch: UnsafeBufferPointer<UInt32>,
        gradient: UnsafeMutableBufferPointer<Float>
    ) -> Double {
        if let pattern { pattern.withUnsafeBufferPointer { gradient.baseAddress!.update(from: $0.baseAddress!, count: parameterCount) } }
        return 0
    }

    public func loss(parameters: UnsafeBufferPointer<Float>, data: Dataset) -> Double { 0 }
}
