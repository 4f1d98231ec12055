import DSGDCluster
import Foundation
import XCTest

/// The end of a run: STOP, BYE, and what the coordinator says when a BYE never comes.
final class ShutdownTests: ClusterTestCase {
    /// Worker 1 answers STOP with BYE, worker 0 never does: the coordinator waits its 3 s, logs one
    /// line naming worker 0, and still completes the run. A worker that says BYE is not named.
    func testAMissingBYEIsLoggedAndTheRunStillCompletes() throws {
        let endpoint = "ipc://\(path("c.ipc"))"
        let out = path("no-bye")
        let coordinator = try start(["coordinator", "--bind", endpoint, "--workers", "2", "--batch", "8", "--steps", "3",
                                     "--out", out], name: "coordinator")
        XCTAssertNotNil(waitForLine(coordinator, containing: "listening on "))
        let workers = try (0..<2).map { try ScriptedWorker(id: $0, connect: endpoint) }
        for w in workers { try w.register() }
        var stopped = [false, false]
        while !stopped.allSatisfy({ $0 }) {
            for (k, w) in workers.enumerated() where !stopped[k] {
                switch try w.next() {
                case .params: try w.send(w.computeGradient())
                case .stop: stopped[k] = true
                }
            }
        }
        let asked = Date()
        try workers[1].bye()
        XCTAssertEqual(coordinator.wait(timeout: 20), 0)
        XCTAssertGreaterThan(Date().timeIntervalSince(asked), 2.5, "it waited for the missing BYE")
        let stderr = try String(contentsOfFile: path("coordinator-0.stderr"), encoding: .utf8)
        let lines = stderr.split(separator: "\n").filter { $0.contains("BYE") }
        XCTAssertEqual(lines, ["dsgd coordinator: worker 0 sent no BYE within 3.0 s after STOP (it may have exited already)"], stderr)
        let s = try summary(out)
        XCTAssertEqual(s.status, .completed)
        XCTAssertEqual(s.steps, 3)
    }
}
