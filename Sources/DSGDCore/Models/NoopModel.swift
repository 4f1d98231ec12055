/// A model for measuring communication alone: `parameterCount` parameters and a loss of 0. Its
/// gradient is identically zero (it leaves the zero-filled buffer it is handed untouched, so a
/// worker's step costs no compute), or with `pattern` a fixed vector of varied values written on
/// every call, so that encodings that look at the values (top-k, sign) and sparse parameter
/// changes do their real work: with `h_i = (i · 2654435761) mod 2^32`,
/// `g_i = float32((h_i >> 8) − 2^23) · float32(10^-3 / 2^24)`, one float32 product (values in
/// [−5·10^-4, 5·10^-4)).
public struct NoopModel: Model {
    public let parameterCount: Int
    private let pattern: Bool

    public init(parameterCount: Int, pattern: Bool = false) {
        self.parameterCount = parameterCount
        self.pattern = pattern
    }

    /// The fixed gradient of `pattern` mode, value by value.
    public static func pattern(count: Int) -> [Float] {
        (0..<count).map(value)
    }

    /// Writes `pattern(count: out.count)` into `out`, eight values at a time, the hashes stepped by
    /// an addition: a pass that only writes (copying a stored pattern read as many bytes again,
    /// and cost a worker twice as much).
    public static func writePattern(into out: UnsafeMutableBufferPointer<Float>) {
        guard let base = out.baseAddress else { return }
        let n = out.count
        let step = SIMD8<UInt32>(repeating: 8 &* 2_654_435_761)
        var hash = SIMD8<UInt32>(0, 1, 2, 3, 4, 5, 6, 7) &* 2_654_435_761
        let scale = SIMD8<Float>(repeating: Float(1e-3 / 16_777_216))
        var i = 0
        while i + 8 <= n {
            let centred = SIMD8<Int32>(truncatingIfNeeded: hash &>> 8) &- (1 << 23)
            UnsafeMutableRawPointer(base + i).storeBytes(of: SIMD8<Float>(centred) * scale, as: SIMD8<Float>.self)
            hash &+= step
            i += 8
        }
        while i < n {
            base[i] = value(i)
            i += 1
        }
    }

    /// Value `i` of the pattern.
    @inline(__always) static func value(_ i: Int) -> Float {
        let h = UInt32(truncatingIfNeeded: UInt64(i) &* 2_654_435_761)
        return Float(Int32(h >> 8) - (1 << 23)) * Float(1e-3 / 16_777_216)
    }

    public var kind: ModelKind { .noop }
    public var shapes: [ParameterShape] { [ParameterShape(name: "theta", shape: [parameterCount])] }
    public func initialParameters() -> [Float] { [Float](repeating: 0, count: parameterCount) }

    /// Leaves `gradient` as it is (callers hand in zero-filled buffers, see `ZeroCopyBuffer`), or
    /// writes the pattern into it.
    public func lossAndGradient(
        parameters: UnsafeBufferPointer<Float>, data: Dataset, batch: UnsafeBufferPointer<UInt32>,
        gradient: UnsafeMutableBufferPointer<Float>
    ) -> Double {
        if pattern { Self.writePattern(into: UnsafeMutableBufferPointer(rebasing: gradient[0..<parameterCount])) }
        return 0
    }

    public func loss(parameters: UnsafeBufferPointer<Float>, data: Dataset) -> Double { 0 }
}
