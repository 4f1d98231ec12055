import DSGDCluster
import DSGDCore
import Foundation
import XCTest
import ZeroMQ

/// Each update policy's invariant on a live coordinator: `ssp` never lets a worker lead the
/// slowest by more than s, backup workers drop exactly b gradients a step, and `--delay d` gives
/// staleness exactly d (and the delayed-gradient recurrence bit for bit).
final class PolicyTests: ClusterTestCase {
    /// One line of metrics.jsonl with the policy columns.
    struct PolicyRow: Decodable {
        var step: Int
        var stalenessMax: Int?
        var leadMax: Int?
        var dropped: Int?
        enum CodingKeys: String, CodingKey {
            case step, stalenessMax = "staleness_max", leadMax = "lead_max", dropped
        }
    }

    func rows(_ dir: String) throws -> [PolicyRow] {
        try String(contentsOfFile: dir + "/metrics.jsonl", encoding: .utf8).split(separator: "\n").map {
            try JSONDecoder().decode(PolicyRow.self, from: Data($0.utf8))
        }
    }

    /// Whether `w` receives a message within `seconds` (it must not, while the policy holds it).
    func receivesSomething(_ w: ScriptedWorker, within seconds: Double) throws -> Bool {
        try w.peer.poller.waitForInput(timeoutMs: Int(seconds * 1000))
    }

    // MARK: ssp

    /// Two scripted workers, s = 1: the fast one sends as long as it is released; after s + 1
    /// gradients ahead of a silent slow worker it is held (no PARAMS comes), and one gradient of
    /// the slow worker lets it go again. The logs never show a lead above s.
    func testSSPHoldsAWorkerThatWouldLeadTheSlowestByMoreThanS() throws {
        let out = path("ssp")
        let (coordinator, endpoint) = try startCoordinator(["--mode", "ssp", "--staleness", "1", "--workers", "2", "--batch", "8",
                                                           "--steps", "6", "--eval-every", "1"], out: out)
        let fast = try ScriptedWorker(id: 0, connect: endpoint), slow = try ScriptedWorker(id: 1, connect: endpoint)
        try fast.register()
        try slow.register()
        XCTAssertEqual(try fast.expectParams(), 0)
        XCTAssertEqual(try slow.expectParams(), 0)
        // Clock 0 -> 1 (lead 1 <= s: released), 1 -> 2 (lead 2 > s: held).
        try fast.send(fast.computeGradient())
        XCTAssertEqual(try fast.expectParams(), 1)
        try fast.send(fast.computeGradient())
        XCTAssertFalse(try receivesSomething(fast, within: 1.0), "two clocks ahead of the slowest with s = 1: held")
        // The slow worker's first gradient (computed on version 0, applied at version 2) lets both go.
        try slow.send(slow.computeGradient())
        XCTAssertEqual(try slow.expectParams(), 3)
        XCTAssertEqual(try fast.expectParams(), 3)
        // Clocks: fast 2, slow 1. Slow (lead 0) goes on; fast, one ahead, too; slow's next ends
        // the run at 6 updates.
        try slow.send(slow.computeGradient())
        XCTAssertEqual(try slow.expectParams(), 4)
        try fast.send(fast.computeGradient())
        XCTAssertEqual(try fast.expectParams(), 5)
        try slow.send(slow.computeGradient())
        for w in [fast, slow] {
            while case .params = try w.next() {}
            try w.bye()
        }
        XCTAssertEqual(coordinator.wait(timeout: 20), 0)
        let r = try rows(out)
        XCTAssertEqual(r.map(\.step), Array(0...6))
        XCTAssertEqual(r.compactMap(\.leadMax).max(), 1, "a lead of 1 was reached, never more")
        XCTAssertEqual(r[3].stalenessMax, 2, "the slow gradient was computed on version 0 and applied to version 2")
        let s = try summary(out)
        XCTAssertEqual(s.sspLeadMax, 1)
        XCTAssertEqual(s.staleness, 1)
    }

    /// Four real workers with s = 1 on the synthetic task: every metrics point shows a lead of at
    /// most 1, and the workers' minibatch counts differ by at most s + 1 at the end.
    func testSSPBoundHoldsWithRealWorkers() throws {
        let out = path("ssp-real")
        let r = try run(["run", "--mode", "ssp", "--staleness", "1", "--workers", "4", "--steps", "400", "--eval-every", "1",
                         "--quiet", "--out", out])
        XCTAssertEqual(r.code, 0, r.stderr)
        let leads = try rows(out).compactMap(\.leadMax)
        XCTAssertEqual(leads.count, 401)
        XCTAssertLessThanOrEqual(leads.max()!, 1)
        let counts = try XCTUnwrap(try summary(out).workerMinibatches)
        XCTAssertEqual(counts.reduce(0, +), 400)
        XCTAssertLessThanOrEqual(counts.max()! - counts.min()!, 2, "\(counts)")
    }

    // MARK: backup workers

    /// Three scripted workers, b = 1: every version, workers 2 and 0 send first (aggregated, summed
    /// 0 then 2) and worker 1 last (dropped). The parameters equal the average of the first two
    /// gradients, bit for bit, and every step after the first drops exactly one gradient.
    func testBackupWorkersAggregateTheFirstNMinusBAndDropExactlyB() throws {
        let out = path("backup")
        let steps = 5
        let (coordinator, endpoint) = try startCoordinator(["--workers", "3", "--backup-workers", "1", "--batch", "8", "--lr", "0.3",
                                                           "--steps", "\(steps)", "--eval-every", "1"], out: out)
        let workers = try (0..<3).map { try ScriptedWorker(id: $0, connect: endpoint) }
        for w in workers { try w.register() }
        for w in workers { XCTAssertEqual(try w.expectParams(), 0) }
        var reference = ReferenceSGD(parameters: workers[0].parameters, learningRate: 0.3)
        for t in 0..<steps {
            let g = try workers.map { try $0.computeGradient() }
            for w in workers { XCTAssertEqual(w.parametersStep, t, "every worker computes on version \(t)") }
            try workers[2].send(g[2])
            try workers[0].send(g[0])
            reference.apply([g[0].values, g[2].values])
            if t == steps - 1 { break }
            XCTAssertEqual(try workers[0].expectParams(), t + 1)
            XCTAssertEqual(try workers[2].expectParams(), t + 1)
            try workers[1].send(g[1])                      // too late: dropped, and sent version t + 1
            XCTAssertEqual(try workers[1].expectParams(), t + 1)
        }
        for w in workers {
            while case .params = try w.next() {}
            try w.bye()
        }
        XCTAssertEqual(coordinator.wait(timeout: 20), 0)
        assertBitIdentical(try params(out).values, reference.parameters, "the mean of workers 0 and 2, summed in id order")
        let r = try rows(out)
        XCTAssertEqual(r.map(\.step), Array(0...steps))
        XCTAssertEqual(r.map { $0.dropped ?? -1 }, [0, 0] + Array(repeating: 1, count: steps - 1))
        let s = try summary(out)
        XCTAssertEqual(s.droppedGradients, steps - 1)
        XCTAssertEqual(s.examples, steps * 2 * 8, "each step applies the N - b = 2 gradients it aggregated")
        XCTAssertEqual(s.workerMinibatches, [steps, steps - 1, steps])
    }

    // MARK: --delay

    /// One async worker with `--delay 3`: update t applies the gradient at version max(0, t - 3), so
    /// staleness is min(t, 3) and exactly 3 from the fourth update on; the parameters follow
    /// `w_t+1 = w_t - lr g_t(w_max(0, t-3))` bit for bit (g_t the t-th minibatch of the
    /// documented shuffle).
    func testDelayGivesStalenessExactlyTauAndTheDelayedRecurrence() throws {
        let out = path("delay")
        let tau = 3, steps = 40, lr: Float = 0.2
        let r = try run(["run", "--mode", "async", "--delay", "\(tau)", "--workers", "1", "--examples", "256", "--features", "4",
                         "--batch", "16", "--lr", "\(lr)", "--steps", "\(steps)", "--eval-every", "1", "--quiet", "--out", out])
        XCTAssertEqual(r.code, 0, r.stderr)
        let staleness = try rows(out).dropFirst().map { $0.stalenessMax ?? -1 }
        XCTAssertEqual(staleness, (0..<steps).map { min($0, tau) })
        XCTAssertEqual(try summary(out).stalenessMax, tau)

        let data = try DatasetSpec(name: "synthetic-logistic", examples: 256, features: 4, seed: 1).materialize()
        let model = LogisticRegression(dimension: 4)
        let replay = SyncReplay(model: model, data: data, workers: 1, batch: 16, seed: 1, learningRate: lr)
        var sgd = ReferenceSGD(parameters: model.initialParameters(), learningRate: lr)
        var versions = [sgd.parameters]
        for t in 0..<steps {
            sgd.apply(replay.gradients(at: versions[max(0, t - tau)], step: t))
            versions.append(sgd.parameters)
        }
        assertBitIdentical(try params(out).values, versions[steps], "the delayed-gradient recurrence")
        XCTAssertNotEqual(versions[steps], SyncReplay(model: model, data: data, workers: 1, batch: 16, seed: 1, learningRate: lr).run(steps: steps)[steps],
                          "the delay changes the result (or this test could not tell)")
    }

    // MARK: --lr-staleness inverse

    /// Two scripted async workers with `--lr-staleness inverse`: a gradient of staleness 2 is
    /// applied at lr / 2, a fresh one at lr.
    func testInverseStalenessRate() throws {
        let out = path("inverse")
        let (coordinator, endpoint) = try startCoordinator(["--mode", "async", "--lr-staleness", "inverse", "--workers", "2",
                                                           "--batch", "8", "--lr", "0.4", "--steps", "3"], out: out)
        let a = try ScriptedWorker(id: 0, connect: endpoint), b = try ScriptedWorker(id: 1, connect: endpoint)
        try a.register()
        try b.register()
        XCTAssertEqual(try a.expectParams(), 0)
        XCTAssertEqual(try b.expectParams(), 0)
        var reference = ReferenceSGD(parameters: a.parameters, learningRate: 0.4)
        let g0 = try a.computeGradient()
        try a.send(g0)                                   // staleness 0: lr
        reference.apply([g0.values])
        XCTAssertEqual(try a.expectParams(), 1)
        let g1 = try a.computeGradient()
        try a.send(g1)                                   // staleness 0: lr
        reference.apply([g1.values])
        XCTAssertEqual(try a.expectParams(), 2)
        let g2 = try b.computeGradient()
        try b.send(g2)                                   // computed on 0, applied to 2: lr / 2
        var half = ReferenceSGD(parameters: reference.parameters, learningRate: 0.2)
        half.apply([g2.values])
        for w in [a, b] {
            while case .params = try w.next() {}
            try w.bye()
        }
        XCTAssertEqual(coordinator.wait(timeout: 20), 0)
        assertBitIdentical(try params(out).values, half.parameters, "lr / 2 for the gradient of staleness 2")
    }

    // MARK: Options

    func testPolicyOptionsAreCheckedAndRecorded() throws {
        for (args, text) in [
            (["run", "--backup-workers", "4", "--workers", "4"], "--backup-workers must be in [0, workers - 1]"),
            (["run", "--mode", "async", "--backup-workers", "1"], "--backup-workers applies to --mode sync only"),
            (["run", "--delay", "2"], "--delay applies to --mode async only"),
            (["run", "--lr-staleness", "inverse"], "--lr-staleness applies to --mode async, ssp and easgd only"),
            (["run", "--mode", "ssp", "--staleness", "-1"], "--staleness must be 0 or more"),
        ] {
            let r = try run(args + ["--out", path("bad")], timeout: 20)
            XCTAssertNotEqual(r.code, 0, "\(args)")
            XCTAssertTrue(r.stderr.contains(text), "\(args): \(r.stderr)")
        }
        let out = path("ok")
        XCTAssertEqual(try run(["run", "--mode", "ssp", "--staleness", "3", "--workers", "2", "--steps", "20", "--quiet", "--out", out]).code, 0)
        let job = try JSONCoding.decoder().decode(ConfigFile.self, from: Data(contentsOf: URL(fileURLWithPath: out + "/config.json"))).job
        XCTAssertEqual(job.mode, .ssp)
        XCTAssertEqual(job.staleness, 3)
        let s = try summary(out)
        XCTAssertEqual(s.mode, .ssp)
        XCTAssertEqual(s.staleness, 3)
        XCTAssertLessThanOrEqual(try XCTUnwrap(s.sspLeadMax), 3)
    }
}
