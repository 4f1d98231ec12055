import DSGDCore
import DSGDKernels
import Foundation
import XCTest

/// The vectorised elementary functions (`VectorMath`) against float64 `Foundation` references over
/// dense grids including the extremes and IEEE specials, and the fused minibatch loss and gradient
/// of the affine models (`AffineKernels`, through `LogisticRegression` and `LinearRegression`)
/// against a straightforward float64 implementation; every case on every kernel variant this CPU
/// runs (`testedKernels`, each called directly).
///
/// Tolerances, in units in the last place of the float64 reference rounded to float (for subnormal
/// results the ulp is the smallest subnormal, 2^-149):
/// - `exp`, `log1p`: 2 ulps (measured: 0.98 and 1.18);
/// - `sigmoid`, the logistic loss, and its slope for labels 0 and 1: 3 ulps (measured: 2.25, 1.53
///   and 2.33). For fractional labels the slope `sigmoid(z) - y` cancels near `sigmoid(z) = y`;
///   there its absolute error is at most 1.2e-7 (one float ulp of 1; measured 8.9e-8).
/// - The fused minibatch: mean loss within 1e-6 relative; each gradient entry within
///   `2e-6 * (1/B) sum_i |s_i x_ij| + 1e-9` of the float64 value (the float32 sums of `B` terms
///   and of the `d` products inside each `z`).
final class AffineKernelTests: XCTestCase {
    // MARK: - Helpers

    /// `|f - ref|` in ulps of `Float(ref)`; NaN matches only NaN, infinities only themselves.
    func ulpError(_ f: Float, _ ref: Double) -> Double {
        if ref.isNaN { return f.isNaN ? 0 : .infinity }
        let rounded = Float(ref)
        if rounded.isInfinite { return f == rounded ? 0 : .infinity }
        if !f.isFinite { return .infinity }
        let ulp = rounded == 0 ? Float.leastNonzeroMagnitude : rounded.ulp
        return abs(Double(f) - ref) / Double(ulp)
    }

    /// `f` applied to `xs` eight at a time (the last vector padded with zeros).
    func lanes(_ xs: [Float], _ f: (SIMD8<Float>) -> SIMD8<Float>) -> [Float] {
        var out: [Float] = []
        var i = 0
        while i < xs.count {
            var v = SIMD8<Float>()
            for k in 0..<8 where i + k < xs.count { v[k] = xs[i + k] }
            let r = f(v)
            for k in 0..<8 where i + k < xs.count { out.append(r[k]) }
            i += 8
        }
        return out
    }

    /// `from`, `from + step`, ... up to `to`.
    func grid(_ from: Double, _ to: Double, _ step: Double) -> [Float] {
        stride(from: from, through: to, by: step).map { Float($0) }
    }

    /// `±m` for m in [1e-38, 1) on a geometric grid, with the smallest subnormals.
    var tinyValues: [Float] {
        var out: [Float] = [Float.leastNonzeroMagnitude, -Float.leastNonzeroMagnitude, Float(bitPattern: 2), Float(bitPattern: 0x0000_1234),
                            -Float(bitPattern: 0x007F_FFFF), Float.leastNormalMagnitude]
        var t: Float = 1e-38
        while t < 1 {
            out += [t, -t]
            t *= 1.05
        }
        return out
    }

    let specials: [Float] = [0, -0, .infinity, -.infinity, .nan, -.nan, .signalingNaN]

    /// Checks `f` against `reference` at every `x`, within `ulps`.
    func check(_ name: String, _ xs: [Float], _ f: (SIMD8<Float>) -> SIMD8<Float>, _ reference: (Double) -> Double,
               ulps: Double, file: StaticString = #filePath, line: UInt = #line) {
        var worst = 0.0, worstAt: Float = 0
        for (x, value) in zip(xs, lanes(xs, f)) {
            let e = ulpError(value, reference(Double(x)))
            if !(e <= worst) { worst = e; worstAt = x }
        }
        XCTAssertLessThanOrEqual(worst, ulps, "\(name): worst error \(worst) ulps at x = \(worstAt)", file: file, line: line)
    }

    // MARK: - Elementary functions

    func testExp() {
        // Underflow to 0 below -103.98, subnormal results below -87.34, overflow above 88.72.
        let xs = grid(-200, 200, 0.0023) + tinyValues + specials
            + [88.72, 88.7228, 88.73, 89, -87.33, -87.34, -103.97, -103.98, -110, -1e30, 1e30]
        for kernels in testedKernels {
            check("\(kernels.name) exp", xs, kernels.exp, Foundation.exp, ulps: 2)
            XCTAssertEqual(lanes([-.infinity], kernels.exp), [0], kernels.name)
            XCTAssertEqual(lanes([.infinity], kernels.exp), [.infinity], kernels.name)
            XCTAssertTrue(lanes([.nan], kernels.exp)[0].isNaN, kernels.name)
        }
        XCTAssertEqual(lanes([-1, 0, 1], VectorMath.exp), lanes([-1, 0, 1], Kernels.active.exp))
    }

    func testLog1p() {
        var xs = grid(-0.99999, 10, 0.0003) + tinyValues + specials
        var t: Float = 10
        while t < 1e38 {
            xs.append(t)
            t *= 1.01
        }
        // Around the reduction boundaries u = sqrt(1/2), sqrt 2, 2 sqrt 2 and near -1.
        xs += [-0.99999994, -0.9999, -0.5, -0.29289323, -0.29289320, 0.41421354, 0.41421357, 1.8284271, 1.8284273,
               Float.greatestFiniteMagnitude, -1, -1.0000001, -2, -1e30]
        for kernels in testedKernels {
            check("\(kernels.name) log1p", xs, kernels.log1p, Foundation.log1p, ulps: 2)
            XCTAssertEqual(lanes([-1], kernels.log1p), [-.infinity], kernels.name)
            XCTAssertEqual(lanes([.infinity], kernels.log1p), [.infinity], kernels.name)
            XCTAssertTrue(lanes([-2], kernels.log1p)[0].isNaN, kernels.name)
            XCTAssertTrue(lanes([-.infinity], kernels.log1p)[0].isNaN, kernels.name)
            XCTAssertTrue(lanes([.nan], kernels.log1p)[0].isNaN, kernels.name)
            XCTAssertEqual(lanes([1e-30], kernels.log1p), [1e-30], kernels.name)
        }
    }

    /// float64 logistic function, without cancellation on either side.
    func sigmoid(_ z: Double) -> Double { z >= 0 ? 1 / (1 + Foundation.exp(-z)) : Foundation.exp(z) / (1 + Foundation.exp(z)) }

    /// Logits: dense over [-200, 200], tiny, the specials.
    var logits: [Float] { grid(-200, 200, 0.0037) + tinyValues + specials + [-1e30, 1e30, 87.5, -87.5, 103.9, -103.9, 120, -120] }

    func testSigmoid() {
        for kernels in testedKernels {
            check("\(kernels.name) sigmoid", logits, kernels.sigmoid, sigmoid, ulps: 3)
            XCTAssertEqual(lanes([.infinity, -.infinity, 0], kernels.sigmoid), [1, 0, 0.5], kernels.name)
        }
    }

    /// The float64 logistic loss `log(1 + e^z) - y z` and slope `sigmoid(z) - y`, with their limits
    /// at infinite `z`.
    func logisticReference(z: Double, y: Double) -> (loss: Double, slope: Double) {
        if z.isNaN { return (.nan, .nan) }
        if z == .infinity { return (y == 1 ? 0 : (1 - y) * .infinity, 1 - y) }
        if z == -.infinity { return (y == 0 ? 0 : y * .infinity, -y) }
        let loss = max(z, 0) - y * z + Foundation.log1p(Foundation.exp(-abs(z)))
        let slope = y <= 0.5 ? sigmoid(z) - y : (1 - y) - sigmoid(-z)
        return (loss, slope)
    }

    func testLogisticLossAndSlope() {
        for kernels in testedKernels { checkLogisticLossAndSlope(kernels) }
    }

    func checkLogisticLossAndSlope(_ kernels: Kernels) {
        let name = kernels.name
        let zs = logits
        for y: Float in [0, 1, 0.25, 0.5, 0.75] {
            var worstLoss = 0.0, worstSlope = 0.0, worstSlopeAbsolute = 0.0
            var i = 0
            while i < zs.count {
                var z = SIMD8<Float>()
                for k in 0..<8 where i + k < zs.count { z[k] = zs[i + k] }
                let (loss, slope) = kernels.logisticLossAndSlope(z: z, y: SIMD8(repeating: y))
                for k in 0..<8 where i + k < zs.count {
                    let reference = logisticReference(z: Double(z[k]), y: Double(y))
                    let el = ulpError(loss[k], reference.loss), es = ulpError(slope[k], reference.slope)
                    if !(el <= worstLoss) { worstLoss = el }
                    if !(es <= worstSlope) { worstSlope = es }
                    if reference.slope.isNaN {
                        XCTAssertTrue(slope[k].isNaN, "\(name): NaN z must give a NaN slope")
                    } else {
                        let ea = abs(Double(slope[k]) - reference.slope)
                        if !(ea <= worstSlopeAbsolute) { worstSlopeAbsolute = ea }
                    }
                }
                i += 8
            }
            XCTAssertLessThanOrEqual(worstLoss, 3, "\(name) loss, y = \(y)")
            if y == 0 || y == 1 { XCTAssertLessThanOrEqual(worstSlope, 3, "\(name) slope, y = \(y)") }
            XCTAssertLessThanOrEqual(worstSlopeAbsolute, 1.2e-7, "\(name) slope, y = \(y)")
        }
        // The limits, exactly: no inf - inf.
        let z = SIMD8<Float>(.infinity, .infinity, -.infinity, -.infinity, .nan, .nan, 100, -100)
        let y = SIMD8<Float>(1, 0, 0, 1, 0, 1, 0, 0)
        let (loss, slope) = kernels.logisticLossAndSlope(z: z, y: y)
        XCTAssertEqual([loss[0], loss[1], loss[2], loss[3]], [0, .infinity, 0, .infinity], name)
        XCTAssertEqual([slope[0], slope[1], slope[2], slope[3]], [0, 1, 0, -1], name)
        XCTAssertTrue(loss[4].isNaN && loss[5].isNaN && slope[4].isNaN && slope[5].isNaN, name)
        XCTAssertEqual(loss[6], 100, name)
        XCTAssertEqual(Double(loss[7]), Foundation.exp(-100.0), accuracy: Double(Float.leastNonzeroMagnitude), name)   // subnormal
    }

    // MARK: - The fused minibatch loss and gradient

    /// A random data set (features in [-1, 1), targets 0/1 for the logistic loss, else in [-2, 2)).
    func randomData(examples: Int, dimension: Int, logistic: Bool, seed: UInt64) -> Dataset {
        var rng = SplitMix64(seed: seed)
        let x = (0..<(examples * dimension)).map { _ in Float(2 * rng.nextUnit() - 1) }
        let y = (0..<examples).map { _ in logistic ? Float(rng.next() % 2) : Float(4 * rng.nextUnit() - 2) }
        return Dataset(examples: examples, dimension: dimension, features: x, targets: y)
    }

    /// The float64 mean loss and gradient over `batch`, and per gradient entry the scale
    /// `(1/B) sum_i |s_i x_ij|` its rounding error is measured against.
    func reference(logistic: Bool, parameters w: [Float], data: Dataset, batch: [UInt32]) -> (loss: Double, gradient: [Double], scale: [Double]) {
        let d = data.dimension
        var loss = 0.0
        var g = [Double](repeating: 0, count: d + 1), scale = [Double](repeating: 0, count: d + 1)
        for i in batch.map(Int.init) {
            var z = Double(w[d])
            for j in 0..<d { z += Double(w[j]) * Double(data.features[i * d + j]) }
            let y = Double(data.targets[i])
            let (l, s): (Double, Double) = logistic ? logisticReference(z: z, y: y) : (0.5 * (z - y) * (z - y), z - y)
            loss += l
            for j in 0..<d {
                g[j] += s * Double(data.features[i * d + j])
                scale[j] += abs(s * Double(data.features[i * d + j]))
            }
            g[d] += s
            scale[d] += abs(s)
        }
        let b = Double(batch.count)
        return (loss / b, g.map { $0 / b }, scale.map { $0 / b })
    }

    /// Checks one case; returns the worst gradient error as a fraction of its tolerance.
    @discardableResult
    func checkFused(_ kernels: Kernels, logistic: Bool, dimension d: Int, batchSize: Int, weightScale: Float, seed: UInt64,
                    file: StaticString = #filePath, line: UInt = #line) -> Double {
        let examples = 1500
        let data = randomData(examples: examples, dimension: d, logistic: logistic, seed: seed)
        var rng = SplitMix64(seed: seed &+ 1)
        let w = (0...d).map { _ in weightScale * Float(2 * rng.nextUnit() - 1) }
        // Random, non-consecutive rows, repeats allowed.
        let batch = (0..<batchSize).map { _ in UInt32(rng.next() % UInt64(examples)) }
        var g = [Float](repeating: .nan, count: d + 1)
        let loss = w.withUnsafeBufferPointer { wp in
            data.features.withUnsafeBufferPointer { xs in
                data.targets.withUnsafeBufferPointer { ys in
                    batch.withUnsafeBufferPointer { bp in
                        g.withUnsafeMutableBufferPointer { gp in
                            kernels.lossAndGradient(logistic ? .logistic : .squared, parameters: wp.baseAddress!, dimension: d,
                                                    features: xs.baseAddress!, targets: ys.baseAddress!, batch: bp, gradient: gp.baseAddress!)
                        }
                    }
                }
            }
        }
        let ref = reference(logistic: logistic, parameters: w, data: data, batch: batch)
        let label = "\(kernels.name) \(logistic ? "logistic" : "linear") d=\(d) B=\(batchSize) |w|<=\(weightScale)"
        if kernels.name == Kernels.active.name {
            // The models run the active variant: the same bits.
            let model: any Model = logistic ? LogisticRegression(dimension: d) : LinearRegression(dimension: d)
            let viaModel = model.lossAndGradient(parameters: w, data: data, batch: batch)
            XCTAssertEqual(viaModel.loss, loss, label, file: file, line: line)
            XCTAssertEqual(viaModel.gradient, g, label, file: file, line: line)
        }
        XCTAssertEqual(loss, ref.loss, accuracy: 1e-6 * abs(ref.loss) + 1e-12, "loss, \(label)", file: file, line: line)
        XCTAssertEqual(g.count, d + 1, file: file, line: line)
        var worst = 0.0
        for j in 0...d {
            let e = abs(Double(g[j]) - ref.gradient[j]) / (2e-6 * ref.scale[j] + 1e-9)
            worst = max(worst, e.isNaN ? .infinity : e)
        }
        XCTAssertLessThanOrEqual(worst, 1, "gradient, \(label): worst error \(worst) of the tolerance", file: file, line: line)
        return worst
    }

    func testFusedMinibatchMatchesFloat64() {
        for kernels in testedKernels {
            var worst = 0.0
            for logistic in [true, false] {
                for d in [1, 3, 4, 7, 8, 9, 15, 16, 17, 33, 100, 131] {
                    for batchSize in [1, 5, 64, 1024] {
                        worst = max(worst, checkFused(kernels, logistic: logistic, dimension: d, batchSize: batchSize, weightScale: 0.5,
                                                      seed: UInt64(d * 10_000 + batchSize * 2 + (logistic ? 1 : 0))))
                    }
                }
            }
            print("AffineKernelTests: fused minibatch (\(kernels.name)), worst gradient error \(worst) of the tolerance")
        }
    }

    /// The edges of the kernel's groups and blocks: `d` below, at and above a vector and a multiple
    /// of none (785: a group of one block), batches that end inside a block, at a group's end and
    /// one past it (groups are 64 rows at d = 1 and 3, 16 at d = 100, 8 at d = 785), and a batch
    /// longer than the prefetch distance. The weights shrink as `1/sqrt(d)` past d = 100, so that
    /// the logits keep the size they have at d = 100 (a float32 dot product of 785 terms with
    /// |w| <= 0.5 is off by more than the loss's relative tolerance when one example is the batch).
    func testFusedGroupAndBlockEdges() {
        for kernels in testedKernels {
            for logistic in [true, false] {
                for d in [1, 3, 17, 100, 785] {
                    let weightScale = Float(min(0.5, 5 / Double(d).squareRoot()))
                    for batchSize in [1, 5, 8, 15, 16, 17, 63, 64, 65, 1000] {
                        checkFused(kernels, logistic: logistic, dimension: d, batchSize: batchSize, weightScale: weightScale,
                                   seed: UInt64(d * 7_919 + batchSize * 3 + (logistic ? 1 : 0)))
                    }
                }
            }
        }
    }

    /// The next batch is only prefetched: with consecutive rows (prefetched as one run of lines) and
    /// random ones, in this batch and in the next, a next batch shorter and longer than the
    /// prefetch distance or empty, every variant gives the bits it gives without the hint (which
    /// `checkFused` compares with float64).
    func testNextBatchHintLeavesTheResultUnchanged() {
        let examples = 3000
        for kernels in testedKernels {
            for d in [3, 100, 785] {
                let data = randomData(examples: examples, dimension: d, logistic: true, seed: UInt64(d))
                var rng = SplitMix64(seed: UInt64(d) + 1)
                let w = (0...d).map { _ in Float(0.1 * (2 * rng.nextUnit() - 1)) }
                for batchSize in [5, 64, 1000] {
                    let consecutive = (0..<batchSize).map { UInt32(7 + $0) }
                    let random = (0..<batchSize).map { _ in UInt32(rng.next() % UInt64(examples)) }
                    for batch in [consecutive, random] {
                        let nexts: [[UInt32]] = [[], (0..<3).map { UInt32(1000 + $0) }, (0..<batchSize).map { UInt32(2000 - $0) },
                                                 (0..<500).map { UInt32(2500 + $0) }, (0..<40).map { _ in UInt32(rng.next() % UInt64(examples)) }]
                        var results: [(Double, [UInt32])] = []
                        for next in nexts {
                            var g = [Float](repeating: .nan, count: d + 1)
                            let loss = w.withUnsafeBufferPointer { wp in data.features.withUnsafeBufferPointer { xs in data.targets.withUnsafeBufferPointer { ys in
                                batch.withUnsafeBufferPointer { bp in next.withUnsafeBufferPointer { np in g.withUnsafeMutableBufferPointer { gp in
                                    kernels.lossAndGradient(.logistic, parameters: wp.baseAddress!, dimension: d, features: xs.baseAddress!,
                                                            targets: ys.baseAddress!, batch: bp, gradient: gp.baseAddress!, next: np)
                                } } }
                            } } }
                            results.append((loss, g.map(\.bitPattern)))
                        }
                        for (k, r) in results.enumerated().dropFirst() {
                            let label = "\(kernels.name) d=\(d) B=\(batchSize) \(batch == consecutive ? "consecutive" : "random") next #\(k)"
                            XCTAssertEqual(r.0.bitPattern, results[0].0.bitPattern, "loss, \(label)")
                            XCTAssertEqual(r.1, results[0].1, "gradient, \(label)")
                        }
                    }
                }
            }
        }
    }

    /// The forward pass's row order (`featureRows` large: a data set that streams from memory, whose
    /// consecutive batches are read one row at a time) changes no bit: consecutive batches of every
    /// length around the block and group edges, `d` below, at and above a vector and a multiple of
    /// none, both losses, every variant, against the same calls with `featureRows` 0 (rows side by
    /// side), which `checkFused` compares with float64. (Only the rows of the batch are read, so a
    /// small data set can claim to be large.) Random batches never take the row order: their bits
    /// match too.
    func testRowOrderLeavesTheResultUnchanged() {
        let examples = 1100
        for kernels in testedKernels {
            for d in [3, 8, 17, 100, 785] {
                let data = randomData(examples: examples, dimension: d, logistic: true, seed: UInt64(d) + 77)
                var rng = SplitMix64(seed: UInt64(d) + 78)
                let w = (0...d).map { _ in Float(min(0.5, 5 / Double(d).squareRoot()) * (2 * rng.nextUnit() - 1)) }
                for batchSize in [1, 5, 8, 9, 16, 17, 64, 65, 1000] {
                    let consecutive = (0..<batchSize).map { UInt32(11 + $0) }
                    let random = (0..<batchSize).map { _ in UInt32(rng.next() % UInt64(examples)) }
                    for batch in [consecutive, random] {
                        for loss in [AffineKernels.Loss.logistic, .squared] {
                            let results = [0, 1 << 40].map { rows in
                                var g = [Float](repeating: .nan, count: d + 1)
                                let value = w.withUnsafeBufferPointer { wp in data.features.withUnsafeBufferPointer { xs in data.targets.withUnsafeBufferPointer { ys in
                                    batch.withUnsafeBufferPointer { bp in g.withUnsafeMutableBufferPointer { gp in
                                        kernels.lossAndGradient(loss, parameters: wp.baseAddress!, dimension: d, features: xs.baseAddress!, featureRows: rows,
                                                                targets: ys.baseAddress!, batch: bp, gradient: gp.baseAddress!)
                                    } }
                                } } }
                                return (value.bitPattern, g.map(\.bitPattern))
                            }
                            let label = "\(kernels.name) \(loss) d=\(d) B=\(batchSize) \(batch == consecutive ? "consecutive" : "random")"
                            XCTAssertEqual(results[1].0, results[0].0, "loss, \(label)")
                            XCTAssertEqual(results[1].1, results[0].1, "gradient, \(label)")
                            XCTAssertFalse(results[0].1.contains(Float.nan.bitPattern), "gradient written, \(label)")
                        }
                    }
                }
            }
        }
    }

    /// `meanLoss` over a data set that streams from memory (16.8 MB: read one row at a time)
    /// equals the minibatch loss over all its rows computed side by side, on every variant.
    func testMeanLossOfALargeDataSet() {
        let (examples, d) = (42_000, 100)
        let data = randomData(examples: examples, dimension: d, logistic: true, seed: 5)
        var rng = SplitMix64(seed: 6)
        let w = (0...d).map { _ in Float(0.2 * (2 * rng.nextUnit() - 1)) }
        let all = (0..<UInt32(examples)).map { $0 }
        var g = [Float](repeating: 0, count: d + 1)
        for kernels in testedKernels {
            for loss in [AffineKernels.Loss.logistic, .squared] {
                let (full, batch) = w.withUnsafeBufferPointer { wp in data.features.withUnsafeBufferPointer { xs in data.targets.withUnsafeBufferPointer { ys in
                    all.withUnsafeBufferPointer { bp in g.withUnsafeMutableBufferPointer { gp in
                        (kernels.meanLoss(loss, parameters: wp.baseAddress!, dimension: d, features: xs.baseAddress!, targets: ys.baseAddress!, examples: examples),
                         kernels.lossAndGradient(loss, parameters: wp.baseAddress!, dimension: d, features: xs.baseAddress!, featureRows: 0,
                                                 targets: ys.baseAddress!, batch: bp, gradient: gp.baseAddress!))
                    } }
                } } }
                XCTAssertGreaterThan(full, 0, "\(kernels.name) \(loss)")
                XCTAssertEqual(full, batch, accuracy: 1e-12 * abs(full), "\(kernels.name) \(loss)")
            }
        }
    }

    /// Weights large enough that most logits are in the tails (|z| up to ~100 and beyond).
    func testFusedMinibatchWithLargeLogits() {
        for kernels in testedKernels {
            for d in [7, 100] {
                for batchSize in [5, 64] {
                    checkFused(kernels, logistic: true, dimension: d, batchSize: batchSize, weightScale: 30, seed: UInt64(d + batchSize))
                }
            }
        }
    }

    /// A NaN parameter gives a NaN loss (dsgd's divergence check must fire); an infinite logit on
    /// the right side of its label gives loss 0 and a zero gradient, on the wrong side loss +inf.
    func testFusedSpecialValues() {
        let data = Dataset(examples: 3, dimension: 1, features: [1, 1, -1], targets: [1, 0, 0])
        let model = LogisticRegression(dimension: 1)
        XCTAssertTrue(model.lossAndGradient(parameters: [.nan, 0], data: data, batch: [0, 1, 2]).loss.isNaN)
        XCTAssertTrue(model.loss(parameters: [.nan, 0], data: data).isNaN)
        let right = model.lossAndGradient(parameters: [.infinity, 0], data: data, batch: [0, 2])
        XCTAssertEqual(right.loss, 0)
        XCTAssertEqual(right.gradient, [0, 0])
        XCTAssertEqual(model.lossAndGradient(parameters: [.infinity, 0], data: data, batch: [1]).loss, .infinity)
    }

    /// On every variant: `meanLoss` equals the minibatch loss over all rows in order.
    func testMeanLossOnEveryVariant() {
        for kernels in testedKernels {
            for d in [3, 8, 17, 100] {
                for examples in [1, 13, 64] {
                    let data = randomData(examples: examples, dimension: d, logistic: true, seed: UInt64(d * examples))
                    var rng = SplitMix64(seed: 9)
                    let w = (0...d).map { _ in Float(rng.nextUnit() - 0.5) }
                    let all = (0..<UInt32(examples)).map { $0 }
                    var g = [Float](repeating: 0, count: d + 1)
                    for loss in [AffineKernels.Loss.logistic, .squared] {
                        let (full, batch) = w.withUnsafeBufferPointer { wp in
                            data.features.withUnsafeBufferPointer { xs in
                                data.targets.withUnsafeBufferPointer { ys in
                                    all.withUnsafeBufferPointer { bp in
                                        g.withUnsafeMutableBufferPointer { gp in
                                            (kernels.meanLoss(loss, parameters: wp.baseAddress!, dimension: d, features: xs.baseAddress!,
                                                              targets: ys.baseAddress!, examples: examples),
                                             kernels.lossAndGradient(loss, parameters: wp.baseAddress!, dimension: d, features: xs.baseAddress!,
                                                                     targets: ys.baseAddress!, batch: bp, gradient: gp.baseAddress!))
                                        }
                                    }
                                }
                            }
                        }
                        XCTAssertEqual(full, batch, accuracy: 1e-12 * abs(full), "\(kernels.name) d=\(d) examples=\(examples)")
                    }
                }
            }
        }
    }

    /// `meanLoss` (the full-set loss) equals the minibatch loss over all rows in order, and the
    /// models' `loss` uses it.
    func testMeanLossEqualsFullBatchLoss() {
        for d in [3, 8, 100] {
            for examples in [1, 13, 64] {
                let data = randomData(examples: examples, dimension: d, logistic: true, seed: UInt64(d * examples))
                var rng = SplitMix64(seed: 9)
                let w = (0...d).map { _ in Float(rng.nextUnit() - 0.5) }
                let all = (0..<UInt32(examples)).map { $0 }
                for model in [LogisticRegression(dimension: d) as any Model, LinearRegression(dimension: d)] {
                    let full = model.loss(parameters: w, data: data)
                    XCTAssertEqual(full, model.lossAndGradient(parameters: w, data: data, batch: all).loss, accuracy: 1e-12 * abs(full))
                }
            }
        }
    }
}
