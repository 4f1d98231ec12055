import DSGDCluster
import DSGDCore
import XCTest

final class JobConfigTests: XCTestCase {
    func testDefaultsAreValidAndRoundTripThroughJSON() throws {
        let job = JobConfig()
        XCTAssertEqual(job.problems(), [])
        let json = String(decoding: try job.jsonData(), as: UTF8.self)
        XCTAssertTrue(json.contains("\"target_loss\" : null"), "unset limits are written out as null")
        XCTAssertTrue(json.contains("\"learning_rate\" : 0.5"))
        XCTAssertEqual(try JobConfig.fromJSON(Data(json.utf8)), job)
    }

    func testBadValuesAreNamed() {
        var j = JobConfig()
        j.workers = 0
        XCTAssertEqual(j.problems().first, "--workers must be at least 1 (got 0)")
        j = JobConfig()
        j.learningRate = -0.1
        XCTAssertTrue(j.problems().first!.hasPrefix("--lr must be a positive finite number"))
        j.learningRate = .nan
        XCTAssertTrue(j.problems().first!.hasPrefix("--lr must be a positive finite number"))
        j = JobConfig()
        j.batch = 4096
        XCTAssertEqual(j.problems().first, "--batch 4096 is larger than a worker's shard (8192 examples / 4 workers = 2048)")
        j = JobConfig()
        j.epochs = nil
        XCTAssertEqual(j.problems().first, "give at least one of --epochs, --steps, --target-loss")
    }

    func testDerivedCounts() {
        var j = JobConfig()
        j.workers = 3
        j.dataset.examples = 1000
        j.batch = 10
        XCTAssertEqual(j.shardSize, 333)
        XCTAssertEqual(j.batchesPerShard, 33)
        XCTAssertEqual(j.examplesPerEpoch, 990)
        XCTAssertEqual(j.examplesPerStep, 30)
        j.mode = .async
        XCTAssertEqual(j.examplesPerStep, 10)
        XCTAssertEqual(j.resolvedEvalEvery, 24)
    }

    func testNesterovNeedsMomentumAndReachesTheOptimizer() throws {
        var j = JobConfig()
        j.nesterov = true
        XCTAssertEqual(j.problems().first, "--nesterov requires --momentum > 0 (got 0.0)")
        j.momentum = 0.9
        XCTAssertEqual(j.problems(), [])
        XCTAssertEqual(j.optimizer, SGD(learningRate: 0.5, momentum: 0.9, nesterov: true))
        XCTAssertEqual(JobConfig().optimizer, SGD(learningRate: 0.5, momentum: 0, nesterov: false))
        let json = String(decoding: try j.jsonData(), as: UTF8.self)
        XCTAssertTrue(json.contains("\"nesterov\" : true"))
        XCTAssertEqual(try JobConfig.fromJSON(Data(json.utf8)), j)
    }

    func testNewFieldsAreWrittenAndDefaultWhenAbsent() throws {
        let json = String(decoding: try JobConfig().jsonData(), as: UTF8.self)
        XCTAssertTrue(json.contains("\"lr_auto\" : false"))
        XCTAssertTrue(json.contains("\"lambda_max\" : null"), "lambda_max is written even when unset")
        XCTAssertTrue(json.contains("\"nesterov\" : false"))
        // A config written before these fields existed still decodes, with their defaults.
        var object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as! [String: Any]
        for key in ["nesterov", "lr_auto", "lambda_max"] { object.removeValue(forKey: key) }
        let old = try JobConfig.fromJSON(JSONSerialization.data(withJSONObject: object))
        XCTAssertEqual(old, JobConfig())
    }

    func testAutoLearningRateIsOneOverLambdaMax() throws {
        var j = JobConfig()
        j.model = .linear
        j.dataset = DatasetSpec(name: "lecun-2d", examples: 100, features: 2, seed: 1)
        j.workers = 2
        j.batch = 50
        j.lrAuto = true
        XCTAssertEqual(j.problems(), [])
        let r = try j.resolvingAutoLearningRate()
        let data = try j.dataset.materialize()
        let expected = Curvature.analyze(model: LinearRegression(dimension: 2), parameters: [0, 0, 0], data: data).summary.lambdaMax
        let lambda = try XCTUnwrap(r.lambdaMax)
        XCTAssertEqual(lambda, expected)
        XCTAssertEqual(Double(r.learningRate) * lambda, 1, accuracy: 1e-6)
        XCTAssertTrue(r.lrAuto)
        XCTAssertEqual(try r.resolvingAutoLearningRate(), r, "resolving twice changes nothing")
        let json = String(decoding: try r.jsonData(), as: UTF8.self)
        XCTAssertTrue(json.contains("\"lr_auto\" : true"))
        XCTAssertEqual(try JobConfig.fromJSON(Data(json.utf8)), r)
        XCTAssertEqual(try JobConfig().resolvingAutoLearningRate(), JobConfig(), "no-op without lr_auto")
    }

    func testAutoLearningRateRejectsNoop() {
        var j = JobConfig()
        j.model = .noop
        j.noopParameters = 10
        j.lrAuto = true
        XCTAssertEqual(j.problems().first, "--lr auto: --model noop has no curvature (its loss is identically 0); give --lr a number")
        XCTAssertThrowsError(try j.resolvingAutoLearningRate()) { e in
            XCTAssertTrue("\(e)".hasPrefix("--lr auto:"))
        }
    }
}

/// `--holdout` and `--hidden` in the job configuration.
final class HoldoutJobConfigTests: XCTestCase {
    func testHoldoutAndHiddenRoundTripAndDefaultWhenAbsent() throws {
        var j = JobConfig()
        j.holdout = 0.2
        j.hidden = [128, 64]
        XCTAssertEqual(try JobConfig.fromJSON(j.jsonData()), j)
        let json = String(decoding: try JobConfig().jsonData(), as: UTF8.self)
        XCTAssertTrue(json.contains("\"holdout\" : 0"), json)
        // A config.json written before the fields existed decodes with the defaults.
        var o = try JSONSerialization.jsonObject(with: JobConfig().jsonData()) as! [String: Any]
        o["holdout"] = nil
        o["hidden"] = nil
        let old = try JobConfig.fromJSON(JSONSerialization.data(withJSONObject: o))
        XCTAssertEqual(old.holdout, 0)
        XCTAssertEqual(old.hidden, [64])
        XCTAssertEqual(old, JobConfig())
    }

    func testHoldoutCountsAndProblems() {
        var j = JobConfig()
        j.model = .mlp
        j.dataset = DatasetSpec(name: "digits", examples: 1, features: 1, seed: 1)
        j.hidden = [32, 16]
        XCTAssertEqual(j.problems(), [])
        XCTAssertEqual(j.makeModel().parameterCount, 32 * 64 + 32 + 16 * 32 + 16 + 10 * 16 + 10)
        XCTAssertEqual(j.trainExamples, 1797)
        j.holdout = 0.2
        XCTAssertEqual(j.testExamples, 359)
        XCTAssertEqual(j.trainExamples, 1438)
        XCTAssertEqual(j.shardSize, 1438 / 4)
        XCTAssertEqual(j.examplesPerEpoch, 4 * (359 / 32) * 32)
        j.holdout = 1
        XCTAssertEqual(j.problems(), ["--holdout must be in [0, 1) (got 1.0)"])
        j.holdout = -0.1
        XCTAssertEqual(j.problems(), ["--holdout must be in [0, 1) (got -0.1)"])
        j.holdout = 0.2
        j.hidden = [64, 0]
        XCTAssertEqual(j.problems(), ["--hidden widths must be at least 1 (got 64 0)"])
        // Holdout 0 leaves every derived count as it was.
        let plain = JobConfig()
        var zero = JobConfig()
        zero.holdout = 0
        XCTAssertEqual(zero.shardSize, plain.shardSize)
        XCTAssertEqual(zero.examplesPerEpoch, plain.examplesPerEpoch)
        XCTAssertEqual(zero.shardSize, 8192 / 4)
    }
}

/// `--normalize` in the job configuration.
final class NormalizeJobConfigTests: XCTestCase {
    func testNormalizeRoundTripsIsAlwaysWrittenAndDefaultsWhenAbsent() throws {
        var j = JobConfig()
        j.normalize = .whiten
        XCTAssertEqual(try JobConfig.fromJSON(j.jsonData()), j)
        let json = String(decoding: try JobConfig().jsonData(), as: UTF8.self)
        XCTAssertTrue(json.contains("\"normalize\" : \"none\""), json)
        var o = try JSONSerialization.jsonObject(with: JobConfig().jsonData()) as! [String: Any]
        o["normalize"] = nil
        let old = try JobConfig.fromJSON(JSONSerialization.data(withJSONObject: o))
        XCTAssertEqual(old.normalize, NormalizationKind.none)
        XCTAssertEqual(old, JobConfig())
    }
}

/// `--online-curvature` and `--layer-norm` in the job configuration.
final class CurvatureJobConfigTests: XCTestCase {
    func testFieldsRoundTripAreWrittenAndDefaultWhenAbsent() throws {
        var j = JobConfig()
        j.onlineCurvature = 500
        j.curvaturePerturbation = 0.02
        j.curvatureSmoothing = 0.05
        XCTAssertEqual(try JobConfig.fromJSON(j.jsonData()), j)
        let json = String(decoding: try JobConfig().jsonData(), as: UTF8.self)
        for key in ["\"online_curvature\" : 0", "\"curvature_perturbation\" : 0.01", "\"curvature_smoothing\" : 0.01", "\"layer_norm\" : false"] {
            XCTAssertTrue(json.contains(key), "\(key) in \(json)")
        }
        var o = try JSONSerialization.jsonObject(with: JobConfig().jsonData()) as! [String: Any]
        for key in ["online_curvature", "curvature_perturbation", "curvature_smoothing", "layer_norm"] { o[key] = nil }
        XCTAssertEqual(try JobConfig.fromJSON(JSONSerialization.data(withJSONObject: o)), JobConfig())
    }

    func testBadValuesAreNamed() {
        var j = JobConfig()
        j.onlineCurvature = -1
        XCTAssertEqual(j.problems(), ["--online-curvature must be 0 (none) or a positive number of presentations (got -1)"])
        j = JobConfig()
        j.curvaturePerturbation = 0
        XCTAssertEqual(j.problems(), ["--curvature-perturbation must be a positive finite number (got 0.0)"])
        j = JobConfig()
        j.curvatureSmoothing = 1.5
        XCTAssertEqual(j.problems(), ["--curvature-smoothing must be in (0, 1] (got 1.5)"])
        j = JobConfig()
        j.layerNorm = true
        XCTAssertEqual(j.problems(), ["--layer-norm applies to --model mlp only (got logistic)"])
        j = JobConfig()
        j.model = .noop
        j.noopParameters = 10
        j.onlineCurvature = 5
        XCTAssertEqual(j.problems(), ["--online-curvature: --model noop has no curvature (its loss is identically 0)"])
    }

    /// With `--online-curvature`, `--lr auto` is left to the coordinator (it uses the cluster's estimate).
    func testAutoLearningRateWaitsForTheOnlineEstimate() throws {
        var j = JobConfig()
        j.lrAuto = true
        j.onlineCurvature = 10
        XCTAssertEqual(try j.resolvingAutoLearningRate(), j)
    }
}
