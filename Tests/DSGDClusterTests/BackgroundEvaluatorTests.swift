@testable import DSGDCluster
import DSGDCore
import XCTest

/// `BackgroundEvaluator`: results come back in the order submitted, each the loss of the
/// parameters as they were when submitted (the caller may change its buffer right after), equal
/// to the model's own evaluation on the calling thread, bit for bit.
final class BackgroundEvaluatorTests: XCTestCase {
    func testResultsAreTheSnapshotsLossesInOrder() throws {
        let data = try DatasetSpec(name: "synthetic-logistic", examples: 500, features: 8, seed: 3).materialize()
        let model = LogisticRegression(dimension: 8)
        let evaluator = BackgroundEvaluator(model: LogisticRegression(dimension: 8), parameterCount: model.parameterCount,
                                            train: data, test: nil, depth: 2)
        var params = [Float](repeating: 0, count: model.parameterCount)
        var expected: [Double] = []
        var got: [Double] = []
        for round in 0..<7 {
            for i in params.indices { params[i] = Float(round) * 0.1 + Float(i) * 0.01 }
            expected.append(params.withUnsafeBufferPointer { model.loss(parameters: $0, data: data) })
            if !evaluator.hasFreeBuffer { got.append(try XCTUnwrap(evaluator.next(wait: true)).loss) }
            params.withUnsafeBufferPointer { evaluator.submit($0) }
            // Overwritten at once: the evaluation must use the copy.
            for i in params.indices { params[i] = .nan }
        }
        while let r = evaluator.next(wait: true) { got.append(r.loss) }
        evaluator.stop()
        XCTAssertEqual(got, expected)
        XCTAssertEqual(Set(expected).count, expected.count, "the snapshots' losses differ, so order matters")
        XCTAssertNil(evaluator.next(wait: true), "nothing in flight")
    }

    /// With held-out data the result carries both accuracies and the held-out loss.
    func testHeldOutDataGivesTestLossAndAccuracies() throws {
        let data = try DatasetSpec(name: "synthetic-logistic", examples: 300, features: 4, seed: 9).materialize()
        let train = data.subset(Array(0..<200)), test = data.subset(Array(200..<300))
        let model = LogisticRegression(dimension: 4)
        let params: [Float] = [0.3, -0.2, 0.5, 0.1, 0.05]
        let evaluator = BackgroundEvaluator(model: model, parameterCount: 5, train: train, test: test)
        params.withUnsafeBufferPointer { evaluator.submit($0) }
        let r = try XCTUnwrap(evaluator.next(wait: true))
        evaluator.stop()
        params.withUnsafeBufferPointer { p in
            XCTAssertEqual(r.loss, model.loss(parameters: p, data: train))
            XCTAssertEqual(r.testLoss, model.loss(parameters: p, data: test))
            XCTAssertEqual(r.trainAccuracy, model.accuracy(parameters: p, data: train))
            XCTAssertEqual(r.testAccuracy, model.accuracy(parameters: p, data: test))
        }
        XCTAssertNotEqual(r.loss, r.testLoss)
    }
}
