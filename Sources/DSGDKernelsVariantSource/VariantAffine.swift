/// Fused minibatch loss and gradient of the affine models (`z = w.x + b` with a per-example loss
/// `l(z, y)`: linear and logistic regression), over an arbitrary list of row indices.
///
/// The math (parameters `[w_0 ... w_{d-1}, b]`, batch `B` of `n` examples):
///
///     forward   z_i = w.x_i + b,  l_i = l(z_i, y_i),  s_i = dl/dz (z_i, y_i)
///     loss      (1/n) sum_i l_i
///     backward  dE/dw = (1/n) sum_i s_i x_i,  dE/db = (1/n) sum_i s_i      (chain rule through z)
///
/// How it is computed: the batch is walked in groups of rows (16 rows at d = 100: `groupRows`),
/// each in three passes over blocks of eight rows (the last block of a batch padded with copies of
/// its last row, whose slopes and losses are then zeroed):
/// - forward: eight `Vector` accumulators (`W` = 8 lanes in the avx512 and avx2 variants, see
///   `Vector`, 4 in the portable one), one per row, each
///   take `w[j..<j+W] * x_r[j..<j+W]` (one fused multiply-add per row per `W` columns). The rows
///   are read four at a time, each of the four from its start to its end (`w` loaded once per
///   column chunk for the four); the eight accumulators are then reduced across lanes into one
///   `SIMD8<Float>` of the block's eight `z`s;
/// - the losses and slopes of the group, eight lanes at a time (`VariantMath.logisticLossAndSlope`,
///   or `(z - y)^2 / 2` and `z - y`): the blocks' chains of dependent operations are independent,
///   so the processor overlaps them;
/// - backward: `g[j..<j+W] += sum_r s_r x_r[j..<j+W]` while the group's rows (6.4 KB at d = 100)
///   are still in L1, one load and store of `g` per eight rows.
/// When `d` is not a multiple of `W` the last columns are done as one overlapping `W`-wide chunk
/// ending at `d`, with the lanes already counted masked off (no read past a row, so none past the
/// data); `d < W` takes a scalar path. Losses are summed in float64.
///
/// Rows stream in from memory faster this way than with the eight rows of a block read side by
/// side (a column chunk of each in turn): four rows, each walked from start to end, give the
/// hardware prefetchers short sequential runs. On top of that, the rows about 6 KB ahead of the
/// forward pass (16 rows at d = 100) are prefetched into L2 (`prefetcht1`; `prefetcht0` was much
/// slower, presumably because a prefetch into L1 holds one of L1's few miss buffers until the line
/// arrives). The index list says which rows, so shuffled batches are prefetched as well as
/// consecutive ones. At the start of a batch the prefetches are spread over the first blocks
/// (at most a block and a half of rows per block) instead of issued in one burst, which stalled
/// the first forward pass.
///
/// One variant of the kernel (see VariantConfig.swift); the public entry points are in
/// DSGDKernels (`AffineKernels`). No allocation.
enum VariantAffine {
    #if DSGD_KERNELS_AVX512
    /// The vector of this kernel: eight lanes in the avx512 variant too, not the variant's sixteen.
    /// At 400-byte rows three quarters of the 16-lane loads cross a cache line (a quarter of the
    /// 8-lane ones), the kernel reads every row twice, and on Zen 4, where a 16-lane load is two
    /// 8-lane ones anyway, the 8-lane kernel streams rows from memory markedly faster. (The
    /// variant still brings its encodings: 32 vector registers, mask registers.)
    typealias Vector = SIMD8<Float>
    #endif

    /// Floats per `Vector`.
    static var laneCount: Int { Vector.scalarCount }

    /// Writes the mean gradient over the rows `batch` into `gradient` (`dimension + 1` floats,
    /// overwritten; the last is the bias) and returns the mean loss.
    ///
    /// - `parameters`: `dimension + 1` floats, `[w, b]`.
    /// - `features`: row-major, `dimension` floats per row; `targets`: one float per row. Every
    ///   index in `batch` must be a valid row.
    /// - `next`: the next call's rows (a hint; may be empty): the first `prefetchRows(d)` of them
    ///   are prefetched while the last rows of this batch are computed, so that the next call does
    ///   not start on rows still in DRAM. Only prefetched, never read.
    /// - `featureRows`: how many rows `features` holds (0 if unknown): with the batch's rows
    ///   consecutive it picks the order in which the forward pass reads them (`readsRowByRow`),
    ///   which changes no bit of the result.
    /// An empty batch gives NaN (a mean over nothing).
    static func lossAndGradient(
        logistic: Bool, parameters: UnsafePointer<Float>, dimension: Int,
        features: UnsafePointer<Float>, featureRows: Int, targets: UnsafePointer<Float>,
        batch: UnsafeBufferPointer<UInt32>, gradient: UnsafeMutablePointer<Float>,
        next: UnsafeBufferPointer<UInt32>
    ) -> Double {
        // Four specialisations: the loss, and the order (a constant in each after inlining).
        let byRow = readsRowByRow(featureRows: featureRows, dimension: dimension, batch: batch)
        if logistic {
            return byRow
                ? fused(LogisticLaneLoss.self, parameters, dimension, features, targets, batch, gradient, next, rowByRow: true)
                : fused(LogisticLaneLoss.self, parameters, dimension, features, targets, batch, gradient, next, rowByRow: false)
        }
        return byRow
            ? fused(SquaredLaneLoss.self, parameters, dimension, features, targets, batch, gradient, next, rowByRow: true)
            : fused(SquaredLaneLoss.self, parameters, dimension, features, targets, batch, gradient, next, rowByRow: false)
    }

    /// Data sets of more bytes than this stream from memory: larger than the L2 of any core
    /// measured and than most of an L3.
    static var streamingBytes: Int { 16 << 20 }

    /// Whether the forward pass reads a block's eight rows one after the other, each from start
    /// to end (`fourDotsRowByRow`), instead of side by side (`fourDots`): when the data set
    /// streams from memory (more than `streamingBytes`) and the batch's rows are consecutive (its
    /// last row is `count - 1` after its first, as in a sequential pass), so that the loads reach
    /// memory in address order, as a plain read's do, and the hardware prefetchers follow them.
    /// On an AMD EPYC (Zen 4) that read rows from memory 12 to 20% faster when the host let its
    /// hardware prefetchers stream, and no slower when it did not; on rows in cache the
    /// side-by-side order is about 9% faster (it loads each weight chunk once for four rows).
    @inline(__always)
    static func readsRowByRow(featureRows: Int, dimension d: Int, batch: UnsafeBufferPointer<UInt32>) -> Bool {
        guard streams(featureRows: featureRows, dimension: d), let first = batch.first, let last = batch.last else { return false }
        return Int(last) - Int(first) == batch.count - 1
    }

    /// Whether `featureRows` rows of `d` floats take more than `streamingBytes` (and fill at least
    /// one vector each: narrower rows take the scalar path, which has no order to choose).
    @inline(__always)
    static func streams(featureRows: Int, dimension d: Int) -> Bool {
        d >= laneCount && featureRows > streamingBytes / (d * MemoryLayout<Float>.stride)
    }

    /// The mean loss over rows `0..<examples` (the same blocks and sums as `lossAndGradient` over
    /// the batch `0, 1, ..., examples - 1`, without the backward pass).
    static func meanLoss(
        logistic: Bool, parameters: UnsafePointer<Float>, dimension: Int,
        features: UnsafePointer<Float>, targets: UnsafePointer<Float>, examples: Int
    ) -> Double {
        // The rows `0..<examples`: consecutive, and all of the data set.
        let byRow = streams(featureRows: examples, dimension: dimension)
        if logistic {
            return byRow
                ? lossOnly(LogisticLaneLoss.self, parameters, dimension, features, targets, examples, rowByRow: true)
                : lossOnly(LogisticLaneLoss.self, parameters, dimension, features, targets, examples, rowByRow: false)
        }
        return byRow
            ? lossOnly(SquaredLaneLoss.self, parameters, dimension, features, targets, examples, rowByRow: true)
            : lossOnly(SquaredLaneLoss.self, parameters, dimension, features, targets, examples, rowByRow: false)
    }

    // MARK: - The group loop

    /// Row numbers 0...7 of a block, as floats (masks come from float comparisons: Swift lowers
    /// integer vector comparisons lane by lane).
    static var rowLanes: Vector8 { Vector8(0, 1, 2, 3, 4, 5, 6, 7) }

    /// Lane numbers 0..<W of a column vector, as floats.
    @inline(__always)
    static var columnLanes: Vector {
        var v = Vector()
        for i in 0..<laneCount { v[i] = Float(i) }
        return v
    }

    @inline(__always)
    static func load(_ p: UnsafePointer<Float>) -> Vector { UnsafeRawPointer(p).loadUnaligned(as: Vector.self) }

    @inline(__always)
    static func store(_ v: Vector, _ p: UnsafeMutablePointer<Float>) { UnsafeMutableRawPointer(p).storeBytes(of: v, as: Vector.self) }

    /// The last, partial column chunk of rows of `d` columns: it starts at `d - W` and its first
    /// `W - d % W` lanes (counted by the full chunks already) are masked off. Only for `d >= W`.
    struct Tail {
        let offset: Int
        let counted: SIMDMask<Vector.MaskStorage>
        let weights: Vector
        let present: Bool

        @inline(__always)
        init(_ w: UnsafePointer<Float>, _ d: Int) {
            present = d >= laneCount && d % laneCount != 0
            offset = d - laneCount
            counted = columnLanes .< Float(laneCount - d % laneCount)
            weights = present ? load(w + offset).replacing(with: 0, where: counted) : Vector()
        }
    }

    /// Most rows in one group (the size of `GroupLanes`).
    static var maximumGroupRows: Int { 64 }

    /// Rows per group for rows of `d` floats: a multiple of eight, 8...64, such that a group's rows
    /// take at most 8 KB (a quarter of L1, so they are still there for the backward pass, next to
    /// the rows being prefetched). Two blocks at d = 100: enough independent losses to overlap,
    /// and larger groups were no faster.
    @inline(__always)
    static func groupRows(_ d: Int) -> Int {
        let blocks = (8 * 1024) / max(1, 8 * d * MemoryLayout<Float>.stride)
        return 8 * min(max(blocks, 1), maximumGroupRows / 8)
    }

    /// One float per row of a group (its outputs, then its slopes), on the stack.
    typealias GroupLanes = (Vector8, Vector8, Vector8, Vector8, Vector8, Vector8, Vector8, Vector8)

    /// The fused loop over `batch` in groups of rows (`groupRows`), each in three passes:
    /// - forward: `z = w.x + b` for every row, eight rows at a time (`outputs`, in the order
    ///   `rowByRow` says); meanwhile, the rows `prefetchRows(d)` ahead are prefetched;
    /// - the losses and slopes of the group, eight lanes at a time (the chains of dependent
    ///   operations of several blocks are independent, so they overlap);
    /// - backward: `g += sum_r s_r x_r`, eight rows at a time (`accumulate`), the rows still in L1.
    /// The last block of a batch is padded with copies of its last row, whose slopes and losses
    /// are zeroed.
    @inline(__always)
    static func fused<L: LaneLoss>(
        _: L.Type, _ w: UnsafePointer<Float>, _ d: Int, _ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>,
        _ batch: UnsafeBufferPointer<UInt32>, _ g: UnsafeMutablePointer<Float>, _ next: UnsafeBufferPointer<UInt32>,
        rowByRow: Bool
    ) -> Double {
        let n = batch.count
        guard n > 0 else {
            g.update(repeating: .nan, count: d + 1)   // the mean over no examples
            return .nan
        }
        g.update(repeating: 0, count: d + 1)
        let bias = w[d]
        let tail = Tail(w, d)
        let indices = batch.baseAddress!
        let group = groupRows(d)
        let ahead = prefetchRows(d)
        let rowBytes = d * MemoryLayout<Float>.stride
        // Rows `0 ..< prefetched` of the batch followed by `next` have been prefetched: the first
        // block now, then at most `perBlock` rows per block until `ahead` rows ahead of the forward
        // pass, which near the end of the batch reaches into the first `ahead` rows of `next`.
        let perBlock = 12
        let last = n + min(next.count, ahead)
        var prefetched = min(8, n)
        prefetchRows(x, d, indices, from: 0, to: prefetched, bytes: rowBytes)
        var lossSum = SIMD4<Double>()
        var slopeSum = Vector8()
        var lanes = GroupLanes(.zero, .zero, .zero, .zero, .zero, .zero, .zero, .zero)
        withUnsafeMutableBytes(of: &lanes) { raw in
            let zs = raw.baseAddress!.assumingMemoryBound(to: Vector8.self)
            var start = 0
            while start < n {
                let end = min(start + group, n)
                // Forward: z = w.x + b, after the prefetches of the rows `ahead` further on.
                var b = start, slot = 0
                while b < end {
                    let upTo = min(min(b + ahead + 8, last), prefetched + perBlock)
                    if upTo > prefetched {
                        prefetchRows(x, d, indices, from: prefetched, to: min(upTo, n), bytes: rowBytes)
                        if upTo > n, let nextRows = next.baseAddress {
                            prefetchRows(x, d, nextRows, from: max(prefetched, n) - n, to: upTo - n, bytes: rowBytes)
                        }
                        prefetched = upTo
                    }
                    zs[slot] = outputs(w, d, RowBlock(x, d, indices, b, min(8, end - b)), tail, rowByRow: rowByRow) + bias
                    b += 8
                    slot += 1
                }
                // Losses l(z, y) and slopes s = dl/dz (padding rows: 0 and 0).
                b = start
                slot = 0
                while b < end {
                    let count = min(8, end - b)
                    var (l, s) = L.lossAndSlope(z: zs[slot], y: targets(y, indices, b, count))
                    if count < 8 {
                        let padding = rowLanes .>= Float(count)
                        l.replace(with: 0, where: padding)
                        s.replace(with: 0, where: padding)
                    }
                    lossSum += SIMD4<Double>(l.lowHalf) + SIMD4<Double>(l.highHalf)
                    slopeSum += s
                    zs[slot] = s
                    b += 8
                    slot += 1
                }
                // Backward: g_w += sum_r s_r x_r (g_b: the sum of the slopes, below).
                b = start
                slot = 0
                while b < end {
                    accumulate(g, d, RowBlock(x, d, indices, b, min(8, end - b)), zs[slot], tail)
                    b += 8
                    slot += 1
                }
                start = end
            }
        }
        g[d] = slopeSum.sum()
        // The mean: in the chunks `accumulate` stored (each vector load then comes from one store).
        let scale = 1 / Float(n)
        var j = 0
        while j &+ laneCount <= d {
            store(load(g + j) * scale, g + j)
            j &+= laneCount
        }
        while j <= d {
            g[j] *= scale
            j &+= 1
        }
        return lossSum.sum() / Double(n)
    }

    /// Forward and loss only, over the consecutive rows `0..<n` (`rowByRow`: as `fused`'s).
    @inline(__always)
    static func lossOnly<L: LaneLoss>(
        _: L.Type, _ w: UnsafePointer<Float>, _ d: Int, _ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ n: Int,
        rowByRow: Bool
    ) -> Double {
        let bias = w[d]
        let tail = Tail(w, d)
        var lossSum = SIMD4<Double>()
        var start = 0
        while start < n {
            let count = min(8, n - start)
            let rows = RowBlock(x, d, start, count)
            let z = outputs(w, d, rows, tail, rowByRow: rowByRow) + bias
            var targets = Vector8()
            for k in 0..<8 { targets[k] = y[start + min(k, count - 1)] }
            var l = L.lossAndSlope(z: z, y: targets).loss
            if count < 8 { l.replace(with: 0, where: rowLanes .>= Float(count)) }
            lossSum += SIMD4<Double>(l.lowHalf) + SIMD4<Double>(l.highHalf)
            start += 8
        }
        return lossSum.sum() / Double(n)
    }

    /// The targets of rows `indices[start ..< start + count]`, in lanes `0..<count` (the rest repeat
    /// the last).
    @inline(__always)
    static func targets(_ y: UnsafePointer<Float>, _ indices: UnsafePointer<UInt32>, _ start: Int, _ count: Int) -> Vector8 {
        var t = Vector8()
        for k in 0..<8 { t[k] = y[Int(indices[start + min(k, count - 1)])] }
        return t
    }

    // MARK: - Prefetching

    /// How many rows ahead of the forward pass `fused` prefetches: about 6 KB of rows, a multiple
    /// of eight, at least eight (16 rows at d = 100; 3 KB and 9 KB were slower).
    @inline(__always)
    static func prefetchRows(_ d: Int) -> Int {
        let bytes = 6 * 1024
        return max(8, (bytes / max(1, d * MemoryLayout<Float>.stride) + 7) / 8 * 8)
    }

    /// Prefetches the rows `indices[from ..< to]` into L2 (nothing if `from >= to`).
    @inline(__always)
    static func prefetchRows(_ x: UnsafePointer<Float>, _ d: Int, _ indices: UnsafePointer<UInt32>,
                             from: Int, to: Int, bytes: Int) {
        guard from < to else { return }
        let first = Int(indices[from])
        if Int(indices[to - 1]) &- first == to - 1 - from {
            // Consecutive rows (as the batches of a sequential pass are): one run of lines, each
            // line once, where row by row the line two rows share is prefetched twice.
            prefetch(UnsafeRawPointer(x + first &* d), bytes: (to - from) &* bytes)
            return
        }
        var k = from
        while k < to {
            prefetch(UnsafeRawPointer(x + Int(indices[k]) &* d), bytes: bytes)
            k += 1
        }
    }

    /// LLVM's prefetch intrinsic (`prefetcht1` on x86-64 with locality 2; a no-op where a target
    /// has none). Its arguments after the address must be constants: read (0) or write (1),
    /// temporal locality 0...3, data (1) or instruction (0) cache.
    @_silgen_name("llvm.prefetch.p0")
    static func llvmPrefetch(_ address: UnsafeRawPointer, _ write: Int32, _ locality: Int32, _ data: Int32)

    /// Prefetches every 64-byte line that holds some of the `bytes` bytes from `p` into L2 and the
    /// levels below it (`prefetcht1`: not into L1, see the type's comment).
    @inline(__always)
    static func prefetch(_ p: UnsafeRawPointer, bytes: Int) {
        var line = UInt(bitPattern: p) & ~63
        let end = UInt(bitPattern: p) &+ UInt(bitPattern: bytes)
        while line < end {
            llvmPrefetch(UnsafeRawPointer(bitPattern: line).unsafelyUnwrapped, 0, 2, 1)
            line &+= 64
        }
    }

    // MARK: - Forward and backward of one block

    /// The eight rows of a block (a short block repeats its last row).
    struct RowBlock {
        let r0, r1, r2, r3, r4, r5, r6, r7: UnsafePointer<Float>

        /// Rows `indices[start ..< start + count]` of the row-major `x` (`d` columns), `count` 1...8.
        @inline(__always)
        init(_ x: UnsafePointer<Float>, _ d: Int, _ indices: UnsafePointer<UInt32>, _ start: Int, _ count: Int) {
            if count == 8 {
                // A full block (all but a batch's last): the pointers without the clamp and the
                // overflow checks a short block needs.
                let i = indices + start
                @inline(__always) func row(_ k: Int) -> UnsafePointer<Float> { x + Int(i[k]) &* d }
                (r0, r1, r2, r3, r4, r5, r6, r7) = (row(0), row(1), row(2), row(3), row(4), row(5), row(6), row(7))
                return
            }
            @inline(__always) func row(_ k: Int) -> UnsafePointer<Float> { x + Int(indices[start + min(k, count - 1)]) &* d }
            (r0, r1, r2, r3, r4, r5, r6, r7) = (row(0), row(1), row(2), row(3), row(4), row(5), row(6), row(7))
        }

        /// Rows `start ..< start + count` of `x`, `count` 1...8.
        @inline(__always)
        init(_ x: UnsafePointer<Float>, _ d: Int, _ start: Int, _ count: Int) {
            @inline(__always) func row(_ k: Int) -> UnsafePointer<Float> { x + (start + min(k, count - 1)) &* d }
            (r0, r1, r2, r3, r4, r5, r6, r7) = (row(0), row(1), row(2), row(3), row(4), row(5), row(6), row(7))
        }

        @inline(__always)
        subscript(k: Int) -> UnsafePointer<Float> {
            switch k {
            case 0: return r0
            case 1: return r1
            case 2: return r2
            case 3: return r3
            case 4: return r4
            case 5: return r5
            case 6: return r6
            default: return r7
            }
        }
    }

    /// `[w.x_0, ..., w.x_7]` (without the bias) for the eight rows of `rows`.
    @inline(__always)
    static func outputs(_ w: UnsafePointer<Float>, _ d: Int, _ rows: RowBlock, _ tail: Tail, rowByRow: Bool) -> Vector8 {
        if d < laneCount {
            var z = Vector8()
            for k in 0..<8 {
                let r = rows[k]
                var t: Float = 0
                for j in 0..<d { t += w[j] * r[j] }
                z[k] = t
            }
            return z
        }
        if rowByRow {
            let (a0, a1, a2, a3) = fourDotsRowByRow(w, d, rows.r0, rows.r1, rows.r2, rows.r3, tail)
            let (a4, a5, a6, a7) = fourDotsRowByRow(w, d, rows.r4, rows.r5, rows.r6, rows.r7, tail)
            return laneSums(a0, a1, a2, a3, a4, a5, a6, a7)
        }
        let (a0, a1, a2, a3) = fourDots(w, d, rows.r0, rows.r1, rows.r2, rows.r3, tail)
        let (a4, a5, a6, a7) = fourDots(w, d, rows.r4, rows.r5, rows.r6, rows.r7, tail)
        return laneSums(a0, a1, a2, a3, a4, a5, a6, a7)
    }

    /// The products `w.x` of four rows, each still spread over the lanes of one vector: the four
    /// rows are walked together from start to end, `w` loaded once per column chunk for the four.
    /// Only for `d >= W`.
    @inline(__always)
    static func fourDots(_ w: UnsafePointer<Float>, _ d: Int, _ p: UnsafePointer<Float>, _ q: UnsafePointer<Float>,
                         _ r: UnsafePointer<Float>, _ t: UnsafePointer<Float>, _ tail: Tail) -> (Vector, Vector, Vector, Vector) {
        var u = Vector(), v = Vector(), e = Vector(), f = Vector()
        var j = 0
        while j &+ laneCount <= d {
            let wv = load(w + j)
            u = u.madd(wv, load(p + j))
            v = v.madd(wv, load(q + j))
            e = e.madd(wv, load(r + j))
            f = f.madd(wv, load(t + j))
            j &+= laneCount
        }
        if tail.present {
            u = u.madd(tail.weights, load(p + tail.offset))
            v = v.madd(tail.weights, load(q + tail.offset))
            e = e.madd(tail.weights, load(r + tail.offset))
            f = f.madd(tail.weights, load(t + tail.offset))
        }
        return (u, v, e, f)
    }

    /// `fourDots` with each row walked from start to end before the next (its tail chunk too):
    /// the same multiply-adds into the same accumulators in the same order, so the same bits; the
    /// loads go through memory in address order when the rows are consecutive. Each row loads the
    /// weights again (from L1).
    @inline(__always)
    static func fourDotsRowByRow(_ w: UnsafePointer<Float>, _ d: Int, _ p: UnsafePointer<Float>, _ q: UnsafePointer<Float>,
                                 _ r: UnsafePointer<Float>, _ t: UnsafePointer<Float>, _ tail: Tail) -> (Vector, Vector, Vector, Vector) {
        @inline(__always) func dot(_ row: UnsafePointer<Float>) -> Vector {
            var a = Vector(), j = 0
            while j &+ laneCount <= d {
                a = a.madd(load(w + j), load(row + j))
                j &+= laneCount
            }
            return tail.present ? a.madd(tail.weights, load(row + tail.offset)) : a
        }
        return (dot(p), dot(q), dot(r), dot(t))
    }

    /// `[a0.sum(), ..., a7.sum()]`, by transposes and adds that map onto the vector unit's lane
    /// permutes and in-lane shuffles (8 lanes: `laneSums8`; 4 lanes: two 4 x 4 transposes).
    @inline(__always)
    static func laneSums(_ a0: Vector, _ a1: Vector, _ a2: Vector, _ a3: Vector,
                         _ a4: Vector, _ a5: Vector, _ a6: Vector, _ a7: Vector) -> Vector8 {
        #if DSGD_KERNELS_AVX512 || DSGD_KERNELS_AVX2   // eight lanes (see `Vector`)
        return laneSums8(a0, a1, a2, a3, a4, a5, a6, a7)
        #else
        // [a0 a1 b0 b1] + [a2 a3 b2 b3] lane-wise pairs, twice: [a.sum(), b.sum(), c.sum(), d.sum()].
        @inline(__always) func pairs(_ a: Vector, _ b: Vector) -> Vector {
            Vector(a[0], a[2], b[0], b[2]) + Vector(a[1], a[3], b[1], b[3])
        }
        return Vector8(lowHalf: pairs(pairs(a0, a1), pairs(a2, a3)), highHalf: pairs(pairs(a4, a5), pairs(a6, a7)))
        #endif
    }

    /// `[a0.sum(), ..., a7.sum()]` of eight 8-lane vectors, by a transpose-and-add in three steps
    /// that map onto AVX's lane permutes and in-lane shuffles.
    @inline(__always)
    static func laneSums8(_ a0: Vector8, _ a1: Vector8, _ a2: Vector8, _ a3: Vector8,
                          _ a4: Vector8, _ a5: Vector8, _ a6: Vector8, _ a7: Vector8) -> Vector8 {
        // Halves added: t_ij = [a_i's four partial sums | a_j's].
        @inline(__always) func halves(_ a: Vector8, _ b: Vector8) -> Vector8 {
            Vector8(lowHalf: a.lowHalf, highHalf: b.lowHalf) + Vector8(lowHalf: a.highHalf, highHalf: b.highHalf)
        }
        // Within each 128-bit half, neighbours added: [a0 a1 b0 b1 | a2 a3 b2 b3] (shufps).
        @inline(__always) func pairs(_ a: Vector8, _ b: Vector8) -> Vector8 {
            Vector8(a[0], a[2], b[0], b[2], a[4], a[6], b[4], b[6]) + Vector8(a[1], a[3], b[1], b[3], a[5], a[7], b[5], b[7])
        }
        let t04 = halves(a0, a4), t15 = halves(a1, a5), t26 = halves(a2, a6), t37 = halves(a3, a7)
        // [a0 a0 a1 a1 | a4 a4 a5 a5] and [a2 a2 a3 a3 | a6 a6 a7 a7] (two partial sums each).
        let q = pairs(t04, t15), r = pairs(t26, t37)
        // [a0 a1 a2 a3 | a4 a5 a6 a7].
        return pairs(q, r)
    }

    /// `g[0..<d] += sum_k s[k] x_k` for the eight rows of `rows`.
    @inline(__always)
    static func accumulate(_ g: UnsafeMutablePointer<Float>, _ d: Int, _ rows: RowBlock, _ s: Vector8, _ tail: Tail) {
        if d < laneCount {
            for k in 0..<8 {
                let r = rows[k], sk = s[k]
                for j in 0..<d { g[j] += sk * r[j] }
            }
            return
        }
        let s0 = Vector(repeating: s[0]), s1 = Vector(repeating: s[1]), s2 = Vector(repeating: s[2]), s3 = Vector(repeating: s[3])
        let s4 = Vector(repeating: s[4]), s5 = Vector(repeating: s[5]), s6 = Vector(repeating: s[6]), s7 = Vector(repeating: s[7])
        // Two chains of four fused multiply-adds each (half the latency of one chain of eight).
        @inline(__always) func chunk(_ j: Int) -> Vector {
            var u = s0 * load(rows.r0 + j)
            var v = s1 * load(rows.r1 + j)
            u = u.madd(s2, load(rows.r2 + j))
            v = v.madd(s3, load(rows.r3 + j))
            u = u.madd(s4, load(rows.r4 + j))
            v = v.madd(s5, load(rows.r5 + j))
            u = u.madd(s6, load(rows.r6 + j))
            v = v.madd(s7, load(rows.r7 + j))
            return u + v
        }
        var j = 0
        while j &+ laneCount <= d {
            store(load(g + j) + chunk(j), g + j)
            j &+= laneCount
        }
        if tail.present {
            let o = tail.offset
            store(load(g + o) + chunk(o).replacing(with: 0, where: tail.counted), g + o)
        }
    }
}

// MARK: - Per-lane losses

/// A per-example loss and its slope `dl/dz`, eight examples at a time.
protocol LaneLoss {
    static func lossAndSlope(z: Vector8, y: Vector8) -> (loss: Vector8, slope: Vector8)
}

/// `l = (z - y)^2 / 2`, `dl/dz = z - y`.
enum SquaredLaneLoss: LaneLoss {
    @inline(__always)
    static func lossAndSlope(z: Vector8, y: Vector8) -> (loss: Vector8, slope: Vector8) {
        let r = z - y
        return (0.5 * (r * r), r)
    }
}

/// `l = log(1 + e^z) - y z`, `dl/dz = sigmoid(z) - y`.
enum LogisticLaneLoss: LaneLoss {
    /// Always inlined, as `VariantMath.logisticLossAndSlope` (see there).
    @_transparent
    static func lossAndSlope(z: Vector8, y: Vector8) -> (loss: Vector8, slope: Vector8) {
        VariantMath.logisticLossAndSlope(z: z, y: y)
    }
}
