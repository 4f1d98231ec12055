import DSGDCluster
import DSGDCore
import Foundation
import XCTest

/// `--eval-every k`: metrics.jsonl has a point at steps 0, k, 2k, ... and at the last step, and
/// each point's `loss` is the training loss at that step's parameters. The parameters of every
/// step come from an in-process replay (`SyncReplay`: documented shuffle, documented averaging and
/// step), the loss from a float64 evaluation written from README's definition
/// (`LogisticReference`). Tolerance: 1e-5 relative; the coordinator evaluates in float32 (a logit
/// of 6 features rounds by about 1e-6 at worst, the per-example loss is within 2 ulps; measured
/// here: under 1e-8), and the test checks that
/// neighbouring steps' losses differ by far more than that, so a point logged one step off fails.
final class EvaluationTests: ClusterTestCase {
    /// The steps a run of `steps` updates evaluates at with `--eval-every k` (README: every k
    /// updates, plus the final parameters).
    func evaluationSteps(every k: Int, steps: Int) -> [Int] {
        let multiples = Array(stride(from: 0, through: steps, by: k))
        return multiples.last == steps ? multiples : multiples + [steps]
    }

    /// Runs `dsgd run` with `workers` workers of `mode` and checks metrics.jsonl against the replay.
    func checkEvaluations(mode: TrainingMode, workers n: Int, every k: Int, steps: Int, evaluation: EvaluationPlacement = .background,
                          file: StaticString = #filePath, line: UInt = #line) throws {
        let examples = 80, features = 6, batch = 8, seed: UInt64 = 2, lr: Float = 0.5
        let out = path("eval-\(mode)-\(k)-\(evaluation)")
        let r = try run(["run", "--workers", "\(n)", "--mode", mode.rawValue, "--model", "logistic", "--examples", "\(examples)",
                         "--features", "\(features)", "--batch", "\(batch)", "--lr", "\(lr)", "--steps", "\(steps)",
                         "--seed", "\(seed)", "--eval-every", "\(k)", "--evaluation", evaluation.rawValue,
                         "--bind", "tcp://127.0.0.1:0", "--quiet", "--out", out],
                        file: file, line: line)
        XCTAssertEqual(r.code, 0, r.stderr, file: file, line: line)
        let rows = try metrics(out)
        XCTAssertEqual(rows.map(\.step), evaluationSteps(every: k, steps: steps), "evaluated steps", file: file, line: line)

        let data = try DatasetSpec(name: "synthetic-logistic", examples: examples, features: features, seed: seed).materialize()
        let replay = SyncReplay(model: LogisticRegression(dimension: features), data: data, workers: n, batch: batch,
                                seed: seed, learningRate: lr)
        let versions = replay.run(steps: steps)
        let all = Array(0..<examples)
        let losses = versions.map { LogisticReference.loss($0, data: data, rows: all) }
        let tolerance = 1e-5
        let examplesPerStep = mode == .sync ? n * batch : batch
        let examplesPerEpoch = n * ((examples / n) / batch) * batch
        for row in rows {
            let expected = losses[row.step]
            XCTAssertEqual(try XCTUnwrap(row.loss, file: file, line: line), expected, accuracy: tolerance * max(1, expected),
                           "loss at step \(row.step)", file: file, line: line)
            // The test's power: the neighbouring steps' losses are far outside the tolerance.
            for neighbour in [row.step - 1, row.step + 1] where losses.indices.contains(neighbour) {
                XCTAssertGreaterThan(abs(losses[neighbour] - expected), 10 * tolerance * max(1, expected), file: file, line: line)
            }
            XCTAssertEqual(row.examples, row.step * examplesPerStep, "examples at step \(row.step)", file: file, line: line)
            XCTAssertEqual(row.epoch, Double(row.examples) / Double(examplesPerEpoch), accuracy: 1e-12, file: file, line: line)
        }
        let worst = rows.compactMap { row in row.loss.map { abs($0 - losses[row.step]) / max(1, losses[row.step]) } }.max() ?? .nan
        print("EvaluationTests: \(mode), k = \(k): worst relative loss difference against float64 \(worst)")
        XCTAssertEqual(try summary(out).finalLoss, rows.last?.loss, "the final loss is the last point's", file: file, line: line)
    }

    /// Two sync workers, k = 3, 20 steps: points at 0, 3, ..., 18 and the final 20, evaluated
    /// from snapshots on the evaluation thread (the default) and in the coordinator's loop.
    func testSyncEvaluatesEveryKStepsAndTheLastWithTheTrainingLossOfThoseParameters() throws {
        try checkEvaluations(mode: .sync, workers: 2, every: 3, steps: 20)
        try checkEvaluations(mode: .sync, workers: 2, every: 3, steps: 20, evaluation: .inline)
    }

    /// `--target-loss`: the target is set between the replayed losses of steps s - 1 and s, with
    /// an evaluation at every step. Both placements record the version s that reached it
    /// (`steps_to_target`, `examples_to_target`) and its point's training time
    /// (`time_to_target`); inline stops at exactly s, background at s or a few updates later
    /// (the evaluation thread's result comes back while training goes on).
    func testBothPlacementsRecordTheVersionThatReachedTheTarget() throws {
        let examples = 80, features = 6, batch = 8, seed: UInt64 = 2, lr: Float = 0.5, n = 2
        let data = try DatasetSpec(name: "synthetic-logistic", examples: examples, features: features, seed: seed).materialize()
        let replay = SyncReplay(model: LogisticRegression(dimension: features), data: data, workers: n, batch: batch,
                                seed: seed, learningRate: lr)
        let all = Array(0..<examples)
        let losses = replay.run(steps: 60).map { LogisticReference.loss($0, data: data, rows: all) }
        // The first step whose loss falls below the midpoint of steps 11 and 12's losses.
        let target = (losses[11] + losses[12]) / 2
        let s = try XCTUnwrap(losses.firstIndex { $0 <= target })
        XCTAssertTrue(s >= 12 && s < 50, "the target is reached at step \(s)")
        XCTAssertGreaterThan(target - losses[s], 1e-4, "the target is not within float32 rounding of step \(s)'s loss")
        XCTAssertGreaterThan(losses[s - 1] - target, 1e-4, "nor of step \(s - 1)'s")
        for placement in EvaluationPlacement.allCases {
            let out = path("target-\(placement)")
            let r = try run(["run", "--workers", "\(n)", "--model", "logistic", "--examples", "\(examples)", "--features", "\(features)",
                             "--batch", "\(batch)", "--lr", "\(lr)", "--steps", "200", "--seed", "\(seed)", "--eval-every", "1",
                             "--target-loss", "\(target)", "--evaluation", placement.rawValue, "--quiet", "--out", out])
            XCTAssertEqual(r.code, 0, r.stderr)
            let sum = try summary(out)
            XCTAssertEqual(sum.status, .completed, "\(placement)")
            XCTAssertEqual(sum.evaluation, placement.rawValue)
            XCTAssertEqual(sum.stepsToTarget, s, "\(placement): steps_to_target")
            XCTAssertEqual(sum.examplesToTarget, s * n * batch, "\(placement): examples_to_target")
            let rows = try metrics(out)
            let reaching = try XCTUnwrap(rows.first { ($0.loss ?? .infinity) <= target }, "\(placement): a point at the target")
            XCTAssertEqual(reaching.step, s)
            XCTAssertEqual(sum.timeToTarget, reaching.time, "\(placement): time_to_target is that point's time")
            if placement == .inline {
                XCTAssertEqual(sum.steps, s, "inline stops at the version that reached the target")
            } else {
                XCTAssertGreaterThanOrEqual(sum.steps, s)
                XCTAssertEqual(rows.map(\.step), Array(0...sum.steps), "background: every version evaluated, in order")
            }
        }
    }

    /// One async worker, k = 4, 20 steps: points at 0, 4, ..., 20 (the last step is a multiple,
    /// logged once).
    func testAsyncEvaluatesEveryKUpdatesWithTheTrainingLossOfThoseParameters() throws {
        try checkEvaluations(mode: .async, workers: 1, every: 4, steps: 20)
    }
}
