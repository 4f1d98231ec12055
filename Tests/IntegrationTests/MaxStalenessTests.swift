import DSGDCluster
import DSGDCore
import Foundation
import XCTest

/// `--max-staleness m` (async): a straggler's gradient more than m versions stale is dropped,
/// counted, never applied, and the straggler gets the current parameters. Two scripted workers:
/// worker 1 sends k gradients while worker 0 holds version 0, then worker 0 sends its gradient of
/// staleness k. With k = m it is applied; with k = m + 1 it is dropped, and the parameters are
/// those of worker 1's gradients alone, bit for bit (in-process replay).
final class MaxStalenessTests: ClusterTestCase {
    func run(limit m: Int, stalenessOfStraggler k: Int) throws -> (dropped: Bool, file: String) {
        let features = 5, examples = 40, batch = 4, seed: UInt64 = 4, lr: Float = 0.3
        let out = path("max-staleness-\(m)-\(k)")
        let steps = k + 1
        let (coordinator, endpoint) = try startCoordinator(
            ["--workers", "2", "--mode", "async", "--model", "logistic", "--examples", "\(examples)", "--features", "\(features)",
             "--batch", "\(batch)", "--lr", "\(lr)", "--steps", "\(steps)", "--seed", "\(seed)", "--eval-every", "1",
             "--max-staleness", "\(m)"], out: out)
        let workers = try (0..<2).map { try ScriptedWorker(id: $0, connect: endpoint) }
        for w in workers { try w.register() }
        for w in workers { XCTAssertEqual(try w.expectParams(), 0) }
        var sgd = ReferenceSGD(parameters: LogisticRegression(dimension: features).initialParameters(), learningRate: lr)
        let straggler = try workers[0].computeGradient()
        for v in 1...k {
            let g = try workers[1].computeGradient()
            try workers[1].send(g)
            sgd.apply([g.values])
            XCTAssertEqual(try workers[1].expectParams(), v)
        }
        try workers[0].send(straggler)
        let dropped = k > m
        if dropped {
            // Dropped: worker 0 gets the current version, and the run's last update is worker 1's.
            XCTAssertEqual(try workers[0].expectParams(), k, "the straggler gets the current parameters")
            assertBitIdentical(workers[0].parameters, sgd.parameters, "nothing of the straggler's was applied")
            let g = try workers[1].computeGradient()
            try workers[1].send(g)
            sgd.apply([g.values])
        } else {
            sgd.apply([straggler.values])
        }
        for w in workers {
            XCTAssertEqual(try w.next(), .stop("training completed"))
            try w.bye()
        }
        XCTAssertEqual(coordinator.wait(timeout: 30), 0)
        assertBitIdentical(try params(out).values, sgd.parameters, "final parameters")
        let s = try summary(out)
        XCTAssertEqual(s.maxStaleness, m)
        XCTAssertEqual(s.droppedGradients, dropped ? 1 : 0)
        XCTAssertEqual(s.stalenessMax, dropped ? 0 : k, "a dropped gradient's staleness is not an applied one")
        XCTAssertEqual(try metrics(out).compactMap(\.dropped).reduce(0, +), dropped ? 1 : 0)
        return (dropped, out)
    }

    func testAGradientOfStalenessAboveTheLimitIsDroppedAndAtTheLimitApplied() throws {
        XCTAssertFalse(try run(limit: 3, stalenessOfStraggler: 3).dropped)
        XCTAssertTrue(try run(limit: 3, stalenessOfStraggler: 4).dropped)
    }

    func testTheLimitIsRefusedWhereItCannotHold() throws {
        for (args, message) in [(["--mode", "sync"], "--max-staleness applies to --mode async only"),
                                (["--mode", "async", "--delay", "5"], "--delay 5 makes every gradient 5 versions stale, above --max-staleness 2")] {
            let r = try run(["run", "--max-staleness", "2", "--steps", "5", "--quiet", "--out", path("refused")] + args)
            XCTAssertNotEqual(r.code, 0, r.stderr)
            XCTAssertTrue(r.stderr.contains(message), r.stderr)
        }
    }
}
