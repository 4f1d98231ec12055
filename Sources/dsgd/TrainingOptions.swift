import ArgumentParser
import DSGDCluster
import DSGDCore
import Foundation

extension TrainingMode: ExpressibleByArgument {}
extension ModelKind: ExpressibleByArgument {}
extension LearningRateScaling: ExpressibleByArgument {}
extension StalenessRate: ExpressibleByArgument {}
extension EvaluationPlacement: ExpressibleByArgument {}

/// `--lr`: a number, or `auto` (eta_opt = 1/lambda_max, estimated before launch).
enum LearningRateChoice: Equatable, ExpressibleByArgument, CustomStringConvertible {
    case value(Float)
    case auto

    init?(argument: String) {
        if argument.lowercased() == "auto" { self = .auto; return }
        guard let x = Float(argument) else { return nil }
        self = .value(x)
    }

    var description: String {
        switch self {
        case .value(let x): return "\(x)"
        case .auto: return "auto"
        }
    }
}

/// The flags that describe a training job, shared by `dsgd run` and `dsgd coordinator`.
struct TrainingOptions: ParsableArguments {
    @Option(parsing: .unconditional, help: "Number of worker processes.")
    var workers: Int = 4

    @Option(help: "sync: average one gradient per worker per step; async: apply each gradient as it arrives; ssp: async, but no worker runs more than --staleness gradients ahead of the slowest; local: local SGD, --sync-every steps per worker between averages; easgd: elastic averaging SGD (--rho, --sync-every).")
    var mode: TrainingMode = .sync

    @Option(parsing: .unconditional, help: "--mode ssp: how many gradients a worker may run ahead of the slowest (0: lockstep).")
    var staleness: Int = JobConfig().staleness

    @Option(parsing: .unconditional, help: "--mode sync: backup workers b; each step averages the first workers - b gradients and drops the rest.")
    var backupWorkers: Int = 0

    @Option(parsing: .unconditional, help: "--mode async: send every worker the parameters of this many versions ago, so one worker's gradients have staleness exactly this (an experiment).")
    var delay: Int = 0

    @Option(parsing: .unconditional, help: "sync, local, async, ssp: go on while at least this many workers live; a worker silent past --worker-timeout is then declared dead instead of failing the run (sync: its unused examples of the epoch go to the others) (default: --workers).")
    var minWorkers: Int?

    @Option(parsing: .unconditional, help: "async: drop (count, do not apply) a gradient whose L2 norm is above this or not finite; its worker gets the current parameters (default: apply every gradient; a non-finite one fails the run).")
    var maxGradientNorm: Double?

    @Option(parsing: .unconditional, help: "async: drop (count, do not apply) a gradient more than this many versions stale; its worker gets the current parameters (default: apply every gradient).")
    var maxStaleness: Int?

    @Option(help: "--mode async, ssp or easgd: none (the same rate whatever the staleness) or inverse (lr / staleness).")
    var lrStaleness: StalenessRate = .none

    @Option(parsing: .unconditional, help: "--mode local and easgd: local SGD steps each worker takes between two exchanges with the coordinator (H).")
    var syncEvery: Int = 1

    @Option(parsing: .unconditional, help: "--mode easgd: the elastic coefficient; a worker moves lr x rho of the way to the centre per exchange.")
    var rho: Float = JobConfig().rho

    @Option(help: "Model: linear (quadratic loss), logistic, softmax, mlp, deep-linear-111 (Y = w1 w2 X), or noop (communication benchmark).")
    var model: ModelKind = .logistic

    @OptionGroup var data: DataOptions

    @Option(parsing: .unconditional, help: "Parameter count of the noop model.")
    var parameters: Int?

    @Option(parsing: .unconditional, help: "Learning rate (default 0.5; 0.1 for deep-linear-111), or auto: eta_opt = 1/lambda_max of the model's Hessian at its initial parameters on the training set as trained (after --holdout and --normalize; see `dsgd analyze`; with --online-curvature, the cluster's online estimate).")
    var lr: LearningRateChoice?

    @Option(help: "How --lr scales with the examples an update applies: none, linear or sqrt. --lr is the rate of a sync step (workers x batch examples); linear gives an async update (batch examples) lr / workers, the same rate per example.")
    var lrScaling: LearningRateScaling = .none

    @Option(name: .customLong("init"), help: "Initial parameters: default (the model's own), zeros, a comma-separated list of all P numbers (e.g. 0.001,0 for deep-linear-111), or the params.json of an earlier run of the same model.")
    var initialization: String = "default"

    @Option(parsing: .unconditional, help: "Examples per minibatch, per worker.")
    var batch: Int = 32

    @Option(parsing: .unconditional, help: "Heavy-ball momentum in [0, 1).")
    var momentum: Float = 0

    @Flag(help: "Nesterov momentum (step along g + momentum * v); needs --momentum > 0.")
    var nesterov = false

    @Option(parsing: .unconditional, help: "Stop after this many epochs (default 5 when neither --steps nor --target-loss is given).")
    var epochs: Double?

    @Option(parsing: .unconditional, help: "Stop after this many model updates.")
    var steps: Int?

    @Option(parsing: .unconditional, help: "Stop once the training loss is at or below this.")
    var targetLoss: Double?

    @Option(parsing: .unconditional, help: "Seed for data, sharding and everything random.")
    var seed: UInt64 = 1

    @Option(parsing: .unconditional, help: "Evaluate the training loss every this many updates (0: about four times an epoch).")
    var evalEvery: Int = 0

    @Option(parsing: .unconditional, help: "Where the coordinator evaluates: background (a snapshot, on a thread of its own; training goes on) or inline (training pauses; a run stops at exactly the version that reached --target-loss).")
    var evaluation: EvaluationPlacement = .background

    @Flag(help: "sync: estimate the gradient noise scale B_simple from each step's per-worker and averaged gradients (metrics noise_scale, summary noise_scale).")
    var noiseScale = false

    @Option(help: "How workers send gradients: none (float32), bf16, fp16, topk:F (the fraction F of largest entries of each part) or sign (scaled sign, 1 bit an entry). The coordinator keeps float32 parameters.")
    var compress: String = "none"

    @Option(help: "How the coordinator sends parameters: none (float32), bf16, fp16, or sparse (sync and local: only the entries that changed since the version each worker holds; lossless).")
    var compressParams: String = "none"

    @Flag(inversion: .prefixedNo, help: "With --compress topk or sign: each worker keeps what the encoding left out and adds it to its next gradient (error feedback).")
    var errorFeedback = true

    @Option(parsing: .unconditional, help: "Write a checkpoint (RUN_DIR/checkpoints) every this many updates (default: by time only, see --checkpoint-seconds).")
    var checkpointEvery: Int?

    @Option(parsing: .unconditional, help: "Write a checkpoint whenever this many seconds have passed since the last (0: not by time). A signal that ends the run writes one too; `--resume RUN_DIR` continues from the newest valid one.")
    var checkpointSeconds: Double = JobConfig().checkpointSeconds

    @Option(parsing: .unconditional, help: "How many checkpoints to keep (the oldest are deleted).")
    var keepCheckpoints: Int = JobConfig().keepCheckpoints

    @Option(parsing: .unconditional, help: "Fail the run if a worker leaves parameters unanswered (no GRADIENT, STATS or CURVATURE answer) for this many seconds.")
    var workerTimeout: Double = 60

    @Option(parsing: .unconditional, help: "Fail if not every worker registers within this many seconds.")
    var registerTimeout: Double = 60

    @Option(parsing: .unconditional, help: "Floats per PARAMS and GRADIENT message part (the coordinator averages part by part as they arrive and sends each averaged part on at once) (default: 131072; with --compress topk, 4194304).")
    var gradientChunk: Int?

    @Option(parsing: .unconditional, help: "Hold out this fraction of the data set as a test set (deterministic from --seed), in [0, 1).")
    var holdout: Double = 0

    @Option(parsing: .upToNextOption, help: "Hidden layer widths of --model mlp, e.g. --hidden 128 64.")
    var hidden: [Int] = [64]

    @Option(help: "Input normalization: none, standardize (zero mean, unit variance per feature) or whiten (identity covariance), fitted on the whole training set across shards.")
    var normalize: NormalizationKind = .none

    @Flag(help: "Layer normalization after every hidden affine layer of --model mlp (learned gain and bias per unit).")
    var layerNorm = false

    @Option(parsing: .unconditional, help: "Before training, run this many presentations of the online lambda_max estimate (LeCun, Simard, Pearlmutter 1993) across the cluster: each worker returns a difference quotient on its next minibatch, the coordinator averages them. With --lr auto the estimate sets the learning rate. 0: off.")
    var onlineCurvature: Int = 0

    @Option(parsing: .unconditional, help: "--online-curvature: perturbation length a of the difference quotients.")
    var curvaturePerturbation: Float = JobConfig().curvaturePerturbation

    @Option(parsing: .unconditional, help: "--online-curvature: smoothing factor g of the running average, in (0, 1].")
    var curvatureSmoothing: Float = JobConfig().curvatureSmoothing

    /// The options when no flag is given (to tell whether any was).
    static var defaults: TrainingOptions { (try? TrainingOptions.parse([])) ?? TrainingOptions() }

    /// The resolved job.
    var job: JobConfig {
        var j = JobConfig()
        j.mode = mode
        j.workers = workers
        j.model = model
        let name = data.data ?? ((model == .linear || model == .deepLinear111) ? "synthetic-linear" : "synthetic-logistic")
        j.dataset = data.spec(name: name, seed: seed)
        j.noopParameters = model == .noop ? parameters : nil
        switch lr {
        case .value(let x): j.learningRate = x
        case .auto: j.lrAuto = true  // learningRate keeps its default until `resolvedJob()`
        case nil: j.learningRate = JobConfig.defaultLearningRate(for: model)
        }
        j.initialization = ParameterInit(initialization)
        j.lrScaling = lrScaling
        j.staleness = staleness
        j.backupWorkers = backupWorkers
        j.delay = delay
        j.maxStaleness = maxStaleness
        j.minWorkers = minWorkers
        j.maxGradientNorm = maxGradientNorm
        j.lrStaleness = lrStaleness
        j.syncEvery = syncEvery
        j.rho = rho
        j.momentum = momentum
        j.nesterov = nesterov
        j.batch = batch
        j.epochs = epochs ?? ((steps == nil && targetLoss == nil) ? 5 : nil)
        j.steps = steps
        j.targetLoss = targetLoss
        j.seed = seed
        j.evalEvery = evalEvery
        j.evaluation = evaluation
        j.noiseScale = noiseScale
        j.workerTimeout = workerTimeout
        j.checkpointEvery = checkpointEvery
        j.compress = (try? GradientCodec(parsing: compress)) ?? .f32
        j.compressParams = (try? GradientCodec(parsing: compressParams)) ?? .f32
        j.errorFeedback = errorFeedback
        j.checkpointSeconds = checkpointSeconds
        j.keepCheckpoints = keepCheckpoints
        j.registerTimeout = registerTimeout
        j.gradientChunk = gradientChunk ?? JobConfig.defaultGradientChunk(compress: j.compress)
        j.holdout = holdout
        j.hidden = hidden
        j.normalize = normalize
        j.layerNorm = layerNorm
        j.onlineCurvature = onlineCurvature
        j.curvaturePerturbation = curvaturePerturbation
        j.curvatureSmoothing = curvatureSmoothing
        return j
    }

    /// The resolved job with `--lr auto` evaluated (materialises the data set and computes
    /// lambda_max; prints the chosen rate on stdout). Errors are one line.
    func resolvedJob() throws -> JobConfig {
        let resolved = try Self.resolvingAutoLearningRate(job)
        if let note = resolved.learningRateNote { writeLine("dsgd: \(note)", to: 2) }
        return resolved
    }

    /// `job` with `--lr auto` evaluated, announcing the chosen rate; unchanged otherwise, and with
    /// `--online-curvature` (the coordinator sets the rate from the cluster's online estimate).
    /// First checks that `--init` gives parameters for this model (reading its file, if any), so
    /// a bad one fails before any process starts.
    static func resolvingAutoLearningRate(_ job: JobConfig) throws -> JobConfig {
        do { _ = try job.initialParameters() } catch let e as JobConfigError { throw ValidationError(e.description) }
        guard job.lrAuto, job.lambdaMax == nil, job.onlineCurvature == 0 else { return job }
        let resolved: JobConfig
        do { resolved = try job.resolvingAutoLearningRate() } catch let e as JobConfigError {
            throw ValidationError(e.description)
        } catch {
            throw ValidationError("--lr auto: cannot build the data set: \(error)")
        }
        let on = "the \(resolved.trainExamples) training examples" + (job.normalize == .none ? "" : " (\(job.normalize == .whiten ? "whitened" : "standardized"))")
        writeLine("dsgd: --lr auto: lambda_max \(String(format: "%.6g", resolved.lambdaMax ?? .nan)) at the initial parameters on \(on), learning rate eta_opt = 1/lambda_max = \(resolved.learningRate)", to: 1)
        return resolved
    }

    func validate() throws {
        for text in [compress, compressParams] {
            do { _ = try GradientCodec(parsing: text) } catch { throw ValidationError(error.description) }
        }
        if let name = data.data {
            try data.validateFileFlags(name)
            if data.isFile(name) { try data.resolveFile(name) }  // file:line:column errors before anything starts
        }
        if let first = job.problems().first { throw ValidationError(first) }
    }
}
