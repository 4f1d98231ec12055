import DSGDCluster
import DSGDCore
import Foundation
import XCTest

/// `--holdout F` end to end: two scripted sync workers train for three epochs while the test
/// records every SHARD; the held-out split is computed in the test from the documentation
/// (`DocumentedShuffle.split`: its own stream of the seed, the last round(F M) entries held out).
/// No SHARD ever carries a held-out index; every shard is the documented permutation of the
/// training list; the parameters follow the in-process replay on the training rows bit for bit;
/// and every logged `test_loss`, `test_accuracy` and `train_accuracy` (metrics.jsonl and
/// summary.json) is the model evaluated in float64 on those rows. Tolerance for losses: 1e-5
/// relative (float32 evaluation, as in `EvaluationTests`); accuracies exactly, unless an example's
/// logit is within 1e-4 of 0 (then float32 and float64 may disagree on it: one example's worth).
final class HoldoutEndToEndTests: ClusterTestCase {
    func testHeldOutMetricsAreTheModelOnTheHeldOutRowsAndNoShardCarriesOne() throws {
        let n = 2, examples = 80, features = 4, batch = 5, epochs = 3, every = 3, seed: UInt64 = 9
        let fraction = 0.25, lr: Float = 0.5
        let split = DocumentedShuffle.split(examples: examples, fraction: fraction, seed: seed)
        XCTAssertEqual(split.test.count, Int((fraction * Double(examples)).rounded()))
        let heldOut = Set(split.test.map(UInt32.init))

        let out = path("holdout")
        let (coordinator, endpoint) = try startCoordinator(
            ["--workers", "\(n)", "--mode", "sync", "--model", "logistic", "--examples", "\(examples)", "--features", "\(features)",
             "--batch", "\(batch)", "--lr", "\(lr)", "--epochs", "\(epochs)", "--seed", "\(seed)", "--holdout", "\(fraction)",
             "--eval-every", "\(every)"], out: out)
        let workers = try (0..<n).map { try ScriptedWorker(id: $0, connect: endpoint) }
        for w in workers { try w.register() }
        let spec = DatasetSpec(name: "synthetic-logistic", examples: examples, features: features, seed: seed)
        XCTAssertEqual(workers[0].job.dataset, spec)
        let data = try spec.materialize()
        let replay = SyncReplay(model: LogisticRegression(dimension: features), data: data, workers: n, batch: batch,
                                seed: seed, learningRate: lr, train: split.train)
        let steps = epochs * replay.batchesPerShard
        let versions = replay.run(steps: steps)

        var diverged = false
        for t in 0...steps {
            for w in workers {
                let event = try w.next()
                guard t < steps else {
                    XCTAssertEqual(event, .stop("training completed"), "the run ends after \(epochs) epochs")
                    continue
                }
                guard case .params(let version, _) = event else {
                    XCTFail("worker \(w.id): expected PARAMS of version \(t), got \(event)")
                    return
                }
                XCTAssertEqual(version, t)
                if !diverged { diverged = !assertBitIdentical(w.parameters, versions[t], "worker \(w.id): version \(t)") }
                try w.send(try w.computeGradient())
            }
        }
        for w in workers { try w.bye() }
        XCTAssertEqual(coordinator.wait(timeout: 30), 0)

        for w in workers {
            XCTAssertEqual(w.shards.map(\.epoch), Array(0..<epochs))
            for shard in w.shards {
                XCTAssertTrue(heldOut.isDisjoint(with: shard.indices), "worker \(w.id), epoch \(shard.epoch): a held-out index in a SHARD")
                XCTAssertEqual(shard.indices, DocumentedShuffle.shard(epoch: shard.epoch, worker: w.id, workers: n, train: split.train, seed: seed),
                               "worker \(w.id), epoch \(shard.epoch)")
            }
        }

        let final = try params(out)
        XCTAssertEqual(final.step, steps)
        assertBitIdentical(final.values, versions[steps], "params.json against the replay on the training rows")
        let tolerance = 1e-5
        let rows = try metrics(out)
        XCTAssertEqual(rows.map(\.step), Array(stride(from: 0, through: steps, by: every)) + (steps % every == 0 ? [] : [steps]))
        for row in rows {
            let w = versions[row.step]
            let testLoss = LogisticReference.loss(w, data: data, rows: split.test)
            let trainLoss = LogisticReference.loss(w, data: data, rows: split.train)
            XCTAssertEqual(try XCTUnwrap(row.testLoss), testLoss, accuracy: tolerance * max(1, testLoss), "test_loss at step \(row.step)")
            XCTAssertEqual(try XCTUnwrap(row.loss), trainLoss, accuracy: tolerance * max(1, trainLoss), "loss at step \(row.step)")
            assertAccuracy(row.testAccuracy, LogisticReference.accuracy(w, data: data, rows: split.test), "test_accuracy at step \(row.step)")
            assertAccuracy(row.trainAccuracy, LogisticReference.accuracy(w, data: data, rows: split.train), "train_accuracy at step \(row.step)")
        }

        let s = try summary(out)
        let w = final.values
        let testLoss = LogisticReference.loss(w, data: data, rows: split.test)
        let trainLoss = LogisticReference.loss(w, data: data, rows: split.train)
        XCTAssertEqual(try XCTUnwrap(s.finalTestLoss), testLoss, accuracy: tolerance * max(1, testLoss))
        XCTAssertEqual(try XCTUnwrap(s.finalLoss), trainLoss, accuracy: tolerance * max(1, trainLoss))
        assertAccuracy(s.finalTestAccuracy, LogisticReference.accuracy(w, data: data, rows: split.test), "final_test_accuracy")
        assertAccuracy(s.finalTrainAccuracy, LogisticReference.accuracy(w, data: data, rows: split.train), "final_train_accuracy")
        // The test's power: held-out and training rows give clearly different numbers.
        XCTAssertGreaterThan(abs(testLoss - trainLoss), 100 * tolerance)
        XCTAssertNotEqual(LogisticReference.accuracy(w, data: data, rows: split.test).accuracy,
                          LogisticReference.accuracy(w, data: data, rows: split.train).accuracy)
    }

    /// `actual` equals `expected.accuracy`, up to the examples whose logit is too close to 0 to
    /// call in float32 (`slack`, usually 0: then exactly, but for the rounding of the division).
    func assertAccuracy(_ actual: Double?, _ expected: (accuracy: Double, slack: Double), _ what: String,
                        file: StaticString = #filePath, line: UInt = #line) {
        guard let actual else { return XCTFail("\(what) is missing", file: file, line: line) }
        XCTAssertEqual(actual, expected.accuracy, accuracy: expected.slack + 1e-12, what, file: file, line: line)
    }
}
