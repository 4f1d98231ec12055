@testable import DSGDCluster
import DSGDCore
import Foundation
import XCTest
import ZeroMQ

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

    /// One gradient through the aggregator (SIMD groups of 8 and the scalar tail: 8 * 37 + 5
    /// parameters) equals `SGD.step` bit for bit over several steps, for Nesterov, heavy-ball and
    /// plain SGD, both over all parameters and range by range.
    func testOneGradientMatchesSGDStepBitForBit() {
        let n = 8 * 37 + 5
        for optimizer in [SGD(learningRate: 0.07, momentum: 0.9, nesterov: true),
                          SGD(learningRate: 0.07, momentum: 0.9), SGD(learningRate: 0.07),
                          SGD(learningRate: 0.3, momentum: 0.35, nesterov: true)] {
            for ranged in [false, true] {
                let agg = Aggregator(parameterCount: n, maxGradients: 1)
                var w: [Float] = (0..<n).map { Float(($0 * 7) % 13) * 0.37 - 2.1 }
                var reference = w, velocity = [Float](repeating: 0, count: n)
                for step in 0..<4 {
                    let g: [Float] = (0..<n).map { i in sinf(Float(i * (step + 1)) * 0.113) * (1 + Float(i % 5)) + 0.01 * w[i] }
                    var out = [Float](repeating: 0, count: n)
                    let ok = g.withUnsafeBytes { gb -> Bool in
                        w.withUnsafeBufferPointer { p in
                            out.withUnsafeMutableBufferPointer { o in
                                if !ranged {
                                    agg.setGradient(0, gb.baseAddress!)
                                    return agg.apply(count: 1, optimizer: optimizer, params: p.baseAddress!, out: o.baseAddress!)
                                }
                                var all = true
                                for r in [0..<13, 13..<200, 200..<n] {
                                    agg.setGradient(0, gb.baseAddress! + r.lowerBound * MemoryLayout<Float>.stride)
                                    all = agg.apply(count: 1, range: r, optimizer: optimizer, params: p.baseAddress!, out: o.baseAddress!) && all
                                }
                                return all
                            }
                        }
                    }
                    XCTAssertTrue(ok)
                    var next = [Float](repeating: 0, count: n)
                    reference.withUnsafeBufferPointer { p in
                        g.withUnsafeBufferPointer { gp in
                            velocity.withUnsafeMutableBufferPointer { v in
                                next.withUnsafeMutableBufferPointer { o in
                                    optimizer.step(params: p.baseAddress!, gradient: gp.baseAddress!, scale: 1,
                                                   velocity: v.baseAddress!, out: o.baseAddress!, count: n)
                                }
                            }
                        }
                    }
                    reference = next
                    w = out
                    XCTAssertEqual(w.map(\.bitPattern), reference.map(\.bitPattern), "\(optimizer), ranged \(ranged), step \(step)")
                }
            }
        }
    }

    /// Gradients kept as bf16 frames (`--compress bf16`) give the parameters that their decoded
    /// float32 values give, bit for bit (8 * 37 + 5 values: the groups of 8 and the tail, by
    /// ranges as parts arrive), and a bf16 NaN or infinity is refused as a float32 one is.
    func testBFloat16StorageEqualsItsDecodedFloats() {
        let n = 8 * 37 + 5
        func gradient(_ k: Int) -> [UInt16] {
            (0..<n).map { i in
                let x: Float = sinf(Float(i * (k + 2)) * 0.21) * Float(1 + i % 7)
                return GradientCodec.bfloat16(x)
            }
        }
        let halves: [[UInt16]] = (0..<3).map(gradient)
        let decoded: [[Float]] = halves.map { $0.map { Float(bitPattern: UInt32($0) << 16) } }
        let params: [Float] = (0..<n).map { Float(($0 * 5) % 11) * 0.3 - 1.2 }
        func run(_ storage: GradientStorage, _ sources: [[UInt8]], width: Int) -> (ok: Bool, out: [Float]) {
            let agg = Aggregator(parameterCount: n, maxGradients: 3)
            var out = [Float](repeating: 0, count: n), ok = true
            for r in [0..<13, 13..<200, 200..<n] {
                let bases = sources.map { UnsafeMutableRawPointer.allocate(byteCount: $0.count, alignment: 4) }
                defer { bases.forEach { $0.deallocate() } }
                for (k, bytes) in sources.enumerated() {
                    bytes.withUnsafeBytes { bases[k].copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
                    agg.setGradient(k, UnsafeRawPointer(bases[k] + width * r.lowerBound))
                }
                ok = params.withUnsafeBufferPointer { p in out.withUnsafeMutableBufferPointer { o in
                    agg.apply(count: sources.count, range: r, optimizer: SGD(learningRate: 0.1, momentum: 0.9), params: p.baseAddress!,
                              out: o.baseAddress!, storage: storage)
                } } && ok
            }
            return (ok, out)
        }
        func bytes<T>(_ v: [T]) -> [UInt8] { v.withUnsafeBytes { Array($0) } }
        let asFloats = run(.float32, decoded.map(bytes), width: 4), asHalves = run(.bfloat16, halves.map(bytes), width: 2)
        XCTAssertTrue(asFloats.ok && asHalves.ok)
        XCTAssertEqual(asHalves.out.map(\.bitPattern), asFloats.out.map(\.bitPattern))
        XCTAssertNotEqual(asFloats.out, params, "the step moved the parameters")
        var poisoned = halves
        poisoned[1][n - 2] = 0x7F80  // +infinity, in the tail
        XCTAssertFalse(run(.bfloat16, poisoned.map(bytes), width: 2).ok)
        poisoned = halves
        poisoned[2][40] = 0x7FC0  // NaN, in a group of 8
        XCTAssertFalse(run(.bfloat16, poisoned.map(bytes), width: 2).ok)
    }

    /// `apply` (the active kernel variant's mean-and-step) writes the bits of `applyReference`
    /// (the plain SIMD8 loop, the big-endian path), parameters and momentum alike, over several
    /// steps, for every rule, both storages and one to three gradients, range by range.
    func testActiveKernelEqualsTheReferenceLoop() {
        let n = 1000 + 3
        for optimizer in [SGD(learningRate: 0.07), SGD(learningRate: 0.07, momentum: 0.9), SGD(learningRate: 0.3, momentum: 0.35, nesterov: true)] {
            for storage in [GradientStorage.float32, .bfloat16] {
                for count in 1...3 {
                    let kernel = Aggregator(parameterCount: n, maxGradients: count), reference = Aggregator(parameterCount: n, maxGradients: count)
                    var w: [Float] = (0..<n).map { Float(($0 * 7) % 13) * 0.37 - 2.1 }
                    var wReference = w
                    for step in 0..<3 {
                        let grads: [[Float]] = (0..<count).map { k in (0..<n).map { i in sinf(Float(i * (step + k + 1)) * 0.113) * Float(1 + i % 5) } }
                        let payloads: [[UInt8]] = grads.map { g in
                            storage == .float32 ? g.withUnsafeBytes { Array($0) }
                                : g.flatMap { x -> [UInt8] in let h = GradientCodec.bfloat16(x); return [UInt8(h & 0xFF), UInt8(h >> 8)] }
                        }
                        let width = storage == .float32 ? 4 : 2
                        func run(_ agg: Aggregator, _ params: [Float], reference: Bool) -> [Float] {
                            var out = [Float](repeating: .nan, count: n)
                            let bases = payloads.map { p -> UnsafeMutableRawPointer in
                                let m = UnsafeMutableRawPointer.allocate(byteCount: p.count, alignment: 4)
                                p.withUnsafeBytes { m.copyMemory(from: $0.baseAddress!, byteCount: p.count) }
                                return m
                            }
                            defer { bases.forEach { $0.deallocate() } }
                            for r in [0..<13, 13..<500, 500..<n] {
                                for k in 0..<count { agg.setGradient(k, UnsafeRawPointer(bases[k] + width * r.lowerBound)) }
                                let ok = params.withUnsafeBufferPointer { p in out.withUnsafeMutableBufferPointer { o in
                                    reference ? agg.applyReference(count: count, range: r, optimizer: optimizer, params: p.baseAddress!, out: o.baseAddress!, storage: storage)
                                        : agg.apply(count: count, range: r, optimizer: optimizer, params: p.baseAddress!, out: o.baseAddress!, storage: storage)
                                } }
                                XCTAssertTrue(ok)
                            }
                            return out
                        }
                        w = run(kernel, w, reference: false)
                        wReference = run(reference, wReference, reference: true)
                        let what = "\(optimizer) \(storage) count=\(count) step \(step)"
                        XCTAssertEqual(w.map(\.bitPattern), wReference.map(\.bitPattern), what)
                        XCTAssertEqual(kernel.velocityValues.map(\.bitPattern), reference.velocityValues.map(\.bitPattern), what)
                    }
                }
            }
        }
    }

    /// Top-k gradients under plain SGD: the step over the union of the listed entries writes, bit
    /// for bit, what the dense step writes (zeros of both signs in the parameters, entries shared
    /// by several workers, parts of several sizes), and a NaN at a listed entry is caught.
    func testSparseStepEqualsTheDenseStep() {
        var rng = SystemRandomNumberGenerator()
        let n = 8 * 41 + 3, workers = 3
        let parts = [0..<13, 13..<200, 200..<n]
        let params: [Float] = (0..<n).map { [Float(-0.0), 0, Float(($0 * 7) % 13) * 0.25 - 1.5][$0 % 3] }
        // Each worker sets about a fifth of the entries of every part (zero elsewhere, as a top-k part decodes).
        let lists: [[Int]] = (0..<workers).map { _ in (0..<n).filter { _ in Int.random(in: 0..<5, using: &rng) == 0 } }
        var gradients = [[Float]](repeating: [Float](repeating: 0, count: n), count: workers)
        for k in 0..<workers { for i in lists[k] { gradients[k][i] = [Float(-0.0), Float.random(in: -2...2, using: &rng)][Int.random(in: 0...1, using: &rng)] } }
        func step(_ gradients: [[Float]], sparse: Bool) -> (ok: Bool, out: [Float]) {
            let agg = Aggregator(parameterCount: n, maxGradients: workers)
            var out = [Float](repeating: 7, count: n), ok = true
            let heads = UnsafeMutablePointer<Int>.allocate(capacity: workers), union = UnsafeMutablePointer<UInt32>.allocate(capacity: workers * n)
            let sums = UnsafeMutablePointer<Float>.allocate(capacity: workers * n)
            defer { heads.deallocate(); union.deallocate(); sums.deallocate() }
            for r in parts {
                let local: [[UInt32]] = lists.map { $0.filter { r.contains($0) }.map { UInt32($0 - r.lowerBound) } }
                // Each worker's values at its entries, as a top-k payload carries them.
                let values: [[Float]] = (0..<workers).map { k in local[k].map { gradients[k][r.lowerBound + Int($0)] } }
                ok = gradients[0].withUnsafeBytes { g0 in gradients[1].withUnsafeBytes { g1 in gradients[2].withUnsafeBytes { g2 in
                    for (k, g) in [g0, g1, g2].enumerated() { agg.setGradient(k, g.baseAddress! + 4 * r.lowerBound) }
                    return params.withUnsafeBufferPointer { p in out.withUnsafeMutableBufferPointer { o in
                        guard sparse else {
                            return agg.apply(count: workers, range: r, optimizer: SGD(learningRate: 0.3), params: p.baseAddress!, out: o.baseAddress!)
                        }
                        let size = local[0].withUnsafeBufferPointer { l0 in local[1].withUnsafeBufferPointer { l1 in local[2].withUnsafeBufferPointer { l2 in
                            values[0].withUnsafeBufferPointer { v0 in values[1].withUnsafeBufferPointer { v1 in values[2].withUnsafeBufferPointer { v2 in
                                [l0, l1, l2].withUnsafeBufferPointer { ls in [v0, v1, v2].withUnsafeBufferPointer { vs in
                                    mergeAscending(ls, values: vs, heads: heads, into: union, sums: sums)
                                } }
                            } } }
                        } } }
                        XCTAssertEqual(Array(UnsafeBufferPointer(start: union, count: size)), Set(local.joined()).sorted(), "the union of part \(r)")
                        return agg.applyAt(UnsafeBufferPointer(start: union, count: size), sums: sums, count: workers, range: r,
                                           optimizer: SGD(learningRate: 0.3), params: p.baseAddress!, out: o.baseAddress!)
                    } }
                } } } && ok
            }
            return (ok, out)
        }
        let dense = step(gradients, sparse: false), sparse = step(gradients, sparse: true)
        XCTAssertTrue(dense.ok && sparse.ok)
        XCTAssertEqual(sparse.out.map(\.bitPattern), dense.out.map(\.bitPattern))
        XCTAssertNotEqual(dense.out, params, "the step moved the parameters")
        var poisoned = gradients
        poisoned[1][lists[1].last!] = .nan
        XCTAssertFalse(step(poisoned, sparse: true).ok)
    }

    /// The sparse step is taken only where it is exact: plain SGD at a positive, finite rate
    /// (EASGD's centre update has rate -1, under which the dense step turns a -0 into +0).
    func testSparseStepsOnlyForPlainSGDAtAPositiveRate() {
        func takes(_ sgd: SGD, scale: Float = 1) -> Bool {
            let store = ParameterStore(initial: [0, 0], chunk: 2, maxGradients: 1, optimizer: sgd)
            store.rateScale = scale
            return store.takesSparseSteps
        }
        XCTAssertTrue(takes(SGD(learningRate: 0.1)))
        XCTAssertTrue(takes(SGD(learningRate: 0.1), scale: 0.25))
        XCTAssertFalse(takes(SGD(learningRate: 0.1, momentum: 0.9)))
        XCTAssertFalse(takes(SGD(learningRate: -1)))
        XCTAssertFalse(takes(SGD(learningRate: -1), scale: 0.5))
        XCTAssertFalse(takes(SGD(learningRate: .infinity)))
        // Why: under rate -1 the dense step writes +0 for a -0 parameter whose gradient is 0.
        let minusZero: Float = -0.0, rate: Float = -1, zero: Float = 0
        XCTAssertEqual((minusZero - rate * zero).bitPattern, Float(0).bitPattern)
    }

    /// The store remembers a sparse update's entries for the version it makes, and forgets them
    /// when the part is next updated densely.
    func testChangeCandidatesFollowTheLastUpdateOfEachPart() {
        let store = ParameterStore(initial: [Float](repeating: 1, count: 10), chunk: 4, maxGradients: 2, optimizer: SGD(learningRate: 0.5))
        var g0 = [Float](repeating: 0, count: 10), g1 = [Float](repeating: 0, count: 10)
        g0[1] = 2; g1[1] = 4; g1[2] = 6; g0[5] = -2
        let lists: [[[UInt32]]] = [[[1], [1, 2]], [[1], []], [[], []]]  // per part, per gradient (part-relative)
        store.beginUpdate()
        for j in 0..<store.parts {
            g0.withUnsafeBytes { a in g1.withUnsafeBytes { b in
                store.setGradient(0, a.baseAddress! + 4 * store.partRange(j).lowerBound)
                store.setGradient(1, b.baseAddress! + 4 * store.partRange(j).lowerBound)
                let pair = lists[j], lo = store.partRange(j).lowerBound
                let v0 = pair[0].map { g0[lo + Int($0)] }, v1 = pair[1].map { g1[lo + Int($0)] }
                let ok = pair[0].withUnsafeBufferPointer { l0 in pair[1].withUnsafeBufferPointer { l1 in
                    v0.withUnsafeBufferPointer { w0 in v1.withUnsafeBufferPointer { w1 in
                        j == 2 ? store.apply(part: j, gradients: 2) : store.applySparse(part: j, gradients: 2, entries: { [l0, l1][$0] }, values: { [w0, w1][$0] })
                    } }
                } }
                XCTAssertTrue(ok)
            } }
        }
        XCTAssertEqual(store.changeCandidates(part: 0, version: 1).map(Array.init), [1, 2])
        XCTAssertEqual(store.changeCandidates(part: 1, version: 1).map(Array.init), [1])
        XCTAssertNil(store.changeCandidates(part: 2, version: 1), "a dense update")
        XCTAssertNil(store.changeCandidates(part: 0, version: 2), "another version")
        store.commit()
        let expected: [Float] = [1, -0.5, -0.5, 1, 1, 1.5, 1, 1, 1, 1]  // means 3, 3 and -1 at entries 1, 2 and 5; lr 0.5
        XCTAssertEqual(store.values, expected)
    }

    /// A store whose sparse updates catch `pending` up entry by entry (the entries the updates
    /// since the version it holds changed) writes, update after update, the bits of a store that
    /// applies every update densely: through sparse and dense updates of a part, an update begun
    /// and never committed, a restore, and a buffer held in flight (the pool then grows).
    func testSparseUpdatesCatchUpToWhatDenseUpdatesWrite() throws {
        var rng = SplitMix64(seed: 29)
        let n = 50, chunk = 16, workers = 2
        let initial: [Float] = (0..<n).map { _ in Float.random(in: -1...1, using: &rng) }
        let sparseStore = ParameterStore(initial: initial, chunk: chunk, maxGradients: workers, optimizer: SGD(learningRate: 0.25))
        let denseStore = ParameterStore(initial: initial, chunk: chunk, maxGradients: workers, optimizer: SGD(learningRate: 0.25))
        let held = ZMQMessage()
        for update in 0..<14 {
            // Each worker sets a few entries of every part (zero elsewhere, as a top-k part decodes).
            var gradients = [[Float]](repeating: [Float](repeating: 0, count: n), count: workers)
            var lists = [[[UInt32]]](repeating: [], count: sparseStore.parts)
            for j in 0..<sparseStore.parts {
                let r = sparseStore.partRange(j)
                lists[j] = (0..<workers).map { k in
                    let entries = (0..<r.count).filter { _ in Int.random(in: 0..<6, using: &rng) == 0 }
                    for e in entries { gradients[k][r.lowerBound + e] = Float.random(in: -2...2, using: &rng) }
                    return entries.map(UInt32.init)
                }
            }
            if update == 4 {
                // An update begun, written (every entry of part 0 changed) and dropped: that buffer
                // no longer holds the version it held, and later updates must not trust it.
                let ones = [Float](repeating: 1, count: n), all = (0..<UInt32(chunk)).map { $0 }
                sparseStore.beginUpdate()
                XCTAssertTrue(all.withUnsafeBufferPointer { l in ones.withUnsafeBufferPointer { v in
                    sparseStore.applySparse(part: 0, gradients: 1, entries: { _ in l }, values: { _ in UnsafeBufferPointer(rebasing: v[0..<chunk]) })
                } })
            }
            if update == 9 {
                // A restore replaces the parameters: every buffer but the current one is unknown.
                let values = denseStore.values.map { $0 * 0.5 }
                sparseStore.restore(parameters: values, velocity: nil, version: 100)
                denseStore.restore(parameters: values, velocity: nil, version: 100)
            }
            if update == 11 {
                // The current buffer in flight (a send not yet released): the pool grows a buffer.
                try sparseStore.current.wrap(count: 1, into: held)
            }
            for (store, sparse) in [(sparseStore, true), (denseStore, false)] {
                store.beginUpdate()
                for j in 0..<store.parts {
                    let r = store.partRange(j)
                    let ok = gradients[0].withUnsafeBytes { g0 in gradients[1].withUnsafeBytes { g1 in
                        store.setGradient(0, g0.baseAddress! + 4 * r.lowerBound)
                        store.setGradient(1, g1.baseAddress! + 4 * r.lowerBound)
                        // Part 1 densely now and then, so that its sparse history has gaps.
                        guard sparse && !(j == 1 && update % 5 == 2) else { return store.apply(part: j, gradients: workers) }
                        let values = (0..<workers).map { k in lists[j][k].map { gradients[k][r.lowerBound + Int($0)] } }
                        return lists[j][0].withUnsafeBufferPointer { l0 in lists[j][1].withUnsafeBufferPointer { l1 in
                            values[0].withUnsafeBufferPointer { v0 in values[1].withUnsafeBufferPointer { v1 in
                                store.applySparse(part: j, gradients: workers, entries: { [l0, l1][$0] }, values: { [v0, v1][$0] })
                            } }
                        } }
                    } }
                    XCTAssertTrue(ok)
                }
                store.commit()
            }
            XCTAssertEqual(sparseStore.values.map(\.bitPattern), denseStore.values.map(\.bitPattern), "after update \(update)")
        }
        XCTAssertNotEqual(sparseStore.values, initial.map { $0 * 0.5 }, "the updates moved the parameters")
        XCTAssertEqual(held.count, 4, "the message held a buffer in flight throughout")
        // Most sparse parts caught up entry by entry (31 of 53 here); whole copies where the
        // history has a gap: a buffer's first use, part 1 around its dense updates, the restore.
        XCTAssertGreaterThan(sparseStore.partsCaughtUp, 20)
        XCTAssertLessThan(sparseStore.partsCaughtUp, 14 * sparseStore.parts - 3)
    }
}
