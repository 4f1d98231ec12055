/// Single-precision matrix multiply for the compute core: `C = op(A) · op(B)` or `C += op(A) · op(B)`,
/// every matrix row-major, `op(X)` either `X` or `Xᵀ`. The three products an MLP layer needs are
///
///     forward       Z  = H · Wᵀ      (A·Bᵀ)   H: [B, in], W: [out, in], Z: [B, out]
///     backward dW   dW = dZᵀ · H     (Aᵀ·B)   dZ: [B, out]
///     backward dH   dH = dZ · W      (A·B)
///
/// How it is computed (the BLIS/GotoBLAS scheme, sized for one core with a 32 KB L1 and a
/// >= 512 KB L2):
/// - loop over blocks of `nc` columns of C and `kc` of the shared dimension; copy that `kc x nc`
///   block of `op(B)` into the workspace as panels of 16 columns (`kc x 16` floats each, contiguous,
///   columns past `n` zero);
/// - inside, loop over blocks of `mc` rows of C; copy the `mc x kc` block of `op(A)` as panels of 6
///   rows (`kc x 6` floats each, interleaved, rows past `m` zero);
/// - a 6x16 microkernel multiplies one A panel by one B panel: 12 `SIMD8<Float>` accumulators,
///   per step of the shared dimension two 8-float loads of B, six broadcasts of A and twelve fused
///   multiply-adds. Edge tiles are computed whole into a stack tile and only their valid part added.
///
/// The transposes cost nothing extra: they only change how the packing routines read. (Reading A
/// in place instead of packing it was tried: the compiler then spilled three accumulators and the
/// kernel ran at half speed.)
///
/// The target is compiled with `-target-cpu haswell` on x86-64 (see Package.swift): `SIMD8<Float>`
/// then maps onto AVX2 registers and `addingProduct` onto FMA. Nothing in here is `@inlinable`, so
/// callers in other modules always run this module's code.
///
/// No allocation per call: the caller passes an `SGEMMWorkspace` (`SGEMM.workspaceCount` floats,
/// allocated once). A workspace serves one call at a time.
public enum SGEMM {
    /// Rows of the microkernel tile.
    public static let mr = 6
    /// Columns of the microkernel tile.
    public static let nr = 16
    /// Block of the shared dimension (one B panel `kc x nr` = 16 KB, stays in L1).
    public static let kc = 256
    /// Block of columns of C (the packed B block, at most `kc x nc` = 512 KB, in L2).
    public static let nc = 512
    /// Block of rows of C (the packed A block `mc x kc` = 96 KB, in L2).
    public static let mc = 96

    /// Floats of workspace one call needs.
    public static let workspaceCount = kc * nc + mc * kc

    /// `C = op(A) · op(B) [+ bias]` (or `C += ...` with `accumulate`), optionally `relu`'d;
    /// `op(A)` is `m x k`, `op(B)` is `k x n`.
    ///
    /// - `a`: `transposeA ? k x m : m x k`, row stride `lda`.
    /// - `b`: `transposeB ? n x k : k x n`, row stride `ldb`.
    /// - `c`: `m x n`, row stride `ldc`; with `k == 0` the product is taken as zero (bias and relu still apply).
    /// - `bias`: if given, `n` floats added to every row of C (the layer bias, fused into the store).
    /// - `relu`: if set, C is replaced by `max(C, 0)` after everything else (fused into the last store).
    /// - `workspace`: packing space (not shared with a concurrent call).
    public static func multiply(
        m: Int, n: Int, k: Int,
        a: UnsafePointer<Float>, lda: Int, transposeA: Bool,
        b: UnsafePointer<Float>, ldb: Int, transposeB: Bool,
        c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool,
        bias: UnsafePointer<Float>? = nil, relu: Bool = false,
        workspace: SGEMMWorkspace
    ) {
        precondition(m >= 0 && n >= 0 && k >= 0, "negative matrix dimension")
        // Checked here, in this module: a caller compiled against other block sizes (a stale
        // incremental build can inline an old `workspaceCount`) gets a clear stop, not a heap overrun.
        precondition(workspace.count >= workspaceCount, "SGEMM workspace too small (\(workspace.count) < \(workspaceCount) floats)")
        if m == 0 || n == 0 { return }
        if k == 0 {
            for i in 0..<m {
                let row = c + i * ldc
                for j in 0..<n {
                    var v = (accumulate ? row[j] : 0) + (bias?[j] ?? 0)
                    if relu { v = max(v, 0) }
                    row[j] = v
                }
            }
            return
        }
        // Equal k blocks of at most kc (784 = 4 x 196 rather than 3 x 256 + 16: a thin last block
        // would pay a full load and store of C for little work).
        let kBlocks = (k + kc - 1) / kc
        let kStep = (k + kBlocks - 1) / kBlocks
        // Likewise equal column blocks of at most nc, in whole panels (784 = 2 x 400, not 512 + 272).
        let nBlocks = (n + nc - 1) / nc
        let nStep = ((n + nBlocks - 1) / nBlocks + nr - 1) / nr * nr
        let packedB = workspace.pointer
        let packedA = workspace.pointer + kc * nc
        var jc = 0
        while jc < n {
            let nb = min(nStep, n - jc)
            var pc = 0
            while pc < k {
                let kb = min(kStep, k - pc)
                let load = accumulate || pc > 0
                let lastK = pc + kb == k
                packB(b, ldb, transposeB, pc, kb, jc, nb, packedB)
                var ic = 0
                while ic < m {
                    let mb = min(mc, m - ic)
                    packA(a, lda, transposeA, ic, mb, pc, kb, packedA)
                    var jr = 0
                    while jr < nb {
                        let nv = min(nr, nb - jr)
                        let bp = packedB + jr * kb
                        let bias = pc == 0 ? bias.map { $0 + jc + jr } : nil
                        var ir = 0
                        while ir < mb {
                            let mv = min(mr, mb - ir)
                            kernel6x16(kb, packedA + ir * kb, bp, c + (ic + ir) * ldc + jc + jr, ldc, load,
                                       bias, relu && lastK, mv, nv)
                            ir += mr
                        }
                        jr += nr
                    }
                    ic += mb
                }
                pc += kb
            }
            jc += nb
        }
    }

    /// Copies rows `ic ..< ic+mb`, columns `pc ..< pc+kb` of `op(A)` into panels of `mr` rows:
    /// panel `q`, step `p`, row `r` lands at `out[q*mr*kb + p*mr + r]` (zero past `mb`).
    @inline(__always)
    static func packA(
        _ a: UnsafePointer<Float>, _ lda: Int, _ transposed: Bool,
        _ ic: Int, _ mb: Int, _ pc: Int, _ kb: Int, _ out: UnsafeMutablePointer<Float>
    ) {
        var ir = 0
        var dst = out
        while ir < mb {
            let rows = min(mr, mb - ir)
            if transposed {
                // op(A)[i][p] = a[p*lda + i]: the panel's six rows are adjacent for each p.
                for p in 0..<kb {
                    let src = a + (pc + p) * lda + ic + ir
                    let d = dst + p * mr
                    if rows == mr {
                        d[0] = src[0]; d[1] = src[1]; d[2] = src[2]
                        d[3] = src[3]; d[4] = src[4]; d[5] = src[5]
                    } else {
                        for r in 0..<mr { d[r] = r < rows ? src[r] : 0 }
                    }
                }
            } else if rows == mr {
                // op(A)[i][p] = a[i*lda + p]: six row streams, written contiguously.
                let s0 = a + (ic + ir) * lda + pc
                let s1 = s0 + lda, s2 = s1 + lda, s3 = s2 + lda, s4 = s3 + lda, s5 = s4 + lda
                var d = dst
                for p in 0..<kb {
                    d[0] = s0[p]; d[1] = s1[p]; d[2] = s2[p]
                    d[3] = s3[p]; d[4] = s4[p]; d[5] = s5[p]
                    d += mr
                }
            } else {
                for r in 0..<mr {
                    let src = a + (ic + ir + min(r, rows - 1)) * lda + pc
                    for p in 0..<kb { dst[p * mr + r] = r < rows ? src[p] : 0 }
                }
            }
            dst += mr * kb
            ir += mr
        }
    }

    /// Copies rows `pc ..< pc+kb`, columns `jc ..< jc+nb` of `op(B)` into panels of `nr` columns:
    /// panel `q`, step `p`, column `j` lands at `out[q*nr*kb + p*nr + j]` (zero past `nb`).
    @inline(__always)
    static func packB(
        _ b: UnsafePointer<Float>, _ ldb: Int, _ transposed: Bool,
        _ pc: Int, _ kb: Int, _ jc: Int, _ nb: Int, _ out: UnsafeMutablePointer<Float>
    ) {
        var jr = 0
        var dst = out
        while jr < nb {
            let cols = min(nr, nb - jr)
            if transposed {
                // op(B)[p][j] = b[j*ldb + p]: read each of the 16 source rows contiguously.
                for j in 0..<nr {
                    if j < cols {
                        let src = b + (jc + jr + j) * ldb + pc
                        for p in 0..<kb { dst[p * nr + j] = src[p] }
                    } else {
                        for p in 0..<kb { dst[p * nr + j] = 0 }
                    }
                }
            } else {
                // op(B)[p][j] = b[p*ldb + j]: 16 contiguous floats per p.
                for p in 0..<kb {
                    let src = b + (pc + p) * ldb + jc + jr
                    let d = dst + p * nr
                    if cols == nr {
                        store(load(src), d)
                        store(load(src + 8), d + 8)
                    } else {
                        for j in 0..<nr { d[j] = j < cols ? src[j] : 0 }
                    }
                }
            }
            dst += nr * kb
            jr += nr
        }
    }

    @inline(__always)
    static func load(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
    }

    @inline(__always)
    static func store(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self)
    }

    /// The 6x16 microkernel: `tile = Ap · Bp` over `kb` steps (`Ap`: `kb x 6` interleaved, `Bp`:
    /// `kb x 16`), then `C = tile` or `C += tile` (`load`) on the valid `mv x nv` corner of C, plus
    /// `bias[j]` on every row when given, then `max(., 0)` when `relu`.
    @inline(__always)
    static func kernel6x16(
        _ kb: Int, _ ap: UnsafePointer<Float>, _ bp: UnsafePointer<Float>,
        _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ load: Bool,
        _ bias: UnsafePointer<Float>?, _ relu: Bool, _ mv: Int, _ nv: Int
    ) {
        var c00 = SIMD8<Float>(), c01 = SIMD8<Float>()
        var c10 = SIMD8<Float>(), c11 = SIMD8<Float>()
        var c20 = SIMD8<Float>(), c21 = SIMD8<Float>()
        var c30 = SIMD8<Float>(), c31 = SIMD8<Float>()
        var c40 = SIMD8<Float>(), c41 = SIMD8<Float>()
        var c50 = SIMD8<Float>(), c51 = SIMD8<Float>()
        var a = ap, b = bp
        for _ in 0..<kb {
            let b0 = Self.load(b), b1 = Self.load(b + 8)
            var x = SIMD8<Float>(repeating: a[0])
            c00.addProduct(x, b0); c01.addProduct(x, b1)
            x = SIMD8<Float>(repeating: a[1])
            c10.addProduct(x, b0); c11.addProduct(x, b1)
            x = SIMD8<Float>(repeating: a[2])
            c20.addProduct(x, b0); c21.addProduct(x, b1)
            x = SIMD8<Float>(repeating: a[3])
            c30.addProduct(x, b0); c31.addProduct(x, b1)
            x = SIMD8<Float>(repeating: a[4])
            c40.addProduct(x, b0); c41.addProduct(x, b1)
            x = SIMD8<Float>(repeating: a[5])
            c50.addProduct(x, b0); c51.addProduct(x, b1)
            a += mr
            b += nr
        }
        if mv == mr && nv == nr {
            var bLo = SIMD8<Float>(), bHi = SIMD8<Float>()
            if let bias {
                bLo = Self.load(bias)
                bHi = Self.load(bias + 8)
            }
            let zero = SIMD8<Float>()
            var row = c
            @inline(__always) func put(_ lo: SIMD8<Float>, _ hi: SIMD8<Float>) {
                var lo = lo + bLo, hi = hi + bHi
                if load {
                    lo += Self.load(row)
                    hi += Self.load(row + 8)
                }
                if relu {
                    lo = lo.replacing(with: zero, where: lo .< zero)
                    hi = hi.replacing(with: zero, where: hi .< zero)
                }
                store(lo, row)
                store(hi, row + 8)
                row += ldc
            }
            put(c00, c01); put(c10, c11); put(c20, c21)
            put(c30, c31); put(c40, c41); put(c50, c51)
        } else {
            withUnsafeTemporaryAllocation(of: SIMD8<Float>.self, capacity: 2 * mr) { t in
                t[0] = c00; t[1] = c01; t[2] = c10; t[3] = c11; t[4] = c20; t[5] = c21
                t[6] = c30; t[7] = c31; t[8] = c40; t[9] = c41; t[10] = c50; t[11] = c51
                t.withMemoryRebound(to: Float.self) { f in
                    for i in 0..<mv {
                        let row = c + i * ldc
                        for j in 0..<nv {
                            var v = f[i * nr + j] + (bias?[j] ?? 0)
                            if load { v += row[j] }
                            row[j] = relu ? max(v, 0) : v
                        }
                    }
                }
            }
        }
    }

    // MARK: the elementwise steps around the products (compiled for the same CPU)

    /// `d[j] = h[j] > 0 ? d[j] : 0` for `count` floats: the ReLU backward, reading the mask off
    /// the layer's output `h` (positive exactly where the pre-activation was).
    public static func reluBackward(_ d: UnsafeMutablePointer<Float>, mask h: UnsafePointer<Float>, count: Int) {
        let zero = SIMD8<Float>()
        var j = 0
        while j + 8 <= count {
            let v = load(d + j)
            store(v.replacing(with: zero, where: load(h + j) .<= zero), d + j)
            j += 8
        }
        while j < count {
            if h[j] <= 0 { d[j] = 0 }
            j += 1
        }
    }

    /// `out[j] = sum_i a[i*lda + j]` for `rows x cols` (the bias gradient: column sums of dZ).
    public static func columnSums(_ a: UnsafePointer<Float>, rows: Int, cols: Int, lda: Int, into out: UnsafeMutablePointer<Float>) {
        var j = 0
        while j + 16 <= cols {
            var s0 = SIMD8<Float>(), s1 = SIMD8<Float>()
            var p = a + j
            for _ in 0..<rows {
                s0 += load(p)
                s1 += load(p + 8)
                p += lda
            }
            store(s0, out + j)
            store(s1, out + j + 8)
            j += 16
        }
        while j < cols {
            var s: Float = 0
            for i in 0..<rows { s += a[i * lda + j] }
            out[j] = s
            j += 1
        }
    }
}

/// A workspace for `SGEMM.multiply`: `SGEMM.workspaceCount` floats, allocated once.
/// Not thread-safe: one call at a time uses it.
public final class SGEMMWorkspace {
    public let pointer: UnsafeMutablePointer<Float>
    /// Floats at `pointer`.
    public let count: Int
    public init() {
        count = SGEMM.workspaceCount
        pointer = .allocate(capacity: count)
        pointer.initialize(repeating: 0, count: count)
    }
    deinit { pointer.deallocate() }
}
