import DSGDKernels

/// The shared forward/backward of models whose output is one affine function of the input,
/// `z = w.x + b`, with a per-example loss `l(z, y)` (linear and logistic regression).
///
/// Parameters: `[w_0 ... w_{d-1}, b]`. The mean loss over a batch is `(1/B) sum l(z_i, y_i)`; its
/// gradient is `(1/B) sum l'(z_i, y_i) [x_i; 1]` (chain rule through `z`).
///
/// The minibatch loss and gradient and the full-set loss run in `DSGDKernels.AffineKernels`
/// (blocks of eight rows: eight dot products at once, the eight losses and slopes in one vector
/// pass, then the eight rows' gradient contributions while they are in L1; on the kernel variant
/// chosen at start-up: AVX-512, AVX2 + FMA or portable, see `KernelVariant`).
protocol AffineModel: Model {
    /// Number of input features `d`.
    var dimension: Int { get }
    /// The per-example loss `l(z, y)` and slope `dl/dz` the kernels compute, eight examples at a time.
    static var kernelLoss: AffineKernels.Loss { get }
    /// The loss of one example and its derivative with respect to `z` (the scalar definition; the
    /// kernels compute the same functions).
    static func lossAndSlope(z: Float, y: Float) -> (loss: Float, slope: Float)
}

extension AffineModel {
    public var parameterCount: Int { dimension + 1 }
    public var shapes: [ParameterShape] { [ParameterShape(name: "w", shape: [dimension]), ParameterShape(name: "b", shape: [1])] }
    public func initialParameters() -> [Float] { [Float](repeating: 0, count: parameterCount) }

    public func lossAndGradient(
        parameters: UnsafeBufferPointer<Float>, data: Dataset, batch: UnsafeBufferPointer<UInt32>,
        gradient: UnsafeMutableBufferPointer<Float>
    ) -> Double {
        lossAndGradient(parameters: parameters, data: data, batch: batch, gradient: gradient,
                        next: UnsafeBufferPointer(start: nil, count: 0))
    }

    /// The same, prefetching the first rows of `next` while this batch's last rows are computed.
    public func lossAndGradient(
        parameters: UnsafeBufferPointer<Float>, data: Dataset, batch: UnsafeBufferPointer<UInt32>,
        gradient: UnsafeMutableBufferPointer<Float>, next: UnsafeBufferPointer<UInt32>
    ) -> Double {
        let w = parameters.baseAddress!
        return data.features.withUnsafeBufferPointer { xs in
            data.targets.withUnsafeBufferPointer { ys in
                // forward:  z_i = w.x_i + b,  l_i = l(z_i, y_i),  s_i = dl/dz (z_i, y_i)
                // backward: dE/dw = (1/B) sum_i s_i x_i,  dE/db = (1/B) sum_i s_i
                // (with d = 0 there are no features to read and `w` stands in for their address)
                AffineKernels.lossAndGradient(
                    Self.kernelLoss, parameters: w, dimension: dimension,
                    features: xs.baseAddress ?? w, featureRows: data.examples, targets: ys.baseAddress ?? w,
                    batch: batch, gradient: gradient.baseAddress!, next: next)
            }
        }
    }

    public func loss(parameters: UnsafeBufferPointer<Float>, data: Dataset) -> Double {
        let w = parameters.baseAddress!
        return data.features.withUnsafeBufferPointer { xs in
            data.targets.withUnsafeBufferPointer { ys in
                // (1/P) sum_i l(w.x_i + b, y_i) over every example, the forward pass only.
                AffineKernels.meanLoss(
                    Self.kernelLoss, parameters: w, dimension: dimension,
                    features: xs.baseAddress ?? w, targets: ys.baseAddress ?? w, examples: data.examples)
            }
        }
    }

    /// Calls `body` with the output `z = w.x + b` and the target of every example of `data`.
    @inline(__always)
    func forEachOutput(parameters: UnsafeBufferPointer<Float>, data: Dataset, _ body: (Float, Float) -> Void) {
        let d = dimension
        let w = parameters.baseAddress!
        let bias = parameters[d]
        data.features.withUnsafeBufferPointer { xs in
            data.targets.withUnsafeBufferPointer { ys in
                for i in 0..<data.examples { body(dot(w, xs.baseAddress! + i * d, d) + bias, ys[i]) }
            }
        }
    }
}
