import DSGDCluster
import Foundation
import XCTest
import ZeroMQ

/// Bad flags and hostile messages: a clear one-line error, a non-zero exit, no hang, no crash.
final class BadInputTests: ClusterTestCase {
    func assertRejected(_ args: [String], mentions text: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let r = try run(args, timeout: 20, file: file, line: line)
        XCTAssertNotEqual(r.code, 0, "\(args) must fail", file: file, line: line)
        let lines = r.stderr.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, "one line of error: \(r.stderr)", file: file, line: line)
        XCTAssertTrue(r.stderr.contains(text), "error should mention \(text): \(r.stderr)", file: file, line: line)
        XCTAssertFalse(r.stderr.contains("Fatal error"), file: file, line: line)
    }

    func testBadFlagsGiveOneLineErrors() throws {
        try assertRejected(["run", "--bogus"], mentions: "--bogus")
        try assertRejected(["run", "--workers", "0"], mentions: "--workers must be at least 1")
        try assertRejected(["run", "--lr", "-0.1"], mentions: "--lr must be a positive finite number")
        try assertRejected(["run", "--lr", "nan"], mentions: "--lr must be a positive finite number")
        try assertRejected(["run", "--batch", "3000"], mentions: "larger than a worker's shard")
        try assertRejected(["run", "--mode", "sideways"], mentions: "sideways")
        try assertRejected(["run", "--bind", "http://x"], mentions: "must start with tcp:// or ipc://")
        try assertRejected(["run", "--bind", "tcp://256.1.1.1:0", "--out", path("bad-bind")], mentions: "256.1.1.1")
        try assertRejected(["bench", "aggregate", "--storage", "float64"], mentions: "unknown --storage 'float64'")
        try assertRejected(["bench", "core", "--logistic-rows", "100"], mentions: "--logistic-rows must be at least 2048")
        try assertRejected(["bench", "core", "--logistic-rows", "4294967296"], mentions: "--logistic-rows must be at most 4294967295")
        try assertRejected(["bench", "core", "--only", "streams"], mentions: "unknown workload 'streams' (sgemm, logreg, mlp or stream)")
        try assertRejected(["run", "--stop-grace", "0"], mentions: "--stop-grace must be a positive number of seconds")
        try assertRejected(["bench", "round", "--rounds", "19"], mentions: "--rounds must be at least 20")
    }

    func testWorkerGivesUpOnUnreachableCoordinator() throws {
        let start = Date()
        try assertRejected(["worker", "--connect", "ipc://\(path("nobody.ipc"))", "--id", "0", "--connect-timeout", "1"],
                           mentions: "no answer from a coordinator")
        XCTAssertLessThan(Date().timeIntervalSince(start), 10)
    }

    /// A raw peer sends malformed and out-of-protocol messages to a live coordinator: each is
    /// answered with ERROR and counted, and the coordinator still trains with its real worker.
    func testCoordinatorRejectsMalformedMessagesAndKeepsServing() throws {
        let endpoint = "ipc://\(path("c.ipc"))"
        let out = path("hostile")
        let coordinator = try start(["coordinator", "--bind", endpoint, "--workers", "1", "--steps", "30", "--out", out], name: "coordinator")
        XCTAssertNotNil(waitForLine(coordinator, containing: "listening on "))

        let peer = try RawPeer(connect: endpoint, routingID: "intruder")
        let good = MessageHeader(type: .hello, workerID: 0).bytes
        var badVersion = good
        badVersion[4] = 9
        var unknownType = good
        unknownType[5] = 42
        let cases: [(frames: [[UInt8]], reply: String)] = [
            ([Array(good.prefix(10))], "header frame has 10 bytes"),
            ([badVersion], "protocol version 9 is not supported"),
            ([unknownType], "unknown message type 42"),
            ([[0xde, 0xad, 0xbe, 0xef] + Array(good.dropFirst(4))], "bad magic"),
            ([MessageHeader(type: .gradient, workerID: 0, payloadLength: 400).bytes, [UInt8](repeating: 0, count: 4)], "declares a 400-byte payload"),
            ([MessageHeader(type: .hello, workerID: 5).bytes], "worker id 5 is not part of this job"),
            ([MessageHeader(type: .params, workerID: 0, payloadLength: 4).bytes, [0, 0, 0, 0]], "not accepted here"),
            ([MessageHeader(type: .gradient, workerID: 0, payloadLength: 4).bytes, [0, 0, 0, 0]], "worker 0 has not registered"),
            ([MessageHeader(type: .bye, workerID: 0).bytes], "worker 0 has not registered"),
        ]
        for c in cases {
            try peer.send(c.frames)
            XCTAssertEqual(try peer.receive().type, .error, "an ERROR reply to \(c.reply)")
            XCTAssertTrue(peer.replyText.contains(c.reply), "\(peer.replyText) should contain \(c.reply)")
        }
        // The coordinator is still serving: a real worker joins and the job completes.
        let worker = try start(["worker", "--connect", endpoint, "--id", "0"], name: "worker")
        XCTAssertEqual(coordinator.wait(timeout: 60), 0)
        XCTAssertEqual(worker.wait(timeout: 10), 0)
        let s = try summary(out)
        XCTAssertEqual(s.status, .completed)
        XCTAssertEqual(s.steps, 30)
        XCTAssertEqual(s.rejectedMessages, cases.count)
        peer.close()
    }

    /// --normalize: a raw peer registers as the only worker and answers STATS badly (wrong size,
    /// wrong count): each answer is rejected with ERROR; a correct answer gets NORMALIZE.
    func testCoordinatorChecksStatsAnswers() throws {
        let endpoint = "ipc://\(path("n.ipc"))"
        let out = path("stats")
        let coordinator = try start(["coordinator", "--bind", endpoint, "--workers", "1", "--dataset", "breast-cancer",
                                     "--model", "logistic", "--normalize", "standardize", "--steps", "30",
                                     "--worker-timeout", "2", "--out", out], name: "coordinator")
        XCTAssertNotNil(waitForLine(coordinator, containing: "listening on "))
        let peer = try RawPeer(connect: endpoint)
        try peer.send([MessageHeader(type: .hello, workerID: 0).bytes])
        XCTAssertEqual(try peer.receive().type, .welcome)
        try peer.send([MessageHeader(type: .ready, workerID: 0, count: 569).bytes])
        let request = try peer.receive()
        XCTAssertEqual(request.type, .stats)
        XCTAssertEqual(request.count, 569, "one worker is asked about every training example")
        let d = 30
        func answer(count: Double, floats: Int) -> [[UInt8]] {
            let values = [count] + [Double](repeating: 0, count: floats - 1)
            let payload = values.flatMap { x in withUnsafeBytes(of: x.bitPattern.littleEndian) { Array($0) } }
            return [MessageHeader(type: .stats, workerID: 0, count: 569, payloadLength: UInt32(payload.count)).bytes, payload]
        }
        for (frames, text) in [(answer(count: 569, floats: 1), "stats payload has 8 bytes, expected \(8 * (1 + d + d * d))"),
                               (answer(count: 100, floats: 1 + d + d * d), "statistics of 100.0 examples, but was asked about 569")] {
            try peer.send(frames)
            let h = try peer.receive()
            XCTAssertEqual(h.type, .error)
            XCTAssertTrue(peer.replyText.contains(text), peer.replyText)
        }
        try peer.send(answer(count: 569, floats: 1 + d + d * d))
        let normalize = try peer.receive()
        XCTAssertEqual(normalize.type, .normalize)
        XCTAssertEqual(Int(normalize.payloadLength), 8 * (d + d * d))
        try peer.send(answer(count: 569, floats: 1 + d + d * d))  // a second answer is not accepted
        while try peer.receive().type != .error {}
        XCTAssertTrue(peer.replyText.contains("message type stats is not accepted here"))
        peer.close()
        // No gradient ever comes: the run fails by the worker timeout, with the three rejections counted.
        XCTAssertNotEqual(coordinator.wait(timeout: 30), 0)
        XCTAssertEqual(try summary(out).rejectedMessages, 3)
    }
    /// --online-curvature: a raw peer registers as the only worker and answers CURVATURE badly
    /// (wrong size, wrong presentation, unasked): each is rejected with ERROR; a good answer brings
    /// the next request; a non-finite quotient fails the run with a clear message.
    func testCoordinatorChecksCurvatureAnswers() throws {
        let endpoint = "ipc://\(path("c.ipc"))"
        let out = path("curvature")
        let coordinator = try start(["coordinator", "--bind", endpoint, "--workers", "1", "--model", "linear",
                                     "--examples", "64", "--features", "3", "--batch", "4", "--online-curvature", "5",
                                     "--steps", "30", "--worker-timeout", "5", "--out", out], name: "coordinator")
        XCTAssertNotNil(waitForLine(coordinator, containing: "listening on "))
        let peer = try RawPeer(connect: endpoint)
        func answer(step: UInt64, values: [Float]) -> [[UInt8]] {
            let payload = values.flatMap { x in withUnsafeBytes(of: x.bitPattern.littleEndian) { Array($0) } }
            return [MessageHeader(type: .curvature, workerID: 0, count: 4, step: step, payloadLength: UInt32(payload.count)).bytes, payload]
        }
        try peer.send([MessageHeader(type: .hello, workerID: 0).bytes])
        XCTAssertEqual(try peer.receive().type, .welcome)
        try peer.send([MessageHeader(type: .ready, workerID: 0, count: 64).bytes])
        XCTAssertEqual(try peer.receive().type, .shard, "the shard comes before the first CURVATURE request")
        let first = try peer.receive()
        XCTAssertEqual(first.type, .curvature)
        XCTAssertEqual(first.count, 4, "3 weights and a bias")
        XCTAssertEqual(first.step, 0)
        XCTAssertEqual(Int(first.payloadLength), 8 * 4, "parameters and direction")
        XCTAssertEqual(first.value, 0.01, "the perturbation length")
        let rejected = [(answer(step: 0, values: [1]), "curvature payload has 4 bytes, expected 16"),
                        (answer(step: 3, values: [1, 0, 0, 0]), "difference quotient for presentation 3 but was asked about presentation 0")]
        for (frames, text) in rejected {
            try peer.send(frames)
            XCTAssertEqual(try peer.receive().type, .error)
            XCTAssertTrue(peer.replyText.contains(text), peer.replyText)
        }
        try peer.send(answer(step: 0, values: [1, 0, 0, 0]))
        let second = try peer.receive()
        XCTAssertEqual(second.type, .curvature)
        XCTAssertEqual(second.step, 1)
        try peer.send(answer(step: 1, values: [.nan, 0, 0, 0]))
        XCTAssertNotEqual(coordinator.wait(timeout: 30), 0)
        let s = try summary(out)
        XCTAssertEqual(s.status, .failed)
        XCTAssertEqual(s.rejectedMessages, 2)
        XCTAssertTrue(s.error?.contains("worker 0 returned a non-finite difference quotient at presentation 2") == true, s.error ?? "no error")
        peer.close()
    }
}
