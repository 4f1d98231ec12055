import DSGDCore
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
}
