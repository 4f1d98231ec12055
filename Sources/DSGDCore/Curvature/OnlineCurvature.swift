/// The online estimate of the Hessian's largest eigenvalue of LeCun, Simard and Pearlmutter,
/// "Automatic learning rate maximization by on-line estimation of the Hessian's eigenvectors"
/// (NIPS 1993): power iteration in which each product `H psi` is replaced by a perturbed-gradient
/// difference quotient on the example (or minibatch) just presented, smoothed by a running average:
///
///     psi <- (1 - g) psi + (g / a) (grad E_i(w + a psi / |psi|) - grad E_i(w))
///
/// `|psi|` tends to lambda_max (and `psi / |psi|` to its eigenvector); `1 / |psi|` is then a
/// learning rate near eta_opt. Defaults `a = g = 0.01` as in the paper.
///
/// The difference quotient of one minibatch is a separate, stateless function
/// (`differenceQuotient`), so a distributed version can have each worker compute it on its own
/// minibatch and the coordinator average the workers' quotients before `update(with:)`.
public struct OnlineCurvature: Sendable {
    /// The running estimate `psi` (float32, like the parameters); `|psi|` estimates lambda_max.
    public private(set) var psi: [Float]
    /// The perturbation length `a` (in parameter space).
    public let perturbation: Float
    /// The smoothing factor `g` of the running average.
    public let smoothing: Float
    /// Number of quotients folded in so far.
    public private(set) var presentations = 0

    /// Starts from a seeded random direction of length `initialNorm` (deterministic per seed).
    public init(parameterCount: Int, perturbation: Float = 0.01, smoothing: Float = 0.01, seed: UInt64 = 1, initialNorm: Float = 1) {
        precondition(parameterCount > 0, "online curvature needs at least one parameter")
        precondition(perturbation > 0 && smoothing > 0 && smoothing <= 1, "need a > 0 and 0 < g <= 1")
        self.perturbation = perturbation
        self.smoothing = smoothing
        psi = Eigen.randomUnitVector(parameterCount, seed: seed).map { Float($0) * initialNorm }
    }

    /// The current estimate of lambda_max, `|psi|`.
    public var estimate: Double { Double(euclideanNorm(psi)) }

    /// `(grad E_B(w + a u) - grad E_B(w)) / a` with `u = direction / |direction|`: approximately
    /// `H_B u`, the Hessian of minibatch `batch` of `data` along `direction`, in the model's float32
    /// arithmetic. A zero direction gives a zero quotient.
    public static func differenceQuotient(
        model: any Model, parameters: [Float], data: Dataset, batch: [UInt32], direction: [Float], perturbation a: Float
    ) -> [Float] {
        let n = model.parameterCount
        precondition(parameters.count == n && direction.count == n, "parameters and direction must have \(n) entries")
        let norm = euclideanNorm(direction)
        if norm == 0 { return [Float](repeating: 0, count: n) }
        let step = a / norm
        var moved = parameters
        for j in 0..<n { moved[j] += step * direction[j] }
        let g0 = model.lossAndGradient(parameters: parameters, data: data, batch: batch).gradient
        let g1 = model.lossAndGradient(parameters: moved, data: data, batch: batch).gradient
        return (0..<n).map { (g1[$0] - g0[$0]) / a }
    }

    /// Folds one (possibly averaged) difference quotient in: `psi <- (1 - g) psi + g q`.
    public mutating func update(with quotient: [Float]) {
        precondition(quotient.count == psi.count, "quotient must have \(psi.count) entries")
        let keep = 1 - smoothing
        for j in 0..<psi.count { psi[j] = keep * psi[j] + smoothing * quotient[j] }
        presentations += 1
    }

    /// Presents minibatch `batch` (one example for the paper's per-example form) at `parameters`:
    /// computes its difference quotient along `psi` and folds it in. Returns the new estimate.
    @discardableResult
    public mutating func present(model: any Model, parameters: [Float], data: Dataset, batch: [UInt32]) -> Double {
        update(with: Self.differenceQuotient(
            model: model, parameters: parameters, data: data, batch: batch, direction: psi, perturbation: perturbation))
        return estimate
    }

    /// Presents `count` single examples of `data` at fixed `parameters`, in seeded random order
    /// (a fresh permutation of all examples each pass). Returns the estimate after the last one.
    @discardableResult
    public mutating func run(model: any Model, parameters: [Float], data: Dataset, presentations count: Int, seed: UInt64 = 1) -> Double {
        var rng = SplitMix64(seed: seed, stream: 0x0C0A)
        var order: [UInt32] = []
        for t in 0..<count {
            if t % data.examples == 0 { order = (0..<UInt32(data.examples)).shuffled(using: &rng) }
            present(model: model, parameters: parameters, data: data, batch: [order[t % data.examples]])
        }
        return estimate
    }
}
