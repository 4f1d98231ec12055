import DSGDCore
import XCTest

/// Softmax regression and the 1-1-1 network: analytic gradients (and the 1-1-1 Hessian) against
/// central finite differences of independent float64 implementations of their losses.
final class ModelGradientTests: XCTestCase {
    // MARK: helpers




    /// `count` parameters drawn from N(0, sigma^2).
    func randomParameters(_ count: Int, sigma: Double, seed: UInt64) -> [Float] {
        var rng = SplitMix64(seed: seed, stream: 0xBA2A)
        return (0..<count).map { _ in Float(sigma * rng.nextGaussian()) }
    }

    /// Independent float64 softmax loss: mean of `logsumexp(z) - z_y`, `z = W x + b`, parameters
    /// `[W (K x d row-major), b (K)]`. Stabilised by the max so the large-logit case stays finite.
    func softmaxReference(_ p: [Double], data: Dataset, batch: [Int], classes k: Int) -> Double {
        let d = data.dimension
        var total = 0.0
        for i in batch {
            let z = (0..<k).map { c in
                (0..<d).reduce(p[k * d + c]) { $0 + p[c * d + $1] * Double(data.features[i * d + $1]) }
            }
            let m = z.max()!
            total += m + log(z.map { exp($0 - m) }.reduce(0, +)) - z[Int(data.targets[i])]
        }
        return total / Double(batch.count)
    }

    /// Independent float64 1-1-1 loss: `1/(2B) sum (y - w1 w2 x)^2`.
    func deepLinearReference(_ p: [Double], data: Dataset) -> Double {
        var total = 0.0
        for i in 0..<data.examples {
            let r = Double(data.targets[i]) - p[0] * p[1] * Double(data.features[i])
            total += r * r
        }
        return total / (2 * Double(data.examples))
    }

    /// Eigenvalues (ascending) of the symmetric 2 x 2 matrix `[[a, b], [b, c]]` (row-major).
    func eigenvalues(_ h: [Float]) -> (Double, Double) {
        let a = Double(h[0]), b = Double(h[1]), c = Double(h[3])
        let mean = (a + c) / 2, radius = (((a - c) / 2) * ((a - c) / 2) + b * b).squareRoot()
        return (mean - radius, mean + radius)
    }

    /// The lecture's data set: the single example x = 1, y = 1.
    let oneOne = Dataset(examples: 1, dimension: 1, features: [1], targets: [1])

    // MARK: softmax regression

    func testSoftmaxGradientMatchesFiniteDifferences() {
        let (n, d, k) = (60, 4, 3)
        let data = gaussianClassificationSet(examples: n, features: d, classes: k, seed: 5, stream: 0x50F7)
        XCTAssertEqual(Set(data.targets), [0, 1, 2], "the set must contain every class")
        let model = SoftmaxRegression(dimension: d, classes: k)
        let w = randomParameters(model.parameterCount, sigma: 0.5, seed: 1)
        let batch = (0..<UInt32(n)).map { $0 * 7 % UInt32(n) }.prefix(40).map { $0 }
        let (loss, g) = model.lossAndGradient(parameters: w, data: data, batch: batch)
        let reference = { (p: [Double]) in self.softmaxReference(p, data: data, batch: batch.map(Int.init), classes: k) }
        let wd = w.map(Double.init)
        XCTAssertEqual(loss, reference(wd), accuracy: 1e-5)
        assertClose(g, finiteDifferences(wd, reference), relative: 1e-4)
        // The full-set loss agrees with the minibatch loss over every example.
        let all = (0..<UInt32(n)).map { $0 }
        XCTAssertEqual(model.loss(parameters: w, data: data), model.lossAndGradient(parameters: w, data: data, batch: all).loss, accuracy: 1e-6)
        XCTAssertEqual(model.loss(parameters: w, data: data), softmaxReference(wd, data: data, batch: Array(0..<n), classes: k), accuracy: 1e-5)
    }

    /// Logits of several hundred: `expf` alone would overflow (above ~88.7), the stable form does not.
    func testSoftmaxGradientMatchesFiniteDifferencesForLargeLogits() {
        let (n, d, k) = (30, 3, 3)
        let data = gaussianClassificationSet(examples: n, features: d, classes: k, seed: 9, scale: 40, stream: 0x50F7)
        let model = SoftmaxRegression(dimension: d, classes: k)
        let w = randomParameters(model.parameterCount, sigma: 3, seed: 2)
        let batch = (0..<UInt32(n)).map { $0 }
        let (loss, g) = model.lossAndGradient(parameters: w, data: data, batch: batch)
        let reference = { (p: [Double]) in self.softmaxReference(p, data: data, batch: batch.map(Int.init), classes: k) }
        let wd = w.map(Double.init)
        let maxLogit = (0..<n).map { i in
            (0..<k).map { c in abs((0..<d).reduce(wd[k * d + c]) { $0 + wd[c * d + $1] * Double(data.features[i * d + $1]) }) }.max()!
        }.max()!
        XCTAssertGreaterThan(maxLogit, 200, "the test point must have large logits")
        XCTAssertTrue(loss.isFinite && g.allSatisfy { $0.isFinite })
        XCTAssertEqual(loss, reference(wd), accuracy: 1e-5 * reference(wd))
        assertClose(g, finiteDifferences(wd, reference), relative: 1e-4)
        XCTAssertEqual(model.loss(parameters: w, data: data), reference(wd), accuracy: 1e-5 * reference(wd))
    }

    func testSoftmaxLossIsExactForExtremeLogits() {
        // x = 100, W = [10, 0, -10], b = 0: logits [1000, 0, -1000].
        let data = Dataset(examples: 3, dimension: 1, features: [100, 100, 100], targets: [0, 1, 2])
        let model = SoftmaxRegression(dimension: 1, classes: 3)
        let (loss, g) = model.lossAndGradient(parameters: [10, 0, -10, 0, 0, 0], data: data, batch: [0, 1, 2])
        // Per-example losses ~0, 1000, 2000; p ~ (1, 0, 0) for all three.
        XCTAssertEqual(loss, 1000, accuracy: 1e-3)
        // dE/dz summed: 3 p - (1, 1, 1) = (2, -1, -1), over B = 3; dE/dW = that times x = 100.
        let expected: [Float] = [200.0 / 3, -100.0 / 3, -100.0 / 3, 2.0 / 3, -1.0 / 3, -1.0 / 3]
        for (a, e) in zip(g, expected) { XCTAssertEqual(a, e, accuracy: 1e-4) }
    }

    func testSoftmaxLossAtZeroIsLogK() {
        for k in [2, 3, 10] {
            let data = gaussianClassificationSet(examples: 50, features: 6, classes: k, seed: UInt64(k), stream: 0x50F7)
            let model = SoftmaxRegression(dimension: 6, classes: k)
            let zero = model.initialParameters()
            XCTAssertEqual(zero, [Float](repeating: 0, count: k * 6 + k))
            XCTAssertEqual(model.loss(parameters: zero, data: data), log(Double(k)), accuracy: 1e-6)
            XCTAssertEqual(model.lossAndGradient(parameters: zero, data: data, batch: [0, 3, 7]).loss, log(Double(k)), accuracy: 1e-6)
        }
    }

    /// With two classes, `W = [0; w]`, `b = [0; c]` is logistic regression with `[w, c]`.
    func testTwoClassSoftmaxIsLogisticRegression() {
        let data = SyntheticData.logistic(examples: 40, features: 3, seed: 4)
        let logistic: [Float] = [0.5, -0.7, 0.2, 0.3]
        let softmax: [Float] = [0, 0, 0, 0.5, -0.7, 0.2, 0, 0.3]
        let batch: [UInt32] = [1, 5, 9, 13, 17, 21]
        let (l1, g1) = LogisticRegression(dimension: 3).lossAndGradient(parameters: logistic, data: data, batch: batch)
        let (l2, g2) = SoftmaxRegression(dimension: 3, classes: 2).lossAndGradient(parameters: softmax, data: data, batch: batch)
        XCTAssertEqual(l1, l2, accuracy: 1e-6)
        // Class 1's row and bias carry the logistic gradient; class 0's are its negation.
        for (a, e) in zip([g2[3], g2[4], g2[5], g2[7]], g1) { XCTAssertEqual(a, e, accuracy: 1e-6) }
        for (a, e) in zip([g2[0], g2[1], g2[2], g2[6]], g1) { XCTAssertEqual(a, -e, accuracy: 1e-6) }
    }

    func testSoftmaxShapesAndFactory() {
        let model = ModelKind.softmax.make(inputDimension: 5, classes: 4)
        XCTAssertEqual(model.kind, .softmax)
        XCTAssertEqual(model.parameterCount, 24)
        XCTAssertEqual(model.shapes, [ParameterShape(name: "W", shape: [4, 5]), ParameterShape(name: "b", shape: [4])])
        XCTAssertEqual(ModelKind.softmax.make(inputDimension: 5).parameterCount, 12, "two classes by default")
        XCTAssertEqual(ModelKind(rawValue: "softmax"), .softmax)
    }

    // MARK: the 1-1-1 network

    func testDeepLinearGradientMatchesFiniteDifferences() {
        var rng = SplitMix64(seed: 3, stream: 0x111)
        var x = [Float](), y = [Float]()
        for _ in 0..<20 {
            let v = rng.nextGaussian()
            x.append(Float(v))
            y.append(Float(1.5 * v + 0.2 * rng.nextGaussian()))
        }
        let data = Dataset(examples: 20, dimension: 1, features: x, targets: y)
        let model = DeepLinear111()
        for w in [[Float(0.3), -0.8], [1.2, 0.4], [0.1, 0.1]] {
            let (loss, g) = model.lossAndGradient(parameters: w, data: data, batch: (0..<UInt32(20)).map { $0 })
            let wd = w.map(Double.init)
            let reference = { (p: [Double]) in self.deepLinearReference(p, data: data) }
            XCTAssertEqual(loss, reference(wd), accuracy: 1e-5)
            XCTAssertEqual(model.loss(parameters: w, data: data), reference(wd), accuracy: 1e-5)
            assertClose(g, finiteDifferences(wd, reference), relative: 1e-4)
        }
    }

    func testDeepLinearHessianMatchesFiniteDifferences() {
        let data = Dataset(examples: 4, dimension: 1, features: [1, -0.5, 2, 0.25], targets: [1, 0.5, 1.5, -1])
        let model = DeepLinear111()
        let all: [UInt32] = [0, 1, 2, 3]
        for w in [[Float(0.75), -1.25], [0.5, 2], [0, 0], [1, 1]] {
            let h = model.hessian(parameters: w, data: data)
            XCTAssertEqual(h[1], h[2], "the Hessian is symmetric")
            // Central differences of the model's own gradient: each gradient component is a
            // polynomial of degree at most 2 in each weight, so they are exact up to rounding
            // (the step 2^-6 and the weights are exact binary fractions).
            let step: Float = 0x1p-6
            var numeric = [Double]()
            for j in 0..<2 {
                var plus = w, minus = w
                plus[j] += step
                minus[j] -= step
                let gp = model.lossAndGradient(parameters: plus, data: data, batch: all).gradient
                let gm = model.lossAndGradient(parameters: minus, data: data, batch: all).gradient
                numeric += (0..<2).map { Double(gp[$0] - gm[$0]) / Double(2 * step) }
            }
            // numeric is column-major (d g / d w_j in column j); H is symmetric, so compare directly.
            assertClose(h, numeric, relative: 1e-4)
            // Second differences of the independent float64 loss.
            let wd = w.map(Double.init)
            let reference = { (p: [Double]) in self.deepLinearReference(p, data: data) }
            let secondOrder = (0..<2).flatMap { i in
                finiteDifferences(wd, h: 1e-4) { p in finiteDifferences(p, h: 1e-4, reference)[i] }
            }
            assertClose(h, secondOrder, relative: 1e-4)
        }
    }

    func testDeepLinearOriginIsASaddleWithEigenvaluesMinusOneAndOne() {
        let model = DeepLinear111()
        let (loss, g) = model.lossAndGradient(parameters: [0, 0], data: oneOne, batch: [0])
        XCTAssertEqual(loss, 0.5)
        XCTAssertEqual(g, [0, 0], "the origin is a stationary point, exactly")
        let h = model.hessian(parameters: [0, 0], data: oneOne)
        XCTAssertEqual(h, [0, -1, -1, 0])
        let (low, high) = eigenvalues(h)
        XCTAssertEqual(low, -1, accuracy: 1e-12)
        XCTAssertEqual(high, 1, accuracy: 1e-12)
    }

    func testDeepLinearHessianOnTheMinimumHyperbola() {
        let model = DeepLinear111()
        for w1 in [Float(1), 2, 0.5, -4, 0.25, -1] {
            let w2 = 1 / w1                                   // w1 w2 = 1: a global minimum
            let (loss, g) = model.lossAndGradient(parameters: [w1, w2], data: oneOne, batch: [0])
            XCTAssertEqual(loss, 0, accuracy: 1e-12)
            XCTAssertEqual(g[0], 0, accuracy: 1e-6)
            XCTAssertEqual(g[1], 0, accuracy: 1e-6)
            let h = model.hessian(parameters: [w1, w2], data: oneOne)
            let expected = [w2 * w2, 2 * w1 * w2 - 1, 2 * w1 * w2 - 1, w1 * w1]
            for (a, e) in zip(h, expected) { XCTAssertEqual(a, e, accuracy: 1e-6) }
            let (low, high) = eigenvalues(h)
            let sumOfSquares = Double(w1 * w1 + w2 * w2)
            XCTAssertEqual(low, 0, accuracy: 1e-5, "flat along the valley")
            XCTAssertEqual(high, sumOfSquares, accuracy: 1e-5 * sumOfSquares)
            XCTAssertGreaterThanOrEqual(high, 2 - 1e-6)
        }
    }

    func testDeepLinearStartsOffTheSaddleAndFactory() {
        let model = ModelKind.deepLinear111.make(inputDimension: 1)
        XCTAssertEqual(model.kind, .deepLinear111)
        XCTAssertEqual(model.parameterCount, 2)
        XCTAssertEqual(model.shapes, [ParameterShape(name: "w1", shape: [1]), ParameterShape(name: "w2", shape: [1])])
        XCTAssertEqual(model.initialParameters(), [0.1, 0.05])
        let g = model.lossAndGradient(parameters: model.initialParameters(), data: oneOne, batch: [0]).gradient
        XCTAssertTrue(g[0] < 0 && g[1] < 0, "descent from the start moves both weights up, toward w1 w2 = 1")
        XCTAssertEqual(ModelKind(rawValue: "deep-linear-111"), .deepLinear111)
        XCTAssertEqual(ModelKind.deepLinear111.rawValue, "deep-linear-111")
    }
}
