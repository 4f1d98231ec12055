import DSGDCluster
import DSGDCore
import Foundation
import XCTest
import ZeroMQ

/// Sizes nobody checked used to abort processes with a backtrace: data sets too large for the
/// machine or the protocol, from flags or from a WELCOME sent by a fake coordinator, are refused
/// with one line before anything is allocated.
final class UntrustedSizeTests: ClusterTestCase {
    func testOversizeFlagsAreRefusedWithOneLine() throws {
        let cases: [([String], String)] = [
            (["--features", "100000000"], "the data set would need 3.28e+03 GB (8192 rows x 100000000 features, float32), more than half of this machine's memory"),
            (["--examples", "2000000000"], "the data set would have 2000000000 rows (--examples 2000000000 x --replicate 1); at most 1073741823 are supported"),
            (["--examples", "2000000", "--replicate", "\(Int.max)"], "the data set would have more than \(Int.max) rows"),
        ]
        for (flags, message) in cases {
            for command in ["run", "coordinator"] {
                let r = try run([command] + flags + ["--out", path("big-\(command)")], timeout: 30)
                XCTAssertNotEqual(r.code, 0, "\(command) \(flags)")
                let lines = r.stderr.split(separator: "\n")
                XCTAssertEqual(lines.count, 1, "\(command) \(flags): one line, no backtrace: \(r.stderr)")
                XCTAssertTrue(r.stderr.contains(message), "\(command) \(flags): \(r.stderr)")
            }
        }
    }

    /// A fake coordinator answers HELLO with a WELCOME whose job has 100,000,000 features: the
    /// worker refuses it with one line and exits 1 instead of aborting.
    func testAWelcomeOfAnOversizeDataSetIsRefusedByTheWorker() throws {
        var job = JobConfig()
        job.dataset = DatasetSpec(name: "synthetic-logistic", examples: 8192, features: 100_000_000, seed: 1)
        let endpoint = "ipc://\(path("fake.ipc"))"
        let context = try ZMQContext()
        let router = try ZMQSocket(context, .router, lingerMs: 0)
        defer { router.close() }
        _ = try router.bind(endpoint)
        let worker = try start(["worker", "--connect", endpoint, "--id", "0"], name: "worker")
        let frames = [ZMQMessage(), ZMQMessage(), ZMQMessage()]
        let poller = ZMQPoller([router])
        XCTAssertTrue(try poller.waitForInput(timeoutMs: 10_000), "HELLO arrives")
        XCTAssertEqual(try router.receiveMultipart(into: frames), 2)
        XCTAssertEqual(try MessageHeader.decode(frames[1].bytes).type, .hello)
        let payload = Array(try job.jsonData())
        let header = UnsafeMutableRawBufferPointer.allocate(byteCount: Wire.headerSize, alignment: 8)
        defer { header.deallocate() }
        MessageHeader(type: .welcome, workerID: 0, payloadLength: UInt32(payload.count)).encode(into: header)
        let rid = Array(frames[0].bytes)
        try rid.withUnsafeBytes { try router.send(bytes: $0, more: true) }
        try router.send(bytes: UnsafeRawBufferPointer(header), more: true)
        try payload.withUnsafeBytes { try router.send(bytes: $0, more: false) }
        XCTAssertEqual(worker.wait(timeout: 20), 1, "the worker exits 1")
        let log = try String(contentsOfFile: path(try XCTUnwrap(FileManager.default.contentsOfDirectory(atPath: scratch.path).first { $0.hasPrefix("worker-") })), encoding: .utf8)
        XCTAssertTrue(log.contains("the data set would need 3.28e+03 GB"), log)
        XCTAssertFalse(log.contains("Fatal error") || log.contains("backtrace"), log)
    }
}
