import DSGDCore
import XCTest

/// Every model's analytic gradient against central finite differences of an independent float64
/// implementation of its loss.
final class GradientTests: XCTestCase {
    func batch(_ n: Int) -> [UInt32] { (0..<UInt32(n)).map { $0 * 3 % UInt32(n) } }



    func testLogisticGradientMatchesFiniteDifferences() {
        let data = SyntheticData.logistic(examples: 64, features: 5, seed: 7)
        let model = LogisticRegression(dimension: 5)
        let w: [Float] = [0.3, -0.2, 0.5, 0.1, -0.4, 0.05]
        let b = batch(64).prefix(24).map { $0 }
        let (loss, g) = model.lossAndGradient(parameters: w, data: data, batch: b)
        func reference(_ p: [Double]) -> Double {
            var total = 0.0
            for i in b.map(Int.init) {
                var z = p[5]
                for j in 0..<5 { z += p[j] * Double(data.features[i * 5 + j]) }
                let y = Double(data.targets[i])
                total += log(1 + exp(z)) - y * z
            }
            return total / Double(b.count)
        }
        let wd = w.map(Double.init)
        XCTAssertEqual(loss, reference(wd), accuracy: 1e-5)
        assertClose(g, finiteDifferences(wd, reference), relative: 1e-4)
    }

    func testLinearGradientMatchesFiniteDifferences() {
        let data = SyntheticData.linear(examples: 50, features: 4, seed: 3)
        let model = LinearRegression(dimension: 4)
        let w: [Float] = [0.1, 0.7, -0.3, 0.2, -0.1]
        let b = batch(50)
        let (loss, g) = model.lossAndGradient(parameters: w, data: data, batch: b)
        func reference(_ p: [Double]) -> Double {
            var total = 0.0
            for i in b.map(Int.init) {
                var pred = p[4]
                for j in 0..<4 { pred += p[j] * Double(data.features[i * 4 + j]) }
                let r = Double(data.targets[i]) - pred
                total += r * r
            }
            return total / (2 * Double(b.count))
        }
        let wd = w.map(Double.init)
        XCTAssertEqual(loss, reference(wd), accuracy: 1e-5)
        assertClose(g, finiteDifferences(wd, reference), relative: 1e-4)
    }

    func testFullLossEqualsMinibatchLossOverAllExamples() {
        let data = SyntheticData.logistic(examples: 40, features: 3, seed: 11)
        let model = LogisticRegression(dimension: 3)
        let w: [Float] = [0.5, -1, 0.25, 0.1]
        let all = (0..<UInt32(40)).map { $0 }
        XCTAssertEqual(model.loss(parameters: w, data: data), model.lossAndGradient(parameters: w, data: data, batch: all).loss, accuracy: 1e-6)
        // At w = 0 every logistic loss is log 2.
        XCTAssertEqual(model.loss(parameters: [0, 0, 0, 0], data: data), log(2.0), accuracy: 1e-6)
    }

    func testLogisticLossIsStableForLargeLogits() {
        let data = Dataset(examples: 2, dimension: 1, features: [100, -100], targets: [0, 0])
        let model = LogisticRegression(dimension: 1)
        let (loss, g) = model.lossAndGradient(parameters: [1, 0], data: data, batch: [0, 1])
        // Example 0: z = 100, y = 0 -> loss 100; example 1: z = -100 -> loss ~ e^-100.
        XCTAssertEqual(loss, 50, accuracy: 1e-4)
        XCTAssertTrue(g.allSatisfy { $0.isFinite })
    }

    /// The pattern, written eight at a time, against its formula computed in float64 (one
    /// float32 rounding apart: within half an ulp of the float64 product), for lengths around
    /// the vector width; the model writes it over whatever the buffer held.
    func testNoopPatternMatchesItsFormula() {
        func formula(_ i: Int) -> Double {
            let h = UInt32(truncatingIfNeeded: UInt64(i) &* 2_654_435_761)
            return (Double(h >> 8) - 8_388_608) * Double(Float(1e-3 / 16_777_216))
        }
        for n in [0, 1, 7, 8, 9, 16, 1003] {
            var out = [Float](repeating: .nan, count: n)
            out.withUnsafeMutableBufferPointer { NoopModel.writePattern(into: $0) }
            XCTAssertEqual(out, NoopModel.pattern(count: n), "n \(n)")
            for (i, g) in out.enumerated() {
                XCTAssertEqual(Double(g), formula(i), accuracy: Double(g.ulp) / 2, "g_\(i)")
                XCTAssertTrue(g >= -5e-4 && g < 5e-4)
            }
        }
        XCTAssertEqual(Set(NoopModel.pattern(count: 1003)).count, 1003, "varied values")
        let data = SyntheticData.linear(examples: 4, features: 1, seed: 1)
        let (loss, g) = NoopModel(parameterCount: 9, pattern: true).lossAndGradient(parameters: [Float](repeating: 1, count: 9), data: data, batch: [0])
        XCTAssertEqual(loss, 0)
        XCTAssertEqual(g, NoopModel.pattern(count: 9))
    }

    func testNoopModelHasZeroGradientAndLoss() {
        let data = SyntheticData.linear(examples: 4, features: 1, seed: 1)
        let (loss, g) = NoopModel(parameterCount: 10).lossAndGradient(parameters: [Float](repeating: 1, count: 10), data: data, batch: [0, 1])
        XCTAssertEqual(loss, 0)
        XCTAssertEqual(g, [Float](repeating: 0, count: 10))
    }
}
