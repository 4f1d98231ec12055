/// The coordinator's dense update (Aggregator in DSGDCluster) as a kernel variant builds it: the
/// mean of several gradients and the SGD step, in one pass over a range of parameters.
public struct StepKernels: Sendable {
    /// What one `meanStep` applies: `g = scale · (((g_0 + g_1) + g_2) + ...)` per element (the
    /// gradients summed in index order), then with momentum `v = momentum · v + g` and
    /// `w' = w − rate · v` (Nesterov: `w' = w − rate · (g + momentum · v)`), without it
    /// `w' = w − rate · g`. Every operation is a separate IEEE float operation (no fused
    /// multiply-add), so every variant writes the same bits as `SGD.step`.
    public struct Step: Sendable {
        public var scale: Float
        public var rate: Float
        public var momentum: Float
        public var nesterov: Bool
        /// Whether the gradients are bf16 as received (little-endian, each the top half of a
        /// float32) rather than float32.
        public var bfloat16: Bool

        public init(scale: Float, rate: Float, momentum: Float, nesterov: Bool, bfloat16: Bool) {
            self.scale = scale
            self.rate = rate
            self.momentum = momentum
            self.nesterov = nesterov
            self.bfloat16 = bfloat16
        }
    }

    /// Writes `out[i] = step(params[i], mean of gradients[0..<count][i])` for `i` in `0..<n`,
    /// updating `velocity` when `step.momentum != 0` (it is not read otherwise), and returns
    /// whether every sum was finite: gradients, count, n, params, out, velocity, step. After
    /// false, `out` and `velocity` are partly written.
    public typealias MeanStep = @Sendable (
        UnsafePointer<UnsafeRawPointer?>, Int, Int, UnsafePointer<Float>, UnsafeMutablePointer<Float>,
        UnsafeMutablePointer<Float>, Step
    ) -> Bool

    public let meanStep: MeanStep

    public init(meanStep: @escaping MeanStep) {
        self.meanStep = meanStep
    }
}
