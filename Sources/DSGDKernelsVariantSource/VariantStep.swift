import DSGDKernelTable

/// The coordinator's dense update in this variant's instructions (`StepKernels.meanStep`): the
/// gradients summed in index order, scaled, and the SGD step applied, element by element. The
/// loops are plain loops over raw pointers that the compiler's loop vectorizer widens to the
/// variant's vectors (as `VariantWire`'s): up to four gradients in one pass over memory; more in
/// blocks of `block` elements whose sums are gathered in `out` first (still in L1 for the step).
/// Non-finite sums are found with integer tests (exponent all ones), which vectorize where a
/// float reduction would not. Every operation is elementwise and unfused, so each element is the
/// same bits in every variant and in the reference (`Aggregator.applyReference` in DSGDCluster);
/// StepKernelTests checks every variant against the rule, AggregatorTests against the reference.
enum VariantStep {
    /// Elements per block when more than four gradients are summed (4 KB of `out`).
    static var block: Int { 1024 }

    /// See `StepKernels.MeanStep`.
    static func meanStep(
        _ gradients: UnsafePointer<UnsafeRawPointer?>, _ count: Int, _ n: Int, _ params: UnsafePointer<Float>,
        _ out: UnsafeMutablePointer<Float>, _ velocity: UnsafeMutablePointer<Float>, _ step: StepKernels.Step
    ) -> Bool {
        precondition(count >= 1)
        if step.bfloat16 { return byRule(BFloat16Gradients.self, gradients, count, n, params, out, velocity, step) }
        return byRule(Float32Gradients.self, gradients, count, n, params, out, velocity, step)
    }

    /// `meanStep` for gradients read through `G`, with the step rule chosen once (not per element).
    @inline(__always)
    private static func byRule<G: GradientLoads>(
        _ g: G.Type, _ gradients: UnsafePointer<UnsafeRawPointer?>, _ count: Int, _ n: Int, _ params: UnsafePointer<Float>,
        _ out: UnsafeMutablePointer<Float>, _ velocity: UnsafeMutablePointer<Float>, _ step: StepKernels.Step
    ) -> Bool {
        if step.momentum == 0 { return byCount(G.self, PlainStep.self, gradients, count, n, params, out, velocity, step) }
        if step.nesterov { return byCount(G.self, NesterovStep.self, gradients, count, n, params, out, velocity, step) }
        return byCount(G.self, HeavyBallStep.self, gradients, count, n, params, out, velocity, step)
    }

    /// One to four gradients: summed and stepped in one loop. More: per block, the sum of the
    /// gradients into `out` (first four, then each further one in order), then the step from there.
    @inline(__always)
    private static func byCount<G: GradientLoads, R: StepRule>(
        _: G.Type, _: R.Type, _ gradients: UnsafePointer<UnsafeRawPointer?>, _ count: Int, _ n: Int,
        _ params: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ velocity: UnsafeMutablePointer<Float>,
        _ step: StepKernels.Step
    ) -> Bool {
        let g0 = gradients[0]!
        if count == 1 {
            return steps(R.self, n, params, out, velocity, step) { i in G.load(g0, i) } == 0
        }
        let g1 = gradients[1]!
        if count == 2 {
            return steps(R.self, n, params, out, velocity, step) { i in G.load(g0, i) + G.load(g1, i) } == 0
        }
        let g2 = gradients[2]!
        if count == 3 {
            return steps(R.self, n, params, out, velocity, step) { i in (G.load(g0, i) + G.load(g1, i)) + G.load(g2, i) } == 0
        }
        let g3 = gradients[3]!
        if count == 4 {
            return steps(R.self, n, params, out, velocity, step) { i in ((G.load(g0, i) + G.load(g1, i)) + G.load(g2, i)) + G.load(g3, i) } == 0
        }
        var bad: UInt32 = 0
        var lo = 0
        while lo < n {
            let m = min(block, n - lo)
            let sums = out + lo, a = g0 + G.bytes * lo, b = g1 + G.bytes * lo, c = g2 + G.bytes * lo, d = g3 + G.bytes * lo
            for i in 0..<m { sums[i] = ((G.load(a, i) + G.load(b, i)) + G.load(c, i)) + G.load(d, i) }
            for k in 4..<count {
                let gk = gradients[k]! + G.bytes * lo
                for i in 0..<m { sums[i] = sums[i] + G.load(gk, i) }
            }
            bad |= steps(R.self, m, params + lo, sums, velocity + lo, step) { i in sums[i] }
            lo += m
        }
        return bad == 0
    }

    /// `out[i] = R(params[i], scale · sum(i), velocity[i])` for `i` in `0..<n`; returns 0 if every
    /// `sum(i)` was finite.
    @inline(__always)
    private static func steps<R: StepRule>(
        _: R.Type, _ n: Int, _ params: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>,
        _ velocity: UnsafeMutablePointer<Float>, _ step: StepKernels.Step, _ sum: (Int) -> Float
    ) -> UInt32 {
        let scale = step.scale, rate = step.rate, mu = step.momentum
        var bad: UInt32 = 0
        for i in 0..<n {
            let s = sum(i)
            // Exponent all ones: NaN or infinity.
            bad |= (s.bitPattern & 0x7F80_0000) == 0x7F80_0000 ? 1 : 0
            let g = scale * s
            if R.usesVelocity {
                let v = mu * velocity[i] + g
                velocity[i] = v
                out[i] = R.next(params[i], g, v, rate, mu)
            } else {
                out[i] = R.next(params[i], g, g, rate, mu)
            }
        }
        return bad
    }
}

// MARK: - Step rules

/// `w'` from `w`, the mean gradient `g` and the new velocity `v` (`g` itself without momentum).
private protocol StepRule {
    static var usesVelocity: Bool { get }
    static func next(_ w: Float, _ g: Float, _ v: Float, _ rate: Float, _ mu: Float) -> Float
}

/// `w' = w − rate · g`.
private enum PlainStep: StepRule {
    static var usesVelocity: Bool { false }
    @inline(__always) static func next(_ w: Float, _ g: Float, _ v: Float, _ rate: Float, _ mu: Float) -> Float { w - rate * g }
}

/// `w' = w − rate · v`.
private enum HeavyBallStep: StepRule {
    static var usesVelocity: Bool { true }
    @inline(__always) static func next(_ w: Float, _ g: Float, _ v: Float, _ rate: Float, _ mu: Float) -> Float { w - rate * v }
}

/// `w' = w − rate · (g + mu · v)`.
private enum NesterovStep: StepRule {
    static var usesVelocity: Bool { true }
    @inline(__always) static func next(_ w: Float, _ g: Float, _ v: Float, _ rate: Float, _ mu: Float) -> Float { w - rate * (g + mu * v) }
}

// MARK: - Gradient storage

/// Reads the gradient value at element `i`.
private protocol GradientLoads {
    /// Bytes per value.
    static var bytes: Int { get }
    static func load(_ p: UnsafeRawPointer, _ i: Int) -> Float
}

private enum Float32Gradients: GradientLoads {
    static var bytes: Int { 4 }
    @inline(__always) static func load(_ p: UnsafeRawPointer, _ i: Int) -> Float { p.loadUnaligned(fromByteOffset: 4 * i, as: Float.self) }
}

/// Little-endian 16-bit values, each the top half of a float32 (the caller runs this variant only
/// on little-endian hosts for bf16).
private enum BFloat16Gradients: GradientLoads {
    static var bytes: Int { 2 }
    @inline(__always) static func load(_ p: UnsafeRawPointer, _ i: Int) -> Float {
        Float(bitPattern: UInt32(UInt16(littleEndian: p.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) &<< 16)
    }
}
