import DSGDCluster
import Foundation
import XCTest

/// The benchmarks' machine-readable lines: one JSON object per configuration, naming what was
/// measured, the kernel variant and the CPU. Only the shape of the output is checked: speed is
/// for the benchmarks themselves, not for tests.
final class BenchCommandTests: ClusterTestCase {
    func objects(_ r: Result) throws -> [[String: Any]] {
        try r.stdout.map { line in
            let o = try JSONSerialization.jsonObject(with: Data(line.utf8))
            return try XCTUnwrap(o as? [String: Any], "not a JSON object: \(line)")
        }
    }

    /// `dsgd bench aggregate`: a line per storage, dimension and gradient count, in that order.
    func testAggregateLinesNameStorageKernelAndCPU() throws {
        let r = try run(["bench", "aggregate", "--dims", "1003", "--workers", "2", "5", "--repeats", "3", "--storage", "float32", "bfloat16"])
        XCTAssertEqual(r.code, 0, r.stderr)
        let lines = try objects(r)
        XCTAssertEqual(lines.map { $0["storage"] as? String }, ["float32", "float32", "bfloat16", "bfloat16"])
        XCTAssertEqual(lines.map { $0["gradients"] as? Int }, [2, 5, 2, 5])
        for o in lines {
            XCTAssertEqual(o["benchmark"] as? String, "aggregate")
            XCTAssertEqual(o["dim"] as? Int, 1003)
            XCTAssertTrue(["avx512", "avx2", "portable"].contains(o["kernel"] as? String ?? ""), "\(o)")
            XCTAssertFalse((o["cpu"] as? String ?? "").isEmpty, "\(o)")
            XCTAssertGreaterThan(o["median_ms"] as? Double ?? 0, 0, "\(o)")
        }
    }

    /// `dsgd bench round`: a line per configuration with its round time and what a round costs in
    /// processor time (the coordinator's and the workers' mean, over their rounds past the short
    /// run's), their total (the coordinator plus each worker), the cores, and the bound they give.
    func testRoundLinesCarryTheProcessorTimeOfARound() throws {
        let r = try run(["bench", "round", "--dims", "100000", "--workers", "2", "--transports", "ipc", "--rounds", "60", "--compress", "none", "bf16"])
        XCTAssertEqual(r.code, 0, r.stderr)
        let lines = try objects(r)
        XCTAssertEqual(lines.map { $0["compress"] as? String }, ["none", "bf16"])
        let cores = sysconf(Int32(_SC_NPROCESSORS_ONLN))
        for o in lines {
            XCTAssertEqual(o["benchmark"] as? String, "sync_round")
            XCTAssertGreaterThan(o["median_ms"] as? Double ?? 0, 0, "\(o)")
            let perRole = try XCTUnwrap(o["cpu_ms_per_round"] as? [String: Double], "\(o)")
            let coordinator = try XCTUnwrap(perRole["coordinator"]), workers = try XCTUnwrap(perRole["worker_mean"])
            let total = try XCTUnwrap(o["cpu_ms_per_round_total"] as? Double), bound = try XCTUnwrap(o["cpu_bound_ms"] as? Double)
            XCTAssertGreaterThan(total, 0, "\(o)")
            XCTAssertEqual(total, coordinator + 2 * workers, accuracy: 1e-3, "\(o)")
            XCTAssertEqual(o["cores"] as? Int, cores)
            XCTAssertEqual(bound, total / Double(cores), accuracy: 1e-3, "\(o)")
        }
    }

    /// A reaped child's processor time comes from `wait4`: a shell that counts to 300,000 uses
    /// some, and no more than the wall time it took (one thread).
    func testChildProcessorTimeIsMeasured() throws {
        let start = Date()
        let c = try ChildProcess(name: "counter", executable: "/bin/sh", arguments: ["-c", "i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done"])
        XCTAssertNil(c.cpuSeconds)
        XCTAssertEqual(c.wait(timeout: 120), 0)
        let wall = Date().timeIntervalSince(start)
        let cpu = try XCTUnwrap(c.cpuSeconds)
        XCTAssertGreaterThan(cpu, 0.02, "wall \(wall) s")
        XCTAssertLessThanOrEqual(cpu, wall + 0.05)
    }

    /// `dsgd bench codec` names the kernel variant and the CPU on each line too.
    func testCodecLinesNameKernelAndCPU() throws {
        let r = try run(["bench", "codec", "--dims", "5000", "--compress", "bf16", "sign", "--repeats", "3"])
        XCTAssertEqual(r.code, 0, r.stderr)
        let lines = try objects(r)
        XCTAssertEqual(lines.map { $0["compress"] as? String }, ["bf16", "sign"])
        for o in lines {
            XCTAssertTrue(["avx512", "avx2", "portable"].contains(o["kernel"] as? String ?? ""), "\(o)")
            XCTAssertFalse((o["cpu"] as? String ?? "").isEmpty, "\(o)")
        }
    }
}
