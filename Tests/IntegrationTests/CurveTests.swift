import DSGDCluster
import Foundation
import XCTest
import ZeroMQ

/// CURVE authentication and encryption (`dsgd keygen`, `dsgd coordinator --curve-key
/// --allowed-workers`, `dsgd worker --curve-key --coordinator-key`): allowed workers train exactly
/// as over plain TCP; a key not in the allowed list, a plaintext client, and an allowed key
/// claiming another worker's id get nothing in; key files with a fault get one line naming it.
final class CurveTests: ClusterTestCase {
    let job = ["--workers", "2", "--model", "logistic", "--examples", "800", "--features", "8", "--batch", "8",
               "--lr", "0.3", "--steps", "60", "--seed", "2", "--eval-every", "10"]

    func keys(_ name: String, workers: Int = 2) throws -> String {
        let dir = path(name)
        let r = try run(["keygen", "--out", dir, "--workers", "\(workers)"])
        XCTAssertEqual(r.code, 0, r.stderr)
        return dir
    }

    func startSecureCoordinator(_ keys: String, extra: [String] = [], out: String) throws -> (ChildProcess, String) {
        try startCoordinator(job + ["--curve-key", keys + "/coordinator.key", "--allowed-workers", keys + "/allowed-workers.txt"] + extra, out: out)
    }

    func startSecureWorker(_ id: Int, key: String, coordinatorKey: String, endpoint: String, connectTimeout: Double = 10) throws -> ChildProcess {
        try start(["worker", "--connect", endpoint, "--id", "\(id)", "--curve-key", key, "--coordinator-key", coordinatorKey,
                   "--connect-timeout", "\(connectTimeout)"], name: "worker\(id)")
    }

    func testAllowedWorkersTrainOverCurveExactlyAsOverPlainTCP() throws {
        let plain = path("plain")
        XCTAssertEqual(try run(["run"] + job + ["--quiet", "--out", plain]).code, 0)
        let k = try keys("keys")
        let out = path("secure")
        let (c, endpoint) = try startSecureCoordinator(k, out: out)
        let workers = try (0..<2).map { try startSecureWorker($0, key: k + "/worker-\($0).key", coordinatorKey: k + "/coordinator.pub", endpoint: endpoint) }
        XCTAssertEqual(c.wait(timeout: 60), 0)
        for w in workers { XCTAssertEqual(w.wait(timeout: 10), 0) }
        XCTAssertEqual(try summary(out).status, .completed)
        XCTAssertEqual(try summary(out).deniedHandshakes, 0)
        XCTAssertEqual(try params(out).values, try params(plain).values, "CURVE changes nothing of the training")
    }

    func testAKeyNotAllowedAndAPlaintextClientGetNothingIn() throws {
        let k = try keys("keys"), stranger = try keys("stranger")
        let out = path("guarded")
        let (c, endpoint) = try startSecureCoordinator(k, extra: ["--register-timeout", "6"], out: out)
        // A stranger's key for worker 0 (right coordinator key, wrong client key).
        let intruder = try startSecureWorker(0, key: stranger + "/worker-0.key", coordinatorKey: k + "/coordinator.pub",
                                             endpoint: endpoint, connectTimeout: 3)
        // A plaintext peer that says HELLO as worker 1.
        let raw = try RawPeer(connect: endpoint)
        defer { raw.close() }
        try raw.send([MessageHeader(type: .hello, workerID: 1).bytes])
        XCTAssertFalse(try raw.poller.waitForInput(timeoutMs: 2000), "the plaintext peer gets no answer")
        XCTAssertNotEqual(intruder.wait(timeout: 20), 0, "the stranger's worker gives up")
        XCTAssertEqual(c.wait(timeout: 30), 1, "nobody registered")
        let s = try summary(out)
        XCTAssertEqual(s.error, "only 0 of 2 workers registered within 6.0 s (missing: 0, 1)")
        XCTAssertEqual(s.rejectedMessages, 0, "no message of either got through")
        XCTAssertGreaterThanOrEqual(s.deniedHandshakes ?? 0, 1)
    }

    /// The hijack of a worker slot: worker 1's key claiming id 0 is refused, and worker 0 with
    /// its own key then registers and the run completes.
    func testAnAllowedKeyCannotClaimAnotherWorkersID() throws {
        let k = try keys("keys")
        let out = path("hijack")
        let (c, endpoint) = try startSecureCoordinator(k, out: out)
        let hijacker = try startSecureWorker(0, key: k + "/worker-1.key", coordinatorKey: k + "/coordinator.pub", endpoint: endpoint)
        XCTAssertEqual(hijacker.wait(timeout: 20), 1)
        let log = try String(contentsOfFile: path(try XCTUnwrap(FileManager.default.contentsOfDirectory(atPath: scratch.path).first { $0.hasPrefix("worker0-") })), encoding: .utf8)
        XCTAssertTrue(log.contains("HELLO claims worker 0, but this connection's CURVE key is worker 1's"), log)
        let workers = try (0..<2).map { try startSecureWorker($0, key: k + "/worker-\($0).key", coordinatorKey: k + "/coordinator.pub", endpoint: endpoint) }
        XCTAssertEqual(c.wait(timeout: 60), 0)
        for w in workers { XCTAssertEqual(w.wait(timeout: 10), 0) }
        XCTAssertEqual(try summary(out).rejectedMessages, 1, "the hijacker's HELLO")
    }

    func testFaultyKeyFilesGetOneLine() throws {
        let k = try keys("keys")
        try Data("public abc\nsecret def\n".utf8).write(to: URL(fileURLWithPath: k + "/worker-0.key"))
        let w = try run(["worker", "--connect", "tcp://127.0.0.1:1", "--id", "0", "--curve-key", k + "/worker-0.key",
                         "--coordinator-key", k + "/coordinator.pub"])
        XCTAssertEqual(w.code, 1)
        XCTAssertTrue(w.stderr.contains("\(k)/worker-0.key:1: not a Z85 key of 40 characters"), w.stderr)
        try Data("0 \(String(repeating: "a", count: 40))\n7 x\n".utf8).write(to: URL(fileURLWithPath: k + "/allowed-workers.txt"))
        let c = try run(["coordinator"] + job + ["--curve-key", k + "/coordinator.key", "--allowed-workers", k + "/allowed-workers.txt", "--out", path("c")])
        XCTAssertEqual(c.code, 1)
        XCTAssertTrue(c.stderr.contains("allowed-workers.txt:2: worker id 7 is not in 0 ..< 2"), c.stderr)
        let again = try run(["keygen", "--out", k, "--workers", "1"])
        XCTAssertEqual(again.code, 1)
        XCTAssertTrue(again.stderr.contains("already holds keys"), again.stderr)
    }
}
