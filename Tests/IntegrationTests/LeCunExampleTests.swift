import DSGDCluster
import DSGDCore
import Foundation
import XCTest

/// LeCun, Bottou, Orr and Müller, "Efficient BackProp" (1998), §5.2 (GUIDE §4 item 1), on real
/// clusters: linear regression on the 100-example 2-D set, loss E = 1/(2P) sum (y - w.x - b)^2, so
/// the Hessian is the second-moment matrix of the inputs extended by the bias input 1. Its largest
/// eigenvalue (about 1.0 with the bias; about 0.84 without) is measured by `dsgd analyze`, never
/// hard-coded, and eta_max = 2 / lambda_max is the batch learning-rate limit.
final class LeCunExampleTests: ClusterTestCase {
    static let dataArgs = ["--model", "linear", "--dataset", "lecun-2d", "--examples", "100"]

    /// `dsgd analyze --json` on the same data set as the runs (same default seed).
    func analysis() throws -> [String: Any] {
        let r = try run(["analyze", "--model", "linear", "--data", "lecun-2d", "--examples", "100", "--json"])
        XCTAssertEqual(r.code, 0, r.stderr)
        let line = try XCTUnwrap(r.stdout.first { $0.hasPrefix("{") }, "no JSON in \(r.stdout)")
        return try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
    }

    /// The least-squares optimum of E over the whole set, in float64 (normal equations on [x, 1]).
    func optimumLoss() throws -> Double {
        let d = try DatasetSpec(name: "lecun-2d", examples: 100, features: 2, seed: 1).materialize()
        XCTAssertEqual(d.examples, 100)
        XCTAssertEqual(d.dimension, 2)
        let n = 3
        var a = [[Double]](repeating: [Double](repeating: 0, count: n + 1), count: n)  // [A^T A | A^T y]
        for i in 0..<d.examples {
            let row = [Double(d.features[2 * i]), Double(d.features[2 * i + 1]), 1]
            let y = Double(d.targets[i])
            for r in 0..<n {
                for c in 0..<n { a[r][c] += row[r] * row[c] }
                a[r][n] += row[r] * y
            }
        }
        for k in 0..<n {                       // Gauss-Jordan with partial pivoting
            let p = (k..<n).max { abs(a[$0][k]) < abs(a[$1][k]) }!
            a.swapAt(k, p)
            for r in 0..<n where r != k {
                let f = a[r][k] / a[k][k]
                for c in k...n { a[r][c] -= f * a[k][c] }
            }
        }
        let w = (0..<n).map { a[$0][n] / a[$0][$0] }
        var total = 0.0
        for i in 0..<d.examples {
            let r = Double(d.targets[i]) - w[0] * Double(d.features[2 * i]) - w[1] * Double(d.features[2 * i + 1]) - w[2]
            total += r * r
        }
        return total / (2 * Double(d.examples))
    }

    /// Full-batch GD through a real cluster: 2 workers x batch 50 = every example, every step.
    func batchRun(lr: Double, steps: Int, out: String) throws -> Result {
        try run(["run"] + Self.dataArgs + ["--workers", "2", "--batch", "50", "--lr", "\(lr)", "--steps", "\(steps)",
                                          "--eval-every", "10", "--quiet", "--out", out])
    }

    func testBatchGradientDescentConvergesJustBelowEtaMaxAndDivergesJustAbove() throws {
        let a = try analysis()
        let lambdaMax = try XCTUnwrap(a["lambda_max"] as? Double)
        let etaMax = try XCTUnwrap(a["eta_max"] as? Double)
        XCTAssertEqual(a["parameters"] as? Int, 3, "two weights and the bias")
        XCTAssertEqual(etaMax, 2 / lambdaMax, accuracy: 1e-12)
        // Sanity only: the bias input adds an eigenvalue near 1, above the inputs' 0.84.
        XCTAssertGreaterThan(lambdaMax, 0.84)
        XCTAssertLessThan(lambdaMax, 1.5)
        let optimum = try optimumLoss()

        // 0.99 eta_max: the top mode contracts by |1 - 0.99 * 2| = 0.98 per step (the loss by 0.96).
        let good = path("below")
        let r1 = try batchRun(lr: 0.99 * etaMax, steps: 600, out: good)
        XCTAssertEqual(r1.code, 0, r1.stderr)
        let s1 = try summary(good)
        XCTAssertEqual(s1.status, .completed)
        XCTAssertEqual(s1.steps, 600)
        XCTAssertEqual(s1.examples, 600 * 100, "every step applies the whole set")
        XCTAssertEqual(try XCTUnwrap(s1.finalLoss), optimum, accuracy: 1e-3)

        // 1.01 eta_max: the top mode grows by 1.02 per step (the loss by about 1.04), so the loss
        // passes 1e6 x its initial value after a few hundred steps (540 with seed 1: the initial
        // error has only a small component along the top eigenvector) and the coordinator's
        // divergence rule stops the run, with finite numbers, long before float32 overflows.
        let bad = path("above")
        let r2 = try batchRun(lr: 1.01 * etaMax, steps: 2000, out: bad)
        XCTAssertEqual(r2.code, 1, r2.stderr)
        let s2 = try summary(bad)
        XCTAssertEqual(s2.status, .failed)
        let error = try XCTUnwrap(s2.error)
        XCTAssertTrue(error.contains("diverged"), error)
        XCTAssertTrue(error.contains("grew from"), "the growth rule fires before the loss is inf or NaN: \(error)")
        XCTAssertTrue(error.contains("--lr"), error)
        XCTAssertGreaterThan(s2.steps, 200)
        XCTAssertLessThan(s2.steps, 2000, "stopped by the divergence rule, not the step limit")
        XCTAssertGreaterThan(try XCTUnwrap(s2.finalLoss), 1e6 * 0.5 - 1, "the loss at step 0 is 1/2 (all-zero start, targets +-1)")
        let metrics = try String(contentsOfFile: bad + "/metrics.jsonl", encoding: .utf8)
        XCTAssertFalse(metrics.contains("null"), "no NaN or infinite loss was ever logged")
        XCTAssertEqual(r2.stderr.components(separatedBy: "coordinator: error: training diverged").count - 1, 1,
                       "the coordinator reports the divergence once: \(r2.stderr)")
        XCTAssertFalse(r2.stderr.lowercased().contains("loss nan") || r2.stderr.contains("loss inf"), r2.stderr)
    }

    func testOnlineSGDConvergesAtARateWhoseBatchEquivalentExceedsEtaMax() throws {
        let a = try analysis()
        let etaMax = try XCTUnwrap(a["eta_max"] as? Double)
        let optimum = try optimumLoss()
        let lr = 0.2, examples = 100.0
        // 100 updates an epoch at 0.2: "like a batch rate of 20", ten times eta_max.
        XCTAssertGreaterThan(lr * examples, etaMax)
        XCTAssertLessThan(lr, etaMax)
        let out = path("sgd")
        let r = try run(["run"] + Self.dataArgs + ["--workers", "2", "--batch", "1", "--lr", "\(lr)", "--epochs", "20",
                                                  "--quiet", "--out", out])
        XCTAssertEqual(r.code, 0, r.stderr)
        let s = try summary(out)
        XCTAssertEqual(s.status, .completed)
        XCTAssertEqual(s.steps, 20 * 50, "2 workers x 1 example: 50 steps an epoch")
        XCTAssertEqual(try XCTUnwrap(s.finalLoss), optimum, accuracy: 0.1 * optimum)
    }
}
