import DSGDCore
import DSGDKernels
import XCTest

/// SGEMM against a naive float64 reference, for every transpose combination, odd shapes (edge
/// tiles in every direction), shapes crossing the kc/mc/nc block sizes, strided operands and
/// accumulation; every case on every kernel variant this CPU runs (`testedKernels`).
final class SGEMMTests: XCTestCase {
    /// Random floats in [-1, 1) from one SplitMix64 stream.
    func random(_ count: Int, seed: UInt64) -> [Float] {
        var rng = SplitMix64(seed: seed)
        return (0..<count).map { _ in Float(2 * rng.nextUnit() - 1) }
    }

    /// Checks `C (+)= op(A) op(B)` for one shape and transpose pair on every variant (the float64
    /// reference computed once). A and B get a row stride two floats longer than needed, C one
    /// longer, so strides are exercised too.
    func check(m: Int, n: Int, k: Int, ta: Bool, tb: Bool, accumulate: Bool, bias: Bool = false, relu: Bool = false, file: StaticString = #filePath, line: UInt = #line) {
        let rowsA = ta ? k : m, colsA = ta ? m : k, lda = colsA + 2
        let rowsB = tb ? n : k, colsB = tb ? k : n, ldb = colsB + 2
        let ldc = n + 1
        let a = random(max(1, rowsA * lda), seed: UInt64(m * 1000 + k))
        let b = random(max(1, rowsB * ldb), seed: UInt64(n * 1000 + k + 7))
        let c0 = random(max(1, m * ldc), seed: 99)
        let biasValues = random(n, seed: 5)
        // The float64 reference and, per entry, the sum of magnitudes its rounding is measured against.
        var expected = [Double](repeating: 0, count: m * n), scales = expected
        for i in 0..<m {
            for j in 0..<n {
                var s = (accumulate ? Double(c0[i * ldc + j]) : 0) + (bias ? Double(biasValues[j]) : 0)
                var scale = abs(s)
                for p in 0..<k {
                    let x = Double(ta ? a[p * lda + i] : a[i * lda + p]) * Double(tb ? b[j * ldb + p] : b[p * ldb + j])
                    s += x
                    scale += abs(x)
                }
                if relu { s = max(s, 0) }
                expected[i * n + j] = s
                scales[i * n + j] = scale
            }
        }
        let ws = SGEMMWorkspace()
        for kernels in testedKernels {
            var c = c0
            a.withUnsafeBufferPointer { ap in
                b.withUnsafeBufferPointer { bp in
                    c.withUnsafeMutableBufferPointer { cp in
                        kernels.multiply(m: m, n: n, k: k, a: ap.baseAddress!, lda: lda, transposeA: ta,
                                         b: bp.baseAddress!, ldb: ldb, transposeB: tb,
                                         c: cp.baseAddress!, ldc: ldc, accumulate: accumulate,
                                         bias: bias ? biasValues : nil, relu: relu, workspace: ws)
                    }
                }
            }
            var worst = 0.0
            for i in 0..<m {
                for j in 0..<n {
                    // Relative to the sum of magnitudes (a cancelling sum has no meaningful relative error).
                    worst = max(worst, abs(Double(c[i * ldc + j]) - expected[i * n + j]) / max(scales[i * n + j], 1e-30))
                }
            }
            XCTAssertLessThan(worst, 1e-4, "\(kernels.name): m=\(m) n=\(n) k=\(k) ta=\(ta) tb=\(tb) acc=\(accumulate) bias=\(bias) relu=\(relu)", file: file, line: line)
            // The padding column of C (past n) is never written.
            for i in 0..<m { XCTAssertEqual(c[i * ldc + n], c0[i * ldc + n], "\(kernels.name): wrote past n", file: file, line: line) }
        }
    }

    let shapes: [(Int, Int, Int)] = [
        (1, 1, 1), (7, 13, 5), (5, 7, 13), (6, 16, 1), (13, 33, 17), (97, 17, 300),
        (64, 256, 784), (10, 256, 64), (256, 10, 64), (100, 600, 40),
        // Around the AVX-512 tile (8 x 32) and its kc = 128.
        (8, 32, 128), (9, 33, 129), (16, 80, 256), (17, 40, 300),
    ]

    func testAllTransposesOnOddShapes() {
        for (m, n, k) in shapes {
            for ta in [false, true] {
                for tb in [false, true] {
                    check(m: m, n: n, k: k, ta: ta, tb: tb, accumulate: false)
                }
            }
        }
    }

    func testAccumulate() {
        // (37, 64, 270): whole panels in every variant and one block of rows, so B is read in place.
        for (m, n, k) in [(1, 1, 1), (7, 13, 5), (37, 300, 270), (37, 64, 270)] {
            check(m: m, n: n, k: k, ta: false, tb: true, accumulate: true)
            check(m: m, n: n, k: k, ta: true, tb: false, accumulate: true)
            check(m: m, n: n, k: k, ta: false, tb: false, accumulate: true)
        }
    }

    /// The fused epilogue: bias on every row, ReLU after the last k block only (k = 600 spans three
    /// blocks, so a ReLU applied early would show).
    func testBiasAndReLU() {
        for (m, n, k) in [(1, 1, 1), (7, 13, 5), (13, 33, 17), (37, 300, 600), (24, 64, 600), (1, 5, 0)] {
            check(m: m, n: n, k: k, ta: false, tb: true, accumulate: false, bias: true, relu: true)
            check(m: m, n: n, k: k, ta: false, tb: true, accumulate: false, bias: true, relu: false)
            check(m: m, n: n, k: k, ta: false, tb: false, accumulate: true, bias: false, relu: true)
        }
    }

    func testColumnSumsAndReLUBackward() {
        for kernels in testedKernels {
            for (rows, cols, lda) in [(9, 37, 40), (3, 100, 100), (1, 5, 5), (4, 64, 70)] {
                let a = random(rows * lda, seed: 11)
                var out = [Float](repeating: .nan, count: cols)
                a.withUnsafeBufferPointer { ap in
                    out.withUnsafeMutableBufferPointer { kernels.columnSums(ap.baseAddress!, rows: rows, cols: cols, lda: lda, into: $0.baseAddress!) }
                }
                for j in 0..<cols {
                    XCTAssertEqual(Double(out[j]), (0..<rows).map { Double(a[$0 * lda + j]) }.reduce(0, +), accuracy: 1e-5, kernels.name)
                }
            }
            for count in [29, 64, 3] {
                let h = random(count, seed: 12).map { max($0, 0) }
                var d = random(count, seed: 13)
                let d0 = d
                h.withUnsafeBufferPointer { hp in
                    d.withUnsafeMutableBufferPointer { kernels.reluBackward($0.baseAddress!, mask: hp.baseAddress!, count: count) }
                }
                XCTAssertEqual(d, zip(d0, h).map { $1 > 0 ? $0 : 0 }, kernels.name)
            }
        }
    }

    func testEmptyShared() {
        // k = 0: C = 0 (or unchanged when accumulating).
        for kernels in testedKernels {
            var c: [Float] = [1, 2, 3, 4]
            let a: [Float] = [0], b: [Float] = [0]
            let ws = SGEMMWorkspace()
            c.withUnsafeMutableBufferPointer { cp in
                kernels.multiply(m: 2, n: 2, k: 0, a: a, lda: 1, transposeA: false, b: b, ldb: 1, transposeB: false,
                                 c: cp.baseAddress!, ldc: 2, accumulate: true, workspace: ws)
            }
            XCTAssertEqual(c, [1, 2, 3, 4], kernels.name)
            c.withUnsafeMutableBufferPointer { cp in
                kernels.multiply(m: 2, n: 2, k: 0, a: a, lda: 1, transposeA: false, b: b, ldb: 1, transposeB: false,
                                 c: cp.baseAddress!, ldc: 2, accumulate: false, workspace: ws)
            }
            XCTAssertEqual(c, [0, 0, 0, 0], kernels.name)
        }
    }

    /// The front (`SGEMM.multiply`, what the MLP calls) runs the active variant.
    func testFrontUsesActiveVariant() {
        let (m, n, k) = (13, 33, 17)
        let a = random(m * k, seed: 1), b = random(k * n, seed: 2)
        var viaFront = [Float](repeating: 0, count: m * n), viaActive = viaFront
        let ws = SGEMMWorkspace()
        viaFront.withUnsafeMutableBufferPointer { cp in
            SGEMM.multiply(m: m, n: n, k: k, a: a, lda: k, transposeA: false, b: b, ldb: n, transposeB: false,
                           c: cp.baseAddress!, ldc: n, accumulate: false, workspace: ws)
        }
        viaActive.withUnsafeMutableBufferPointer { cp in
            Kernels.active.multiply(m: m, n: n, k: k, a: a, lda: k, transposeA: false, b: b, ldb: n, transposeB: false,
                                    c: cp.baseAddress!, ldc: n, accumulate: false, workspace: ws)
        }
        XCTAssertEqual(viaFront, viaActive)
    }
}
