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
        // 1797 examples, 359 held out: an epoch is 4 shards of 359 training examples (22 batches of 16).
        XCTAssertEqual(s.examples, s.steps * 4 * 16)
        XCTAssertEqual(s.epochs, 20, accuracy: 1e-9)
        let lines = try String(contentsOfFile: out + "/metrics.jsonl", encoding: .utf8).split(separator: "\n")
        let last = try JSONSerialization.jsonObject(with: Data(lines.last!.utf8)) as! [String: Any]
        for key in ["test_loss", "test_accuracy", "train_accuracy"] { XCTAssertNotNil(last[key], key) }
        XCTAssertTrue(r.stdout.contains { $0.hasPrefix("step ") && $0.contains("test acc") }, "\(r.stdout)")
        let config = try String(contentsOfFile: out + "/config.json", encoding: .utf8)
        XCTAssertTrue(config.contains("\"holdout\" : 0.2"), config)
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
