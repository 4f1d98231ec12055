import DSGDCore
import XCTest

/// `HoldoutSplit` (the `--holdout` train/test split), `Dataset.subset` and the models' `accuracy`.
final class HoldoutTests: XCTestCase {
    func testSplitIsDisjointCoversEverythingAndIsDeterministic() {
        let n = 1797
        let s = HoldoutSplit(examples: n, fraction: 0.2, seed: 1)
        XCTAssertEqual(s.test.count, 359, "round(0.2 x 1797)")
        XCTAssertEqual(s.train.count, n - 359)
        XCTAssertEqual(Set(s.train).intersection(s.test), [], "disjoint")
        XCTAssertEqual((s.train + s.test).sorted(), (0..<n).map { UInt32($0) }, "together every example exactly once")
        XCTAssertEqual(s.train, s.train.sorted())
        XCTAssertEqual(s.test, s.test.sorted())
        XCTAssertEqual(HoldoutSplit(examples: n, fraction: 0.2, seed: 1), s, "same seed, same split")
        XCTAssertNotEqual(HoldoutSplit(examples: n, fraction: 0.2, seed: 2).test, s.test, "another seed, another split")
        // Not simply the last rows: the test set is spread over the whole data set.
        XCTAssertLessThan(s.test.first!, 100)
        XCTAssertEqual(HoldoutSplit.testCount(examples: 10, fraction: 0.25), 3, "2.5 rounds away from zero")
        XCTAssertEqual(HoldoutSplit.testCount(examples: 10, fraction: 0.04), 0)
    }

    func testHoldoutZeroIsTheIdentity() {
        let s = HoldoutSplit(examples: 100, fraction: 0, seed: 9)
        XCTAssertTrue(s.isIdentity)
        XCTAssertEqual(s.train, (0..<100).map { UInt32($0) })
        XCTAssertEqual(s.test, [])
    }

    func testSubsetPicksRows() {
        let d = Dataset(examples: 4, dimension: 2, features: [0, 1, 10, 11, 20, 21, 30, 31], targets: [0, 1, 2, 3])
        let s = d.subset([3, 1])
        XCTAssertEqual(s.examples, 2)
        XCTAssertEqual(s.features, [30, 31, 10, 11])
        XCTAssertEqual(s.targets, [3, 1])
    }

    func testLogisticAccuracy() {
        // z = x0 - 0.5: predicts 1 for x0 > 0.5.
        let m = LogisticRegression(dimension: 1)
        let d = Dataset(examples: 4, dimension: 1, features: [0, 1, 2, -1], targets: [0, 1, 0, 0])
        XCTAssertEqual(m.accuracy(parameters: [1, -0.5], data: d)!, 0.75, accuracy: 1e-12)
    }

    func testSoftmaxAccuracy() {
        // Three classes, W = I (2 features + a third class with bias 0.5): argmax picks the larger feature or class 2.
        let m = SoftmaxRegression(dimension: 2, classes: 3)
        let p: [Float] = [1, 0, 0, 1, 0, 0, 0, 0, 0.5]
        let d = Dataset(examples: 4, dimension: 2, features: [2, 0, 0, 2, 0.1, 0.2, 2, 0], targets: [0, 1, 2, 1])
        XCTAssertEqual(m.accuracy(parameters: p, data: d)!, 0.75, accuracy: 1e-12)
    }

    func testMLPAccuracyMatchesAReferenceArgmax() {
        var rng = SplitMix64(seed: 5, stream: 1)
        let n = 600, dim = 5, k = 4   // more rows than one evaluation chunk (256)
        var x = [Float](), y = [Float]()
        for _ in 0..<n {
            for _ in 0..<dim { x.append(Float(rng.nextGaussian())) }
            y.append(Float(rng.next() % UInt64(k)))
        }
        let data = Dataset(examples: n, dimension: dim, features: x, targets: y)
        let m = MLP(inputDimension: dim, hidden: [7], classes: k, seed: 3)
        let w = m.initialParameters().map { $0 + 0.01 }
        // Float64 reference forward pass: [W1 (7 x 5), b1, W2 (4 x 7), b2].
        var correct = 0
        for i in 0..<n {
            var h = [Double](repeating: 0, count: 7)
            for r in 0..<7 {
                var s = Double(w[35 + r])
                for c in 0..<dim { s += Double(w[r * dim + c]) * Double(x[i * dim + c]) }
                h[r] = max(s, 0)
            }
            var z = [Double](repeating: 0, count: k)
            for r in 0..<k {
                var s = Double(w[42 + 28 + r])
                for c in 0..<7 { s += Double(w[42 + r * 7 + c]) * h[c] }
                z[r] = s
            }
            if z.indices.max(by: { z[$0] < z[$1] })! == Int(y[i]) { correct += 1 }
        }
        XCTAssertEqual(m.accuracy(parameters: w, data: data)!, Double(correct) / Double(n), accuracy: 1.5 / Double(n))
        XCTAssertNil(LinearRegression(dimension: 3).accuracy(parameters: [0, 0, 0, 0], data: Dataset(examples: 1, dimension: 3, features: [1, 2, 3], targets: [1])))
    }
}
