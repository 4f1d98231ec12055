import DSGDCore
import Foundation
import XCTest

final class SGDTests: XCTestCase {
    func step(_ sgd: SGD, _ w: inout [Float], _ g: [Float], _ v: inout [Float], scale: Float = 1) {
        let n = w.count
        var out = [Float](repeating: 0, count: n)
        w.withUnsafeBufferPointer { p in
            g.withUnsafeBufferPointer { gp in
                v.withUnsafeMutableBufferPointer { vp in
                    out.withUnsafeMutableBufferPointer { o in
                        sgd.step(params: p.baseAddress!, gradient: gp.baseAddress!, scale: scale, velocity: vp.baseAddress!, out: o.baseAddress!, count: n)
                    }
                }
            }
        }
        w = out
    }

    func testPlainStep() {
        var w: [Float] = [1, 2], v: [Float] = [0, 0]
        step(SGD(learningRate: 0.5), &w, [2, -4], &v)
        XCTAssertEqual(w, [0, 4])
        XCTAssertEqual(v, [0, 0], "momentum 0 leaves the velocity alone")
    }

    func testScaleAveragesASum() {
        var w: [Float] = [1], v: [Float] = [0]
        step(SGD(learningRate: 1), &w, [6], &v, scale: 0.25)  // mean of four gradients summing to 6
        XCTAssertEqual(w, [-0.5])
    }

    func testHeavyBallMomentumMatchesClosedForm() {
        // On f(w) = w^2/2 (gradient w) with lr a and momentum m, two steps from w0 = 1:
        // v1 = 1, w1 = 1 - a; v2 = m + (1 - a), w2 = w1 - a v2.
        let a: Float = 0.1, m: Float = 0.9
        var w: [Float] = [1], v: [Float] = [0]
        let sgd = SGD(learningRate: a, momentum: m)
        step(sgd, &w, w, &v)
        XCTAssertEqual(w[0], 1 - a, accuracy: 1e-7)
        step(sgd, &w, w, &v)
        XCTAssertEqual(v[0], m + (1 - a), accuracy: 1e-6)
        XCTAssertEqual(w[0], (1 - a) - a * (m + (1 - a)), accuracy: 1e-6)
    }

    func testNesterovMomentumMatchesClosedForm() {
        // On f(w) = w^2/2 (gradient w) with lr a and momentum m, two Nesterov steps from w0 = 1
        // (v <- m v + g, w <- w - a (g + m v)):
        // g0 = 1, v1 = 1, w1 = 1 - a (1 + m); g1 = w1, v2 = m + w1, w2 = w1 - a (w1 + m (m + w1)).
        let a: Float = 0.1, m: Float = 0.9
        var w: [Float] = [1], v: [Float] = [0]
        let sgd = SGD(learningRate: a, momentum: m, nesterov: true)
        step(sgd, &w, w, &v)
        XCTAssertEqual(v[0], 1, accuracy: 1e-7)
        XCTAssertEqual(w[0], 1 - a * (1 + m), accuracy: 1e-7)
        let w1 = w[0]
        step(sgd, &w, w, &v)
        XCTAssertEqual(v[0], m + w1, accuracy: 1e-6)
        XCTAssertEqual(w[0], w1 - a * (w1 + m * (m + w1)), accuracy: 1e-6)
        XCTAssertEqual(Double(w[0]), 0.810 - 0.1 * (0.810 + 0.9 * 1.710), accuracy: 1e-6)
    }

    func testNesterovWithoutMomentumIsPlainSGD() {
        var w: [Float] = [1, 2], v: [Float] = [0, 0]
        step(SGD(learningRate: 0.5, nesterov: true), &w, [2, -4], &v)
        XCTAssertEqual(w, [0, 4])
        XCTAssertEqual(v, [0, 0])
    }

    /// Eight parameters at a time and the rest one at a time give, for every rule, exactly the
    /// element-by-element formula (the same float operations in the same order), written to a
    /// separate buffer or in place; counts below, at and past a vector.
    func testVectorStepMatchesTheFormulaElementByElement() {
        var rng = SplitMix64(seed: 12)
        func random(_ n: Int) -> [Float] { (0..<n).map { _ in Float(4 * rng.nextUnit() - 2) } }
        for n in [1, 7, 8, 9, 17, 101] {
            for sgd in [SGD(learningRate: 0.3), SGD(learningRate: 0.3, momentum: 0.9), SGD(learningRate: 0.3, momentum: 0.9, nesterov: true)] {
                let w0 = random(n), g = random(n), v0 = random(n), scale: Float = 0.37
                var expectW = w0, expectV = v0
                for i in 0..<n {
                    let gi = scale * g[i]
                    if sgd.momentum == 0 {
                        expectW[i] = w0[i] - sgd.learningRate * gi
                    } else {
                        let v = sgd.momentum * v0[i] + gi
                        expectV[i] = v
                        expectW[i] = w0[i] - sgd.learningRate * (sgd.nesterov ? gi + sgd.momentum * v : v)
                    }
                }
                var w = w0, v = v0
                step(sgd, &w, g, &v, scale: scale)
                XCTAssertEqual(w.map(\.bitPattern), expectW.map(\.bitPattern), "n=\(n) \(sgd)")
                XCTAssertEqual(v.map(\.bitPattern), expectV.map(\.bitPattern), "velocity, n=\(n) \(sgd)")
                var inPlace = w0, v2 = v0
                inPlace.withUnsafeMutableBufferPointer { p in
                    sgd.step(params: p.baseAddress!, gradient: g, scale: scale, velocity: &v2, out: p.baseAddress!, count: n)
                }
                XCTAssertEqual(inPlace.map(\.bitPattern), expectW.map(\.bitPattern), "in place, n=\(n) \(sgd)")
            }
        }
    }

    func testCodableDefaultsNesterovToFalse() throws {
        let old = try JSONDecoder().decode(SGD.self, from: Data(#"{"learningRate": 0.25, "momentum": 0.5}"#.utf8))
        XCTAssertEqual(old, SGD(learningRate: 0.25, momentum: 0.5))
        let n = SGD(learningRate: 0.25, momentum: 0.5, nesterov: true)
        XCTAssertEqual(try JSONDecoder().decode(SGD.self, from: JSONEncoder().encode(n)), n)
    }

    func testMinibatchSGDAppliesNesterov() {
        // Linear regression on one example x = 1, y = 0 (gradient [w + b, w + b] for [w, b]):
        // the in-process trainer must follow SGD.step's Nesterov rule.
        let data = Dataset(examples: 1, dimension: 1, features: [1], targets: [0])
        let model = LinearRegression(dimension: 1)
        let a: Float = 0.1, m: Float = 0.9
        let start: [Float] = [1, 0]
        let nesterov = MinibatchSGD(model: model, data: data, optimizer: SGD(learningRate: a, momentum: m, nesterov: true),
                                    batch: 1, seed: 1).train(from: start, steps: 2)
        // By hand on the same rule, with z = w + b: g = [z, z].
        var w = start, v: [Float] = [0, 0]
        let sgd = SGD(learningRate: a, momentum: m, nesterov: true)
        for _ in 0..<2 {
            let z = w[0] + w[1]
            step(sgd, &w, [z, z], &v)
        }
        XCTAssertEqual(nesterov, w)
        // First step: w - a (1 + m) g with g = [1, 1].
        let one = MinibatchSGD(model: model, data: data, optimizer: sgd, batch: 1, seed: 1).train(from: start, steps: 1)
        XCTAssertEqual(one[0], 1 - a * (1 + m), accuracy: 1e-7)
        XCTAssertEqual(one[1], -a * (1 + m), accuracy: 1e-7)
        let heavy = MinibatchSGD(model: model, data: data, optimizer: SGD(learningRate: a, momentum: m),
                                 batch: 1, seed: 1).train(from: start, steps: 2)
        XCTAssertNotEqual(heavy, nesterov, "Nesterov and heavy ball differ")
    }
}
