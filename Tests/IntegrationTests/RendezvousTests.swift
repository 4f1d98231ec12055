import DSGDCluster
import Foundation
import XCTest

/// `dsgd worker` with no --connect and no --id: the coordinator and the rank from the environment.
final class RendezvousTests: ClusterTestCase {
    func startWorker(env: [String: String], name: String) throws -> ChildProcess {
        let c = try ChildProcess(name: name, executable: Self.binary, arguments: ["worker"], environment: env,
                                 pipeStdout: true, stderrFile: path("\(name).stderr"))
        children.append(c)
        return c
    }

    /// Two workers, one through dsgd's variables, one through Kubernetes' and one through
    /// Slurm's (task 2 of 4: worker 1... here of a 3-worker job), train to completion.
    func testWorkersFromTheEnvironmentOnly() throws {
        let out = path("run")
        let (coordinator, endpoint) = try startCoordinator(["--workers", "3", "--steps", "20"], out: out)
        let port = String(endpoint.split(separator: ":").last!)
        let w0 = try startWorker(env: ["DSGD_COORDINATOR": endpoint, "DSGD_RANK": "0"], name: "dsgd-vars")
        let w1 = try startWorker(env: ["DSGD_COORDINATOR": "127.0.0.1:\(port)", "JOB_COMPLETION_INDEX": "1"], name: "kubernetes")
        let w2 = try startWorker(env: ["SLURM_PROCID": "3", "SLURM_NTASKS": "4", "SLURM_JOB_NODELIST": "127.0.0.[1-3]",
                                       "DSGD_PORT": port], name: "slurm")
        for w in [w0, w1, w2] { let text = (try? String(contentsOfFile: path("\(w.name).stderr"), encoding: .utf8)) ?? ""; XCTAssertEqual(w.wait(timeout: 60), 0, text) }
        XCTAssertEqual(coordinator.wait(timeout: 30), 0)
        XCTAssertEqual(try summary(out).status, .completed)
        let slurm = try String(contentsOfFile: path("slurm.stderr"), encoding: .utf8)
        XCTAssertTrue(slurm.contains("dsgd worker 2: coordinator tcp://127.0.0.1:\(port), worker id 2 (from the environment)"), slurm)
    }

    /// The coordinator takes its worker count from SLURM_NTASKS - 1 when --workers is not given.
    func testCoordinatorWorkerCountFromSlurm() throws {
        let c = try ChildProcess(name: "coordinator", executable: Self.binary,
                                 arguments: ["coordinator", "--out", path("run"), "--steps", "5", "--register-timeout", "3"],
                                 environment: ["SLURM_PROCID": "0", "SLURM_NTASKS": "3", "SLURM_JOB_NODELIST": "127.0.0.1"],
                                 pipeStdout: true, stderrFile: path("coordinator.stderr"))
        children.append(c)
        XCTAssertNotNil(waitForLine(c, containing: "listening on", timeout: 30))
        _ = c.wait(timeout: 30)
        let err = try String(contentsOfFile: path("coordinator.stderr"), encoding: .utf8)
        XCTAssertTrue(err.contains("2 workers"), err)
    }

    /// No address anywhere: one line saying where it may come from; a name that never resolves:
    /// the worker waits until --connect-timeout, then says so.
    func testMissingOrUnresolvableCoordinator() throws {
        let none = try run(["worker"])
        XCTAssertNotEqual(none.code, 0)
        XCTAssertTrue(none.stderr.hasPrefix("dsgd: error: no coordinator address: give --connect"), none.stderr)
        let w = try startWorker(env: ["DSGD_COORDINATOR": "tcp://no-such-host.invalid:5555", "DSGD_RANK": "0", "DSGD_CONNECT_TIMEOUT": "1.5"],
                                name: "unresolvable")
        XCTAssertEqual(w.wait(timeout: 20), 1)
        let err = try String(contentsOfFile: path("unresolvable.stderr"), encoding: .utf8)
        XCTAssertTrue(err.contains("waiting for no-such-host.invalid to resolve"), err)
        XCTAssertTrue(err.contains("dsgd: error: worker 0: the coordinator's host name no-such-host.invalid did not resolve within 1.5 s"), err)
    }
}
