import DSGDCluster
import DSGDCore
import Foundation
import XCTest

/// `--holdout` and `--hidden` on a real cluster: the MLP on the digits data (20% held out)
/// trained by 4 sync workers generalises to the held-out examples.
final class DigitsTests: ClusterTestCase {
    func testMLPOnDigitsReachesNinetyFivePercentHeldOutAccuracy() throws {
        let out = path("digits")
        let start = Date()
        let r = try run(["run", "--model", "mlp", "--dataset", "digits", "--hidden", "64", "--holdout", "0.2",
                         "--workers", "4", "--mode", "sync", "--batch", "16", "--lr", "0.02", "--momentum", "0.9", "--epochs", "20",
                         "--eval-every", "40", "--out", out])
        XCTAssertEqual(r.code, 0, r.stderr)
        let s = try summary(out)
        XCTAssertEqual(s.status, .completed)
        let accuracy = try XCTUnwrap(s.finalTestAccuracy)
        print("digits MLP: final test accuracy \(accuracy), train accuracy \(s.finalTrainAccuracy ?? .nan), test loss \(s.finalTestLoss ?? .nan), \(String(format: "%.1f", Date().timeIntervalSince(start))) s")
        XCTAssertGreaterThanOrEqual(accuracy, 0.95)
        XCTAssertNotNil(s.finalTestLoss)
        XCTAssertNotNil(s.finalTrainAccuracy)
        // The run's length from the job's shape, not from the coordinator's counter: 1797 examples,
        // round(0.2 x 1797) held out, 4 shards of the rest, whole minibatches of 16 per shard, 20
        // epochs; and every worker computed exactly one minibatch per step (an epochs stop sends no
        // further parameters).
        let training = 1797 - Int((0.2 * 1797.0).rounded())
        let batchesPerShard = (training / 4) / 16
        XCTAssertEqual(s.steps, 20 * batchesPerShard)
        XCTAssertEqual(s.examples, 20 * batchesPerShard * 4 * 16)
        XCTAssertEqual(minibatchesComputed(in: r.stderr), Dictionary(uniqueKeysWithValues: (0..<4).map { ($0, 20 * batchesPerShard) }))
        XCTAssertEqual(s.epochs, Double(s.examples) / Double(4 * batchesPerShard * 16), accuracy: 1e-12)
        let last = try XCTUnwrap(try metrics(out).last)
        XCTAssertEqual(last.step, s.steps)
        XCTAssertEqual(last.testLoss, s.finalTestLoss)
        XCTAssertEqual(last.testAccuracy, s.finalTestAccuracy)
        XCTAssertEqual(last.trainAccuracy, s.finalTrainAccuracy)
        XCTAssertTrue(r.stdout.contains { $0.hasPrefix("step ") && $0.contains("test acc") }, "\(r.stdout)")
        let config = try String(contentsOfFile: out + "/config.json", encoding: .utf8)
        XCTAssertTrue(config.contains("\"holdout\" : 0.2"), config)
    }

    /// `--layer-norm`: the layer-normalized MLP trains through the cluster (gamma and beta travel
    /// with the other parameters) and generalises as well.
    func testLayerNormalizedMLPOnDigitsReachesNinetyFivePercent() throws {
        let out = path("digits-ln")
        let r = try run(["run", "--model", "mlp", "--layer-norm", "--dataset", "digits", "--hidden", "64", "--holdout", "0.2",
                         "--workers", "4", "--mode", "sync", "--batch", "16", "--lr", "0.02", "--momentum", "0.9", "--epochs", "10",
                         "--quiet", "--out", out])
        XCTAssertEqual(r.code, 0, r.stderr)
        let s = try summary(out)
        XCTAssertEqual(s.status, .completed)
        let accuracy = try XCTUnwrap(s.finalTestAccuracy)
        print("digits MLP with layer normalization: final test accuracy \(accuracy)")
        XCTAssertGreaterThanOrEqual(accuracy, 0.95)
        let p = try params(out)
        XCTAssertEqual(p.shapes.map(\.name), ["W1", "b1", "gamma1", "beta1", "W2", "b2"])
        XCTAssertEqual(p.values.count, 64 * 64 + 64 + 64 + 64 + 10 * 64 + 10)
        // gamma moved away from its initial 1s: the normalization's gain was trained.
        let gamma = p.values[(64 * 64 + 64)..<(64 * 64 + 128)]
        XCTAssertGreaterThan(gamma.map { abs($0 - 1) }.max()!, 1e-3)
        let file = try JSONCoding.decoder().decode(ConfigFile.self, from: Data(contentsOf: URL(fileURLWithPath: out + "/config.json")))
        XCTAssertTrue(file.job.layerNorm)
    }

    func testLayerNormIsForTheMLPOnly() throws {
        let r = try run(["run", "--model", "logistic", "--layer-norm", "--out", path("ln-logistic")])
        XCTAssertNotEqual(r.code, 0)
        XCTAssertTrue(r.stderr.contains("--layer-norm applies to --model mlp only (got logistic)"), r.stderr)
    }

    func testHoldoutZeroTrainsExactlyAsWithoutIt() throws {
        let args = ["run", "--workers", "3", "--steps", "60", "--seed", "4", "--quiet"]
        let a = path("plain"), b = path("zero"), c = path("held")
        XCTAssertEqual(try run(args + ["--out", a]).code, 0)
        XCTAssertEqual(try run(args + ["--holdout", "0", "--out", b]).code, 0)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: a + "/params.json")),
                       try Data(contentsOf: URL(fileURLWithPath: b + "/params.json")))
        XCTAssertNil(try summary(b).finalTestAccuracy, "nothing held out, no test metrics")
        // Holding examples out changes what the workers see.
        XCTAssertEqual(try run(args + ["--holdout", "0.25", "--out", c]).code, 0)
        XCTAssertNotEqual(try params(a).values, try params(c).values)
        XCTAssertNotNil(try summary(c).finalTestAccuracy, "logistic is a classifier")
    }
}
