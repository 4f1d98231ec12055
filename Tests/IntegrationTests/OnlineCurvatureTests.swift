import DSGDCluster
import DSGDCore
import Foundation
import XCTest

/// `--online-curvature`: the online lambda_max estimate of LeCun, Simard and Pearlmutter run
/// across a real cluster (workers return difference quotients, the coordinator averages them).
final class OnlineCurvatureTests: ClusterTestCase {
    /// The lecture's 2-D example (100 points, linear regression): after 500 presentations the
    /// cluster's estimate is within 5% of lambda_max computed independently (float64 Jacobi on the
    /// exact Hessian), `--lr auto` trains at 1 / estimate, and curvature.jsonl traces every presentation.
    func testTwoWorkerEstimateIsWithinFivePercentAfter500Presentations() throws {
        let out = path("lecun")
        let r = try run(["run", "--model", "linear", "--dataset", "lecun-2d", "--examples", "100", "--workers", "2",
                         "--batch", "1", "--online-curvature", "500", "--lr", "auto", "--steps", "200", "--quiet", "--out", out])
        XCTAssertEqual(r.code, 0, r.stderr)
        let s = try summary(out)
        XCTAssertEqual(s.status, .completed)
        let online = try XCTUnwrap(s.onlineLambdaMax)

        let data = try DatasetSpec(name: "lecun-2d", examples: 100, features: 2, seed: 1).materialize()
        let exact = Curvature.analyze(model: LinearRegression(dimension: 2), parameters: [0, 0, 0], data: data).summary.lambdaMax
        print("OnlineCurvatureTests: cluster estimate \(online), exact \(exact), error \(100 * (online - exact) / exact)%")
        XCTAssertLessThan(abs(online - exact) / exact, 0.05)

        let file = try JSONCoding.decoder().decode(ConfigFile.self, from: Data(contentsOf: URL(fileURLWithPath: out + "/config.json")))
        XCTAssertEqual(file.job.onlineCurvature, 500)
        XCTAssertEqual(try XCTUnwrap(file.job.lambdaMax), online)
        XCTAssertEqual(file.job.learningRate, Float(1 / online))

        // Both sides through JSONDecoder (JSONSerialization on Linux can misround a double, so it
        // is not compared with a value JSONDecoder read).
        struct Presentation: Decodable {
            var presentation: Int
            var examples: Int
            var lambdaMax: Double
            enum CodingKeys: String, CodingKey { case presentation, examples, lambdaMax = "lambda_max" }
        }
        let lines = try String(contentsOfFile: out + "/curvature.jsonl", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, 500)
        let last = try JSONDecoder().decode(Presentation.self, from: Data(lines.last!.utf8))
        XCTAssertEqual(last.presentation, 500)
        XCTAssertEqual(last.examples, 1000, "2 workers x batch 1 per presentation")
        XCTAssertEqual(last.lambdaMax, online)
        XCTAssertLessThan(try XCTUnwrap(s.finalLoss), 0.5 * 0.5, "training at the estimated eta_opt lowered the loss (0.5 at the start)")
    }

    /// One worker: the cluster's estimate is the in-process `OnlineCurvature` fed the same
    /// minibatches (the worker's epoch-0 shard, in order, `--batch` at a time), to float precision.
    func testOneWorkerEstimateEqualsInProcessOnlineCurvature() throws {
        let out = path("one")
        let r = try run(["run", "--model", "logistic", "--examples", "96", "--features", "5", "--workers", "1", "--batch", "8",
                         "--online-curvature", "30", "--curvature-perturbation", "0.05", "--curvature-smoothing", "0.1",
                         "--seed", "7", "--steps", "1", "--quiet", "--out", out])
        XCTAssertEqual(r.code, 0, r.stderr)
        let online = try XCTUnwrap(try summary(out).onlineLambdaMax)

        let data = try DatasetSpec(name: "synthetic-logistic", examples: 96, features: 5, seed: 7).materialize()
        let model = LogisticRegression(dimension: 5)
        let shard = Array(Sharding(examples: 96, workers: 1, seed: 7).shard(worker: 0, epoch: 0))
        var local = OnlineCurvature(parameterCount: 6, perturbation: 0.05, smoothing: 0.1, seed: 7)
        var cursor = 0
        for _ in 0..<30 {
            if cursor + 8 > shard.count { cursor = 0 }
            local.present(model: model, parameters: model.initialParameters(), data: data, batch: Array(shard[cursor ..< cursor + 8]))
            cursor += 8
        }
        XCTAssertEqual(online, local.estimate, accuracy: 1e-6 * local.estimate)
        XCTAssertGreaterThan(online, 0)
    }
}
