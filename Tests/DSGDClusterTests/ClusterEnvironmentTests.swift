import DSGDCluster
import XCTest

/// The rendezvous mapping: dsgd's variables, Kubernetes and Slurm, and their precedence.
final class ClusterEnvironmentTests: XCTestCase {
    func resolve(_ env: [String: String]) throws -> ClusterEnvironment { try ClusterEnvironment.resolve(env) }

    func testNothingSetGivesNothing() throws {
        XCTAssertEqual(try resolve([:]), ClusterEnvironment())
        XCTAssertEqual(try resolve(["PATH": "/bin", "DSGD_RANK": " "]), ClusterEnvironment())
    }

    func testDSGDVariables() throws {
        let e = try resolve(["DSGD_COORDINATOR": "tcp://10.0.0.5:7000", "DSGD_RANK": "2", "DSGD_WORKERS": "3", "DSGD_BIND": "tcp://0.0.0.0:7000"])
        XCTAssertEqual(e.coordinator, "tcp://10.0.0.5:7000")
        XCTAssertEqual(e.coordinatorSource, "DSGD_COORDINATOR")
        XCTAssertEqual(e.rank, 2)
        XCTAssertEqual(e.rankSource, "DSGD_RANK")
        XCTAssertEqual(e.workers, 3)
        XCTAssertEqual(e.bind, "tcp://0.0.0.0:7000")
        XCTAssertEqual(try resolve(["DSGD_WORKER_ID": "1"]).rank, 1)
        XCTAssertEqual(try resolve(["DSGD_WORKER_ID": "1", "DSGD_RANK": "1"]).rankSource, "DSGD_RANK")
        XCTAssertThrowsError(try resolve(["DSGD_WORKER_ID": "1", "DSGD_RANK": "2"]))
        XCTAssertThrowsError(try resolve(["DSGD_RANK": "-1"]))
        XCTAssertThrowsError(try resolve(["DSGD_RANK": "x"]))
        XCTAssertThrowsError(try resolve(["DSGD_RANK": "3", "DSGD_WORKERS": "3"]), "rank must be below the count")
    }

    func testCoordinatorAddressForms() throws {
        XCTAssertEqual(try resolve(["DSGD_COORDINATOR": "coord"]).coordinator, "tcp://coord:5555")
        XCTAssertEqual(try resolve(["DSGD_COORDINATOR": "coord", "DSGD_PORT": "6000"]).coordinator, "tcp://coord:6000")
        XCTAssertEqual(try resolve(["DSGD_COORDINATOR": "coord.ns.svc:6001"]).coordinator, "tcp://coord.ns.svc:6001")
        XCTAssertEqual(try resolve(["DSGD_COORDINATOR": "ipc:///tmp/d.ipc"]).coordinator, "ipc:///tmp/d.ipc")
        XCTAssertEqual(try resolve(["DSGD_COORDINATOR": "fd00::1"]).coordinator, "tcp://[fd00::1]:5555")
        XCTAssertEqual(try resolve(["DSGD_COORDINATOR": "[fd00::1]:7"]).coordinator, "tcp://[fd00::1]:7")
        XCTAssertThrowsError(try resolve(["DSGD_COORDINATOR": "udp://x:1"]))
        XCTAssertThrowsError(try resolve(["DSGD_COORDINATOR": "x:port"]))
        XCTAssertThrowsError(try resolve(["DSGD_COORDINATOR": "x", "DSGD_PORT": "70000"]))
    }

    /// Kubernetes: an Indexed Job's pod index is the rank; the coordinator comes from
    /// DSGD_COORDINATOR (the headless Service's name), which the manifest sets.
    func testKubernetesIndexedJob() throws {
        let e = try resolve(["JOB_COMPLETION_INDEX": "3", "DSGD_COORDINATOR": "dsgd-coordinator.default.svc.cluster.local",
                             "DSGD_WORKERS": "4", "KUBERNETES_SERVICE_HOST": "10.96.0.1"])
        XCTAssertEqual(e.rank, 3)
        XCTAssertEqual(e.rankSource, "JOB_COMPLETION_INDEX")
        XCTAssertEqual(e.coordinator, "tcp://dsgd-coordinator.default.svc.cluster.local:5555")
        XCTAssertEqual(try resolve(["JOB_COMPLETION_INDEX": "3", "DSGD_RANK": "0"]).rank, 0, "DSGD_RANK wins over the engine's")
        XCTAssertThrowsError(try resolve(["JOB_COMPLETION_INDEX": "-2"]))
    }

    /// Slurm, deploy/slurm's layout: task 0 is the coordinator, tasks 1...N the workers.
    func testSlurm() throws {
        let env = ["SLURM_PROCID": "2", "SLURM_NTASKS": "4", "SLURM_JOB_NODELIST": "node[07-09,12],login1"]
        let e = try resolve(env)
        XCTAssertEqual(e.rank, 1)
        XCTAssertEqual(e.rankSource, "SLURM_PROCID - 1")
        XCTAssertEqual(e.workers, 3)
        XCTAssertEqual(e.workersSource, "SLURM_NTASKS - 1")
        XCTAssertEqual(e.coordinator, "tcp://node07:5555")
        XCTAssertEqual(e.coordinatorSource, "SLURM_JOB_NODELIST (first host)")
        // The coordinator's own task has no rank, but the count and address.
        let task0 = try resolve(["SLURM_PROCID": "0", "SLURM_NTASKS": "4", "SLURM_NODELIST": "a1"])
        XCTAssertNil(task0.rank)
        XCTAssertEqual(task0.workers, 3)
        XCTAssertEqual(task0.coordinator, "tcp://a1:5555")
        // dsgd's variables win over Slurm's.
        var over = env
        over["DSGD_COORDINATOR"] = "head:9"
        over["DSGD_RANK"] = "0"
        over["DSGD_WORKERS"] = "2"
        XCTAssertEqual(try resolve(over).coordinator, "tcp://head:9")
        XCTAssertEqual(try resolve(over).rank, 0)
        XCTAssertEqual(try resolve(over).workers, 2)
        XCTAssertThrowsError(try resolve(["SLURM_NTASKS": "1"]), "a coordinator and no worker")
        XCTAssertThrowsError(try resolve(["SLURM_JOB_NODELIST": "node[1-"]))
    }

    func testHostListExpansion() throws {
        XCTAssertEqual(try ClusterEnvironment.expandHostList("node[01-04,07]"), ["node01", "node02", "node03", "node04", "node07"])
        XCTAssertEqual(try ClusterEnvironment.expandHostList("a,b[1-2],c"), ["a", "b1", "b2", "c"])
        XCTAssertEqual(try ClusterEnvironment.expandHostList("r[1-2]-n[08-10]"),
                       ["r1-n08", "r1-n09", "r1-n10", "r2-n08", "r2-n09", "r2-n10"])
        XCTAssertEqual(try ClusterEnvironment.expandHostList("gpu[9-11]"), ["gpu9", "gpu10", "gpu11"])
        XCTAssertEqual(try ClusterEnvironment.expandHostList("127.0.0.[1-2]"), ["127.0.0.1", "127.0.0.2"])
        XCTAssertEqual(try ClusterEnvironment.expandHostList("single"), ["single"])
        for bad in ["n[1-2", "n]1[", "n[]", "n[3-1]", "n[a-b]", "a,,b", "n[1-2-3]"] {
            XCTAssertThrowsError(try ClusterEnvironment.expandHostList(bad), bad)
        }
    }
}
