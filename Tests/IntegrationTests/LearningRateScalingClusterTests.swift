import DSGDCluster
import DSGDCore
import Foundation
import XCTest

/// `--lr-scaling` on a live coordinator: the rate an async update applies, and the one line that
/// says what an unscaled `--lr` means in async mode.
final class LearningRateScalingClusterTests: ClusterTestCase {
    /// Two scripted async workers, `--lr 0.2 --lr-scaling linear`: the one update applied is
    /// `w - 0.1 g` bit for bit (an async update applies batch / (workers x batch) = 1/2 of --lr).
    func testAsyncUpdateAppliesTheScaledRate() throws {
        let endpoint = "ipc://\(path("c.ipc"))"
        let out = path("scaled")
        let coordinator = try start(["coordinator", "--bind", endpoint, "--mode", "async", "--workers", "2", "--batch", "8",
                                     "--lr", "0.2", "--lr-scaling", "linear", "--steps", "1", "--out", out], name: "coordinator")
        XCTAssertNotNil(waitForLine(coordinator, containing: "listening on "))
        let workers = try (0..<2).map { try ScriptedWorker(id: $0, connect: endpoint) }
        for w in workers { try w.register() }
        for w in workers { XCTAssertEqual(try w.expectParams(), 0) }
        let w0 = workers[0].parameters
        let g = try workers[0].computeGradient()
        try workers[0].send(g)
        for w in workers { if case .stop = try w.next() { try w.bye() } }
        XCTAssertEqual(coordinator.wait(timeout: 20), 0)
        let expected = zip(w0, g.values).map { w, gi in w - Float(0.1) * gi }
        XCTAssertEqual(try params(out).values.map(\.bitPattern), expected.map(\.bitPattern))
        XCTAssertTrue(g.values.contains { $0 != 0 }, "a gradient that moves something")
    }

    func testAnUnscaledAsyncRunSaysWhatItsRateMeans() throws {
        let r = try run(["run", "--mode", "async", "--workers", "3", "--lr", "0.3", "--steps", "5", "--quiet", "--out", path("note")])
        XCTAssertEqual(r.code, 0, r.stderr)
        let notes = r.stderr.split(separator: "\n").filter { $0.contains("--lr-scaling") }
        XCTAssertEqual(notes.count, 1, r.stderr)
        XCTAssertTrue(notes.first?.contains("3x the sync rate per example; --lr-scaling linear would use 0.1") == true, r.stderr)
        let sync = try run(["run", "--workers", "3", "--lr", "0.3", "--steps", "5", "--quiet", "--out", path("sync")])
        XCTAssertFalse(sync.stderr.contains("--lr-scaling"), sync.stderr)
    }
}
