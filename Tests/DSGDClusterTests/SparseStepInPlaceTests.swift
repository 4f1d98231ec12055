@testable import DSGDCluster
import DSGDCore
import XCTest
import ZeroMQ

/// The sparse step written into the current parameters (`Aggregator.applyInPlace`,
/// `ParameterStore.beginUpdate(inPlace:)`) and the two-worker merge that feeds it: bit for bit
/// what the step into another buffer writes, the changes it lists, and an update dropped before
/// its commit leaving no trace.
final class SparseStepInPlaceTests: XCTestCase {
    /// Parameters with zeros of both signs, and a few distinct values.
    static func parameters(_ n: Int, _ rng: inout SplitMix64) -> [Float] {
        (0..<n).map { i in [Float(-0.0), 0, Float.random(in: -2...2, using: &rng)][i % 3] }
    }

    /// `applyInPlace` writes what `applyAt` writes into another buffer, lists exactly the entries
    /// whose bits changed (a zero sum leaves a parameter's bits as they were) with their new and
    /// old values, and on a NaN or infinite sum writes nothing and returns nil.
    func testInPlaceStepEqualsTheStepIntoAnotherBuffer() {
        var rng = SplitMix64(seed: 3)
        let n = 700, lo = 100, range = lo..<n, workers = 2
        let params = Self.parameters(n, &rng)
        // Entries every few values (more than the prefetch distance), relative to the range.
        let entries: [UInt32] = (0..<(n - lo)).filter { _ in Int.random(in: 0..<4, using: &rng) == 0 }.map(UInt32.init)
        let sums: [Float] = entries.map { _ in [Float(0), Float(-0.0), Float.random(in: -3...3, using: &rng)][Int.random(in: 0...2, using: &rng)] }
        let sgd = SGD(learningRate: 0.3)
        let agg = Aggregator(parameterCount: n, maxGradients: workers)
        var expected = params, inPlace = params
        var changed = [UInt32](repeating: 0, count: entries.count), new = [Float](repeating: 0, count: entries.count)
        var old = new
        let ok = entries.withUnsafeBufferPointer { e in sums.withUnsafeBufferPointer { s in
            params.withUnsafeBufferPointer { p in expected.withUnsafeMutableBufferPointer { o in
                agg.applyAt(e, sums: s.baseAddress!, count: workers, range: range, optimizer: sgd, params: p.baseAddress!, out: o.baseAddress!)
            } }
        } }
        XCTAssertTrue(ok)
        let written = entries.withUnsafeBufferPointer { e in sums.withUnsafeBufferPointer { s in
            inPlace.withUnsafeMutableBufferPointer { p in
                agg.applyInPlace(e, sums: s.baseAddress!, count: workers, range: range, optimizer: sgd, params: p.baseAddress!,
                                 changed: &changed, newValues: &new, oldValues: &old)
            }
        } }
        XCTAssertEqual(inPlace.map(\.bitPattern), expected.map(\.bitPattern), "the same step, bit for bit")
        let differing = (0..<(n - lo)).filter { params[lo + $0].bitPattern != expected[lo + $0].bitPattern }
        XCTAssertEqual(written, differing.count)
        XCTAssertLessThan(differing.count, entries.count, "some sums are zeros that change nothing")
        let w = written ?? 0
        XCTAssertEqual(changed.prefix(w).map(Int.init), differing, "the changed entries, ascending")
        XCTAssertEqual(new.prefix(w).map(\.bitPattern), differing.map { expected[lo + $0].bitPattern }, "their new values")
        XCTAssertEqual(old.prefix(w).map(\.bitPattern), differing.map { params[lo + $0].bitPattern }, "their old values")

        for poison in [Float.nan, .infinity] {
            var poisoned = sums
            poisoned[poisoned.count - 1] = poison
            var untouched = params
            let result = entries.withUnsafeBufferPointer { e in poisoned.withUnsafeBufferPointer { s in
                untouched.withUnsafeMutableBufferPointer { p in
                    agg.applyInPlace(e, sums: s.baseAddress!, count: workers, range: range, optimizer: sgd, params: p.baseAddress!,
                                     changed: &changed, newValues: &new, oldValues: &old)
                }
            } }
            XCTAssertNil(result, "a \(poison) sum")
            XCTAssertEqual(untouched.map(\.bitPattern), params.map(\.bitPattern), "a \(poison) sum: nothing written")
        }
    }

    /// Two workers' lists merge into their ascending union with the sums of the dense step: the
    /// first worker's term, then the second's, +0 for a worker without the entry (so a -0 alone
    /// becomes +0, and -0 and -0 stay -0).
    func testTwoListsMergeAsTheDenseSumAdds() {
        var rng = SplitMix64(seed: 11)
        let n = 400
        for _ in 0..<5 {
            let lists: [[UInt32]] = (0..<2).map { _ in (0..<n).filter { _ in Int.random(in: 0..<3, using: &rng) == 0 }.map(UInt32.init) }
            let values: [[Float]] = lists.map { $0.map { _ in [Float(-0.0), Float.random(in: -1...1, using: &rng)][Int.random(in: 0...1, using: &rng)] } }
            var dense = [[Float]](repeating: [Float](repeating: 0, count: n), count: 2)
            for k in 0..<2 { for (e, v) in zip(lists[k], values[k]) { dense[k][Int(e)] = v } }
            let union = Set(lists.joined()).sorted()
            let expected = union.map { dense[0][Int($0)] + dense[1][Int($0)] }
            var out = [UInt32](repeating: 0, count: 2 * n), sums = [Float](repeating: 7, count: 2 * n)
            var heads = [0, 0]
            let size = lists[0].withUnsafeBufferPointer { l0 in lists[1].withUnsafeBufferPointer { l1 in
                values[0].withUnsafeBufferPointer { v0 in values[1].withUnsafeBufferPointer { v1 in
                    [l0, l1].withUnsafeBufferPointer { ls in [v0, v1].withUnsafeBufferPointer { vs in
                        mergeAscending(ls, values: vs, heads: &heads, into: &out, sums: &sums)
                    } }
                } }
            } }
            XCTAssertEqual(Array(out.prefix(size)), union)
            XCTAssertEqual(sums.prefix(size).map(\.bitPattern), expected.map(\.bitPattern))
        }
    }

    /// A store of one part updated in place writes, update after update, the bits of a store that
    /// applies every update densely into another buffer; while an update is pending, `values` is
    /// still the version before and `inPlaceChanges` lists what changed. It falls back to another
    /// buffer while libzmq holds the current one and for parameters in several parts, and an
    /// update begun in place and dropped before its commit leaves the parameters as they were.
    func testInPlaceUpdatesWriteWhatDenseUpdatesWrite() throws {
        var rng = SplitMix64(seed: 17)
        let n = 300, workers = 2
        let initial = Self.parameters(n, &rng)
        let store = ParameterStore(initial: initial, chunk: 1 << 20, maxGradients: workers, optimizer: SGD(learningRate: 0.25))
        let dense = ParameterStore(initial: initial, chunk: 1 << 20, maxGradients: workers, optimizer: SGD(learningRate: 0.25))
        let held = ZMQMessage()
        var inPlaceUpdates = 0
        for update in 0..<12 {
            var gradients = [[Float]](repeating: [Float](repeating: 0, count: n), count: workers)
            let lists: [[UInt32]] = (0..<workers).map { k in
                let entries = (0..<n).filter { _ in Int.random(in: 0..<5, using: &rng) == 0 }
                for e in entries { gradients[k][e] = [Float(-0.0), Float.random(in: -2...2, using: &rng)][Int.random(in: 0...1, using: &rng)] }
                return entries.map(UInt32.init)
            }
            let values = (0..<workers).map { k in lists[k].map { gradients[k][Int($0)] } }
            func applySparse(_ s: ParameterStore) -> Bool {
                lists[0].withUnsafeBufferPointer { l0 in lists[1].withUnsafeBufferPointer { l1 in
                    values[0].withUnsafeBufferPointer { v0 in values[1].withUnsafeBufferPointer { v1 in
                        s.applySparse(part: 0, gradients: workers, entries: { [l0, l1][$0] }, values: { [v0, v1][$0] })
                    } }
                } }
            }
            if update == 4 { try store.current.wrap(count: 1, into: held) }
            if update == 5 { held.clear() }
            if update == 7 {
                // Begun in place, written, dropped: the next update finds the version before.
                let before = store.values
                store.beginUpdate(inPlace: true)
                XCTAssertTrue(store.updatesInPlace)
                XCTAssertTrue(applySparse(store))
                XCTAssertEqual(store.values.map(\.bitPattern), before.map(\.bitPattern), "a pending in-place update is not in `values`")
            }
            let before = store.values
            store.beginUpdate(inPlace: true)
            XCTAssertEqual(store.updatesInPlace, update != 4, "update \(update): in place unless libzmq holds the buffer")
            if store.updatesInPlace { inPlaceUpdates += 1 }
            XCTAssertTrue(applySparse(store))
            XCTAssertEqual(store.values.map(\.bitPattern), before.map(\.bitPattern), "update \(update): pending, not yet in `values`")
            dense.beginUpdate()
            gradients[0].withUnsafeBytes { g0 in gradients[1].withUnsafeBytes { g1 in
                dense.setGradient(0, g0.baseAddress!)
                dense.setGradient(1, g1.baseAddress!)
                XCTAssertTrue(dense.apply(part: 0, gradients: workers))
            } }
            let after = dense.pending!.floats.prefix(n).map(\.bitPattern)
            if let (entries, news) = store.inPlaceChanges(part: 0) {
                let differing = (0..<n).filter { before[$0].bitPattern != after[$0] }
                XCTAssertEqual(entries.map(Int.init), differing, "update \(update): the changed entries")
                XCTAssertEqual(news.map(\.bitPattern), differing.map { after[$0] }, "update \(update): their new values")
            } else {
                XCTAssertFalse(store.updatesInPlace, "changes are listed for an update in place")
            }
            store.commit()
            dense.commit()
            XCTAssertEqual(store.values.map(\.bitPattern), after, "after update \(update)")
        }
        XCTAssertEqual(inPlaceUpdates, 11)
        XCTAssertNotEqual(store.values, initial, "the updates moved the parameters")

        let parts = ParameterStore(initial: initial, chunk: 100, maxGradients: workers, optimizer: SGD(learningRate: 0.25))
        parts.beginUpdate(inPlace: true)
        XCTAssertFalse(parts.updatesInPlace, "parameters in several parts are never updated in place")
    }
}
