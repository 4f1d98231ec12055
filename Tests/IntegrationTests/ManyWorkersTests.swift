import DSGDCluster
import Foundation
import XCTest

/// 64 workers on a 2-core machine (65 processes) complete a sync and an async run: every worker
/// registers, computes, and is stopped cleanly; the coordinator records its peak memory.
final class ManyWorkersTests: ClusterTestCase {
    func testSixtyFourWorkersCompleteSyncAndAsync() throws {
        for mode in ["sync", "async"] {
            let out = path("w64-\(mode)")
            let r = try run(["run", "--workers", "64", "--mode", mode, "--batch", "16", "--epochs", "1", "--register-timeout", "120",
                             "--quiet", "--out", out], timeout: 240)
            XCTAssertEqual(r.code, 0, "\(mode): \(r.stderr)")
            let s = try summary(out)
            XCTAssertEqual(s.status, .completed, mode)
            XCTAssertEqual(s.workers, 64)
            let minibatches = try XCTUnwrap(s.workerMinibatches)
            XCTAssertEqual(minibatches.count, 64)
            XCTAssertTrue(minibatches.allSatisfy { $0 > 0 }, "\(mode): every worker computed: \(minibatches)")
            // 8192 examples, 64 shards of 128 = 8 minibatches of 16 each per epoch.
            if mode == "sync" { XCTAssertEqual(Set(minibatches), [8]) }
            XCTAssertEqual(r.stderr.components(separatedBy: "coordinator says stop: training completed").count - 1, 64, "\(mode): 64 clean stops")
            let rss = try XCTUnwrap(s.peakRssBytes)
            XCTAssertGreaterThan(rss, 1 << 20)
            XCTAssertLessThan(rss, 1 << 30, "\(mode): the coordinator's peak RSS \(rss) bytes")
        }
    }
}
