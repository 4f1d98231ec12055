import DSGDCore
import Foundation
import XCTest

/// The layer-normalized MLP (`MLP(..., layerNorm: true)`): gradient against central finite
/// differences of an independent float64 forward pass and against a numpy fixture, the parameter
/// layout, the workspace, the Hessian-vector product, and training.
final class LayerNormTests: XCTestCase {


    /// Independent float64 mean cross-entropy of the layer-normalized MLP `sizes` with flat
    /// parameters `w` (`[W1 (n1 x n0), b1, gamma1, beta1, W2, ..., WL, bL]`) over the examples `batch`
    /// (`LayerNormReference`).
    func referenceLoss(_ w: [Double], sizes: [Int], data: Dataset, batch: [Int]) -> Double {
        LayerNormReference.loss(w, sizes: sizes, data: data, batch: batch)
    }

    /// Parameters away from the initial symmetric point: every bias, gamma and beta randomised
    /// (gamma around 1), so no example sits at a ReLU kink and every block has a generic gradient.
    func randomisedParameters(_ model: MLP, seed: UInt64) -> [Float] {
        var p = model.initialParameters()
        var rng = SplitMix64(seed: seed)
        var offset = 0
        for shape in model.shapes {
            let count = shape.shape.reduce(1, *)
            for j in 0..<count {
                if shape.name.hasPrefix("b") { p[offset + j] = Float(0.3 * rng.nextGaussian()) }        // b and beta
                if shape.name.hasPrefix("gamma") { p[offset + j] = Float(1 + 0.3 * rng.nextGaussian()) }
            }
            offset += count
        }
        return p
    }

    /// The float32 gradient against central differences (step 1e-6) of the float64 reference loss,
    /// every parameter including gamma and beta, over a batch of 9 with repeated, non-consecutive
    /// indices. Tolerances: loss 1e-5 absolute; gradient 1e-4 relative (Euclidean), and 1e-3
    /// relative within each block (W, b, gamma, beta). The bias gradient of a normalized layer sums
    /// to zero (to 1e-6): a shift common to the row is normalized away.
    func checkGradient(hidden: [Int], file: StaticString = #filePath, line: UInt = #line) {
        let sizes = [5] + hidden + [3]
        let model = MLP(inputDimension: 5, hidden: hidden, classes: 3, seed: 42, layerNorm: true)
        let data = gaussianClassificationSet(examples: 12, features: 5, classes: 3, seed: 1, stream: 0x1A7E)
        let params = randomisedParameters(model, seed: 9)
        let batch: [UInt32] = [3, 0, 7, 11, 5, 5, 2, 9, 5]     // repeated, not consecutive: exercises the gather
        let (loss, grad) = model.lossAndGradient(parameters: params, data: data, batch: batch)
        let w = params.map(Double.init)
        let b = batch.map(Int.init)
        XCTAssertEqual(loss, referenceLoss(w, sizes: sizes, data: data, batch: b), accuracy: 1e-5, file: file, line: line)
        let numeric = finiteDifferences(w) { referenceLoss($0, sizes: sizes, data: data, batch: b) }
        let total = relativeError(grad, numeric, file: file, line: line)
        print("LayerNormTests: hidden \(hidden), gradient vs float64 finite differences, relative error \(total)")
        XCTAssertLessThan(total, 1e-4, "relative gradient error", file: file, line: line)
        var offset = 0
        for shape in model.shapes {
            let count = shape.shape.reduce(1, *)
            let g = Array(grad[offset..<(offset + count)]), n = Array(numeric[offset..<(offset + count)])
            XCTAssertLessThan(relativeError(g, n, file: file, line: line), 1e-3, "\(shape.name)", file: file, line: line)
            if shape.name.hasPrefix("b") && !shape.name.hasPrefix("beta") && shape.name != "b\(hidden.count + 1)" {
                XCTAssertEqual(g.reduce(0, +), 0, accuracy: 1e-6, "\(shape.name): a shift common to the row is normalized away",
                               file: file, line: line)
            }
            offset += count
        }
        XCTAssertEqual(offset, model.parameterCount, file: file, line: line)
    }

    /// d = 5, hidden [7, 6], 3 classes: rows shorter than the eight lanes of the normalization loops.
    func testGradientMatchesFiniteDifferences() {
        XCTAssertEqual(MLP(inputDimension: 5, hidden: [7, 6], classes: 3, layerNorm: true).parameterCount,
                       5 * 7 + 7 + 14 + 7 * 6 + 6 + 12 + 6 * 3 + 3)
        checkGradient(hidden: [7, 6])
    }

    /// Hidden [19, 8]: eight-lane blocks with and without a scalar tail.
    func testGradientMatchesFiniteDifferencesWideLayers() {
        checkGradient(hidden: [19, 8])
    }

    /// Loss and gradient against numpy (Fixtures/layernorm_mlp.py, float64 analytic backward on
    /// float32-rounded parameters and inputs). Tolerances: loss 1e-6 relative, gradient 1e-5
    /// relative (Euclidean), float32 arithmetic against float64.
    func testMatchesNumpyFixture() throws {
        let url = repositoryRoot.appendingPathComponent("Tests/DSGDCoreTests/Fixtures/layernorm_mlp.json")
        let fixture = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        let sizes = try XCTUnwrap(fixture["sizes"] as? [Int])
        let parameters = try XCTUnwrap(fixture["parameters"] as? [Double]).map { Float($0) }
        let features = try XCTUnwrap(fixture["features"] as? [Double]).map { Float($0) }
        let targets = try XCTUnwrap(fixture["targets"] as? [Int]).map { Float($0) }
        let batch = try XCTUnwrap(fixture["batch"] as? [Int]).map { UInt32($0) }
        let expectedLoss = try XCTUnwrap(fixture["loss"] as? Double)
        let expectedGradient = try XCTUnwrap(fixture["gradient"] as? [Double])
        let blocks = try XCTUnwrap(fixture["blocks"] as? [[String: Any]])
        XCTAssertEqual(try XCTUnwrap(fixture["epsilon"] as? Double), Double(MLP.layerNormEpsilon), accuracy: 1e-12)

        let model = MLP(inputDimension: sizes[0], hidden: Array(sizes[1..<(sizes.count - 1)]), classes: sizes.last!,
                        layerNorm: true)
        XCTAssertEqual(model.shapes.map(\.name), blocks.map { $0["name"] as? String ?? "" })
        XCTAssertEqual(model.shapes.map(\.shape), blocks.map { $0["shape"] as? [Int] ?? [] })
        XCTAssertEqual(model.parameterCount, parameters.count)
        let data = Dataset(examples: targets.count, dimension: sizes[0], features: features, targets: targets)
        let (loss, grad) = model.lossAndGradient(parameters: parameters, data: data, batch: batch)
        let e = relativeError(grad, expectedGradient)
        print("LayerNormTests: numpy fixture, loss \(loss) vs \(expectedLoss), gradient relative error \(e)")
        XCTAssertEqual(loss, expectedLoss, accuracy: 1e-6 * expectedLoss)
        XCTAssertLessThan(e, 1e-5)
    }

    /// `layerNorm: false` is today's MLP bit for bit; `layerNorm: true` inserts gamma (1) and beta
    /// (0) after each hidden layer's bias and leaves the He-initialised W and b unchanged.
    func testLayoutAndInitialisation() {
        let plain = MLP(inputDimension: 784, hidden: [256, 256], classes: 10, seed: 1)
        let off = MLP(inputDimension: 784, hidden: [256, 256], classes: 10, seed: 1, layerNorm: false)
        XCTAssertFalse(plain.layerNorm)
        XCTAssertEqual(off.parameterCount, 784 * 256 + 256 + 256 * 256 + 256 + 256 * 10 + 10)
        XCTAssertEqual(off.shapes, plain.shapes)
        XCTAssertEqual(off.initialParameters(), plain.initialParameters())
        let made = ModelKind.mlp.make(inputDimension: 784, classes: 10, hidden: [256, 256])
        XCTAssertEqual(made.parameterCount, off.parameterCount)
        XCTAssertEqual(made.initialParameters(), off.initialParameters())

        let ln = MLP(inputDimension: 784, hidden: [256, 256], classes: 10, seed: 1, layerNorm: true)
        XCTAssertTrue(ln.layerNorm)
        XCTAssertEqual(ln.parameterCount, off.parameterCount + 2 * (256 + 256))
        XCTAssertEqual(ln.shapes.map(\.name), ["W1", "b1", "gamma1", "beta1", "W2", "b2", "gamma2", "beta2", "W3", "b3"])
        XCTAssertEqual(ln.shapes.map(\.shape), [[256, 784], [256], [256], [256], [256, 256], [256], [256], [256], [10, 256], [10]])
        let p = ln.initialParameters(), q = off.initialParameters()
        var blocks: [String: ArraySlice<Float>] = [:]
        var offset = 0
        for shape in ln.shapes {
            let count = shape.shape.reduce(1, *)
            blocks[shape.name] = p[offset..<(offset + count)]
            offset += count
        }
        XCTAssertEqual(offset, p.count)
        for name in ["gamma1", "gamma2"] { XCTAssertTrue(blocks[name]!.allSatisfy { $0 == 1 }, name) }
        for name in ["beta1", "beta2"] { XCTAssertTrue(blocks[name]!.allSatisfy { $0 == 0 }, name) }
        // W and b as without normalization (same seed, same streams).
        let w1 = 784 * 256 + 256, w2 = 256 * 256 + 256, w3 = 256 * 10 + 10
        XCTAssertEqual(Array(p[0..<w1]), Array(q[0..<w1]))
        XCTAssertEqual(Array(p[(w1 + 512)..<(w1 + 512 + w2)]), Array(q[w1..<(w1 + w2)]))
        XCTAssertEqual(Array(p[(w1 + w2 + 1024)...]), Array(q[(w1 + w2)...]))
        XCTAssertEqual(p.count, w1 + w2 + w3 + 1024)
        let madeLN = ModelKind.mlp.make(inputDimension: 784, classes: 10, hidden: [256, 256], layerNorm: true)
        XCTAssertEqual(madeLN.shapes, ln.shapes)
        XCTAssertEqual(madeLN.initialParameters(), p)
        // Only mlp reads the flag.
        XCTAssertEqual(ModelKind.softmax.make(inputDimension: 3, classes: 4, layerNorm: true).parameterCount, 16)
    }

    /// Consecutive vs gathered batches, growing the workspace, and `loss` over the whole set agree
    /// with `lossAndGradient`; repeated calls give identical results. `accuracy` is exactly the
    /// fraction of examples whose float64 reference logits have their argmax at the target (every
    /// example's top two logits are asserted more than 1e-4 apart, so float32 rounding cannot
    /// change an argmax).
    func testBatchingAndWorkspace() throws {
        let model = MLP(inputDimension: 7, hidden: [9, 5], classes: 4, seed: 3, layerNorm: true)
        let data = gaussianClassificationSet(examples: 300, features: 7, classes: 4, seed: 2, stream: 0x1A7E)
        let p = randomisedParameters(model, seed: 4)
        assertBatchingConsistent(model, data: data, parameters: p)
        var correct = 0
        for i in 0..<data.examples {
            let z = LayerNormReference.logits(p.map(Double.init), sizes: [7, 9, 5, 4], data: data, row: i)
            let sorted = z.sorted()
            XCTAssertGreaterThan(sorted[3] - sorted[2], 1e-4, "example \(i): a clear argmax")
            if z.firstIndex(of: sorted[3]) == Int(data.targets[i]) { correct += 1 }
        }
        let accuracy = try XCTUnwrap(model.accuracy(parameters: p, data: data))
        XCTAssertEqual(accuracy, Double(correct) / Double(data.examples), accuracy: 1e-12)
        XCTAssertGreaterThan(correct, 0)
        XCTAssertLessThan(correct, data.examples, "neither all wrong nor all right: the count is informative")
    }

    /// The generic Hessian-vector product (central differences of the float32 full-data gradient,
    /// default step) against two independent float64 references: (1) central differences (step
    /// 1e-5 / |v|) of the hand-written float64 backward pass `LayerNormReference.gradient`, itself
    /// checked here against float64 finite differences of the reference loss (1e-6); (2) nested
    /// central differences of the reference loss (gradient step 1e-5, direction step 1e-4 / |v|).
    /// Tolerance 1e-3 relative for both (measured: a few 1e-5, float32 gradients differenced).
    func testHessianVectorProduct() {
        let sizes = [3, 4, 3, 2]
        let model = MLP(inputDimension: 3, hidden: [4, 3], classes: 2, seed: 7, layerNorm: true)
        let data = gaussianClassificationSet(examples: 20, features: 3, classes: 2, seed: 5, stream: 0x1A7E)
        let w = randomisedParameters(model, seed: 11)
        var rng = SplitMix64(seed: 12)
        let v = (0..<model.parameterCount).map { _ in Float(rng.nextGaussian()) }
        let hv = model.hessianVectorProduct(parameters: w, data: data, vector: v)
        let norm = v.map { Double($0) * Double($0) }.reduce(0, +).squareRoot()

        let all = Array(0..<data.examples)
        let wd = w.map(Double.init), vd = v.map(Double.init)
        func analytic(_ x: [Double]) -> [Double] { LayerNormReference.gradient(x, sizes: sizes, data: data, batch: all) }
        func numeric(_ x: [Double]) -> [Double] {
            finiteDifferences(x, h: 1e-5) { referenceLoss($0, sizes: sizes, data: data, batch: all) }
        }
        XCTAssertLessThan(relativeError(analytic(wd).map { Float($0) }, numeric(wd)), 1e-6, "the float64 backward pass")
        let a = 1e-5 / norm
        let differenced = zip(analytic(zip(wd, vd).map { $0 + a * $1 }), analytic(zip(wd, vd).map { $0 - a * $1 })).map { ($0 - $1) / (2 * a) }
        let e = 1e-4 / norm
        let nested = zip(numeric(zip(wd, vd).map { $0 + e * $1 }), numeric(zip(wd, vd).map { $0 - e * $1 })).map { ($0 - $1) / (2 * e) }
        let e1 = relativeError(hv, differenced), e2 = relativeError(hv, nested)
        print("LayerNormTests: HVP vs differences of the float64 backward pass \(e1), vs nested float64 differences of the loss \(e2)")
        XCTAssertLessThan(e1, 1e-3)
        XCTAssertLessThan(e2, 1e-3)
    }

    /// In-process SGD (300 steps of 32, momentum 0.9) on blobs (3 classes, 8 features) brings the
    /// mean loss under a quarter of ln 3 (chance) and the training accuracy above 90%.
    func testTrainingReducesLoss() throws {
        let data = try DatasetSpec(name: "blobs", examples: 600, features: 8, seed: 3, classes: 3).materialize()
        let model = MLP(inputDimension: 8, hidden: [32, 32], classes: 3, seed: 1, layerNorm: true)
        let start = model.initialParameters()
        let before = model.loss(parameters: start, data: data)
        let sgd = MinibatchSGD(model: model, data: data, optimizer: SGD(learningRate: 0.05, momentum: 0.9), batch: 32, seed: 1)
        let trained = sgd.train(from: start, steps: 300)
        let after = model.loss(parameters: trained, data: data)
        let accuracy = try XCTUnwrap(model.accuracy(parameters: trained, data: data))
        print("LayerNormTests: blobs loss \(before) -> \(after), accuracy \(accuracy)")
        XCTAssertLessThan(after, 0.25 * log(3.0))
        XCTAssertGreaterThan(accuracy, 0.9)
    }
}
