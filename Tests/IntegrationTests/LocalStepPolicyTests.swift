import DSGDCluster
import DSGDCore
import Foundation
import XCTest

/// `--mode local` (local SGD with periodic averaging) and `--mode easgd` (elastic averaging): the
/// workers take several SGD steps of their own between exchanges. Checked against in-process
/// replays written from the policies' documentation, bit for bit.
final class LocalStepPolicyTests: ClusterTestCase {
    let examples = 256, features = 4, batch = 16
    var data: Dataset { try! DatasetSpec(name: "synthetic-logistic", examples: examples, features: features, seed: 1).materialize() }
    let model = LogisticRegression(dimension: 4)

    func common(_ out: String, workers: Int, steps: Int, lr: Float) -> [String] {
        ["run", "--workers", "\(workers)", "--examples", "\(examples)", "--features", "\(features)", "--batch", "\(batch)",
         "--lr", "\(lr)", "--steps", "\(steps)", "--eval-every", "1", "--quiet", "--out", out]
    }

    /// `x <- x - lr g`, as the worker steps.
    func step(_ x: inout [Float], _ g: [Float], _ lr: Float) {
        for j in x.indices { x[j] -= lr * g[j] }
    }

    func testLocalSGDWithOneStepIsSyncBitForBit() throws {
        let sync = path("sync"), local = path("local")
        XCTAssertEqual(try run(common(sync, workers: 3, steps: 40, lr: 0.3) + ["--momentum", "0.5"]).code, 0)
        XCTAssertEqual(try run(common(local, workers: 3, steps: 40, lr: 0.3) + ["--momentum", "0.5", "--mode", "local", "--sync-every", "1"]).code, 0)
        assertBitIdentical(try params(local).values, try params(sync).values, "local SGD with H = 1 against sync")
        XCTAssertEqual(try summary(local).mode, .local)
    }

    /// Two workers, H = 2 (a shard of 128 = 4 exchanges of 2 minibatches of 16 per epoch): each
    /// worker steps twice from the average, returns the sum of its two gradients, and the
    /// coordinator averages the sums in worker-id order: the replay's parameters bit for bit.
    func testLocalSGDAveragesTheWorkersLocalModels() throws {
        let out = path("local2")
        let steps = 10, lr: Float = 0.4, h = 2
        let r = try run(common(out, workers: 2, steps: steps, lr: lr) + ["--mode", "local", "--sync-every", "\(h)"])
        XCTAssertEqual(r.code, 0, r.stderr)
        let replay = SyncReplay(model: model, data: data, workers: 2, batch: batch, seed: 1, learningRate: lr)
        var sgd = ReferenceSGD(parameters: model.initialParameters(), learningRate: lr)
        for round in 0..<steps {
            var sums: [[Float]] = []
            for k in 0..<2 {
                var x = sgd.parameters
                var sum: [Float] = []
                for i in 0..<h {
                    let g = model.lossAndGradient(parameters: x, data: data, batch: replay.minibatch(worker: k, step: round * h + i)).gradient
                    if i == 0 { sum = g } else { for j in sum.indices { sum[j] += g[j] } }
                    step(&x, g, lr)
                }
                sums.append(sum)
            }
            sgd.apply(sums)
        }
        assertBitIdentical(try params(out).values, sgd.parameters, "the average of the local models")
        let s = try summary(out)
        XCTAssertEqual(s.examples, steps * 2 * h * batch, "each average applies 2 workers x 2 minibatches")
        XCTAssertEqual(s.workerMinibatches, [steps, steps], "one message (of H minibatches) per exchange")
    }

    /// rho = 0: every elastic difference is 0, so the centre (and every logged loss) never moves.
    func testEASGDWithRhoZeroLeavesTheCentreUnchanged() throws {
        let out = path("rho0")
        let r = try run(common(out, workers: 3, steps: 30, lr: 0.5) + ["--mode", "easgd", "--rho", "0", "--sync-every", "2"])
        XCTAssertEqual(r.code, 0, r.stderr)
        assertBitIdentical(try params(out).values, model.initialParameters(), "the centre after 30 exchanges with rho = 0")
        let losses = try metrics(out).map { $0.loss }
        XCTAssertEqual(losses.count, 31)
        XCTAssertEqual(Set(losses).count, 1, "\(losses)")
    }

    /// One worker, H = 2, rho = 0.5: per exchange `e = alpha (x - c)`, `x <- x - e`, two local steps,
    /// `c <- c + e` (alpha = lr rho): the replay's centre bit for bit, and the centre moves.
    func testEASGDMovesTheCentreByTheElasticDifferences() throws {
        let out = path("easgd")
        let steps = 12, lr: Float = 0.4, rho: Float = 0.5, h = 2
        let r = try run(common(out, workers: 1, steps: steps, lr: lr) + ["--mode", "easgd", "--rho", "\(rho)", "--sync-every", "\(h)"])
        XCTAssertEqual(r.code, 0, r.stderr)
        let replay = SyncReplay(model: model, data: data, workers: 1, batch: batch, seed: 1, learningRate: lr)
        let alpha = lr * rho
        var centre = model.initialParameters(), x = centre
        for round in 0..<steps {
            var e = [Float](repeating: 0, count: x.count)
            for j in x.indices {
                e[j] = alpha * (x[j] - centre[j])
                x[j] -= e[j]
            }
            for i in 0..<h {
                let g = model.lossAndGradient(parameters: x, data: data, batch: replay.minibatch(worker: 0, step: round * h + i)).gradient
                step(&x, g, lr)
            }
            for j in centre.indices { centre[j] += e[j] }
        }
        XCTAssertNotEqual(centre, model.initialParameters(), "the replay's centre moved (or this test could not tell)")
        assertBitIdentical(try params(out).values, centre, "the centre after \(steps) exchanges")
        XCTAssertEqual(try summary(out).stalenessMax, 0, "one worker: every difference is computed on the current centre")
    }

    func testLocalStepOptionsAreChecked() throws {
        for (args, text) in [
            (["run", "--sync-every", "2"], "--sync-every applies to --mode local and easgd only"),
            (["run", "--mode", "local", "--sync-every", "0"], "--sync-every must be at least 1"),
            (["run", "--mode", "easgd", "--rho", "-1"], "--rho must be 0 or more"),
            (["run", "--mode", "easgd", "--lr", "0.5", "--rho", "3"], "--mode easgd needs lr x rho <= 1"),
            (["run", "--mode", "easgd", "--momentum", "0.9"], "--mode easgd takes no --momentum"),
            (["run", "--mode", "local", "--lr", "auto", "--online-curvature", "5"], "--lr auto with --online-curvature sets the rate after the workers have the job"),
            (["run", "--mode", "local", "--sync-every", "100", "--examples", "1000"], "--batch 32 x --sync-every 100 is larger than a worker's shard"),
        ] {
            let r = try run(args + ["--out", path("bad")], timeout: 20)
            XCTAssertNotEqual(r.code, 0, "\(args)")
            XCTAssertTrue(r.stderr.contains(text), "\(args): \(r.stderr)")
        }
    }
}
