import DSGDCore
import XCTest

/// The MLP: gradient against central finite differences of an independent float64 forward pass,
/// layout, determinism, batching and the workspace.
final class MLPTests: XCTestCase {

    /// Independent float64 mean cross-entropy of the MLP `sizes` with flat parameters `w`
    /// (`[W1 (n1 x n0), b1, W2, b2, ...]`) over the examples `batch`.
    func referenceLoss(_ w: [Double], sizes: [Int], data: Dataset, batch: [Int]) -> Double {
        var total = 0.0
        for i in batch {
            var h = (0..<sizes[0]).map { Double(data.features[i * sizes[0] + $0]) }
            var offset = 0
            for l in 1..<sizes.count {
                let fanIn = sizes[l - 1], width = sizes[l]
                var z = [Double](repeating: 0, count: width)
                for r in 0..<width {
                    var s = w[offset + width * fanIn + r]
                    for c in 0..<fanIn { s += w[offset + r * fanIn + c] * h[c] }
                    z[r] = l < sizes.count - 1 ? max(s, 0) : s
                }
                offset += width * fanIn + width
                h = z
            }
            let m = h.max()!
            let lse = m + log(h.map { exp($0 - m) }.reduce(0, +))
            total += lse - h[Int(data.targets[i])]
        }
        return total / Double(batch.count)
    }

    func testGradientMatchesFiniteDifferences() {
        let sizes = [5, 4, 3, 3]
        let model = MLP(inputDimension: 5, hidden: [4, 3], classes: 3, seed: 42)
        let data = gaussianClassificationSet(examples: 12, features: 5, classes: 3, seed: 1, stream: 0x3A9)
        var params = model.initialParameters()
        var rng = SplitMix64(seed: 9)
        // Non-zero biases, so no example sits exactly at a ReLU kink or at a symmetric point.
        var offset = 0
        for shape in model.shapes {
            let count = shape.shape.reduce(1, *)
            if shape.name.hasPrefix("b") {
                for j in 0..<count { params[offset + j] = Float(0.3 * rng.nextGaussian()) }
            }
            offset += count
        }
        XCTAssertEqual(offset, 51)
        let batch: [UInt32] = [3, 0, 7, 11, 5, 5, 2, 9]        // not consecutive: exercises the gather
        let (loss, grad) = model.lossAndGradient(parameters: params, data: data, batch: batch)
        let w = params.map(Double.init)
        let b = batch.map(Int.init)
        XCTAssertEqual(loss, referenceLoss(w, sizes: sizes, data: data, batch: b), accuracy: 1e-5)
        let numeric = finiteDifferences(w) { referenceLoss($0, sizes: sizes, data: data, batch: b) }
        assertClose(grad, numeric, relative: 1e-3)
        // Every block has a non-zero gradient (the network is not dead).
        offset = 0
        for shape in model.shapes {
            let count = shape.shape.reduce(1, *)
            XCTAssertTrue(grad[offset..<(offset + count)].contains { $0 != 0 }, "\(shape.name) gradient is zero")
            offset += count
        }
    }

    func testLayoutAndInitialisation() {
        let model = MLP(inputDimension: 784, hidden: [256, 256], classes: 10, seed: 1)
        XCTAssertEqual(model.parameterCount, 784 * 256 + 256 + 256 * 256 + 256 + 256 * 10 + 10)
        XCTAssertEqual(model.shapes.map(\.name), ["W1", "b1", "W2", "b2", "W3", "b3"])
        XCTAssertEqual(model.shapes[0].shape, [256, 784])
        XCTAssertEqual(model.shapes[5].shape, [10])
        let p = model.initialParameters()
        XCTAssertEqual(p, MLP(inputDimension: 784, hidden: [256, 256], classes: 10, seed: 1).initialParameters())
        XCTAssertNotEqual(p, MLP(inputDimension: 784, hidden: [256, 256], classes: 10, seed: 2).initialParameters())
        // He: W1 ~ N(0, 2/784); biases zero.
        let w1 = p[0..<(784 * 256)].map(Double.init)
        let variance = w1.map { $0 * $0 }.reduce(0, +) / Double(w1.count)
        XCTAssertEqual(variance, 2.0 / 784, accuracy: 0.05 * 2.0 / 784)
        XCTAssertTrue(p[(784 * 256)..<(784 * 256 + 256)].allSatisfy { $0 == 0 })
        XCTAssertEqual(ModelKind(rawValue: "mlp"), .mlp)
        XCTAssertEqual(ModelKind.mlp.make(inputDimension: 3, classes: 2).kind, .mlp)
    }

    /// Gathered vs consecutive batches, growing the workspace, and `loss` over the whole set agree
    /// with `lossAndGradient`; repeated calls give identical results (no state leaks between calls).
    func testBatchingAndWorkspace() {
        let model = MLP(inputDimension: 7, hidden: [9], classes: 4, seed: 3)
        let data = gaussianClassificationSet(examples: 300, features: 7, classes: 4, seed: 2, stream: 0x3A9)
        let p = model.initialParameters()
        assertBatchingConsistent(model, data: data, parameters: p)
    }

    func testTrainingReducesLoss() {
        // A learnable task: the class is the index of the largest of the first three features.
        var rng = SplitMix64(seed: 5)
        var x = [Float](), y = [Float]()
        for _ in 0..<512 {
            let row = (0..<6).map { _ in Float(rng.nextGaussian()) }
            x += row
            y.append(Float(row[0..<3].indices.max { row[$0] < row[$1] }!))
        }
        let data = Dataset(examples: 512, dimension: 6, features: x, targets: y)
        let model = MLP(inputDimension: 6, hidden: [16, 16], classes: 3, seed: 1)
        var p = model.initialParameters()
        let start = model.loss(parameters: p, data: data)
        for step in 0..<300 {
            let batch = (0..<32).map { UInt32((step * 32 + $0) % 512) }
            let g = model.lossAndGradient(parameters: p, data: data, batch: batch).gradient
            for j in p.indices { p[j] -= 0.1 * g[j] }
        }
        XCTAssertLessThan(model.loss(parameters: p, data: data), 0.5 * start)
    }
}
