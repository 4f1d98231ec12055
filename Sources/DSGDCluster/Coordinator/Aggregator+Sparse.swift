import DSGDCore

extension Aggregator {
    /// `apply` for float32 gradients that are zero outside `entries` (ascending, unique, relative
    /// to `range.lowerBound`; `--compress topk`), under plain SGD (no momentum), given the sums of
    /// the `count` gradients at those entries (`sums[c]` at `entries[c]`, summed as `apply` sums:
    /// in gradient order, a gradient without the entry adding +0; `mergeAscending`): copies
    /// `params[range]` to `out[range]` (unless `copyingPart` is false: then they must be equal
    /// already), then computes the listed entries exactly as `apply` does (the same scaling and
    /// step), so `out` is bit for bit what `apply` writes. Work beyond the copy is proportional to
    /// the entries, not to the range. Returns false if a sum is NaN or infinity (the gradients are
    /// finite elsewhere: zero). The rate must be positive and finite: then `p - lr * (+0)` is `p`
    /// in every bit, `-0` included, where a negative rate (EASGD's -1) would turn a `-0` into `+0`.
    public func applyAt(_ entries: UnsafeBufferPointer<UInt32>, sums: UnsafePointer<Float>, count: Int, range: Range<Int>, optimizer: SGD,
                        params wholeParams: UnsafePointer<Float>, out wholeOut: UnsafeMutablePointer<Float>,
                        copyingPart: Bool = true) -> Bool {
        precondition(count >= 1 && count <= capacity && Self.sparseStepIsExact(optimizer))
        precondition(range.lowerBound >= 0 && range.upperBound <= parameterCount)
        let params = wholeParams + range.lowerBound, out = wholeOut + range.lowerBound
        if copyingPart { out.update(from: params, count: range.count) }
        let scale = 1 / Float(count), lr = optimizer.learningRate
        var poison: Float = 0
        for (c, e) in entries.enumerated() {
            let i = Int(e)
            precondition(i < range.count, "entry \(i) outside a part of \(range.count)")
            let s = sums[c]
            poison += s * 0
            let g = scale * s
            out[i] = params[i] - lr * g
        }
        return !poison.isNaN
    }

    /// `applyAt` with `params` as its own output (`ParameterStore.beginUpdate(inPlace:)`): the
    /// listed entries of `params[range]` take the same step, bit for bit, and every entry whose
    /// bits it changes is listed, in ascending order, in `changed` (relative to the range), with
    /// its new value in `newValues` and its old one in `oldValues` (each with room for
    /// `entries.count`); returns how many, or nil, having written nothing, if a sum is NaN or
    /// infinity. One read and one write of each entry: the old value is at hand when the new one
    /// is written, so the changes need no second look at the parameters.
    public func applyInPlace(_ entries: UnsafeBufferPointer<UInt32>, sums: UnsafePointer<Float>, count: Int, range: Range<Int>, optimizer: SGD,
                             params wholeParams: UnsafeMutablePointer<Float>, changed: UnsafeMutablePointer<UInt32>,
                             newValues: UnsafeMutablePointer<Float>, oldValues: UnsafeMutablePointer<Float>) -> Int? {
        precondition(count >= 1 && count <= capacity && Self.sparseStepIsExact(optimizer))
        precondition(range.lowerBound >= 0 && range.upperBound <= parameterCount)
        var poison: Float = 0
        for c in entries.indices { poison += sums[c] * 0 }
        guard !poison.isNaN else { return nil }
        let params = wholeParams + range.lowerBound
        let scale = 1 / Float(count), lr = optimizer.learningRate
        var w = 0
        let n = entries.count
        for (c, e) in entries.enumerated() {
            let i = Int(e)
            precondition(i < range.count, "entry \(i) outside a part of \(range.count)")
            if c + scatteredPrefetchDistance < n { prefetchForWrite(params + min(Int(entries[c + scatteredPrefetchDistance]), range.count - 1)) }
            let old = params[i], new = old - lr * (scale * sums[c])
            params[i] = new
            // Every entry is written at `w`, which moves on only when the bits changed.
            changed[w] = e
            newValues[w] = new
            oldValues[w] = old
            w &+= old.bitPattern != new.bitPattern ? 1 : 0
        }
        return w
    }

    /// Whether `applyAt` under `optimizer` writes what `apply` writes: plain SGD (no momentum) at a
    /// positive, finite rate.
    public static func sparseStepIsExact(_ optimizer: SGD) -> Bool {
        optimizer.momentum == 0 && optimizer.learningRate > 0 && optimizer.learningRate.isFinite
    }
}

/// The ascending union of the ascending `lists`, written to `out` (room for all their entries);
/// returns its size, and writes to `sums` the sum of `values` (one list per entry list, in the
/// same order) at each entry of the union, as `Aggregator.apply` sums dense gradients that are
/// zero outside their lists: in list order, starting from the first list's term, a list without
/// the entry adding +0 (so that a -0 alone comes out +0, as it does there). A k-way merge: each
/// step takes the smallest head, O(lists) per entry written; two lists (two workers) take a merge
/// of their own. No allocation (`heads` has room for `lists.count`).
func mergeAscending(_ lists: UnsafeBufferPointer<UnsafeBufferPointer<UInt32>>, values: UnsafeBufferPointer<UnsafeBufferPointer<Float>>,
                    heads: UnsafeMutablePointer<Int>, into out: UnsafeMutablePointer<UInt32>, sums: UnsafeMutablePointer<Float>) -> Int {
    if lists.count == 2 { return mergeTwoAscending(lists[0], values[0], lists[1], values[1], into: out, sums: sums) }
    for w in lists.indices { heads[w] = 0 }
    var written = 0
    while true {
        var smallest = UInt32.max, found = false
        for (w, l) in lists.enumerated() where heads[w] < l.count && (!found || l[heads[w]] < smallest) {
            smallest = l[heads[w]]
            found = true
        }
        guard found else { return written }
        out[written] = smallest
        var s: Float = 0
        for (w, l) in lists.enumerated() {
            let term: Float = heads[w] < l.count && l[heads[w]] == smallest ? values[w][heads[w]] : 0
            s = w == 0 ? term : s + term
        }
        sums[written] = s
        written += 1
        for (w, l) in lists.enumerated() where heads[w] < l.count && l[heads[w]] == smallest { heads[w] += 1 }
    }
}

/// `mergeAscending` of two lists: each step writes the smaller head and the sum of the terms at it
/// (`a`'s, then `b`'s, +0 for a list without the entry), and moves past it in one list or both,
/// without a branch on which: where the workers' entries interleave at random, a branch would
/// mispredict about every other step.
func mergeTwoAscending(_ a: UnsafeBufferPointer<UInt32>, _ va: UnsafeBufferPointer<Float>, _ b: UnsafeBufferPointer<UInt32>,
                       _ vb: UnsafeBufferPointer<Float>, into out: UnsafeMutablePointer<UInt32>, sums: UnsafeMutablePointer<Float>) -> Int {
    var i = 0, j = 0, w = 0
    while i < a.count && j < b.count {
        let x = a[i], y = b[j]
        let inA = x <= y, inB = y <= x
        out[w] = inA ? x : y
        sums[w] = (inA ? va[i] : 0) + (inB ? vb[j] : 0)
        i &+= inA ? 1 : 0
        j &+= inB ? 1 : 0
        w &+= 1
    }
    while i < a.count {
        out[w] = a[i]
        sums[w] = va[i] + 0
        i += 1
        w += 1
    }
    while j < b.count {
        out[w] = b[j]
        sums[w] = 0 + vb[j]
        j += 1
        w += 1
    }
    return w
}
