import DSGDCluster
import Foundation
import XCTest
import ZeroMQ

/// A peer that floods the coordinator's port with junk and never reads an answer (two real
/// workers train meanwhile): the coordinator answers without blocking, mutes the peer past its
/// budget of rejected messages, trains to the same result as an undisturbed run, and still ends
/// within 5 seconds on SIGINT with its summary written.
final class HostilePeerTests: ClusterTestCase {
    /// Sends 32-byte junk frames to `endpoint` from one DEALER on a thread of its own until
    /// `stop()`, never reading; counts the frames libzmq took.
    final class Flood: @unchecked Sendable {
        private let lock = NSLock()
        private var stopping = false
        private var sentFrames = 0
        private let done = DispatchSemaphore(value: 0)

        /// Junk frames, or (`wellFormed`) messages with a valid header of a random type, worker id
        /// 0 or 1, small step, count and flags, and a payload of the declared length.
        init(endpoint: String, wellFormed: Bool = false) {
            let thread = Thread { [self] in
                defer { done.signal() }
                guard let peer = try? RawPeer(connect: endpoint) else { return }
                defer { peer.close() }
                var junk = [UInt8](repeating: 0, count: 32)
                var rng = SystemRandomNumberGenerator()
                while !isStopping {
                    let queued: Bool
                    if wellFormed {
                        let type = MessageType.allCases.randomElement(using: &rng)!
                        let payload = [UInt8](repeating: UInt8.random(in: 0...255, using: &rng), count: type.hasPayload ? Int.random(in: 0...64, using: &rng) : 0)
                        let header = MessageHeader(type: type, workerID: UInt32.random(in: 0...1, using: &rng), count: UInt32.random(in: 0...8, using: &rng),
                                                   step: UInt64.random(in: 0...5, using: &rng), payloadLength: UInt32(payload.count),
                                                   flags: UInt16.random(in: 0...1, using: &rng)).bytes
                        queued = (try? header.withUnsafeBytes { try peer.socket.trySend(bytes: $0, more: type.hasPayload) }) ?? false
                        if queued, type.hasPayload { try? payload.withUnsafeBytes { try peer.socket.send(bytes: $0, more: false) } }
                    } else {
                        for i in junk.indices { junk[i] = UInt8.random(in: 0...255, using: &rng) }
                        queued = (try? junk.withUnsafeBytes { try peer.socket.trySend(bytes: $0, more: false) }) ?? false
                    }
                    if queued { count() } else { usleep(200) }
                }
            }
            thread.start()
        }

        private var isStopping: Bool { lock.lock(); defer { lock.unlock() }; return stopping }
        private func count() { lock.lock(); sentFrames += 1; lock.unlock() }

        /// Frames sent so far.
        var sent: Int { lock.lock(); defer { lock.unlock() }; return sentFrames }

        /// Stops the flood and waits for its thread.
        func stop() {
            lock.lock(); stopping = true; lock.unlock()
            done.wait()
        }
    }

    let job = ["--workers", "2", "--model", "logistic", "--examples", "4000", "--features", "16", "--batch", "8",
               "--lr", "0.2", "--seed", "3", "--eval-every", "100"]

    func testAFloodOfJunkNeitherFreezesNorChangesTheRun() throws {
        let quiet = path("undisturbed")
        let r = try run(["run"] + job + ["--steps", "3000", "--quiet", "--out", quiet])
        XCTAssertEqual(r.code, 0, r.stderr)

        let out = path("flooded")
        let (c, endpoint) = try startCoordinator(job + ["--steps", "3000"], out: out)
        let flood = Flood(endpoint: endpoint)
        XCTAssertTrue(waitFor(10) { flood.sent > 2000 }, "the flood is under way")
        let workers = try (0..<2).map { try startWorker($0, endpoint: endpoint) }
        XCTAssertEqual(c.wait(timeout: 60), 0, "the flooded coordinator completes")
        let sent = flood.sent
        flood.stop()
        for w in workers { XCTAssertEqual(w.wait(timeout: 10), 0) }

        let s = try summary(out), undisturbed = try summary(quiet)
        XCTAssertEqual(s.status, .completed)
        XCTAssertEqual(s.steps, 3000)
        // Sync is deterministic: the flood changes nothing of the result.
        XCTAssertEqual(try params(out).values, try params(quiet).values)
        XCTAssertEqual(try XCTUnwrap(s.finalLoss), try XCTUnwrap(undisturbed.finalLoss), accuracy: 0.01 * undisturbed.finalLoss!)
        XCTAssertGreaterThan(s.rejectedMessages, 101, "the junk was read and rejected")
        XCTAssertLessThanOrEqual(s.rejectedMessages, sent)
        let logName = try XCTUnwrap(FileManager.default.contentsOfDirectory(atPath: scratch.path).first { $0.hasPrefix("coordinator-") })
        let log = try String(contentsOfFile: path(logName), encoding: .utf8)
        XCTAssertTrue(log.contains("sent 101 rejected messages: its messages are dropped unanswered from now on"), log)
        XCTAssertLessThan(log.components(separatedBy: "rejected message #").count - 1, 40, "rejections are logged sparingly")
    }

    /// Well-formed messages of every type from a peer that is not a registered worker, sent once
    /// training is under way (claiming worker ids 0 and 1, answering versions 0 to 5): every one
    /// is rejected and nothing of them is applied, so the run is bit-identical to an undisturbed one.
    func testWellFormedMessagesFromAnUnregisteredPeerApplyNothing() throws {
        let quiet = path("undisturbed")
        XCTAssertEqual(try run(["run"] + job + ["--steps", "1500", "--quiet", "--out", quiet]).code, 0)
        let out = path("forged")
        let (c, endpoint) = try startCoordinator(job + ["--steps", "1500"], out: out)
        let workers = try (0..<2).map { try startWorker($0, endpoint: endpoint) }
        XCTAssertNotNil(waitForLine(c, containing: "step 0/1500 "), "training started")
        let flood = Flood(endpoint: endpoint, wellFormed: true)
        XCTAssertEqual(c.wait(timeout: 60), 0, "the coordinator completes")
        let sent = flood.sent
        flood.stop()
        for w in workers { XCTAssertEqual(w.wait(timeout: 10), 0) }
        XCTAssertGreaterThan(sent, 100, "the forged messages went out during training")
        XCTAssertEqual(try params(out).values, try params(quiet).values, "nothing forged was applied")
        XCTAssertGreaterThan(try summary(out).rejectedMessages, 0)
    }

    func testSIGINTEndsAFloodedRunWithinFiveSeconds() throws {
        let out = path("flooded-interrupted")
        let (c, endpoint) = try startCoordinator(job + ["--epochs", "100000"], out: out)
        let workers = try (0..<2).map { try startWorker($0, endpoint: endpoint) }
        XCTAssertNotNil(waitForLine(c, containing: "step 0 "), "training started")
        let flood = Flood(endpoint: endpoint)
        defer { flood.stop() }
        XCTAssertTrue(waitFor(10) { flood.sent > 5000 }, "the flood is under way")
        let start = Date()
        kill(c.pid, SIGINT)
        XCTAssertEqual(c.wait(timeout: 5), 130, "SIGINT ends the flooded coordinator within 5 s")
        XCTAssertLessThan(Date().timeIntervalSince(start), 5)
        for w in workers { XCTAssertEqual(w.wait(timeout: 10), 0) }
        let s = try summary(out)
        XCTAssertEqual(s.status, .interrupted)
        XCTAssertGreaterThan(s.steps, 0)
    }

    func waitFor(_ seconds: Double, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline { if condition() { return true }; usleep(20_000) }
        return condition()
    }
}
