import DSGDCluster
import Foundation
import XCTest

/// Rendezvous without ids: workers started with no `--id` (and no id in the environment) are given
/// the lowest free ids by the coordinator and train to the end; a second worker claiming an id
/// already taken is refused with an ERROR naming that id, and the run goes on with the rightful one.
final class AssignedIDTests: ClusterTestCase {
    func testWorkersWithoutIdsAreGivenTheFreeOnes() throws {
        let out = path("assigned")
        let (c, endpoint) = try startCoordinator(["--workers", "3", "--mode", "sync", "--steps", "100"], out: out)
        let workers = try (0..<3).map { k in try start(["worker", "--connect", endpoint], name: "anonymous\(k)") }
        XCTAssertEqual(c.wait(timeout: 60), 0)
        var ids: [Int] = []
        for (k, w) in workers.enumerated() {
            XCTAssertEqual(w.wait(timeout: 10), 0)
            let log = try String(contentsOfFile: path("anonymous\(k)-\(k + 1).stderr"), encoding: .utf8)
            let line = try XCTUnwrap(log.split(separator: "\n").first { $0.contains("the coordinator assigned this worker id ") }, log)
            ids.append(try XCTUnwrap(Int(line.split(separator: " ").last!)))
        }
        XCTAssertEqual(ids.sorted(), [0, 1, 2], "three distinct ids, the lowest free ones")
        XCTAssertEqual(try summary(out).workerMinibatches, [100, 100, 100])
    }

    func testADuplicateIdIsRefusedNamingIt() throws {
        let out = path("duplicate")
        let (c, endpoint) = try startCoordinator(["--workers", "2", "--mode", "sync", "--steps", "50"], out: out)
        let first = try startWorker(0, endpoint: endpoint)
        // Worker 0 first (the coordinator says so on its standard error).
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline, !((try? String(contentsOfFile: path("coordinator-0.stderr"), encoding: .utf8)) ?? "").contains("worker 0 registered (1/2)") {
            usleep(50_000)
        }
        let impostor = try start(["worker", "--connect", endpoint, "--id", "0"], name: "impostor")
        XCTAssertEqual(impostor.wait(timeout: 20), 1)
        let said = try String(contentsOfFile: path("impostor-\(children.count - 1).stderr"), encoding: .utf8)
        XCTAssertTrue(said.contains("worker id 0 is already taken by another connection (are two workers started with id 0?)"), said)
        let second = try startWorker(1, endpoint: endpoint)
        XCTAssertEqual(c.wait(timeout: 60), 0)
        XCTAssertEqual(first.wait(timeout: 10), 0)
        XCTAssertEqual(second.wait(timeout: 10), 0)
        XCTAssertGreaterThanOrEqual(try summary(out).rejectedMessages, 1)
    }
}
