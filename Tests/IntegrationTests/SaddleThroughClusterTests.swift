import DSGDCluster
import DSGDCore
import Foundation
import XCTest

/// The 1-1-1 network `Y = w1 w2 X` through a real cluster (one worker, full-batch gradient
/// descent on 200 examples of `synthetic-linear --features 1`), started where `--init` says: the
/// lecture's three phenomena, checked against closed forms computed here in float64.
///
/// With `s = sum x y / sum x^2` (the least-squares slope through the origin) the minimum loss is
/// `E* = 1/(2n) sum (y - s x)^2`, reached on the hyperbola `w1 w2 = s`. At its balanced point
/// `|w1| = |w2| = sqrt|s|` the Hessian is `(sum x^2 / n) [[|s|, s], [s, |s|]]`, so
/// `lambda_max = 2 |s| mean(x^2)` and no step above `eta_max = 2 / lambda_max` is stable there;
/// it is the flattest point of the valley, so above it no minimum is stable at all.
final class SaddleThroughClusterTests: ClusterTestCase {
    let examples = 200

    struct ClosedForm {
        var slope: Double, minimumLoss: Double, originLoss: Double, lambdaBalanced: Double
    }

    func closedForm() throws -> ClosedForm {
        let d = try DatasetSpec(name: "synthetic-linear", examples: examples, features: 1, seed: 1).materialize()
        var xx = 0.0, xy = 0.0, yy = 0.0
        for i in 0..<d.examples {
            let x = Double(d.features[i]), y = Double(d.targets[i])
            xx += x * x; xy += x * y; yy += y * y
        }
        let n = Double(d.examples), s = xy / xx
        var residual = 0.0
        for i in 0..<d.examples { let r = Double(d.targets[i]) - s * Double(d.features[i]); residual += r * r }
        return ClosedForm(slope: s, minimumLoss: residual / (2 * n), originLoss: yy / (2 * n), lambdaBalanced: 2 * abs(s) * xx / n)
    }

    /// Full-batch gradient descent from `--init start` at `lr` for `steps` steps.
    func descend(_ name: String, start: String, lr: Double, steps: Int, evalEvery: Int = 50) throws -> (Result, String) {
        let out = path(name)
        let r = try run(["run", "--model", "deep-linear-111", "--dataset", "synthetic-linear", "--features", "1",
                         "--examples", "\(examples)", "--workers", "1", "--batch", "\(examples)", "--init", start,
                         "--lr", "\(lr)", "--steps", "\(steps)", "--eval-every", "\(evalEvery)", "--quiet", "--out", out])
        return (r, out)
    }

    struct Point: Decodable { var loss: Double }

    /// The logged losses, read with the decoder that reads summary.json (so equal doubles compare equal).
    func losses(_ out: String) throws -> [Double] {
        try String(contentsOfFile: out + "/metrics.jsonl", encoding: .utf8).split(separator: "\n").map {
            try JSONCoding.decoder().decode(Point.self, from: Data($0.utf8)).loss
        }
    }

    func testGradientDescentStartedAtTheOriginStaysThere() throws {
        let c = try closedForm()
        let (r, out) = try descend("origin", start: "zeros", lr: 0.1, steps: 300)
        XCTAssertEqual(r.code, 0, r.stderr)
        XCTAssertEqual(try params(out).values.map(\.bitPattern), [0, 0], "the gradient is exactly zero at the saddle")
        let l = try losses(out)
        XCTAssertEqual(l.count, 7, "steps 0, 50, ..., 300")
        for x in l { XCTAssertEqual(x, c.originLoss, accuracy: 1e-6 * c.originLoss) }
        XCTAssertEqual(Set(l).count, 1, "the loss never moves: \(l)")
    }

    func testASmallAsymmetricPerturbationEscapesToTheBalancedMinimum() throws {
        let c = try closedForm()
        XCTAssertLessThan(c.slope, 0, "this set's slope is negative: w1 w2 has to change sign")
        let (r, out) = try descend("escape", start: "0.001,0", lr: 0.1, steps: 400, evalEvery: 10)
        XCTAssertEqual(r.code, 0, r.stderr)
        let w = try params(out).values.map(Double.init)
        XCTAssertEqual(w[0] * w[1], c.slope, accuracy: 1e-4 * abs(c.slope), "on the hyperbola w1 w2 = s: \(w)")
        // Gradient flow keeps w1^2 - w2^2 = 1e-6: the run ends balanced.
        XCTAssertEqual(abs(w[0]), abs(w[1]), accuracy: 1e-3, "\(w)")
        XCTAssertEqual(try XCTUnwrap(try summary(out).finalLoss), c.minimumLoss, accuracy: 1e-6 * c.minimumLoss)
        let l = try losses(out)
        // Off the saddle along its descending direction the distance grows by about
        // 1 + lr |s| mean(x^2) = 1.2 a step: 10 steps in, the run is still at the saddle's loss.
        XCTAssertGreaterThan(l[1], 0.99 * c.originLoss, "10 steps in, the run is still near the saddle: \(l)")
        XCTAssertLessThan(l[10], 1.001 * c.minimumLoss, "100 steps in, it has escaped: \(l)")
    }

    func testNoStepAboveTwoOverTheBalancedCurvatureSettles() throws {
        let c = try closedForm()
        let etaMax = 2 / c.lambdaBalanced
        let r = abs(c.slope).squareRoot()
        let start = "\(Float(0.97 * r)),\(Float(-1.03 * r))"   // near the balanced minimum, off the valley

        let (below, belowOut) = try descend("below", start: start, lr: 0.99 * etaMax, steps: 3000)
        XCTAssertEqual(below.code, 0, below.stderr)
        XCTAssertEqual(try XCTUnwrap(try summary(belowOut).finalLoss), c.minimumLoss, accuracy: 1e-6 * c.minimumLoss)

        let (above, aboveOut) = try descend("above", start: start, lr: 1.01 * etaMax, steps: 3000)
        XCTAssertEqual(above.code, 0, above.stderr)
        let tail = try losses(aboveOut).suffix(4)
        for x in tail { XCTAssertGreaterThan(x, 1.05 * c.minimumLoss, "1.01 eta_max never settles: \(tail)") }

        let (far, farOut) = try descend("far-above", start: start, lr: 2 * etaMax, steps: 3000)
        XCTAssertNotEqual(far.code, 0)
        let s = try summary(farOut)
        XCTAssertEqual(s.status, .failed)
        XCTAssertTrue(s.error?.contains("training diverged") == true, "\(s.error ?? "no error")")
    }

    func testARunStartsWhereAnotherEnded() throws {
        let (a, aOut) = try descend("first", start: "0.001,0", lr: 0.1, steps: 100)
        XCTAssertEqual(a.code, 0, a.stderr)
        let (b, bOut) = try descend("second", start: aOut + "/params.json", lr: 0.1, steps: 100)
        XCTAssertEqual(b.code, 0, b.stderr)
        XCTAssertEqual(try losses(bOut).first, try summary(aOut).finalLoss, "step 0 of the second run is the first run's end")
        let job = try JSONCoding.decoder().decode(ConfigFile.self, from: Data(contentsOf: URL(fileURLWithPath: bOut + "/config.json"))).job
        XCTAssertEqual(job.initialization, .file(aOut + "/params.json"))

        // A params.json of another model is refused with one line, before any worker starts.
        let (c, cOut) = try descend("mismatch", start: "0.1,0.2,0.3", lr: 0.1, steps: 10)
        XCTAssertNotEqual(c.code, 0)
        XCTAssertTrue(c.stderr.contains("--init: 3 numbers given, but the model has 2 parameters"), c.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: cOut + "/summary.json"))
        let logistic = path("logistic")
        XCTAssertEqual(try run(["run", "--workers", "1", "--steps", "2", "--quiet", "--out", logistic]).code, 0)
        let (d, _) = try descend("other-model", start: logistic + "/params.json", lr: 0.1, steps: 10)
        XCTAssertNotEqual(d.code, 0)
        XCTAssertTrue(d.stderr.contains("parameters of --model logistic, but this run trains --model deep-linear-111"), d.stderr)
    }

    func testTheDefaultRateSettlesWithMinibatches() throws {
        let c = try closedForm()
        let out = path("default")
        let r = try run(["run", "--model", "deep-linear-111", "--features", "1", "--examples", "\(examples)", "--workers", "2",
                         "--batch", "10", "--epochs", "40", "--quiet", "--out", out])
        XCTAssertEqual(r.code, 0, r.stderr)
        let job = try JSONCoding.decoder().decode(ConfigFile.self, from: Data(contentsOf: URL(fileURLWithPath: out + "/config.json"))).job
        XCTAssertEqual(job.learningRate, 0.1)
        XCTAssertLessThan(Double(job.learningRate), 2 / c.lambdaBalanced / 4, "well inside the stable range")
        XCTAssertEqual(try XCTUnwrap(try summary(out).finalLoss), c.minimumLoss, accuracy: 0.02 * c.minimumLoss)
    }
}
