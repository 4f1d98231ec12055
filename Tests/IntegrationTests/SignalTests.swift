import DSGDCluster
import Foundation
import XCTest

/// Signals and exit codes: SIGTERM and SIGHUP to `dsgd run` and to a coordinator started by hand,
/// a launcher killed outright, a register timeout and an unreachable coordinator.
final class SignalTests: ClusterTestCase {
    /// Pids of the live `dsgd worker` processes whose command line names `endpoint`.
    func workers(connectedTo endpoint: String) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap(Int32.init).filter { pid in
            guard let argv = try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8).split(separator: "\0"),
                  argv.count > 3, argv[1] == "worker", argv.contains(Substring(endpoint)) else { return false }
            // A zombie has an empty cmdline, so a listed process is alive.
            return true
        }
    }

    func waitUntil(_ seconds: Double, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline { if condition() { return true }; usleep(50_000) }
        return condition()
    }

    func testSIGTERMAndSIGHUPToTheLauncherInterruptTheRun() throws {
        for sig in [SIGTERM, SIGHUP] {
            let out = path("run-\(sig)")
            let launcher = try start(["run", "--workers", "2", "--epochs", "100000", "--eval-every", "20", "--out", out])
            XCTAssertNotNil(waitForLine(launcher, containing: "step 0 "), "training started")
            XCTAssertEqual(processesLaunched(by: launcher.pid).count, 3, "a coordinator and 2 workers")
            kill(launcher.pid, sig)
            XCTAssertEqual(launcher.wait(timeout: 20), 130, "signal \(sig): dsgd run exits with 130")
            XCTAssertTrue(waitUntil(5) { processesLaunched(by: launcher.pid).isEmpty }, "signal \(sig): no process left behind")
            let s = try summary(out)
            XCTAssertEqual(s.status, .interrupted, "signal \(sig)")
            XCTAssertEqual(s.error, "interrupted by signal \(sig)")
        }
    }

    func testSIGTERMAndSIGHUPToACoordinatorByHandStopItsWorkers() throws {
        for sig in [SIGTERM, SIGHUP] {
            let endpoint = "ipc://\(path("c\(sig).ipc"))"
            let out = path("by-hand-\(sig)")
            let coordinator = try start(["coordinator", "--bind", endpoint, "--workers", "2", "--epochs", "100000",
                                         "--eval-every", "20", "--out", out], name: "coordinator")
            XCTAssertNotNil(waitForLine(coordinator, containing: "listening on "))
            let w0 = try start(["worker", "--connect", endpoint, "--id", "0"], name: "w0")
            let w1 = try start(["worker", "--connect", endpoint, "--id", "1"], name: "w1")
            XCTAssertNotNil(waitForLine(coordinator, containing: "step 0 "), "training started")
            XCTAssertNotNil(waitForLine(coordinator, containing: "step "), "a later progress line")
            XCTAssertEqual(workers(connectedTo: endpoint).count, 2)
            kill(coordinator.pid, sig)
            XCTAssertEqual(coordinator.wait(timeout: 20), 130, "signal \(sig): the coordinator exits with 130")
            // The coordinator's STOP ends its workers cleanly.
            XCTAssertEqual(w0.wait(timeout: 10), 0)
            XCTAssertEqual(w1.wait(timeout: 10), 0)
            XCTAssertEqual(workers(connectedTo: endpoint), [])
            let s = try summary(out)
            XCTAssertEqual(s.status, .interrupted)
            XCTAssertEqual(s.error, "interrupted by signal \(sig)")
            XCTAssertGreaterThan(s.steps, 0)
        }
    }

    func testAKilledLauncherLeavesNoOrphans() throws {
        let launcher = try start(["run", "--workers", "3", "--epochs", "100000", "--eval-every", "20", "--out", path("killed")])
        XCTAssertNotNil(waitForLine(launcher, containing: "step 0 "))
        XCTAssertEqual(processesLaunched(by: launcher.pid).count, 4)
        kill(launcher.pid, SIGKILL)
        XCTAssertEqual(launcher.wait(timeout: 10), 128 + SIGKILL)
        XCTAssertTrue(waitUntil(10) { processesLaunched(by: launcher.pid).isEmpty },
                      "the kernel's parent-death signal ends every child: \(processesLaunched(by: launcher.pid))")
    }

    func testRegisterTimeoutExitsOneWithOneLine() throws {
        let out = path("lonely")
        let start = Date()
        let r = try run(["coordinator", "--bind", "ipc://\(path("lonely.ipc"))", "--workers", "2", "--register-timeout", "1",
                         "--out", out], timeout: 20)
        XCTAssertEqual(r.code, 1)
        XCTAssertLessThan(Date().timeIntervalSince(start), 10)
        XCTAssertEqual(r.stderr.split(separator: "\n").filter { $0.contains("error") },
                       ["dsgd coordinator: error: only 0 of 2 workers registered within 1.0 s (missing: 0, 1)"])
        XCTAssertEqual(try summary(out).status, .failed)
    }

    func testUnreachableCoordinatorExitsOneWithOneLine() throws {
        let start = Date()
        let r = try run(["worker", "--connect", "ipc://\(path("nobody.ipc"))", "--id", "0", "--connect-timeout", "1"], timeout: 20)
        XCTAssertEqual(r.code, 1)
        XCTAssertLessThan(Date().timeIntervalSince(start), 10)
        let lines = r.stderr.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, r.stderr)
        XCTAssertTrue(lines.first?.contains("no answer from a coordinator") == true, r.stderr)
    }
}

/// A worker whose coordinator vanishes mid-run (SIGKILL) gives up after `--idle-timeout` with one
/// line naming the coordinator, instead of waiting for ever.
final class VanishedCoordinatorTests: ClusterTestCase {
    func testAWorkerGivesUpOnAVanishedCoordinatorAfterItsIdleTimeout() throws {
        let (c, endpoint) = try startCoordinator(["--workers", "1", "--epochs", "100000", "--eval-every", "50"], out: path("vanishing"))
        let w = try start(["worker", "--connect", endpoint, "--id", "0", "--idle-timeout", "2"], name: "worker")
        XCTAssertNotNil(waitForLine(c, containing: "step 0 "), "training started")
        kill(c.pid, SIGKILL)
        let killedAt = Date()
        XCTAssertEqual(w.wait(timeout: 20), 1, "the worker gives up")
        let waited = Date().timeIntervalSince(killedAt)
        XCTAssertGreaterThanOrEqual(waited, 1.5)
        XCTAssertLessThan(waited, 6, "after about --idle-timeout 2 s")
        let log = try String(contentsOfFile: path(try XCTUnwrap(FileManager.default.contentsOfDirectory(atPath: scratch.path).first { $0.hasPrefix("worker-") })), encoding: .utf8)
        XCTAssertTrue(log.contains("the coordinator at \(endpoint) has been silent for 2.0 s"), log)
        XCTAssertEqual(log.split(separator: "\n").filter { $0.contains("error") }.count, 1, log)
    }
}
