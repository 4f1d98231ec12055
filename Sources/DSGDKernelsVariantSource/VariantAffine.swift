/// Fused minibatch loss and gradient of the affine models (`z = w.x + b` with a per-example loss
/// `l(z, y)`: linear and logistic regression), over an arbitrary list of row indices.
///
/// The math (parameters `[w_0 ... w_{d-1}, b]`, batch `B` of `n` examples):
///
///     forward   z_i = w.x_i + b,  l_i = l(z_i, y_i),  s_i = dl/dz (z_i, y_i)
///     loss      (1/n) sum_i l_i
///     backward  dE/dw = (1/n) sum_i s_i x_i,  dE/db = (1/n) sum_i s_i      (chain rule through z)
///
/// How it is computed: the batch is walked in blocks of eight rows (the last block padded with
/// copies of its last row, whose slopes and losses are then zeroed). For each block
/// - forward: eight `Vector` accumulators (`W` = 16, 8 or 4 lanes by variant), one per row, each
///   take `w[j..<j+W] * x_r[j..<j+W]` (one fused multiply-add per row per `W` columns, `w` loaded
///   once for the eight rows); the eight accumulators are reduced across lanes into one
///   `SIMD8<Float>` of the block's eight `z`s;
/// - the eight losses and slopes in one vector pass (`VariantMath.logisticLossAndSlope`, or
///   `(z - y)^2 / 2` and `z - y`);
/// - backward: `g[j..<j+W] += sum_r s_r x_r[j..<j+W]` while the eight rows (3.2 KB at d = 100) are
///   still in L1, one load and store of `g` per eight rows.
/// When `d` is not a multiple of `W` the last columns are done as one overlapping `W`-wide chunk
/// ending at `d`, with the lanes already counted masked off (no read past a row, so none past the
/// data); `d < W` takes a scalar path. Losses are summed in float64.
///
/// Two things keep the core busy while rows stream in from memory: the rows two blocks ahead are
/// prefetched (`prefetcht0` for every cache line they touch, one row per column chunk of the forward
/// pass; the index list says which rows, so shuffled batches are prefetched as well as consecutive
/// ones), and the loop is software-pipelined (the next block's forward pass is issued before this
/// block's backward pass, so it runs during the loss's chain of dependent operations). At d = 100 a row is 400 bytes: one core streams about
/// 9-10 GB/s from DRAM here, so about 23-25 M rows/s is the ceiling for data that is not in cache;
/// the kernel reaches 18-27 M rows/s on 80 MB of rows (depending on what else the machine is
/// doing; the squared loss, with far less arithmetic, is no faster there), and about 38 M rows/s
/// on rows in cache.
///
/// One variant of the kernel (see VariantConfig.swift); the public entry points are in
/// DSGDKernels (`AffineKernels`). No allocation.
enum VariantAffine {
    /// Writes the mean gradient over the rows `batch` into `gradient` (`dimension + 1` floats,
    /// overwritten; the last is the bias) and returns the mean loss.
    ///
    /// - `parameters`: `dimension + 1` floats, `[w, b]`.
    /// - `features`: row-major, `dimension` floats per row; `targets`: one float per row. Every
    ///   index in `batch` must be a valid row.
    /// An empty batch gives NaN (a mean over nothing).
    static func lossAndGradient(
        logistic: Bool, parameters: UnsafePointer<Float>, dimension: Int,
        features: UnsafePointer<Float>, targets: UnsafePointer<Float>,
        batch: UnsafeBufferPointer<UInt32>, gradient: UnsafeMutablePointer<Float>
    ) -> Double {
        logistic
            ? fused(LogisticLaneLoss.self, parameters, dimension, features, targets, batch, gradient)
            : fused(SquaredLaneLoss.self, parameters, dimension, features, targets, batch, gradient)
    }

    /// The mean loss over rows `0..<examples` (the same blocks and sums as `lossAndGradient` over
    /// the batch `0, 1, ..., examples - 1`, without the backward pass).
    static func meanLoss(
        logistic: Bool, parameters: UnsafePointer<Float>, dimension: Int,
        features: UnsafePointer<Float>, targets: UnsafePointer<Float>, examples: Int
    ) -> Double {
        logistic
            ? lossOnly(LogisticLaneLoss.self, parameters, dimension, features, targets, examples)
            : lossOnly(SquaredLaneLoss.self, parameters, dimension, features, targets, examples)
    }

    // MARK: - The block loop

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
    static func load(_ p: UnsafePointer<Float>) -> Vector { loadVector(p) }

    @inline(__always)
    static func store(_ v: Vector, _ p: UnsafeMutablePointer<Float>) { storeVector(v, p) }

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

    /// Eight rows of a batch (the last block of a batch repeats its last row) and their targets.
    struct Block {
        let rows: RowBlock
        let targets: Vector8
        /// How many of the eight rows are real (`8` but in a short last block).
        let count: Int

        /// Rows `index[start ..< start + 8]` (repeating `index[n - 1]` past `n`) of the row-major
        /// `x` (`d` columns), and their targets in `y`.
        @inline(__always)
        init(_ index: (Int) -> Int, _ start: Int, _ n: Int, _ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ d: Int) {
            let m = min(8, n - start)
            @inline(__always) func row(_ k: Int) -> Int { index(start + min(k, m - 1)) }
            let i0 = row(0), i1 = row(1), i2 = row(2), i3 = row(3), i4 = row(4), i5 = row(5), i6 = row(6), i7 = row(7)
            rows = RowBlock(x + i0 &* d, x + i1 &* d, x + i2 &* d, x + i3 &* d, x + i4 &* d, x + i5 &* d, x + i6 &* d, x + i7 &* d)
            targets = Vector8(y[i0], y[i1], y[i2], y[i3], y[i4], y[i5], y[i6], y[i7])
            count = m
        }
    }

    /// The fused loop over blocks of eight rows of `batch`, software-pipelined: the forward pass of
    /// block `k + 1` is issued between the loss of block `k` and its backward pass, so that the
    /// processor runs it during the loss's long chain of dependent operations (the backward pass
    /// has to wait for the slopes; the next forward pass does not).
    @inline(__always)
    static func fused<L: LaneLoss>(
        _: L.Type, _ w: UnsafePointer<Float>, _ d: Int, _ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>,
        _ batch: UnsafeBufferPointer<UInt32>, _ g: UnsafeMutablePointer<Float>
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
        @inline(__always) func index(_ k: Int) -> Int { Int(indices[k]) }
        let rowBytes = d * MemoryLayout<Float>.stride
        for k in 0..<min(8 * prefetchDistance, n) {   // the first blocks, all at once
            prefetch(UnsafeRawPointer(x + index(k) &* d), bytes: rowBytes)
        }
        var lossSum = SIMD4<Double>()
        var slopeSum = Vector8()
        var start = 0
        var block = Block(index, 0, n, x, y, d)
        // Forward: z = w.x + b.
        var z = outputs(w, d, block.rows, tail, { _ in }) + bias
        while true {
            // Loss l(z, y) and slope s = dl/dz of the eight rows (padding rows: 0 and 0).
            var (l, s) = L.lossAndSlope(z: z, y: block.targets)
            if block.count < 8 {
                let padding = rowLanes .>= Float(block.count)
                l.replace(with: 0, where: padding)
                s.replace(with: 0, where: padding)
            }
            lossSum += SIMD4<Double>(l.lowHalf) + SIMD4<Double>(l.highHalf)
            slopeSum += s
            let next = start + 8
            guard next < n else {
                // Backward of the last block: g_w += sum_r s_r x_r (g_b: the sum of the slopes).
                accumulate(g, d, block.rows, s, tail)
                break
            }
            // Forward of the next block (independent of s), then backward of this one. During the
            // forward pass, one row per column chunk, ask for the rows `prefetchDistance` blocks
            // ahead, so that they are in cache by the time they are needed (the indices are known:
            // any order of rows works; spread out, the prefetches do not stall the core in bursts).
            let ahead = start + 8 * prefetchDistance
            let following = Block(index, next, n, x, y, d)
            let zNext = outputs(w, d, following.rows, tail, { k in
                if ahead + k < n { prefetch(UnsafeRawPointer(x + index(ahead + k) &* d), bytes: rowBytes) }
            }) + bias
            accumulate(g, d, block.rows, s, tail)
            block = following
            z = zNext
            start = next
        }
        g[d] = slopeSum.sum()
        let scale = 1 / Float(n)
        for j in 0...d { g[j] *= scale }
        return lossSum.sum() / Double(n)
    }

    /// Forward and loss only, over the consecutive rows `0..<n`.
    @inline(__always)
    static func lossOnly<L: LaneLoss>(
        _: L.Type, _ w: UnsafePointer<Float>, _ d: Int, _ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ n: Int
    ) -> Double {
        let bias = w[d]
        let tail = Tail(w, d)
        var lossSum = SIMD4<Double>()
        var start = 0
        while start < n {
            let block = Block({ $0 }, start, n, x, y, d)
            let z = outputs(w, d, block.rows, tail, { _ in }) + bias
            var l = L.lossAndSlope(z: z, y: block.targets).loss
            if block.count < 8 { l.replace(with: 0, where: rowLanes .>= Float(block.count)) }
            lossSum += SIMD4<Double>(l.lowHalf) + SIMD4<Double>(l.highHalf)
            start += 8
        }
        return lossSum.sum() / Double(n)
    }

    // MARK: - Prefetching

    /// How many blocks ahead `fused` prefetches rows.
    static var prefetchDistance: Int { 2 }

    /// LLVM's prefetch intrinsic (`prefetcht0` on x86-64; a no-op where a target has none). Its
    /// arguments after the address must be constants: read (0) or write (1), temporal locality
    /// 0...3, data (1) or instruction (0) cache.
    @_silgen_name("llvm.prefetch.p0")
    static func llvmPrefetch(_ address: UnsafeRawPointer, _ write: Int32, _ locality: Int32, _ data: Int32)

    /// Prefetches every 64-byte line that holds some of the `bytes` bytes from `p` (into all
    /// cache levels).
    @inline(__always)
    static func prefetch(_ p: UnsafeRawPointer, bytes: Int) {
        var line = UInt(bitPattern: p) & ~63
        let end = UInt(bitPattern: p) &+ UInt(bitPattern: bytes)
        while line < end {
            llvmPrefetch(UnsafeRawPointer(bitPattern: line).unsafelyUnwrapped, 0, 3, 1)
            line &+= 64
        }
    }

    // MARK: - Forward and backward of one block

    /// The eight rows of a block.
    struct RowBlock {
        let r0, r1, r2, r3, r4, r5, r6, r7: UnsafePointer<Float>

        @inline(__always)
        init(_ r0: UnsafePointer<Float>, _ r1: UnsafePointer<Float>, _ r2: UnsafePointer<Float>, _ r3: UnsafePointer<Float>,
             _ r4: UnsafePointer<Float>, _ r5: UnsafePointer<Float>, _ r6: UnsafePointer<Float>, _ r7: UnsafePointer<Float>) {
            (self.r0, self.r1, self.r2, self.r3, self.r4, self.r5, self.r6, self.r7) = (r0, r1, r2, r3, r4, r5, r6, r7)
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

    /// `[w.x_0, ..., w.x_7]` (without the bias) for the eight rows of `rows`; calls `alongside`
    /// with 0, 1, ..., 7, one per column chunk while there are chunks (the prefetches).
    @inline(__always)
    static func outputs(_ w: UnsafePointer<Float>, _ d: Int, _ rows: RowBlock, _ tail: Tail,
                        _ alongside: (Int) -> Void) -> Vector8 {
        if d < laneCount {
            for k in 0..<8 { alongside(k) }
            var z = Vector8()
            for k in 0..<8 {
                let r = rows[k]
                var t: Float = 0
                for j in 0..<d { t += w[j] * r[j] }
                z[k] = t
            }
            return z
        }
        var a0 = Vector(), a1 = Vector(), a2 = Vector(), a3 = Vector()
        var a4 = Vector(), a5 = Vector(), a6 = Vector(), a7 = Vector()
        @inline(__always) func chunk(_ wv: Vector, _ j: Int) {
            a0 = a0.madd(wv, load(rows.r0 + j))
            a1 = a1.madd(wv, load(rows.r1 + j))
            a2 = a2.madd(wv, load(rows.r2 + j))
            a3 = a3.madd(wv, load(rows.r3 + j))
            a4 = a4.madd(wv, load(rows.r4 + j))
            a5 = a5.madd(wv, load(rows.r5 + j))
            a6 = a6.madd(wv, load(rows.r6 + j))
            a7 = a7.madd(wv, load(rows.r7 + j))
        }
        var j = 0, k = 0
        while j + laneCount <= d {
            chunk(load(w + j), j)
            if k < 8 { alongside(k) }
            j += laneCount
            k += 1
        }
        while k < 8 {
            alongside(k)
            k += 1
        }
        if tail.present { chunk(tail.weights, tail.offset) }
        return laneSums(a0, a1, a2, a3, a4, a5, a6, a7)
    }

    /// `[a0.sum(), ..., a7.sum()]`, by transposes and adds that map onto the vector unit's lane
    /// permutes and in-lane shuffles (16 lanes: each folded to 8 first; 4 lanes: two 4 x 4
    /// transposes).
    @inline(__always)
    static func laneSums(_ a0: Vector, _ a1: Vector, _ a2: Vector, _ a3: Vector,
                         _ a4: Vector, _ a5: Vector, _ a6: Vector, _ a7: Vector) -> Vector8 {
        #if DSGD_KERNELS_AVX512
        @inline(__always) func fold(_ a: Vector) -> Vector8 { a.lowHalf + a.highHalf }
        return laneSums8(fold(a0), fold(a1), fold(a2), fold(a3), fold(a4), fold(a5), fold(a6), fold(a7))
        #elseif DSGD_KERNELS_AVX2
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
        while j + laneCount <= d {
            store(load(g + j) + chunk(j), g + j)
            j += laneCount
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
    @inline(__always)
    static func lossAndSlope(z: Vector8, y: Vector8) -> (loss: Vector8, slope: Vector8) {
        VariantMath.logisticLossAndSlope(z: z, y: y)
    }
}
