/// Estimates the simple gradient noise scale B_simple = tr(Sigma) / |G|^2 of synchronous SGD from
/// each step's N per-worker gradients (B examples each) and their average (N B examples): the
/// two-batch estimator of McCandlish, Kaplan, Amodei et al. 2018 ("An Empirical Model of
/// Large-Batch Training", appendix A).
///
/// A minibatch gradient of b examples has E|g_b|^2 = |G|^2 + tr(Sigma) / b, so with
/// b_s = B and b_l = N B, per step
///
///     |G|^2    ~ (b_l |g_l|^2 - b_s |g_s|^2) / (b_l - b_s)
///     tr(Sigma) ~ (|g_s|^2 - |g_l|^2) / (1 / b_s - 1 / b_l)
///
/// are unbiased, with |g_s|^2 the mean over the N workers of |g_k|^2 and |g_l|^2 = |(1/N) sum g_k|^2.
/// Each is noisy, so the ratio is taken of sums over many steps: over the steps since the last
/// metrics point (`takeWindow`) and over the whole run (`total`). Sums in float64; no allocation.
final class NoiseScaleMeter {
    /// Examples per worker gradient (b_s) and per averaged gradient (b_l).
    let small: Double
    let big: Double
    /// This step's sum over parts of sum_k |g_k|^2 and of |(1/N) sum_k g_k|^2.
    private var stepWorkerSquares = 0.0
    private var stepMeanSquare = 0.0
    private var stepWorkers = 0
    private var window = (gradient: 0.0, trace: 0.0, steps: 0)
    private var whole = (gradient: 0.0, trace: 0.0, steps: 0)

    private let sources: UnsafeMutablePointer<UnsafePointer<Float>?>
    private let workers: Int

    /// A meter for N workers of `batch` examples each (N >= 2).
    init(workers: Int, batch: Int) {
        self.workers = workers
        small = Double(batch)
        big = Double(workers * batch)
        sources = .allocate(capacity: max(workers, 1))
        sources.initialize(repeating: nil, count: max(workers, 1))
    }

    deinit { sources.deallocate() }

    /// Sets worker gradient `index` of the next `add`: a pointer to the part's first float.
    func setGradient(_ index: Int, _ pointer: UnsafeRawPointer) {
        sources[index] = pointer.assumingMemoryBound(to: Float.self)
    }

    /// Adds `n` elements of one part of this step's gradients, from the N pointers set with
    /// `setGradient`.
    func add(n: Int) {
        let count = workers
        stepWorkers = count
        let inverse = 1 / Float(count)
        var i = 0
        while i < n {
            // Blocks of up to 512 elements in float32 SIMD, then into float64.
            let end = min(n, i + 512)
            var squares = SIMD8<Float>(repeating: 0), meanSquares = SIMD8<Float>(repeating: 0)
            while i + 8 <= end {
                var s = SIMD8<Float>(repeating: 0)
                for k in 0..<count {
                    let g = UnsafeRawPointer(sources[k]! + i).loadUnaligned(as: SIMD8<Float>.self)
                    s += g
                    squares += g * g
                }
                let m = s * inverse
                meanSquares += m * m
                i += 8
            }
            var tailSquares: Float = 0, tailMean: Float = 0
            while i < end {
                var s: Float = 0
                for k in 0..<count {
                    let g = sources[k]![i]
                    s += g
                    tailSquares += g * g
                }
                tailMean += (s * inverse) * (s * inverse)
                i += 1
            }
            stepWorkerSquares += Double(squares.sum() + tailSquares)
            stepMeanSquare += Double(meanSquares.sum() + tailMean)
        }
    }

    /// Ends a step: turns its sums into the two estimates and adds them to the window and total.
    func finishStep() {
        guard stepWorkers > 0 else { return }
        let gs = stepWorkerSquares / Double(stepWorkers), gl = stepMeanSquare
        let gradient = (big * gl - small * gs) / (big - small)
        let trace = (gs - gl) / (1 / small - 1 / big)
        window = (window.gradient + gradient, window.trace + trace, window.steps + 1)
        whole = (whole.gradient + gradient, whole.trace + trace, whole.steps + 1)
        stepWorkerSquares = 0
        stepMeanSquare = 0
        stepWorkers = 0
    }

    /// The estimates over the steps since the last call, and starts a new window.
    func takeWindow() -> NoiseScaleWindow {
        defer { window = (0, 0, 0) }
        let steps = Double(max(window.steps, 1))
        return NoiseScaleWindow(steps: window.steps, gradientSquare: window.steps > 0 ? window.gradient / steps : nil,
                                trace: window.steps > 0 ? window.trace / steps : nil, noiseScale: Self.ratio(window))
    }

    /// B_simple over every step so far.
    var total: Double? { Self.ratio(whole) }

    private static func ratio(_ s: (gradient: Double, trace: Double, steps: Int)) -> Double? {
        guard s.steps > 0, s.gradient > 0, s.trace.isFinite else { return nil }
        return s.trace / s.gradient
    }
}

/// `NoiseScaleMeter`'s estimates over a window of steps: the means of the per-step estimates of
/// |G|^2 and tr(Sigma) (nil without steps), which windows can be combined by, and B_simple, the
/// ratio of their sums (nil without steps or when the |G|^2 estimate is not positive).
struct NoiseScaleWindow {
    var steps: Int
    var gradientSquare: Double?
    var trace: Double?
    var noiseScale: Double?
}
