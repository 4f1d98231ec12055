import DSGDKernels
import DSGDKernelTable
import XCTest

/// The coordinator's dense mean-and-step every kernel variant exports (`KernelTable.step`), on
/// every variant under test (`testedKernels`), against a scalar loop written here from the
/// documented rule (`StepKernels.Step`): gradients summed in index order, scaled, then the plain,
/// heavy-ball or Nesterov step, every operation a separate float operation. The comparison is of
/// bits (no tolerance): the rule fixes every rounding.
final class StepKernelTests: XCTestCase {
    /// Lengths around the vector widths (4, 8, 16 lanes): whole vectors, tails, tails only; and
    /// across the blocks of 1024 that more than four gradients are summed in.
    let lengths = [1, 3, 4, 7, 8, 15, 16, 17, 31, 33, 64 + 5, 1000 + 3, 2 * 1024 + 5]

    struct Case {
        var gradients: [[Float]]
        var params: [Float]
        var velocity: [Float]
        var step: StepKernels.Step
    }

    /// Random floats in about ±4 (so sums and steps round in every way but stay finite).
    func randomFloats(_ n: Int, seed: UInt64) -> [Float] {
        var state = seed
        return (0..<n).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int32(truncatingIfNeeded: state >> 32)) / Float(1 << 29)
        }
    }

    /// The gradients as the kernel reads them: float32, or bf16 (little-endian top halves of the
    /// floats, truncated here; the kernel only widens).
    func bytes(_ g: [Float], bfloat16: Bool) -> [UInt8] {
        if !bfloat16 { return g.withUnsafeBytes { Array($0) } }
        return g.flatMap { x -> [UInt8] in
            let top = UInt16(x.bitPattern >> 16)
            return [UInt8(top & 0xFF), UInt8(top >> 8)]
        }
    }

    /// The value the kernel reads for element `i` of gradient `g`.
    func read(_ g: [Float], _ i: Int, bfloat16: Bool) -> Float {
        bfloat16 ? Float(bitPattern: g[i].bitPattern & 0xFFFF_0000) : g[i]
    }

    /// The documented rule, one element at a time: (out, velocity after, finite).
    func reference(_ c: Case) -> ([Float], [Float], Bool) {
        var out = c.params, velocity = c.velocity, finite = true
        for i in 0..<c.params.count {
            var s = read(c.gradients[0], i, bfloat16: c.step.bfloat16)
            for k in 1..<c.gradients.count { s = s + read(c.gradients[k], i, bfloat16: c.step.bfloat16) }
            if !s.isFinite { finite = false }
            let g = c.step.scale * s
            if c.step.momentum == 0 {
                out[i] = c.params[i] - c.step.rate * g
            } else {
                let v = c.step.momentum * c.velocity[i] + g
                velocity[i] = v
                out[i] = c.step.nesterov ? c.params[i] - c.step.rate * (g + c.step.momentum * v) : c.params[i] - c.step.rate * v
            }
        }
        return (out, velocity, finite)
    }

    /// One call of a variant's `meanStep`: (out, velocity after, returned value).
    func run(_ kernel: StepKernels.MeanStep, _ c: Case) -> ([Float], [Float], Bool) {
        let n = c.params.count
        var out = [Float](repeating: .nan, count: n), velocity = c.velocity
        let payloads = c.gradients.map { bytes($0, bfloat16: c.step.bfloat16) }
        // Every buffer at its own heap address, one byte off alignment, as a received frame may be.
        let frames = payloads.map { p -> UnsafeMutableRawPointer in
            let m = UnsafeMutableRawPointer.allocate(byteCount: p.count + 1, alignment: 64)
            p.withUnsafeBytes { (m + 1).copyMemory(from: $0.baseAddress!, byteCount: p.count) }
            return m
        }
        defer { frames.forEach { $0.deallocate() } }
        let pointers: [UnsafeRawPointer?] = frames.map { UnsafeRawPointer($0 + 1) }
        let ok = pointers.withUnsafeBufferPointer { g in
            c.params.withUnsafeBufferPointer { w in
                out.withUnsafeMutableBufferPointer { o in
                    velocity.withUnsafeMutableBufferPointer { v in
                        kernel(g.baseAddress!, c.gradients.count, n, w.baseAddress!, o.baseAddress!, v.baseAddress!, c.step)
                    }
                }
            }
        }
        return (out, velocity, ok)
    }

    func assertSameBits(_ a: [Float], _ b: [Float], _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, what, file: file, line: line)
        if let i = a.indices.first(where: { i in i < b.count && a[i].bitPattern != b[i].bitPattern }) {
            XCTFail("\(what): element \(i) of \(a.count) is \(a[i]) (0x\(String(a[i].bitPattern, radix: 16))), expected \(b[i]) (0x\(String(b[i].bitPattern, radix: 16)))",
                    file: file, line: line)
        }
    }

    /// Every rule, storage, gradient count (one to four summed in one loop, more in blocks) and
    /// length gives the reference's bits, in `out` and in the velocity.
    func testEveryVariantMatchesTheRuleBitForBit() {
        let rules: [(String, Float, Bool)] = [("plain", 0, false), ("heavy ball", 0.9, false), ("nesterov", 0.35, true)]
        for kernels in testedKernels {
            for (rule, momentum, nesterov) in rules {
                for bfloat16 in [false, true] {
                    for count in [1, 2, 3, 4, 5, 9] {
                        for n in lengths {
                            let seed = UInt64(n * 31 + count * 7 + (bfloat16 ? 1 : 0))
                            let c = Case(gradients: (0..<count).map { randomFloats(n, seed: seed + UInt64($0) * 1000) },
                                         params: randomFloats(n, seed: seed + 77), velocity: randomFloats(n, seed: seed + 99),
                                         step: .init(scale: 1 / Float(count), rate: 0.07, momentum: momentum, nesterov: nesterov, bfloat16: bfloat16))
                            let (out, velocity, ok) = run(kernels.table.step.meanStep, c)
                            let (refOut, refVelocity, refOk) = reference(c)
                            let what = "\(kernels.name) \(rule) bf16=\(bfloat16) count=\(count) n=\(n)"
                            XCTAssertTrue(ok && refOk, what)
                            assertSameBits(out, refOut, what + " out")
                            assertSameBits(velocity, refVelocity, what + " velocity")
                        }
                    }
                }
            }
        }
    }

    /// A NaN or an infinity in any gradient, or a finite sum that overflows, at any position (in a
    /// whole vector or in the tail) makes `meanStep` return false.
    func testNonFiniteSumsAreReported() {
        let n = 37
        for kernels in testedKernels {
            for bfloat16 in [false, true] {
                for position in [0, 5, 15, 16, 31, 32, 36] {
                    for (label, first, second) in [("NaN", Float.nan, Float(1)), ("infinity", -.infinity, 1), ("overflow", 3e38, 3e38)] {
                        var gradients = (0..<2).map { randomFloats(n, seed: UInt64(position * 10 + $0)) }
                        gradients[0][position] = first
                        gradients[1][position] = second
                        let c = Case(gradients: gradients, params: randomFloats(n, seed: 5), velocity: [Float](repeating: 0, count: n),
                                     step: .init(scale: 0.5, rate: 0.1, momentum: 0, nesterov: false, bfloat16: bfloat16))
                        XCTAssertFalse(run(kernels.table.step.meanStep, c).2, "\(kernels.name) bf16=\(bfloat16) \(label) at \(position)")
                        XCTAssertFalse(reference(c).2)
                    }
                }
            }
        }
    }
}
