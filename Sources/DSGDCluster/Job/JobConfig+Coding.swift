import DSGDCore
import Foundation

extension JobConfig {
    enum CodingKeys: String, CodingKey {
        case mode, workers, model, dataset, noopParameters, learningRate, momentum, nesterov, lrAuto, lambdaMax
        case batch, epochs, steps
        case targetLoss, seed, evalEvery, workerTimeout, registerTimeout, gradientChunk, holdout, hidden, normalize
        case layerNorm, onlineCurvature, curvaturePerturbation, curvatureSmoothing
        case initialization = "init"
        case lrScaling, staleness, backupWorkers, delay, lrStaleness, syncEvery, rho
        case evaluation, noiseScale, maxStaleness, minWorkers, maxGradientNorm
        case checkpointEvery, checkpointSeconds, keepCheckpoints
        case compress, compressParams, errorFeedback, noopPattern
    }

    /// Encodes every field, writing `null` for an unset limit (so config.json shows every default).
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(mode, forKey: .mode)
        try c.encode(workers, forKey: .workers)
        try c.encode(model, forKey: .model)
        try c.encode(dataset, forKey: .dataset)
        try c.encode(noopParameters, forKey: .noopParameters)
        try c.encode(learningRate, forKey: .learningRate)
        try c.encode(momentum, forKey: .momentum)
        try c.encode(nesterov, forKey: .nesterov)
        try c.encode(lrAuto, forKey: .lrAuto)
        try c.encode(lambdaMax, forKey: .lambdaMax)
        try c.encode(batch, forKey: .batch)
        try c.encode(epochs, forKey: .epochs)
        try c.encode(steps, forKey: .steps)
        try c.encode(targetLoss, forKey: .targetLoss)
        try c.encode(seed, forKey: .seed)
        try c.encode(evalEvery, forKey: .evalEvery)
        try c.encode(workerTimeout, forKey: .workerTimeout)
        try c.encode(registerTimeout, forKey: .registerTimeout)
        try c.encode(gradientChunk, forKey: .gradientChunk)
        try c.encode(holdout, forKey: .holdout)
        try c.encode(hidden, forKey: .hidden)
        try c.encode(normalize, forKey: .normalize)
        try c.encode(layerNorm, forKey: .layerNorm)
        try c.encode(onlineCurvature, forKey: .onlineCurvature)
        try c.encode(curvaturePerturbation, forKey: .curvaturePerturbation)
        try c.encode(curvatureSmoothing, forKey: .curvatureSmoothing)
        try c.encode(initialization.description, forKey: .initialization)
        try c.encode(lrScaling, forKey: .lrScaling)
        try c.encode(staleness, forKey: .staleness)
        try c.encode(backupWorkers, forKey: .backupWorkers)
        try c.encode(delay, forKey: .delay)
        try c.encode(lrStaleness, forKey: .lrStaleness)
        try c.encode(syncEvery, forKey: .syncEvery)
        try c.encode(rho, forKey: .rho)
        try c.encode(evaluation, forKey: .evaluation)
        try c.encode(noiseScale, forKey: .noiseScale)
        try c.encode(maxStaleness, forKey: .maxStaleness)
        try c.encode(minWorkers, forKey: .minWorkers)
        try c.encode(maxGradientNorm, forKey: .maxGradientNorm)
        try c.encode(checkpointEvery, forKey: .checkpointEvery)
        try c.encode(checkpointSeconds, forKey: .checkpointSeconds)
        try c.encode(keepCheckpoints, forKey: .keepCheckpoints)
        try c.encode(compress.description, forKey: .compress)
        try c.encode(compressParams.description, forKey: .compressParams)
        try c.encode(errorFeedback, forKey: .errorFeedback)
        if noopPattern { try c.encode(noopPattern, forKey: .noopPattern) }
    }

    /// Decodes every field; `nesterov`, `lr_auto`, `lambda_max`, `holdout`, `hidden`, `normalize`, `layer_norm`, the
    /// `online_curvature` settings, `init`, `lr_scaling` and the policy options (`staleness`,
    /// `backup_workers`, `delay`, `lr_staleness`, `sync_every`, `rho`), `evaluation`, `noise_scale`, `max_staleness`, `min_workers`, `max_gradient_norm`, the checkpoint settings and the compression settings take their defaults when absent
    /// (files written before they existed).
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init()
        mode = try c.decode(TrainingMode.self, forKey: .mode)
        workers = try c.decode(Int.self, forKey: .workers)
        model = try c.decode(ModelKind.self, forKey: .model)
        dataset = try c.decode(DatasetSpec.self, forKey: .dataset)
        noopParameters = try c.decodeIfPresent(Int.self, forKey: .noopParameters)
        learningRate = try c.decode(Float.self, forKey: .learningRate)
        momentum = try c.decode(Float.self, forKey: .momentum)
        nesterov = try c.decodeIfPresent(Bool.self, forKey: .nesterov) ?? false
        lrAuto = try c.decodeIfPresent(Bool.self, forKey: .lrAuto) ?? false
        lambdaMax = try c.decodeIfPresent(Double.self, forKey: .lambdaMax)
        batch = try c.decode(Int.self, forKey: .batch)
        epochs = try c.decodeIfPresent(Double.self, forKey: .epochs)
        steps = try c.decodeIfPresent(Int.self, forKey: .steps)
        targetLoss = try c.decodeIfPresent(Double.self, forKey: .targetLoss)
        seed = try c.decode(UInt64.self, forKey: .seed)
        evalEvery = try c.decode(Int.self, forKey: .evalEvery)
        workerTimeout = try c.decode(Double.self, forKey: .workerTimeout)
        registerTimeout = try c.decode(Double.self, forKey: .registerTimeout)
        gradientChunk = try c.decode(Int.self, forKey: .gradientChunk)
        holdout = try c.decodeIfPresent(Double.self, forKey: .holdout) ?? 0
        hidden = try c.decodeIfPresent([Int].self, forKey: .hidden) ?? [64]
        normalize = try c.decodeIfPresent(NormalizationKind.self, forKey: .normalize) ?? .none
        layerNorm = try c.decodeIfPresent(Bool.self, forKey: .layerNorm) ?? false
        onlineCurvature = try c.decodeIfPresent(Int.self, forKey: .onlineCurvature) ?? 0
        curvaturePerturbation = try c.decodeIfPresent(Float.self, forKey: .curvaturePerturbation) ?? 0.01
        curvatureSmoothing = try c.decodeIfPresent(Float.self, forKey: .curvatureSmoothing) ?? 0.01
        initialization = ParameterInit(try c.decodeIfPresent(String.self, forKey: .initialization) ?? "default")
        lrScaling = try c.decodeIfPresent(LearningRateScaling.self, forKey: .lrScaling) ?? .none
        staleness = try c.decodeIfPresent(Int.self, forKey: .staleness) ?? 2
        backupWorkers = try c.decodeIfPresent(Int.self, forKey: .backupWorkers) ?? 0
        delay = try c.decodeIfPresent(Int.self, forKey: .delay) ?? 0
        lrStaleness = try c.decodeIfPresent(StalenessRate.self, forKey: .lrStaleness) ?? .none
        syncEvery = try c.decodeIfPresent(Int.self, forKey: .syncEvery) ?? 1
        rho = try c.decodeIfPresent(Float.self, forKey: .rho) ?? 0.5
        evaluation = try c.decodeIfPresent(EvaluationPlacement.self, forKey: .evaluation) ?? .background
        noiseScale = try c.decodeIfPresent(Bool.self, forKey: .noiseScale) ?? false
        maxStaleness = try c.decodeIfPresent(Int.self, forKey: .maxStaleness)
        minWorkers = try c.decodeIfPresent(Int.self, forKey: .minWorkers)
        maxGradientNorm = try c.decodeIfPresent(Double.self, forKey: .maxGradientNorm)
        checkpointEvery = try c.decodeIfPresent(Int.self, forKey: .checkpointEvery)
        checkpointSeconds = try c.decodeIfPresent(Double.self, forKey: .checkpointSeconds) ?? 30
        keepCheckpoints = try c.decodeIfPresent(Int.self, forKey: .keepCheckpoints) ?? 3
        compress = try GradientCodec(parsing: c.decodeIfPresent(String.self, forKey: .compress) ?? "none")
        compressParams = try GradientCodec(parsing: c.decodeIfPresent(String.self, forKey: .compressParams) ?? "none")
        errorFeedback = try c.decodeIfPresent(Bool.self, forKey: .errorFeedback) ?? true
        noopPattern = try c.decodeIfPresent(Bool.self, forKey: .noopPattern) ?? false
    }

    /// The JSON form used in config.json and in WELCOME (snake_case keys, sorted).
    public func jsonData() throws -> Data { try JSONCoding.encoder().encode(self) }

    /// Parses the JSON form.
    public static func fromJSON(_ data: Data) throws -> JobConfig {
        try JSONCoding.decoder().decode(JobConfig.self, from: data)
    }
}

/// The JSON settings shared by every file dsgd writes: snake_case keys, sorted, pretty-printed.
public enum JSONCoding {
    public static func encoder(pretty: Bool = true) -> JSONEncoder {
        let e = JSONEncoder()
        e.keyEncodingStrategy = .convertToSnakeCase
        e.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return e
    }

    public static func decoder() -> JSONDecoder {
        let d = JSONDecoder()
        d.keyDecodingStrategy = .convertFromSnakeCase
        d.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return d
    }
}
