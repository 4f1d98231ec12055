import DSGDCluster
import DSGDCore
import XCTest

final class JobConfigTests: XCTestCase {
    func testDefaultsAreValidAndRoundTripThroughJSON() throws {
        let job = JobConfig()
        XCTAssertEqual(job.problems(), [])
        let json = String(decoding: try job.jsonData(), as: UTF8.self)
        XCTAssertTrue(json.contains("\"target_loss\" : null"), "unset limits are written out as null")
        XCTAssertTrue(json.contains("\"learning_rate\" : 0.5"))
        XCTAssertEqual(try JobConfig.fromJSON(Data(json.utf8)), job)
    }

    func testBadValuesAreNamed() {
        var j = JobConfig()
        j.workers = 0
        XCTAssertEqual(j.problems().first, "--workers must be at least 1 (got 0)")
        j = JobConfig()
        j.learningRate = -0.1
        XCTAssertTrue(j.problems().first!.hasPrefix("--lr must be a positive finite number"))
        j.learningRate = .nan
        XCTAssertTrue(j.problems().first!.hasPrefix("--lr must be a positive finite number"))
        j = JobConfig()
        j.batch = 4096
        XCTAssertEqual(j.problems().first, "--batch 4096 is larger than a worker's shard (8192 examples / 4 workers = 2048)")
        j = JobConfig()
        j.epochs = nil
        XCTAssertEqual(j.problems().first, "give at least one of --epochs, --steps, --target-loss")
    }

    func testDerivedCounts() {
        var j = JobConfig()
        j.workers = 3
        j.dataset.examples = 1000
        j.batch = 10
        XCTAssertEqual(j.shardSize, 333)
        XCTAssertEqual(j.batchesPerShard, 33)
        XCTAssertEqual(j.examplesPerEpoch, 990)
        XCTAssertEqual(j.examplesPerStep, 30)
        j.mode = .async
        XCTAssertEqual(j.examplesPerStep, 10)
        XCTAssertEqual(j.resolvedEvalEvery, 24)
    }
}
