import DSGDCluster
import DSGDCore
import Foundation
import XCTest

/// Async staleness, exactly: README defines it as the coordinator's model version when a gradient
/// is applied minus the version it was computed on. With `--eval-every 1` every metrics.jsonl
/// point after step 0 covers exactly one update, so its `staleness_mean` and `staleness_max` are
/// that update's staleness.
final class AsyncStalenessTests: ClusterTestCase {
    /// One async worker: every gradient is computed on the current version, so every update has
    /// staleness exactly 0, and the run is plain minibatch SGD: params.json equals `SyncReplay`
    /// with one worker (the documented permutation, the gradient scaled by 1/Float(1) = 1, the
    /// documented step) bit for bit, since the coordinator applies the same float32 operations in
    /// the same order.
    func testOneAsyncWorkerHasZeroStalenessAndIsMinibatchSGD() throws {
        let steps = 20, features = 6, examples = 60, batch = 8, seed: UInt64 = 4
        let lr: Float = 0.4, momentum: Float = 0.5
        let out = path("async-one")
        let r = try run(["run", "--workers", "1", "--mode", "async", "--model", "logistic", "--examples", "\(examples)",
                         "--features", "\(features)", "--batch", "\(batch)", "--lr", "\(lr)", "--momentum", "\(momentum)",
                         "--steps", "\(steps)", "--seed", "\(seed)", "--eval-every", "1", "--bind", "tcp://127.0.0.1:0",
                         "--quiet", "--out", out])
        XCTAssertEqual(r.code, 0, r.stderr)

        let rows = try metrics(out)
        XCTAssertEqual(rows.map(\.step), Array(0...steps), "one point per update")
        XCTAssertEqual(rows.dropFirst().map(\.stalenessMean), Array(repeating: 0, count: steps), "staleness (mean) of every update")
        XCTAssertEqual(rows.dropFirst().map(\.stalenessMax), Array(repeating: 0, count: steps), "staleness (max) of every update")
        let s = try summary(out)
        XCTAssertEqual(s.stalenessMean, 0)
        XCTAssertEqual(s.stalenessMax, 0)
        XCTAssertEqual(minibatchesComputed(in: r.stderr), [0: steps], "the worker computed one gradient per update")

        let replay = SyncReplay(model: LogisticRegression(dimension: features),
                                data: try DatasetSpec(name: "synthetic-logistic", examples: examples, features: features, seed: seed).materialize(),
                                workers: 1, batch: batch, seed: seed, learningRate: lr, momentum: momentum)
        XCTAssertLessThan(replay.batchesPerShard, steps, "the run crosses epoch boundaries")
        let reference = replay.run(steps: steps)[steps]
        let cluster = try params(out)
        XCTAssertEqual(cluster.step, steps)
        assertBitIdentical(cluster.values, reference, "params.json against in-process minibatch SGD")
        XCTAssertNotEqual(reference, replay.model.initialParameters(), "training moved the parameters")
    }

    /// Three scripted async workers; the test decides who sends when (each send waits for the
    /// sender's new parameters, so the coordinator applies the gradients in exactly this order).
    /// The expected staleness of each update is counted here from the versions each worker holds,
    /// and metrics.jsonl (one point per update) and summary.json must show exactly those values.
    /// Every parameter vector a worker receives equals, bit for bit, the in-process async replay
    /// (each gradient computed on the version its worker held, applied alone with the documented
    /// step), and every SHARD is the documented one for that worker's own epoch.
    func testScriptedOrderGivesExactStalenessSequence() throws {
        let order = [0, 0, 1, 2, 0, 1, 2, 2, 1, 0, 0, 2, 1]
        let n = 3, features = 5, examples = 40, batch = 4, seed: UInt64 = 6, lr: Float = 0.3
        let out = path("async-scripted")
        let (coordinator, endpoint) = try startCoordinator(
            ["--workers", "\(n)", "--mode", "async", "--model", "logistic", "--examples", "\(examples)", "--features", "\(features)",
             "--batch", "\(batch)", "--lr", "\(lr)", "--steps", "\(order.count)", "--seed", "\(seed)", "--eval-every", "1"], out: out)
        let workers = try (0..<n).map { try ScriptedWorker(id: $0, connect: endpoint) }
        for w in workers { try w.register() }
        let model = LogisticRegression(dimension: features)
        let train = Array(0..<examples)
        let batchesPerShard = (examples / n) / batch
        XCTAssertLessThan(batchesPerShard, order.filter { $0 == 0 }.count, "worker 0 crosses an epoch boundary")

        var sgd = ReferenceSGD(parameters: model.initialParameters(), learningRate: lr)
        var version = 0
        var held = [Int](repeating: 0, count: n)       // the version each worker holds
        var used = [Int](repeating: 0, count: n)       // minibatches each worker has computed
        var expected: [Int] = []
        for w in workers {
            XCTAssertEqual(try w.expectParams(), 0)
            assertBitIdentical(w.parameters, sgd.parameters, "worker \(w.id): version 0")
        }
        for (i, k) in order.enumerated() {
            let w = workers[k]
            let epoch = used[k] / batchesPerShard
            XCTAssertEqual(w.shard, .init(epoch: epoch, indices: DocumentedShuffle.shard(epoch: epoch, worker: k, workers: n, train: train, seed: seed)),
                           "worker \(k)'s SHARD of its epoch \(epoch)")
            let g = try w.computeGradient()
            XCTAssertEqual(g.step, held[k])
            try w.send(g)
            used[k] += 1
            expected.append(version - held[k])
            sgd.apply([g.values])
            version += 1
            if i == order.count - 1 { break }
            XCTAssertEqual(try w.expectParams(), version, "only the sender gets the new version")
            held[k] = version
            assertBitIdentical(w.parameters, sgd.parameters, "worker \(k): version \(version)")
        }
        for w in workers {
            XCTAssertEqual(try w.next(), .stop("training completed"))
            try w.bye()
        }
        XCTAssertEqual(coordinator.wait(timeout: 30), 0)

        // The script's own sequence has the variety that makes it a test: zeros and several larger values.
        XCTAssertTrue(expected.contains(0))
        XCTAssertGreaterThanOrEqual(Set(expected).count, 4)
        let rows = try metrics(out)
        XCTAssertEqual(rows.map(\.step), Array(0...order.count))
        XCTAssertEqual(rows.dropFirst().map(\.stalenessMax), expected.map { Optional($0) }, "per-update staleness (max)")
        XCTAssertEqual(rows.dropFirst().map(\.stalenessMean), expected.map { Optional(Double($0)) }, "per-update staleness (mean)")
        let s = try summary(out)
        XCTAssertEqual(s.steps, order.count)
        XCTAssertEqual(s.examples, order.count * batch)
        XCTAssertEqual(try XCTUnwrap(s.stalenessMean), Double(expected.reduce(0, +)) / Double(expected.count), accuracy: 1e-12)
        XCTAssertEqual(s.stalenessMax, expected.max())
        assertBitIdentical(try params(out).values, sgd.parameters, "params.json against the async replay")
    }
}
