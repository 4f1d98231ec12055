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
