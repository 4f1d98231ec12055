import DSGDCore
import XCTest

/// The 1-1-1 network of LeCun's lecture, `Y = w1 w2 X`, on its single example x = 1, y = 1
/// (GUIDE §4 item 7), trained by plain full-batch gradient descent `w <- w - lr grad E`.
///
/// Convention: dsgd's loss is `E = (1 - w1 w2)^2 / 2` (the 1/2 convention of `DeepLinear111`), so
/// its Hessian is `[[w2^2, 2 w1 w2 - 1], [2 w1 w2 - 1, w1^2]]`: eigenvalues -1 and +1 at the origin
/// (a saddle) and 0 and `w1^2 + w2^2 >= 2` on the hyperbola of minima `w1 w2 = 1`. The lecture's
/// loss `(1 - w1 w2)^2` has no 1/2, twice this Hessian (eigenvalues +-2 at the origin, curvature
/// >= 4 on the hyperbola) and so half the stability threshold: 2/4 = 0.5 instead of 2/2 = 1.0.
final class SaddleTests: XCTestCase {
    let model = DeepLinear111()
    let data = Dataset(examples: 1, dimension: 1, features: [1], targets: [1])

    /// One full-batch gradient step of dsgd's loss with `lr`; `lossScale` multiplies the gradient
    /// (2 gives the gradient of the lecture's loss, which has no 1/2). Returns the loss before the step.
    @discardableResult
    func step(_ w: inout [Float], lr: Float, lossScale: Float = 1) -> Double {
        var g: [Float] = [0, 0]
        let all: [UInt32] = [0]
        let loss = w.withUnsafeBufferPointer { p in
            all.withUnsafeBufferPointer { b in
                g.withUnsafeMutableBufferPointer { gp in model.lossAndGradient(parameters: p, data: data, batch: b, gradient: gp) }
            }
        }
        for i in 0..<2 { w[i] -= lr * (lossScale * g[i]) }
        return loss
    }

    func descend(from start: [Float], lr: Float, steps: Int, lossScale: Float = 1) -> [Float] {
        var w = start
        for _ in 0..<steps { step(&w, lr: lr, lossScale: lossScale) }
        return w
    }

    /// Eigenvalues (ascending) of a symmetric 2 x 2 row-major matrix, in float64.
    func eigenvalues(_ h: [Float]) -> (Double, Double) {
        let a = Double(h[0]), b = Double(h[1]), d = Double(h[3])
        let mid = (a + d) / 2, r = (((a - d) / 2) * ((a - d) / 2) + b * b).squareRoot()
        return (mid - r, mid + r)
    }

    func testTheOriginIsASaddleWhereGradientDescentStaysPut() {
        let h = model.hessian(parameters: [0, 0], data: data)
        XCTAssertEqual(h, [0, -1, -1, 0])
        let (lo, hi) = eigenvalues(h)
        XCTAssertEqual(lo, -1)          // the lecture's convention (no 1/2): -2 and +2
        XCTAssertEqual(hi, 1)
        // The gradient is exactly zero at the origin: GD started there never moves, bit for bit.
        var w: [Float] = [0, 0]
        for _ in 0..<1000 { step(&w, lr: 0.1) }
        XCTAssertEqual(w.map(\.bitPattern), [Float(0).bitPattern, Float(0).bitPattern])
    }

    func testAPerturbationEscapesTheSaddleToTheHyperbola() {
        // Any start with a component along (1, 1) (the saddle's negative-curvature direction,
        // growing by 1 + lr = 1.1 per step) escapes and lands on w1 w2 = 1.
        for start: [Float] in [[1e-3, 1e-3], [-1e-3, -1e-3], [1e-3, 0], [1e-3, -0.5e-3], [2e-3, -1e-3]] {
            let w = descend(from: start, lr: 0.1, steps: 2000)
            XCTAssertEqual(Double(w[0] * w[1]), 1, accuracy: 1e-4, "from \(start): ended at \(w)")
        }
        // (1e-3, -1e-3) lies exactly on the saddle's stable manifold w1 = -w2 (the eigenvector of
        // eigenvalue +1): GD keeps it antisymmetric and slides back into the saddle.
        let w = descend(from: [1e-3, -1e-3], lr: 0.1, steps: 2000)
        XCTAssertEqual(w[0], -w[1])
        XCTAssertLessThan(abs(w[0]), 1e-30, "\(w)")
    }

    func testStepSizeThresholdOnTheHyperbolaIsTwoOverTheCurvature() {
        // At w1 = w2 = 1: H = [[1, 1], [1, 1]], eigenvalues 0 (along the valley) and 2, so
        // eta_max = 2 / 2 = 1.0 under dsgd's 1/2 convention (the lecture's curvature there is 4).
        let (lo, hi) = eigenvalues(model.hessian(parameters: [1, 1], data: data))
        XCTAssertEqual(lo, 0)
        XCTAssertEqual(hi, 2)
        let etaMax = Float(2 / hi)
        XCTAssertEqual(etaMax, 1)
        let start: [Float] = [1.001, 1.001]   // w1 w2 - 1 = 0.002, along the curved (top) direction

        // Just below: the deviation shrinks by |1 - 2 lr| = 0.98 per step.
        let below = descend(from: start, lr: 0.99 * etaMax, steps: 2000)
        XCTAssertEqual(Double(below[0] * below[1]), 1, accuracy: 1e-4, "\(below)")

        // Just above: the deviation grows by |1 - 2 lr| = 1.02 per step; the minimum is unstable and
        // GD never converges (the cubic term caps the growth in a period-2 orbit around w1 w2 = 1,
        // amplitude about 0.1, instead of letting it run to infinity).
        let lr = 1.01 * etaMax
        var w = start
        var deviations: [Double] = []
        for _ in 0..<2000 {
            step(&w, lr: lr)
            deviations.append(abs(Double(w[0] * w[1]) - 1))
        }
        let early = pow(deviations[50] / deviations[0], 1.0 / 50)
        XCTAssertEqual(early, 1.02, accuracy: 0.005, "early growth per step")
        XCTAssertGreaterThan(deviations.suffix(2).min()!, 0.05, "ended at \(w): it should not converge")
        XCTAssertGreaterThan(deviations.last!, 20 * deviations[0])
    }

    func testTheLecturesLossHalvesTheThreshold() {
        // The lecture's E' = (1 - w1 w2)^2 = 2 E: its Hessian at (1, 1) is twice dsgd's
        // (curvature 4), so its threshold is 2/4 = 0.5. A step lr on E' equals a step 2 lr on E,
        // bit for bit (scaling by 2 commutes with float rounding), so the two thresholds match.
        let h = model.hessian(parameters: [1, 1], data: data)
        let (_, hi) = eigenvalues(h.map { 2 * $0 })
        XCTAssertEqual(hi, 4)
        XCTAssertEqual(2 / hi, 0.5)
        let start: [Float] = [1.001, 1.001]
        for (lectureLR, dsgdLR) in [(Float(0.49), Float(0.98)), (Float(0.51), Float(1.02))] {
            XCTAssertEqual(2 * lectureLR, dsgdLR)
            let lecture = descend(from: start, lr: lectureLR, steps: 2000, lossScale: 2)
            let dsgd = descend(from: start, lr: dsgdLR, steps: 2000)
            XCTAssertEqual(lecture.map(\.bitPattern), dsgd.map(\.bitPattern), "lr \(lectureLR) on E' vs \(dsgdLR) on E")
        }
        let stable = descend(from: start, lr: 0.49, steps: 2000, lossScale: 2)
        XCTAssertEqual(Double(stable[0] * stable[1]), 1, accuracy: 1e-4, "lecture lr 0.49 converges: \(stable)")
        let unstable = descend(from: start, lr: 0.51, steps: 2000, lossScale: 2)
        XCTAssertGreaterThan(abs(Double(unstable[0] * unstable[1]) - 1), 0.05, "lecture lr 0.51 does not: \(unstable)")
    }
}
