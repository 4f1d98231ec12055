import DSGDCore
import Foundation

/// How the coordinator combines gradients: the update policy (`UpdatePolicy`).
public enum TrainingMode: String, Codable, CaseIterable, Sendable {
    /// Every step waits for one gradient from every worker (or the first N - b with
    /// `--backup-workers b`), averages them in worker-id order and releases those workers with
    /// the new parameters (`SyncPolicy`, `BackupPolicy`).
    case sync
    /// Every gradient is applied the moment it arrives; only its sender gets the new parameters
    /// (`AsyncPolicy`; `--delay` and `--lr-staleness` apply).
    case async
    /// Stale synchronous parallel (Ho et al. 2013): as async, but a worker more than
    /// `--staleness s` clocks (gradients applied) ahead of the slowest waits (`SSPPolicy`).
    case ssp
    /// Local SGD with periodic model averaging (Stich 2018): every worker takes `--sync-every H`
    /// local SGD steps from the parameters it was sent and returns the sum of the H gradients;
    /// the coordinator averages those sums as a sync step (`LocalSGDPolicy`), which is the mean of
    /// the workers' local models. H = 1 is sync SGD, bit for bit.
    case local
    /// Asynchronous elastic averaging SGD (Zhang, Choromanska and LeCun 2015): every worker keeps
    /// its own parameters x_i; per exchange it moves `e = alpha (x_i - center)` (alpha = lr rho)
    /// towards the centre it was sent, takes `--sync-every H` local SGD steps, and returns e,
    /// which the coordinator adds to the centre (`EASGDPolicy`). rho = 0 leaves the centre as it is.
    case easgd

    /// Whether each update applies one worker's gradient on its own (async and ssp), so that
    /// staleness is recorded.
    public var appliesGradientsAlone: Bool { self == .async || self == .ssp || self == .easgd }

    /// Whether workers take several local steps per exchange (`--sync-every`).
    public var takesLocalSteps: Bool { self == .local || self == .easgd }
}

/// `--lr-staleness`: how an async or ssp update's rate depends on the gradient's staleness tau.
public enum StalenessRate: String, Codable, CaseIterable, Sendable {
    /// The same rate whatever the staleness.
    case none
    /// `lr / tau` for tau >= 1 (Zhang et al. 2016), `lr` for a fresh gradient.
    case inverse
}

/// How `--lr` becomes the rate each update applies, so that modes that apply different numbers of
/// examples per update can run at comparable rates (`--lr-scaling`).
///
/// `--lr` is the rate of an update that averages a *global batch* of `workers x batch` examples,
/// as a sync step does. An update that applies `m` examples (a sync step: `m = N B`; an async
/// update: `m = B`) uses
/// - `none`: `lr` whatever `m` is (an async update then moves N times as far per example as a
///   sync step at the same `--lr`);
/// - `linear`: `lr x m / (N B)` (Goyal et al. 2017: the same rate per example in every mode);
/// - `sqrt`: `lr x sqrt(m / (N B))` (the square-root rule, for the same gradient-noise scale).
public enum LearningRateScaling: String, Codable, CaseIterable, Sendable {
    case none, linear, sqrt

    /// The factor applied to `--lr` for an update of `examplesPerUpdate` examples out of a global
    /// batch of `globalBatch`.
    public func factor(examplesPerUpdate: Int, globalBatch: Int) -> Float {
        let r = Double(examplesPerUpdate) / Double(max(globalBatch, 1))
        switch self {
        case .none: return 1
        case .linear: return Float(r)
        case .sqrt: return Float(r.squareRoot())
        }
    }
}

/// `--evaluation`: where the coordinator computes the loss of its metrics points.
public enum EvaluationPlacement: String, Codable, CaseIterable, Sendable {
    /// On a thread of its own, from a snapshot of the parameters: aggregation goes on meanwhile
    /// (`BackgroundEvaluator`). A run that reaches `--target-loss` stops when that point's result
    /// is back, a few updates after the version that reached it.
    case background
    /// In the coordinator's loop, with training paused: a run stops at exactly the version that
    /// reached the target.
    case inline
}

/// The fully resolved description of a training job: written to `config.json`, sent to every
/// worker in WELCOME. Every default is filled in, so a config file alone reproduces the run.
public struct JobConfig: Codable, Equatable, Sendable {
    public var mode: TrainingMode = .sync
    public var workers: Int = 4
    public var model: ModelKind = .logistic
    public var dataset: DatasetSpec = DatasetSpec(name: "synthetic-logistic", examples: 8192, features: 32, seed: 1)
    /// Parameter count of the `noop` benchmark model (ignored by the others).
    public var noopParameters: Int? = nil
    /// `noop`: a fixed non-zero gradient instead of zeros (`NoopModel`; benchmarks of encodings).
    public var noopPattern: Bool = false
    public var learningRate: Float = 0.5
    public var momentum: Float = 0
    /// Nesterov momentum (`--nesterov`, needs `momentum > 0`); see `SGD`.
    public var nesterov: Bool = false
    /// `--lr auto`: `learningRate` is eta_opt = 1 / `lambdaMax`, estimated before launch.
    public var lrAuto: Bool = false
    /// The Hessian's largest eigenvalue at the initial parameters that `--lr auto` used (nil otherwise).
    public var lambdaMax: Double? = nil
    /// Examples per minibatch per worker.
    public var batch: Int = 32
    /// Stop after this many epochs (passes over the training set) ...
    public var epochs: Double? = 5
    /// ... or this many model updates ...
    public var steps: Int? = nil
    /// ... or once the training loss is at or below this, whichever comes first.
    public var targetLoss: Double? = nil
    public var seed: UInt64 = 1
    /// Evaluate the training loss every this many model updates (0: about four times an epoch).
    public var evalEvery: Int = 0
    /// Where the coordinator evaluates (`--evaluation`; read by the coordinator only).
    public var evaluation: EvaluationPlacement = .background
    /// `sync`: estimate the gradient noise scale B_simple from each step's per-worker and averaged
    /// gradients (`--noise-scale`; read by the coordinator only).
    public var noiseScale: Bool = false
    /// A worker silent for this long fails the run (seconds).
    public var workerTimeout: Double = 60
    /// How long the coordinator waits for all workers to register (seconds).
    public var registerTimeout: Double = 60
    /// Floats per GRADIENT part (see `MessageType.gradient`); `defaultGradientChunk(compress:)`
    /// gives the default of the command line, which depends on the encoding.
    public var gradientChunk: Int = 131_072

    /// The default `--gradient-chunk` under `--compress codec`: 131,072 floats, so that the
    /// coordinator averages part j while later parts are still on the wire; under `topk`
    /// 4,194,304. A top-k part is about 2F of its float32 size (80 KB for a million floats at
    /// F = 0.01), so splitting it buys no overlap but costs messages: a round of a million
    /// parameters took 1.5-1.7 ms in parts of 131,072 and 1.0-1.3 ms in one part (`dsgd bench
    /// round --compress topk:0.01`, 2 workers). The k entries are the part's largest, so in one
    /// part they are the whole vector's largest.
    public static func defaultGradientChunk(compress: GradientCodec) -> Int {
        if case .topk = compress { return 4_194_304 }
        return 131_072
    }
    /// Fraction of the materialised data set held out as a test set (`HoldoutSplit`), in [0, 1).
    public var holdout: Double = 0
    /// Hidden layer widths of `--model mlp`.
    public var hidden: [Int] = [64]
    /// Input normalization fitted on the whole training set across shards (`--normalize`).
    public var normalize: NormalizationKind = .none
    /// `--layer-norm`: layer normalization after every hidden affine layer of `--model mlp`.
    public var layerNorm: Bool = false
    /// `--online-curvature N`: before training, N presentations of the online lambda_max estimate
    /// of LeCun, Simard and Pearlmutter run across the cluster (every worker returns a difference
    /// quotient on its next minibatch, the coordinator averages them; `OnlineCurvature`). 0: none.
    /// With `lrAuto` the estimate sets the learning rate (eta_opt = 1 / estimate).
    public var onlineCurvature: Int = 0
    /// The perturbation length `a` of the online estimate's difference quotients.
    public var curvaturePerturbation: Float = 0.01
    /// The smoothing factor `g` of the online estimate's running average.
    public var curvatureSmoothing: Float = 0.01
    /// `ssp`: the bound s on how many clocks a worker may run ahead of the slowest.
    public var staleness: Int = 2
    /// `sync`: backup workers b; each step aggregates the first N - b gradients and drops the rest.
    public var backupWorkers: Int = 0
    /// `async`: every worker is sent the parameters of `delay` versions ago (version 0 before
    /// that), so a single worker's gradients have staleness exactly `delay` (`--delay`).
    public var delay: Int = 0
    /// `sync`, `local`, `async`, `ssp`: the fewest live workers the run may go on with; a worker
    /// silent past `workerTimeout` is declared dead while at least this many remain
    /// (`--min-workers`; nil: all of them, so any silent worker fails the run).
    public var minWorkers: Int? = nil
    /// `async`: a gradient whose L2 norm is above this, or not finite, is dropped, not applied
    /// (`--max-gradient-norm`; nil: every gradient is applied, and a non-finite one fails the run).
    public var maxGradientNorm: Double? = nil
    /// How gradients (and whatever local and easgd workers send) travel to the coordinator
    /// (`--compress`; `GradientCodec`); the coordinator keeps float32 master parameters.
    public var compress: GradientCodec = .f32
    /// How parameters travel to the workers (`--compress-params`: none, bf16, fp16, or sparse: the
    /// entries that changed since the version the worker holds).
    public var compressParams: GradientCodec = .f32
    /// With `topk` or `sign`: workers keep what the encoding left out and add it to their next
    /// vector (`--no-error-feedback` turns it off, to show what it is for).
    public var errorFeedback: Bool = true
    /// Write a checkpoint every this many updates (`--checkpoint-every`; nil: by time only); read
    /// by the coordinator only.
    public var checkpointEvery: Int? = nil
    /// ... and whenever this many seconds have passed since the last one (`--checkpoint-seconds`;
    /// 0: not by time). A checkpoint is also written when a signal ends the run.
    public var checkpointSeconds: Double = 30
    /// How many checkpoints to keep (`--keep-checkpoints`).
    public var keepCheckpoints: Int = 3
    /// `async`: a gradient of staleness above this is dropped, not applied (`--max-staleness`;
    /// nil: every gradient is applied).
    public var maxStaleness: Int? = nil
    /// `async`, `ssp`: the rate of a gradient of staleness tau (`--lr-staleness`).
    public var lrStaleness: StalenessRate = .none
    /// `local`, `easgd`: local SGD steps a worker takes per exchange with the coordinator (H).
    public var syncEvery: Int = 1
    /// `easgd`: the elastic coefficient rho; a worker moves alpha = lr rho of the way to the centre.
    public var rho: Float = 0.5
    /// How `learningRate` scales with the examples an update applies (`--lr-scaling`).
    public var lrScaling: LearningRateScaling = .none
    /// Where the initial parameters come from (`--init`; JSON `init`); read by the coordinator only.
    public var initialization: ParameterInit = .modelDefault

    public init() {}

    /// The learning rate a run of `model` uses when `--lr` is not given: 0.1 for the 1-1-1
    /// network (its largest stable step at the balanced minimum, 2 / (2 |s| E[x^2]) for a
    /// least-squares slope s, is about 0.48 on `synthetic-linear --features 1`, so 0.5 never
    /// settles there), 0.5 for every other model.
    public static func defaultLearningRate(for model: ModelKind) -> Float {
        model == .deepLinear111 ? 0.1 : 0.5
    }

    /// The training set exactly as the coordinator trains on it: the materialised data set less
    /// the held-out examples (`split`), normalized as `normalize` says with statistics of these
    /// examples (the coordinator fits the same normalizer from the workers' STATS).
    public func trainingData() throws -> Dataset {
        let data = try dataset.materialize()
        let s = split
        let train = s.isIdentity ? data : data.subset(s.train)
        guard normalize != .none else { return train }
        return Normalizer(normalize, statistics: FeatureStatistics(of: train)).apply(to: train)
    }

    /// The parameters training starts from (`initialization` applied to `makeModel()`).
    public func initialParameters() throws -> [Float] {
        try initialization.parameters(for: makeModel(), kind: model)
    }

    /// The model this job trains.
    public func makeModel() -> any Model {
        model.make(inputDimension: dataset.dimension, parameters: noopParameters, classes: dataset.classCount ?? 2, hidden: hidden,
                   layerNorm: layerNorm, noopPattern: noopPattern)
    }

    /// The rate each update applies: `learningRate` scaled by `lrScaling` for this mode's
    /// examples per update (see `LearningRateScaling`).
    public var effectiveLearningRate: Float {
        learningRate * lrScaling.factor(examplesPerUpdate: examplesPerRateStep, globalBatch: workers * batch)
    }

    /// The optimizer this job's coordinator applies (at `effectiveLearningRate`). For `easgd` the
    /// coordinator adds each worker's elastic difference to the centre: `w - (-1) e`, exactly `w + e`.
    public var optimizer: SGD {
        mode == .easgd ? SGD(learningRate: -1) : SGD(learningRate: effectiveLearningRate, momentum: momentum, nesterov: nesterov)
    }

    /// One line for the user when the same `--lr` means a different per-example rate in this mode
    /// than in sync mode (async with several workers and `--lr-scaling none`), or nil.
    public var learningRateNote: String? {
        guard mode == .async || mode == .ssp, workers > 1 else { return nil }
        let g = { (x: Float) in String(format: "%g", x) }
        switch lrScaling {
        case .none:
            return "\(mode.rawValue) applies each worker's gradient on its own: at --lr \(g(learningRate)) every update moves as far as a sync step of all \(workers) workers' \(workers * batch) examples, \(workers)x the sync rate per example; --lr-scaling linear would use \(g(learningRate / Float(workers))) (see README, \"What --lr means\")"
        case .linear, .sqrt:
            return "--lr-scaling \(lrScaling.rawValue): \(mode.rawValue) updates of \(batch) examples apply \(g(effectiveLearningRate)) (--lr \(g(learningRate)) is the rate of a \(workers * batch)-example sync step)"
        }
    }

    /// This job with `--lr auto` resolved: builds the training set as the coordinator trains on it
    /// (`trainingData()`: held-out examples removed, `--normalize` applied), computes lambda_max of
    /// the model's Hessian at its initial parameters (`initialParameters()`; `Curvature.analyze`,
    /// as `dsgd analyze` does: exact where dsgd has the dense Hessian, Lanczos otherwise) and sets
    /// `learningRate = 1 / lambdaMax`. Unchanged unless `lrAuto` is set and `lambdaMax` is nil, and
    /// unchanged with `onlineCurvature > 0`: then the coordinator sets the rate from the online
    /// estimate it runs across the cluster before training.
    /// Throws `JobConfigError` with a one-line message when no positive lambda_max exists.
    public func resolvingAutoLearningRate() throws -> JobConfig {
        guard lrAuto, lambdaMax == nil, onlineCurvature == 0 else { return self }
        if model == .noop { throw JobConfigError("--lr auto: --model noop has no curvature (its loss is identically 0); give --lr a number") }
        let data = try trainingData()
        let m = makeModel()
        let report = Curvature.analyze(model: m, parameters: try initialParameters(), data: data, seed: seed)
        let lambda = report.summary.lambdaMax
        guard lambda.isFinite, lambda > 0, let eta = report.summary.etaOpt, Float(eta).isFinite, Float(eta) > 0 else {
            throw JobConfigError("--lr auto: lambda_max of --model \(model.rawValue) at its initial parameters is \(lambda), not positive; give --lr a number")
        }
        var j = self
        j.lambdaMax = lambda
        j.learningRate = Float(eta)
        return j
    }

    /// Held-out test examples (`round(holdout x` the materialised count`)`).
    public var testExamples: Int { HoldoutSplit.testCount(examples: dataset.totalExamples, fraction: holdout) }
    /// Training examples: the materialised set (after `replicate`, real sets at their size) minus the held-out ones.
    public var trainExamples: Int { dataset.totalExamples - testExamples }
    /// The train/test split of the materialised set (`HoldoutSplit` from the seed).
    public var split: HoldoutSplit { HoldoutSplit(examples: dataset.totalExamples, fraction: holdout, seed: seed) }
    /// Examples in each worker's shard (of the training examples).
    public var shardSize: Int { trainExamples / max(workers, 1) }
    /// Minibatches in each worker's shard.
    public var batchesPerShard: Int { shardSize / max(examplesPerGradient, 1) }
    /// Examples whose gradients one model update applies: `examplesPerRateStep`, times H in local
    /// and easgd, whose messages stand for H minibatches each.
    public var examplesPerStep: Int { examplesPerRateStep * (mode.takesLocalSteps ? max(syncEvery, 1) : 1) }
    /// Examples behind one message a worker sends: one minibatch, or H of them in local and easgd.
    public var examplesPerGradient: Int { batch * (mode.takesLocalSteps ? max(syncEvery, 1) : 1) }
    /// Examples one step of the learning rate stands for, for `--lr-scaling`: a sync step's
    /// (N - b) B, a local SGD average's N B (the local steps' sum is averaged like one sync
    /// step), one minibatch B for async, ssp and easgd's local steps.
    public var examplesPerRateStep: Int {
        switch mode {
        case .sync: return (workers - backupWorkers) * batch
        case .local: return workers * batch
        case .async, .ssp, .easgd: return batch
        }
    }
    /// Examples applied in one epoch (all shards, the last partial batch of each dropped).
    public var examplesPerEpoch: Int { workers * batchesPerShard * examplesPerGradient }

    /// Number of GRADIENT parts for `parameterCount` parameters.
    public func gradientParts(parameterCount: Int) -> Int {
        max(1, (parameterCount + gradientChunk - 1) / max(gradientChunk, 1))
    }

    /// The evaluation interval in updates, `evalEvery` or about four evaluations per epoch.
    public var resolvedEvalEvery: Int {
        if evalEvery > 0 { return evalEvery }
        return max(1, examplesPerEpoch / (4 * examplesPerStep))
    }

    /// Every problem with this configuration, as one-line messages (empty when valid).
    public func problems() -> [String] {
        var p: [String] = []
        if workers < 1 { p.append("--workers must be at least 1 (got \(workers))") }
        if !(learningRate.isFinite && learningRate > 0) { p.append("--lr must be a positive finite number (got \(learningRate))") }
        if !(momentum.isFinite && momentum >= 0 && momentum < 1) { p.append("--momentum must be in [0, 1) (got \(momentum))") }
        if nesterov, !(momentum > 0) { p.append("--nesterov requires --momentum > 0 (got \(momentum))") }
        if lrAuto, model == .noop { p.append("--lr auto: --model noop has no curvature (its loss is identically 0); give --lr a number") }
        if onlineCurvature < 0 { p.append("--online-curvature must be 0 (none) or a positive number of presentations (got \(onlineCurvature))") }
        if onlineCurvature > 0, model == .noop { p.append("--online-curvature: --model noop has no curvature (its loss is identically 0)") }
        if !(curvaturePerturbation.isFinite && curvaturePerturbation > 0) {
            p.append("--curvature-perturbation must be a positive finite number (got \(curvaturePerturbation))")
        }
        if !(curvatureSmoothing.isFinite && curvatureSmoothing > 0 && curvatureSmoothing <= 1) {
            p.append("--curvature-smoothing must be in (0, 1] (got \(curvatureSmoothing))")
        }
        if layerNorm, model != .mlp { p.append("--layer-norm applies to --model mlp only (got \(model.rawValue))") }
        if batch < 1 { p.append("--batch must be at least 1 (got \(batch))") }
        if let e = epochs, !(e.isFinite && e > 0) { p.append("--epochs must be positive (got \(e))") }
        if let s = steps, s < 1 { p.append("--steps must be at least 1 (got \(s))") }
        if let t = targetLoss, !t.isFinite { p.append("--target-loss must be finite (got \(t))") }
        if epochs == nil && steps == nil && targetLoss == nil { p.append("give at least one of --epochs, --steps, --target-loss") }
        if evalEvery < 0 { p.append("--eval-every must be 0 (auto) or positive (got \(evalEvery))") }
        if !(workerTimeout > 0) { p.append("--worker-timeout must be positive (got \(workerTimeout))") }
        if gradientChunk < 1 { p.append("--gradient-chunk must be at least 1 (got \(gradientChunk))") }
        if !(registerTimeout > 0) { p.append("--register-timeout must be positive (got \(registerTimeout))") }
        if !(holdout.isFinite && holdout >= 0 && holdout < 1) { p.append("--holdout must be in [0, 1) (got \(holdout))") }
        if hidden.isEmpty || hidden.contains(where: { $0 < 1 }) {
            p.append("--hidden widths must be at least 1 (got \(hidden.map(String.init).joined(separator: " ")))")
        }
        p += dataset.problems()  // unknown name, --examples/--features where the set reads them, its options
        if model == .noop, (noopParameters ?? 0) < 1 { p.append("--model noop needs --parameters N (N >= 1)") }
        if model == .deepLinear111, dataset.dimension != 1 {
            p.append("--model deep-linear-111 takes one input feature: add --features 1 with a synthetic data set (got \(dataset.dimension))")
        }
        let classified = DatasetSpec.names.filter { DatasetSpec(name: $0, examples: 1, features: 1, seed: 0).classCount != nil }
        if model == .logistic, dataset.classCount != 2 {
            p.append("--model logistic needs labels 0/1: use --dataset synthetic-logistic or breast-cancer (got \(dataset.name))")
        }
        if model == .softmax || model == .mlp, dataset.classCount == nil {
            p.append("--model \(model.rawValue) needs class labels: use --dataset \(classified.joined(separator: ", ")) (got \(dataset.name))")
        }
        if model == .softmax || model == .mlp, let k = dataset.classCount, k < 2 {
            p.append("--model \(model.rawValue) needs at least 2 classes (got --classes \(k))")
        }
        if workers >= 1 && batch >= 1 && dataset.problems().isEmpty && holdout.isFinite && holdout >= 0 && holdout < 1 && examplesPerGradient > shardSize {
            let what = testExamples > 0 ? "\(trainExamples) training examples" : "\(dataset.totalExamples) examples"
            let ask = examplesPerGradient == batch ? "--batch \(batch) is" : "--batch \(batch) x --sync-every \(syncEvery) is"
            p.append("\(ask) larger than a worker's shard (\(what) / \(workers) workers = \(shardSize))")
        }
        // Last: the model can only be built once everything above holds.
        if staleness < 0 { p.append("--staleness must be 0 or more (got \(staleness))") }
        if backupWorkers < 0 || (workers >= 1 && backupWorkers >= workers) {
            p.append("--backup-workers must be in [0, workers - 1] (got \(backupWorkers) with \(workers) workers)")
        }
        if backupWorkers > 0, mode != .sync { p.append("--backup-workers applies to --mode sync only (got \(mode.rawValue))") }
        if delay < 0 { p.append("--delay must be 0 or more (got \(delay))") }
        if delay > 0, mode != .async { p.append("--delay applies to --mode async only (got \(mode.rawValue))") }
        if let m = minWorkers {
            if m < 1 || m > workers { p.append("--min-workers must be in 1 ... --workers (got \(m) with \(workers) workers)") }
            if m < workers, mode == .easgd || backupWorkers > 0 || noiseScale {
                p.append("--min-workers below --workers applies to --mode sync (without --backup-workers or --noise-scale), local, async and ssp (got \(mode.rawValue)\(backupWorkers > 0 ? " with --backup-workers" : noiseScale ? " with --noise-scale" : ""))")
            }
        }
        if let g = maxGradientNorm {
            if !(g.isFinite && g > 0) { p.append("--max-gradient-norm must be a positive finite number (got \(g))") }
            if mode != .async { p.append("--max-gradient-norm applies to --mode async only (got \(mode.rawValue))") }
        }
        if let m = maxStaleness {
            if m < 0 { p.append("--max-staleness must be 0 or more (got \(m))") }
            if mode != .async { p.append("--max-staleness applies to --mode async only (got \(mode.rawValue); ssp bounds staleness by --staleness)") }
            if delay > m { p.append("--delay \(delay) makes every gradient \(delay) versions stale, above --max-staleness \(m): all would be dropped") }
        }
        if compressParams.isSparse { p.append("--compress-params must be none, bf16, fp16 or sparse (got \(compressParams))") }
        if compress == .changes { p.append("--compress sparse is for parameters (--compress-params sparse): gradients take topk:F") }
        if compressParams == .changes, !(mode == .sync || mode == .local) || backupWorkers > 0 {
            p.append("--compress-params sparse needs --mode sync (without backup workers) or local, where every worker holds the previous version (got \(mode.rawValue))")
        }
        if let k = checkpointEvery, k < 1 { p.append("--checkpoint-every must be at least 1 (got \(k))") }
        if !(checkpointSeconds.isFinite && checkpointSeconds >= 0) { p.append("--checkpoint-seconds must be 0 (off) or positive (got \(checkpointSeconds))") }
        if keepCheckpoints < 1 { p.append("--keep-checkpoints must be at least 1 (got \(keepCheckpoints))") }
        if syncEvery < 1 { p.append("--sync-every must be at least 1 (got \(syncEvery))") }
        if syncEvery > 1, !mode.takesLocalSteps { p.append("--sync-every applies to --mode local and easgd only (got \(mode.rawValue))") }
        if mode.takesLocalSteps, lrAuto, onlineCurvature > 0 {
            p.append("--lr auto with --online-curvature sets the rate after the workers have the job, but --mode \(mode.rawValue) workers step with it: give --lr a number, or use --lr auto without --online-curvature")
        }
        if mode == .easgd, momentum != 0 { p.append("--mode easgd takes no --momentum (its workers take plain SGD steps; got \(momentum))") }
        if !(rho.isFinite && rho >= 0) { p.append("--rho must be 0 or more (got \(rho))") }
        if mode == .easgd, rho.isFinite, learningRate.isFinite, !(effectiveLearningRate * rho <= 1) {
            p.append("--mode easgd needs lr x rho <= 1, or the elastic step overshoots the centre (got \(effectiveLearningRate) x \(rho))")
        }
        if noiseScale, mode != .sync || workers < 2 || backupWorkers > 0 {
            p.append("--noise-scale needs --mode sync with 2 or more workers and no backup workers: it compares each worker's gradient with their average (got \(mode.rawValue), \(workers) workers)")
        }
        if lrStaleness != .none, !mode.appliesGradientsAlone {
            p.append("--lr-staleness applies to --mode async, ssp and easgd only (got \(mode.rawValue))")
        }
        if p.isEmpty, let problem = initialization.problem(parameterCount: makeModel().parameterCount) { p.append(problem) }
        return p
    }
}

/// A configuration problem, as one line.
public struct JobConfigError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
