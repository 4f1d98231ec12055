import DSGDCluster
import DSGDCore
import Foundation
import XCTest

/// `--lr auto` (eta_opt = 1/lambda_max, estimated before launch) and Nesterov momentum on real
/// clusters.
final class LearningRateTests: ClusterTestCase {
    func testAutoLearningRateMatchesAnalyzeAndTrains() throws {
        let out = path("auto")
        let r = try run(["run", "--model", "linear", "--dataset", "lecun-2d", "--examples", "100", "--workers", "2",
                         "--batch", "50", "--lr", "auto", "--steps", "200", "--quiet", "--out", out])
        XCTAssertEqual(r.code, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains { $0.contains("--lr auto") && $0.contains("learning rate") },
                      "the chosen rate is printed: \(r.stdout)")
        XCTAssertEqual(try summary(out).status, .completed)

        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/config.json"))) as! [String: Any]
        let job = try XCTUnwrap(config["job"] as? [String: Any])
        XCTAssertEqual(job["lr_auto"] as? Bool, true)
        let lambda = try XCTUnwrap(job["lambda_max"] as? Double)
        let rate = try XCTUnwrap(job["learning_rate"] as? Double)
        XCTAssertEqual(rate * lambda, 1, accuracy: 1e-5)

        let a = try run(["analyze", "--model", "linear", "--data", "lecun-2d", "--examples", "100", "--json"])
        XCTAssertEqual(a.code, 0, a.stderr)
        let report = try JSONSerialization.jsonObject(with: Data(a.stdout.joined().utf8)) as! [String: Any]
        let analyzed = try XCTUnwrap(report["lambda_max"] as? Double)
        XCTAssertEqual(lambda, analyzed, accuracy: 1e-6 * abs(analyzed))

        let lines = try String(contentsOfFile: out + "/metrics.jsonl", encoding: .utf8).split(separator: "\n")
        let losses = try lines.map { try XCTUnwrap((try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any])["loss"] as? Double) }
        XCTAssertGreaterThan(losses.count, 1)
        XCTAssertLessThan(try XCTUnwrap(try summary(out).finalLoss), losses[0], "training lowered the loss")
    }

    /// `--lr auto --normalize standardize` takes lambda_max of the inputs it trains on. On the raw
    /// breast-cancer inputs lambda_max is about 1.7e6, and training at 1/1.7e6 leaves the loss near
    /// 0.3 after 2000 steps; standardized it is about 13.3, and the loss comes within 3% of the
    /// least-squares optimum (0.026378).
    func testAutoLearningRateUsesTheNormalizedInputs() throws {
        let out = path("auto-standardized")
        let r = try run(["run", "--model", "linear", "--dataset", "breast-cancer", "--normalize", "standardize", "--lr", "auto",
                         "--workers", "2", "--batch", "64", "--steps", "2000", "--quiet", "--out", out])
        XCTAssertEqual(r.code, 0, r.stderr)
        let job = try JSONCoding.decoder().decode(ConfigFile.self, from: Data(contentsOf: URL(fileURLWithPath: out + "/config.json"))).job
        let lambda = try XCTUnwrap(job.lambdaMax)

        let a = try run(["analyze", "--model", "linear", "--data", "breast-cancer", "--normalize", "standardize", "--json"])
        XCTAssertEqual(a.code, 0, a.stderr)
        let report = try JSONSerialization.jsonObject(with: Data(a.stdout.joined().utf8)) as! [String: Any]
        let analyzed = try XCTUnwrap(report["lambda_max"] as? Double)
        XCTAssertEqual(lambda, analyzed, accuracy: 1e-9 * analyzed, "lambda_max of the standardized inputs, as analyze reports")
        let raw = try run(["analyze", "--model", "linear", "--data", "breast-cancer", "--json"])
        let rawLambda = try XCTUnwrap((try JSONSerialization.jsonObject(with: Data(raw.stdout.joined().utf8)) as! [String: Any])["lambda_max"] as? Double)
        XCTAssertGreaterThan(rawLambda, 1000 * lambda, "the raw inputs' curvature is another matter entirely")
        XCTAssertEqual(Double(job.learningRate) * lambda, 1, accuracy: 1e-6)
        XCTAssertLessThan(try XCTUnwrap(try summary(out).finalLoss), 1.03 * 0.026378)
    }

    func testAutoLearningRateOfNoopIsOneLine() throws {
        let r = try run(["run", "--model", "noop", "--parameters", "10", "--lr", "auto", "--out", path("noop")])
        XCTAssertNotEqual(r.code, 0)
        XCTAssertTrue(r.stderr.contains("--lr auto: --model noop has no curvature"), r.stderr)
    }

    func testNesterovNeedsMomentum() throws {
        let r = try run(["run", "--nesterov", "--out", path("nesterov-alone")])
        XCTAssertNotEqual(r.code, 0)
        XCTAssertTrue(r.stderr.contains("--nesterov requires --momentum > 0"), r.stderr)
    }

    func testNesterovReachesTargetLoss() throws {
        let out = path("nesterov")
        let r = try run(["run", "--momentum", "0.9", "--nesterov", "--lr", "0.1", "--target-loss", "0.30",
                         "--epochs", "20", "--quiet", "--out", out])
        XCTAssertEqual(r.code, 0, r.stderr)
        let s = try summary(out)
        XCTAssertEqual(s.status, .completed)
        XCTAssertLessThanOrEqual(try XCTUnwrap(s.finalLoss), 0.30)
        let file = try JSONCoding.decoder().decode(ConfigFile.self, from: Data(contentsOf: URL(fileURLWithPath: out + "/config.json")))
        XCTAssertTrue(file.job.nesterov)
        XCTAssertEqual(file.job.optimizer, SGD(learningRate: 0.1, momentum: 0.9, nesterov: true))
    }
}
