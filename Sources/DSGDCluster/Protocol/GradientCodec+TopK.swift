import DSGDKernelTable
import Foundation

/// `topk`'s selection: the k entries of largest magnitude of a part (ties: the lower index), found
/// without sorting.
///
/// Parts of at least `sampledMinimum` values take the sampled path: the keys of every 128th value
/// give a threshold that about 1.5k + 768 values reach, one vectorised pass gathers those candidates,
/// and the exact k-th largest is chosen among them alone. When the sample misjudges (fewer than k
/// candidates, or more than a third of the part), the exact radix select over the whole part runs
/// instead. Both paths give the same payload, byte for byte: the sample decides only how much work
/// the selection takes, never what it selects.
extension GradientCodec {
    /// Parts below this size go straight to the radix select.
    static let sampledMinimum = 8192
    /// One value in `sampleStride` is sampled.
    static let sampleStride = 128

    /// The order key of `|x|`: its bit pattern without the sign (monotone in the magnitude; a NaN
    /// sorts above infinity, so it is sent and caught).
    @inline(__always) static func key(_ x: Float) -> UInt32 { x.bitPattern & 0x7FFF_FFFF }

    /// Writes the `topk` payload of `values` (k ascending u32 indices, then their k values) into
    /// `out`. `scratch` holds `values.count` u32.
    static func encodeTopK(_ values: UnsafeBufferPointer<Float>, k: Int, into out: UnsafeMutableRawPointer, scratch: UnsafeMutablePointer<UInt32>) {
        let m = values.count >= sampledMinimum ? gatherCandidates(values, k: k, scratch: scratch) : nil
        finishTopK(values, candidates: m, k: k, into: out, scratch: scratch)
    }

    /// `residual += values`, then the `topk` payload of the new residual, in one pass over both
    /// where the sampled path applies (the sample is taken of the sums first): the same residual
    /// and payload as `accumulate` followed by `encodeTopK`, bit for bit, with one read of the
    /// residual fewer. `scratch` holds `count` u32.
    static func accumulateAndEncodeTopK(_ values: UnsafePointer<Float>, into residual: UnsafeMutablePointer<Float>, count n: Int, k: Int,
                                        out: UnsafeMutableRawPointer, scratch: UnsafeMutablePointer<UInt32>) {
        let sums = UnsafeBufferPointer(start: UnsafePointer(residual), count: n)
        guard n >= sampledMinimum else {
            for i in 0..<n { residual[i] += values[i] }
            return finishTopK(sums, candidates: nil, k: k, into: out, scratch: scratch)
        }
        let m = gatherCandidates(sums, adding: values, into: residual, k: k, scratch: scratch)
        finishTopK(sums, candidates: m, k: k, into: out, scratch: scratch)
    }

    /// The payload from `m` gathered candidates (their indices in `scratch`), or, when there are
    /// none (nil), by the radix select over the whole part.
    private static func finishTopK(_ values: UnsafeBufferPointer<Float>, candidates: Int?, k: Int, into out: UnsafeMutableRawPointer,
                                   scratch: UnsafeMutablePointer<UInt32>) {
        let indices = out.assumingMemoryBound(to: UInt32.self), vals = (out + 4 * k).assumingMemoryBound(to: UInt32.self)
        let (threshold, above): (key: UInt32, above: Int)
        if let m = candidates {
            // scratch[0..<m]: the candidates' indices, ascending; their values' bits go after
            // them, read once here (from all over the part), and their keys after those (which
            // the selection reorders).
            let bits = scratch + m, keys = scratch + 2 * m
            for c in 0..<m {
                if c + scatteredPrefetchDistance < m { prefetchForWrite(values.baseAddress! + Int(scratch[c + scatteredPrefetchDistance])) }
                let x = values[Int(scratch[c])].bitPattern
                bits[c] = x
                keys[c] = x & 0x7FFF_FFFF
            }
            (threshold, above) = kthLargestKey(keys, count: m, k: k)
        } else {
            (threshold, above) = kthLargestMagnitudeKey(values, k: k, scratch: scratch)
        }
        // Offered in ascending order: every key above the threshold, and the first k - above
        // equal to it (ties go to the lower index).
        var equalAllowed = k - above, w = 0
        @inline(__always) func offer(_ i: Int) {
            let x = values[i], kx = key(x)
            guard kx >= threshold else { return }
            if kx == threshold {
                guard equalAllowed > 0 else { return }
                equalAllowed -= 1
            }
            indices[w] = UInt32(i).littleEndian
            vals[w] = x.bitPattern.littleEndian
            w += 1
        }
        if let m = candidates {
            // The same offers without a branch on the key: about half the candidates are taken,
            // at random, and a branch on each mispredicted every other time. Every candidate is
            // written at `w`, which moves on only when it is taken; `w < k` keeps the last write
            // inside the indices.
            let bits = scratch + m
            var c = 0
            while w < k, c < m {
                let i = scratch[c], x = bits[c], kx = x & 0x7FFF_FFFF
                // In shifts of differences (keys and threshold are below 2^31): comparisons
                // written as such became branches again.
                let above = Int((threshold &- kx) >> 31), equal = Int(((kx ^ threshold) &- 1) >> 31)
                let take = above | equal & Int(UInt(bitPattern: 0 &- equalAllowed) >> 63)
                indices[w] = i.littleEndian
                vals[w] = x.littleEndian
                w &+= take
                equalAllowed &-= take & equal
                c &+= 1
            }
        } else {
            for i in 0..<values.count { offer(i) }
        }
    }

    /// The sampled path's candidates: writes into `scratch` the ascending indices of the values
    /// whose key reaches the sample's threshold and returns their count, or nil when there are
    /// fewer than k of them or more than a third of the part (`scratch` holds `values.count` u32).
    static func gatherCandidates(_ values: UnsafeBufferPointer<Float>, k: Int, scratch: UnsafeMutablePointer<UInt32>) -> Int? {
        gather(values, adding: nil, into: nil, k: k, scratch: scratch)
    }

    /// `gatherCandidates` of `sums` (= `target`) after `target += addends`, done in the same pass
    /// (the sample is of the sums; the whole addition is done even when nil is returned).
    static func gatherCandidates(_ sums: UnsafeBufferPointer<Float>, adding addends: UnsafePointer<Float>, into target: UnsafeMutablePointer<Float>,
                                 k: Int, scratch: UnsafeMutablePointer<UInt32>) -> Int? {
        gather(sums, adding: addends, into: target, k: k, scratch: scratch)
    }

    /// Both forms of `gatherCandidates` (specialised for each by inlining: `addends` nil or not).
    @inline(__always)
    private static func gather(_ values: UnsafeBufferPointer<Float>, adding addends: UnsafePointer<Float>?, into target: UnsafeMutablePointer<Float>?,
                               k: Int, scratch: UnsafeMutablePointer<UInt32>) -> Int? {
        let n = values.count, samples = n / sampleStride
        // Adds the rest of the addends, from `i` on (when the gather stops early or has no sample).
        func finishAdding(from i: Int) {
            if let addends, let target { for j in i..<n { target[j] += addends[j] } }
        }
        // The sample's rank whose key about 1.5k + 6·stride of the n values reach: too few
        // candidates once in thousands of parts for values without a pattern.
        let wanted = (3 * k * samples + 2 * n - 1) / (2 * n) + 6
        guard wanted < samples else {
            finishAdding(from: 0)
            return nil
        }
        if let addends {
            for s in 0..<samples { scratch[s] = key(values[s * sampleStride] + addends[s * sampleStride]) }
        } else {
            for s in 0..<samples { scratch[s] = key(values[s * sampleStride]) }
        }
        let t0 = kthLargestKey(scratch, count: samples, k: wanted).key
        // Room for the indices, their values' bits and their keys: a third of the part each. A
        // chunk of 16 may add up to 16 more before the count is checked (and write 16 past it).
        // The whole chunks go through the active kernel variant's pass
        // (`WireKernels.gatherAtLeast`), the rest below.
        let limit = n / 3 - 16
        let whole = n & ~15
        // Written only with addends, and then `values` is `target`.
        let v = target ?? UnsafeMutablePointer(mutating: values.baseAddress!)
        let (gathered, end) = wire.gatherAtLeast(v, addends, whole, t0, limit, scratch)
        if gathered > limit {
            finishAdding(from: end)
            return nil
        }
        var m = gathered, i = whole
        while i < n {
            if let addends, let target { target[i] += addends[i] }
            scratch[m] = UInt32(truncatingIfNeeded: i)
            m &+= key(values[i]) >= t0 ? 1 : 0
            i += 1
        }
        return m >= k && m <= limit ? m : nil
    }

    /// The key of the k-th largest magnitude of `values` (1 ≤ k ≤ count), and how many keys are
    /// above it: the keys written to `scratch` (which holds `values.count` of them), then
    /// `kthLargestKey`.
    static func kthLargestMagnitudeKey(_ values: UnsafeBufferPointer<Float>, k: Int, scratch: UnsafeMutablePointer<UInt32>) -> (key: UInt32, above: Int) {
        for i in values.indices { scratch[i] = key(values[i]) }
        return kthLargestKey(scratch, count: values.count, k: k)
    }

    /// The k-th largest of `keys[0..<count]` (1 ≤ k ≤ count) and how many keys are above it, by a
    /// radix select over the keys' own range: a histogram of 2048 buckets between the least and
    /// the greatest key, the keys of the bucket that holds the k-th gathered, and a selection
    /// (`select`) among those. Gathered candidates lie close together, so that bucket holds a few
    /// keys; a partition of all of them around a pivot near the middle mispredicted about every
    /// other branch, and cost more than the pass that gathered them. Overwrites `keys`.
    static func kthLargestKey(_ keys: UnsafeMutablePointer<UInt32>, count: Int, k: Int) -> (key: UInt32, above: Int) {
        var lo = UInt32.max, hi = UInt32(0)
        for c in 0..<count {
            lo = min(lo, keys[c])
            hi = max(hi, keys[c])
        }
        if lo == hi { return (lo, 0) }
        // (key - lo) >> shift < 2048 for every key. (Constants, so that the closure below does not
        // capture the variables: it read `lo` from memory at every key.)
        let least = lo, greatest = hi
        let shift = UInt32(max(UInt32.bitWidth - (greatest &- least).leadingZeroBitCount - 11, 0))
        // Over many keys, four histograms, added up after, so that runs of keys in one bucket do
        // not wait on each other's increments; over a few thousand (a sample, the candidates),
        // one: zeroing four took longer than the counting.
        let ways = count >= 16_384 ? 4 : 1
        return withUnsafeTemporaryAllocation(of: Int32.self, capacity: 4 * 2048) { histograms in
            let h = histograms.baseAddress!
            h.initialize(repeating: 0, count: ways * 2048)
            @inline(__always) func bucket(_ x: UInt32) -> Int { Int((x &- least) &>> shift) }
            var c = 0
            if ways == 4 {
                while c + 4 <= count {
                    h[bucket(keys[c])] &+= 1
                    h[2048 + bucket(keys[c + 1])] &+= 1
                    h[4096 + bucket(keys[c + 2])] &+= 1
                    h[6144 + bucket(keys[c + 3])] &+= 1
                    c += 4
                }
            }
            while c < count { h[bucket(keys[c])] &+= 1; c += 1 }
            func total(_ b: Int) -> Int { ways == 4 ? Int(h[b]) + Int(h[2048 + b]) + Int(h[4096 + b]) + Int(h[6144 + b]) : Int(h[b]) }
            var b = bucket(greatest), above = 0
            while above + total(b) < k {
                above += total(b)
                b -= 1
            }
            // The bucket's keys, moved to the front without a branch (buckets are below 2^11, so
            // `(d - 1) >> 31` is 1 exactly when `d`, their difference in bits, is 0; a comparison
            // became a branch that mispredicted).
            var m = 0
            for c in 0..<count {
                let x = keys[c]
                keys[m] = x
                m &+= Int((UInt32(truncatingIfNeeded: bucket(x) ^ b) &- 1) &>> 31)
            }
            // The (k - above)-th largest of the bucket's m keys is rank m - (k - above) ascending.
            let t = select(keys, count: m, rank: m - (k - above))
            for j in 0..<m where keys[j] > t { above += 1 }
            return (t, above)
        }
    }

    /// The value of rank `rank` (0-based, ascending) among `a[0..<count]` (reordering them), by
    /// Floyd and Rivest's selection (CACM 18(3), 1975), no allocation: a range of more than 600
    /// first selects, recursively, within a sample of about n^(2/3) of its values around the
    /// rank's expected place, and partitions once around that value, which lands close to the
    /// rank, so the next range is small. Quickselect with the median of three partitioned the
    /// whole range two or three times over.
    static func select<T: Comparable>(_ a: UnsafeMutablePointer<T>, count: Int, rank: Int) -> T {
        select(a, left: 0, right: count - 1, rank: rank)
        return a[rank]
    }

    /// Puts the value of rank `rank` of `a[left...right]` at `a[rank]`, with none above it before
    /// and none below it after.
    private static func select<T: Comparable>(_ a: UnsafeMutablePointer<T>, left: Int, right: Int, rank k: Int) {
        @inline(__always) func swapAt(_ x: Int, _ y: Int) { let v = a[x]; a[x] = a[y]; a[y] = v }
        var left = left, right = right
        while right > left {
            if right - left > 600 {
                // The sample a[newLeft...newRight] around k, sized and placed as Floyd and Rivest
                // give it (the deviation `sd` leans towards the nearer end).
                let n = Double(right - left + 1), i = Double(k - left + 1)
                let z = log(n)
                let s: Double = 0.5 * exp(2 * z / 3)
                let spread: Double = (z * s * (n - s) / n).squareRoot()
                let sd: Double = 0.5 * spread * (i < n / 2 ? -1 : 1)
                let newLeft = max(left, Int(Double(k) - i * s / n + sd))
                let newRight = min(right, Int(Double(k) + (n - i) * s / n + sd))
                select(a, left: newLeft, right: newRight, rank: k)
            }
            // Partition a[left...right] around t = a[k].
            let t = a[k]
            var i = left, j = right
            swapAt(left, k)
            if a[right] > t { swapAt(right, left) }
            while i < j {
                swapAt(i, j)
                i += 1
                j -= 1
                while a[i] < t { i += 1 }
                while a[j] > t { j -= 1 }
            }
            if a[left] == t {
                swapAt(left, j)
            } else {
                j += 1
                swapAt(j, right)
            }
            if j <= k { left = j + 1 }
            if k <= j { right = j - 1 }
        }
    }
}
