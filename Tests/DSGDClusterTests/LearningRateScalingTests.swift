import DSGDCluster
import DSGDCore
import Foundation
import XCTest

/// `--lr-scaling`: `--lr` is the rate of a sync step over `workers x batch` examples; an update of
/// fewer examples gets a proportionally (linear) or square-root (sqrt) smaller rate.
final class LearningRateScalingTests: XCTestCase {
    func job(_ mode: TrainingMode, _ scaling: LearningRateScaling, workers: Int = 4, batch: Int = 32) -> JobConfig {
        var j = JobConfig()
        j.mode = mode
        j.workers = workers
        j.batch = batch
        j.learningRate = 0.2
        j.lrScaling = scaling
        return j
    }

    func testSyncStepsKeepTheGivenRateInEveryScaling() {
        for s in LearningRateScaling.allCases {
            XCTAssertEqual(job(.sync, s).effectiveLearningRate, 0.2, "\(s)")
            XCTAssertEqual(job(.sync, s).optimizer.learningRate, 0.2, "\(s)")
        }
    }

    func testAsyncUpdatesScaleWithTheirShareOfTheGlobalBatch() {
        XCTAssertEqual(job(.async, .none).effectiveLearningRate, 0.2)
        XCTAssertEqual(job(.async, .linear).effectiveLearningRate, 0.2 * 0.25)
        XCTAssertEqual(job(.async, .sqrt).effectiveLearningRate, 0.2 * 0.5)
        XCTAssertEqual(job(.async, .linear, workers: 1).effectiveLearningRate, 0.2, "one async worker is a sync step")
        XCTAssertEqual(job(.async, .linear).optimizer.learningRate, job(.async, .linear).effectiveLearningRate)
    }

    func testAsyncWithSeveralWorkersAtAnUnscaledRateSaysSoInOneLine() throws {
        let note = try XCTUnwrap(job(.async, .none).learningRateNote)
        XCTAssertFalse(note.contains("\n"))
        XCTAssertTrue(note.contains("4x the sync rate per example"), note)
        XCTAssertTrue(note.contains("--lr-scaling linear would use 0.05"), note)
        XCTAssertNil(job(.sync, .none).learningRateNote)
        XCTAssertNil(job(.async, .none, workers: 1).learningRateNote)
        XCTAssertTrue(try XCTUnwrap(job(.async, .linear).learningRateNote).contains("apply 0.05"))
    }

    func testRoundTripsAndDefaultsToNoneWhenAbsent() throws {
        let j = job(.async, .sqrt)
        let json = try JSONSerialization.jsonObject(with: j.jsonData()) as! [String: Any]
        XCTAssertEqual(json["lr_scaling"] as? String, "sqrt")
        XCTAssertEqual(try JobConfig.fromJSON(j.jsonData()), j)
        var object = json
        object.removeValue(forKey: "lr_scaling")
        XCTAssertEqual(try JobConfig.fromJSON(JSONSerialization.data(withJSONObject: object)).lrScaling, LearningRateScaling.none)
    }
}
