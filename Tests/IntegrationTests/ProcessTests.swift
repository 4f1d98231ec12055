import DSGDCluster
import Foundation
import XCTest

/// Signals, dead peers and process hygiene.
final class ProcessTests: ClusterTestCase {
    func testSIGINTLeavesNoProcessAndRecordsInterrupted() throws {
        let out = path("interrupted")
        let launcher = try start(["run", "--workers", "3", "--epochs", "100000", "--eval-every", "20", "--out", out])
        XCTAssertNotNil(waitForLine(launcher, containing: "step 0 "), "training started")
        XCTAssertNotNil(waitForLine(launcher, containing: "step "), "a later progress line")
        XCTAssertFalse(processesLaunched(by: launcher.pid).isEmpty, "the launcher has children while training")
        kill(launcher.pid, SIGINT)
        XCTAssertEqual(launcher.wait(timeout: 20), 130, "dsgd run exits with 130 after SIGINT")
        // Every child is gone (reaped by the launcher, not left behind).
        let deadline = Date().addingTimeInterval(5)
        while !processesLaunched(by: launcher.pid).isEmpty && Date() < deadline { usleep(50_000) }
        XCTAssertEqual(processesLaunched(by: launcher.pid), [], "no dsgd process is left behind")
        let s = try summary(out)
        XCTAssertEqual(s.status, .interrupted)
        XCTAssertGreaterThan(s.steps, 0)
        XCTAssertNotNil(try? params(out), "params.json is written on interrupt too")
    }

    func testKilledWorkerFailsTheRunWithoutHanging() throws {
        let out = path("dead-worker")
        let launcher = try start(["run", "--workers", "2", "--epochs", "100000", "--eval-every", "20", "--out", out])
        XCTAssertNotNil(waitForLine(launcher, containing: "step "))
        let workers = processesLaunched(by: launcher.pid, role: "worker")
        XCTAssertEqual(workers.count, 2)
        kill(pid_t(workers[0]), SIGKILL)
        XCTAssertEqual(launcher.wait(timeout: 30), 1, "a dead worker fails the run")
        let s = try summary(out)
        XCTAssertEqual(s.status, .failed)
        XCTAssertTrue(s.error?.contains("worker") ?? false, s.error ?? "")
        XCTAssertEqual(processesLaunched(by: launcher.pid), [])
    }

    /// A coordinator that does not exit when told to stop (here: stopped with SIGSTOP, so the
    /// launcher's SIGTERM stays pending) is killed after `--stop-grace`, and the run fails instead
    /// of the launcher waiting for it forever.
    func testCoordinatorThatDoesNotStopIsKilledAfterTheGrace() throws {
        let out = path("stuck-coordinator")
        let launcher = try start(["run", "--workers", "2", "--epochs", "100000", "--eval-every", "20", "--stop-grace", "2", "--out", out])
        let errFile = path("dsgd-\(children.count - 1).stderr")
        XCTAssertNotNil(waitForLine(launcher, containing: "step "))
        let coordinator = processesLaunched(by: launcher.pid, role: "coordinator")
        let workers = processesLaunched(by: launcher.pid, role: "worker")
        XCTAssertEqual(coordinator.count, 1)
        XCTAssertEqual(workers.count, 2)
        guard let stuck = coordinator.first, let victim = workers.first else { return }
        kill(pid_t(stuck), SIGSTOP)
        defer { kill(pid_t(stuck), SIGKILL) }   // torn down even when the launcher leaves it
        kill(pid_t(victim), SIGKILL)
        XCTAssertEqual(launcher.wait(timeout: 30), 1, "the run fails once the coordinator is killed")
        let err = (try? String(contentsOfFile: errFile, encoding: .utf8)) ?? ""
        XCTAssertTrue(err.contains("the coordinator had not exited 2 s after being told to stop; killed it"), err)
        XCTAssertEqual(processesLaunched(by: launcher.pid), [], "no dsgd process is left behind")
        XCTAssertEqual(kill(pid_t(stuck), 0), -1, "the stopped coordinator is gone")
        let s = try summary(out)
        XCTAssertEqual(s.status, .failed)
        XCTAssertTrue(s.error?.contains("worker") ?? false, s.error ?? "")
    }

    /// Ctrl-C with a coordinator that does not stop: killed after `--stop-grace`, and the run is
    /// recorded as failed with that reason (summary.json written by the launcher), not left
    /// without a summary.
    func testInterruptWithAStuckCoordinatorStillLeavesASummary() throws {
        let out = path("stuck-interrupted")
        let launcher = try start(["run", "--workers", "2", "--epochs", "100000", "--eval-every", "20", "--stop-grace", "2", "--out", out])
        XCTAssertNotNil(waitForLine(launcher, containing: "step "))
        let stuck = processesLaunched(by: launcher.pid, role: "coordinator")
        XCTAssertEqual(stuck.count, 1)
        guard let coordinator = stuck.first else { return }
        kill(pid_t(coordinator), SIGSTOP)
        defer { kill(pid_t(coordinator), SIGKILL) }
        kill(launcher.pid, SIGINT)
        XCTAssertEqual(launcher.wait(timeout: 30), 1, "a coordinator that had to be killed fails the run")
        XCTAssertEqual(processesLaunched(by: launcher.pid), [], "no dsgd process is left behind")
        let s = try summary(out)
        XCTAssertEqual(s.status, .failed)
        XCTAssertTrue(s.error?.contains("did not stop within 2 s") ?? false, s.error ?? "")
    }

    func testCoordinatorByHandWithWorkersByHand() throws {
        let endpoint = "ipc://\(path("c.ipc"))"
        let out = path("by-hand")
        let coordinator = try start(["coordinator", "--bind", endpoint, "--workers", "2", "--steps", "50", "--out", out], name: "coordinator")
        let ready = waitForLine(coordinator, containing: "listening on ")
        XCTAssertEqual(ready, "dsgd coordinator: listening on \(endpoint)")
        let w0 = try start(["worker", "--connect", endpoint, "--id", "0"], name: "w0")
        let w1 = try start(["worker", "--connect", endpoint, "--id", "1"], name: "w1")
        XCTAssertEqual(coordinator.wait(timeout: 60), 0)
        XCTAssertEqual(w0.wait(timeout: 10), 0)
        XCTAssertEqual(w1.wait(timeout: 10), 0)
        XCTAssertEqual(try summary(out).steps, 50)
    }
}
