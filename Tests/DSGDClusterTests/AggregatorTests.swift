import DSGDCluster
import DSGDCore
import XCTest

final class AggregatorTests: XCTestCase {
    /// Averages three gradients over more parameters than one chunk and checks against a direct sum.
    func testAverageAndStepAcrossChunks() {
        let n = 5000
        let grads: [[Float]] = (0..<3).map { k in (0..<n).map { Float(($0 * (k + 3)) % 17) - 8 } }
        let params: [Float] = (0..<n).map { Float($0 % 5) }
        var out = [Float](repeating: 0, count: n)
        let agg = Aggregator(parameterCount: n, maxGradients: 3)
        let ok = grads[0].withUnsafeBytes { g0 in
            grads[1].withUnsafeBytes { g1 in
                grads[2].withUnsafeBytes { g2 in
                    agg.setGradient(0, g0.baseAddress!)
                    agg.setGradient(1, g1.baseAddress!)
                    agg.setGradient(2, g2.baseAddress!)
                    return params.withUnsafeBufferPointer { p in
                        out.withUnsafeMutableBufferPointer { o in
                            agg.apply(count: 3, optimizer: SGD(learningRate: 0.5), params: p.baseAddress!, out: o.baseAddress!)
                        }
                    }
                }
            }
        }
        XCTAssertTrue(ok)
        for i in [0, 1, 2047, 2048, 4095, 4096, 4999] {
            let mean = ((grads[0][i] + grads[1][i]) + grads[2][i]) * (1 / Float(3))
            XCTAssertEqual(out[i], params[i] - 0.5 * mean, "parameter \(i)")
        }
    }

    func testNonFiniteGradientIsRefused() {
        let g: [Float] = [1, .nan, 3]
        let agg = Aggregator(parameterCount: 3, maxGradients: 1)
        var out: [Float] = [0, 0, 0]
        let ok = g.withUnsafeBytes { gb in
            agg.setGradient(0, gb.baseAddress!)
            return [Float](repeating: 0, count: 3).withUnsafeBufferPointer { p in
                out.withUnsafeMutableBufferPointer { agg.apply(count: 1, optimizer: SGD(learningRate: 1), params: p.baseAddress!, out: $0.baseAddress!) }
            }
        }
        XCTAssertFalse(ok)
    }
}
