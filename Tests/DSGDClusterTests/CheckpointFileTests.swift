@testable import DSGDCluster
import Foundation
import XCTest

/// The checkpoint file: what goes in comes back bit for bit; every kind of damage is refused with
/// its reason; writes keep the newest N and leave no temporary file; the newest valid checkpoint
/// is found behind damaged newer ones.
final class CheckpointFileTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("dsgd-ckpt-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(at: directory) }

    func sample(step: Int, momentum: Bool = true) -> Checkpoint {
        let p = 37
        let recorder = RecorderState(
            examples: 64 * step, dropped: 2, stalenessSum: 9, stalenessCount: 4, stalenessMax: 5, leadMax: 1, deadWorkers: [2],
            rejoinedWorkers: [], lastEvaluatedVersion: step, lastLoss: 0.25, lastTestLoss: nil, lastTestAccuracy: nil,
            lastTrainAccuracy: nil, initialLoss: 0.69, timeToTarget: nil, stepsToTarget: nil, examplesToTarget: nil,
            trainingSeconds: 1.5, evaluationSeconds: 0.25)
        let state = CheckpointState(step: step, parameterCount: p, hasVelocity: momentum, mode: .sync, workers: 3, seed: 7,
                                    learningRate: 0.125, onlineLambdaMax: nil, shardEpochs: [1, 1, 2], batchesDone: [3, 3, 0],
                                    minibatches: [10, 10, 9], bytesMoved: 12345, recorder: recorder)
        // Values whose bit patterns matter: negative zero, subnormals, the largest float.
        var values = (0..<p).map { (i: Int) -> Float in Float(i) * 0.1 - 1.7 }
        values[0] = -0.0
        values[1] = .leastNonzeroMagnitude
        values[2] = .greatestFiniteMagnitude
        return Checkpoint(state: state, parameters: values, velocity: momentum ? values.map { $0 / 3 } : nil)
    }

    func testRoundTripIsBitExact() throws {
        for momentum in [true, false] {
            let c = sample(step: 42, momentum: momentum)
            let back = try Checkpoint.decode(try c.encoded())
            XCTAssertEqual(back.state, c.state)
            XCTAssertEqual(back.parameters.map(\.bitPattern), c.parameters.map(\.bitPattern))
            XCTAssertEqual(back.velocity?.map(\.bitPattern), c.velocity?.map(\.bitPattern))
        }
    }

    func testDamageIsRefusedWithItsReason() throws {
        let bytes = try sample(step: 5).encoded()
        func reason(_ b: [UInt8]) -> String {
            do { _ = try Checkpoint.decode(b); return "accepted" } catch { return error.description }
        }
        XCTAssertEqual(reason(Array(bytes.prefix(10))), "truncated (10 bytes)")
        XCTAssertEqual(reason(Array(bytes.dropLast(7))), "checksum mismatch (corrupt or truncated)")
        var flipped = bytes
        flipped[bytes.count - 20] ^= 1
        XCTAssertEqual(reason(flipped), "checksum mismatch (corrupt or truncated)")
        var foreign = bytes
        foreign[0] = UInt8(ascii: "X")
        XCTAssertEqual(reason(foreign), "not a dsgd checkpoint (no DSGDCKP1 header)")
        // A well-formed file whose arrays do not match its state (checksum made good again).
        var short = Array(bytes.dropLast(4 + 4))
        short += withUnsafeBytes(of: CRC32C.checksum(short).littleEndian) { Array($0) }
        XCTAssertEqual(reason(short), "292 bytes of arrays for 37 parameters (37 expected)")
    }

    func testWritesKeepTheNewestAndTheNewestValidIsFoundBehindDamagedOnes() throws {
        let files = CheckpointFiles(run: directory, keep: 3)
        for step in [100, 200, 300, 400, 500] { try files.write(try sample(step: step).encoded(), step: step) }
        XCTAssertEqual(files.list().map(\.step), [500, 400, 300])
        let names = try FileManager.default.contentsOfDirectory(atPath: files.directory.path)
        XCTAssertEqual(names.filter { $0.hasSuffix(".tmp") }, [], "no temporary file left")

        // 500 torn (a crash mid-copy), 400 with a flipped bit: 300 is the one to resume from.
        let list = files.list()
        let torn = try Data(contentsOf: list[0].url)
        try torn.prefix(torn.count / 2).write(to: list[0].url)
        var flipped = try [UInt8](Data(contentsOf: list[1].url))
        flipped[40] ^= 0x80
        try Data(flipped).write(to: list[1].url)
        let (found, skipped) = files.newestValid()
        XCTAssertEqual(found?.state.step, 300)
        XCTAssertEqual(skipped.map(\.name), [list[0].url.lastPathComponent, list[1].url.lastPathComponent])
        XCTAssertTrue(skipped.allSatisfy { $0.reason.contains("checksum mismatch") }, "\(skipped)")

        // `accept` refuses a checkpoint of another job; nothing valid is left then.
        let (none, all) = files.newestValid { c in if c.state.workers != 4 { throw CheckpointError("not 4 workers") } }
        XCTAssertNil(none)
        XCTAssertEqual(all.count, 3)
        XCTAssertEqual(all.last?.reason, "not 4 workers")
    }
}
