import DSGDCluster
import DSGDCore
import Foundation
import XCTest

/// Sync SGD with N = 2, 3, 4 workers equals, bit for bit, an in-process replay that averages the
/// N minibatch gradients in worker-id order (`SyncReplay`: shards from the documented permutation,
/// the documented float32 sum, scale and step), while the arrival order is adversarial: worker 0
/// is a `ScriptedWorker` that sends its gradient only 100 ms after it got the parameters, so the
/// real `dsgd worker` processes 1 ... N-1 (which answer within a millisecond or two) are always
/// in first and a coordinator that summed in arrival order would add g_0 last. The delay can only
/// make that order more certain; a correct coordinator gives the same bits whatever the order.
final class SyncExactnessTests: ClusterTestCase {
    /// The orders a coordinator summing in arrival order could use here: workers 1 ... N-1 in any
    /// order, then worker 0.
    func arrivalOrders(workers n: Int) -> [[Int]] {
        func permutations(_ xs: [Int]) -> [[Int]] {
            xs.count <= 1 ? [xs] : xs.indices.flatMap { i -> [[Int]] in
                var rest = xs
                let x = rest.remove(at: i)
                return permutations(rest).map { [x] + $0 }
            }
        }
        return permutations(Array(1..<n)).map { $0 + [0] }
    }

    /// Runs `dsgd coordinator` (sync, logistic, `features` + 1 parameters) with N - 1 real workers
    /// and the scripted worker 0, checks every parameter vector worker 0 receives (version t =
    /// the replay's version t, bit for bit), its SHARDs and minibatches (the documented
    /// permutation), the final params.json (bit for bit) and the real workers' minibatch counts.
    func checkAdversarialSync(workers n: Int, examples: Int, momentum: Float, chunk: Int?, steps: Int, seed: UInt64,
                              file: StaticString = #filePath, line: UInt = #line) throws {
        let features = 20, batch = 8, lr: Float = 0.5
        let spec = DatasetSpec(name: "synthetic-logistic", examples: examples, features: features, seed: seed)
        let replay = SyncReplay(model: LogisticRegression(dimension: features), data: try spec.materialize(), workers: n,
                                batch: batch, seed: seed, learningRate: lr, momentum: momentum)
        XCTAssertLessThan(replay.batchesPerShard, steps, "the run crosses an epoch boundary", file: file, line: line)
        let versions = replay.run(steps: steps)
        // The test's power: summing in any arrival order that puts worker 0 last gives other bits
        // somewhere along the run (for N = 2, g1 + g0 == g0 + g1, so only N >= 3 can show it).
        if n >= 3 {
            for order in arrivalOrders(workers: n) {
                XCTAssertNotEqual(replay.run(steps: steps, order: order).map { $0.map(\.bitPattern) }, versions.map { $0.map(\.bitPattern) },
                                  "summing in the order \(order) must change some bit, or this test could not see it", file: file, line: line)
            }
        }

        let out = path("sync-\(n)")
        var args = ["--workers", "\(n)", "--mode", "sync", "--model", "logistic", "--examples", "\(examples)",
                    "--features", "\(features)", "--batch", "\(batch)", "--lr", "\(lr)", "--momentum", "\(momentum)",
                    "--steps", "\(steps)", "--seed", "\(seed)"]
        if let chunk { args += ["--gradient-chunk", "\(chunk)"] }
        let (coordinator, endpoint) = try startCoordinator(args, out: out, file: file, line: line)
        let scripted = try ScriptedWorker(id: 0, connect: endpoint)
        try scripted.register(file: file, line: line)
        XCTAssertEqual(scripted.job.dataset, spec, file: file, line: line)
        let workers = try (1..<n).map { try startWorker($0, endpoint: endpoint) }

        var diverged = false
        for t in 0..<steps {
            let version = try scripted.expectParams(file: file, line: line)
            XCTAssertEqual(version, t, file: file, line: line)
            // Reported once: after the first difference every later version differs too.
            if !diverged {
                diverged = !assertBitIdentical(scripted.parameters, versions[t], "N = \(n): the parameters of version \(t)",
                                               file: file, line: line)
            }
            let epoch = t / replay.batchesPerShard
            XCTAssertEqual(scripted.shard, .init(epoch: epoch, indices: DocumentedShuffle.shard(
                epoch: epoch, worker: 0, workers: n, train: replay.train, seed: seed)), "worker 0's SHARD", file: file, line: line)
            let g = try scripted.computeGradient(file: file, line: line)
            XCTAssertEqual(g.batch, replay.minibatch(worker: 0, step: t), file: file, line: line)
            Thread.sleep(forTimeInterval: 0.1)  // the real workers' gradients are in before this one
            try scripted.send(g)
        }
        XCTAssertEqual(try scripted.next(file: file, line: line), .stop("training completed"), file: file, line: line)
        try scripted.bye()
        XCTAssertEqual(coordinator.wait(timeout: 30), 0, file: file, line: line)
        for w in workers { XCTAssertEqual(w.wait(timeout: 10), 0, file: file, line: line) }

        let final = try params(out)
        XCTAssertEqual(final.step, steps, file: file, line: line)
        assertBitIdentical(final.values, versions[steps], "N = \(n): params.json against the replay", file: file, line: line)
        XCTAssertNotEqual(versions[steps], versions[0], "training moved the parameters", file: file, line: line)
        // Every real worker computed exactly one gradient per step (an independent count).
        let counts = minibatchesComputed(in: allStderr())
        XCTAssertEqual(counts, Dictionary(uniqueKeysWithValues: (1..<n).map { ($0, steps) }), file: file, line: line)
    }

    /// N = 2, plain SGD, each gradient in one part.
    func testTwoWorkersEqualTheReplayBitForBit() throws {
        try checkAdversarialSync(workers: 2, examples: 70, momentum: 0, chunk: nil, steps: 10, seed: 3)
    }

    /// N = 3, plain SGD, gradients of 21 floats in parts of 4 (six parts averaged one by one).
    func testThreeWorkersEqualTheReplayBitForBitWhateverTheArrivalOrder() throws {
        try checkAdversarialSync(workers: 3, examples: 100, momentum: 0, chunk: 4, steps: 10, seed: 3)
    }

    /// N = 4, heavy-ball momentum 0.9, parts of 5 floats, 2 examples left over each epoch.
    func testFourWorkersWithMomentumEqualTheReplayBitForBitWhateverTheArrivalOrder() throws {
        try checkAdversarialSync(workers: 4, examples: 102, momentum: 0.9, chunk: 5, steps: 10, seed: 3)
    }
}
