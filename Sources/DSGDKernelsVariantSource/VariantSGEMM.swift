/// Single-precision matrix multiply, one variant (see VariantConfig.swift for the vector width and
/// tile of each): `C = op(A) · op(B) [+ bias]` or `C += ...`, every matrix row-major, `op(X)`
/// either `X` or `Xᵀ`, optionally ReLU'd. The public entry point is `SGEMM.multiply` in DSGDKernels.
///
/// How it is computed (the BLIS/GotoBLAS scheme, sized for one core with a 32 KB L1 and a
/// >= 512 KB L2):
/// - loop over blocks of `nc` columns of C and `kc` of the shared dimension; copy that `kc x nc`
///   block of `op(B)` into the workspace as panels of `nr` (two vectors) columns (`kc x nr` floats
///   each, contiguous, columns past `n` zero). When C has a single block of rows (`m <= mc`, as
///   in a forward pass at batch 64) a packed panel would serve only those rows, so a
///   non-transposed B whose panels are all whole is read in place instead (`nr` floats a step,
///   `ldb` apart): 0.74 -> 0.81 of the AVX-512 peak at 64 x 256 x 784 (docs/KERNELS.md);
/// - inside, loop over blocks of `mc` rows of C; copy the `mc x kc` block of `op(A)` as panels of
///   `mr` rows (`kc x mr` floats each, interleaved, rows past `m` zero);
/// - an `mr x nr` microkernel multiplies one A panel by one B panel: `2 mr` vector accumulators,
///   per step of the shared dimension two vector loads of B, `mr` broadcasts of A and `2 mr` fused
///   multiply-adds (AVX2: 6 x 16, twelve `SIMD8<Float>`; AVX-512: 8 x 32, sixteen
///   `SIMD16<Float>`; portable: 6 x 8, twelve `SIMD4<Float>`). Edge tiles are computed whole into
///   a stack tile and only their valid part added.
///
/// The transposes cost nothing extra: they only change how the packing routines read. (Reading A
/// in place instead of packing it was tried: the compiler then spilled three accumulators and the
/// kernel ran at half speed.) No allocation per call: the caller passes `workspaceCount` floats.
enum VariantSGEMM {
    /// Rows of the microkernel tile.
    static var mr: Int { microRows }
    /// Columns of the microkernel tile (two vectors).
    static var nr: Int { 2 * laneCount }
    /// Block of the shared dimension.
    static var kc: Int { blockK }
    /// Block of columns of C (the packed B block, at most `kc x nc` floats, in L2).
    static var nc: Int { 512 }
    /// Block of rows of C (the packed A block `mc x kc`, in L2; a multiple of `mr`).
    static var mc: Int { 96 }

    /// Floats of workspace one call needs.
    static var workspaceCount: Int { kc * nc + mc * kc }

    /// See `SGEMM.multiply` (DSGDKernels); `workspace` holds at least `workspaceCount` floats.
    static func multiply(
        m: Int, n: Int, k: Int,
        a: UnsafePointer<Float>, lda: Int, transposeA: Bool,
        b: UnsafePointer<Float>, ldb: Int, transposeB: Bool,
        c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool,
        bias: UnsafePointer<Float>?, relu: Bool,
        workspace: UnsafeMutablePointer<Float>
    ) {
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
        let packedB = workspace
        let packedA = workspace + kc * nc
        var jc = 0
        while jc < n {
            let nb = min(nStep, n - jc)
            // With one block of rows a packed B panel would serve only those rows: a non-transposed
            // B whose panels are all whole is read in place instead (nr floats a step, ldb apart).
            let bInPlace = !transposeB && m <= mc && nb % nr == 0
            var pc = 0
            while pc < k {
                let kb = min(kStep, k - pc)
                let load = accumulate || pc > 0
                let lastK = pc + kb == k
                if !bInPlace { packB(b, ldb, transposeB, pc, kb, jc, nb, packedB) }
                var ic = 0
                while ic < m {
                    let mb = min(mc, m - ic)
                    packA(a, lda, transposeA, ic, mb, pc, kb, packedA)
                    var jr = 0
                    while jr < nb {
                        let nv = min(nr, nb - jr)
                        let bp = bInPlace ? b + pc * ldb + jc + jr : UnsafePointer(packedB + jr * kb)
                        let bStride = bInPlace ? ldb : nr
                        let bias = pc == 0 ? bias.map { $0 + jc + jr } : nil
                        var ir = 0
                        while ir < mb {
                            let mv = min(mr, mb - ir)
                            microkernel(kb, packedA + ir * kb, bp, bStride, c + (ic + ir) * ldc + jc + jr, ldc, load,
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
                // op(A)[i][p] = a[p*lda + i]: the panel's rows are adjacent for each p.
                for p in 0..<kb {
                    let src = a + (pc + p) * lda + ic + ir
                    let d = dst + p * mr
                    if rows == mr {
                        for r in 0..<mr { d[r] = src[r] }
                    } else {
                        for r in 0..<mr { d[r] = r < rows ? src[r] : 0 }
                    }
                }
            } else if rows == mr {
                // op(A)[i][p] = a[i*lda + p]: mr row streams, eight steps at a time through an 8 x 8
                // transpose (rows past mr read as row mr - 1's, their lanes overwritten: each step's
                // eight floats land at d + p*mr, the next step's store covers the extra ones; the
                // last chunk leaves at least one step to the scalar loop, so nothing lands past it).
                let src = a + (ic + ir) * lda + pc
                var p = 0
                while p + 8 < kb || (mr == 8 && p + 8 <= kb) {
                    let t = transpose8(
                        load8(src + p), load8(src + lda + p), load8(src + 2 * lda + p), load8(src + 3 * lda + p),
                        load8(src + 4 * lda + p), load8(src + 5 * lda + p),
                        load8(src + min(6, mr - 1) * lda + p), load8(src + min(7, mr - 1) * lda + p))
                    let d = dst + p * mr
                    store8(t.0, d); store8(t.1, d + mr); store8(t.2, d + 2 * mr); store8(t.3, d + 3 * mr)
                    store8(t.4, d + 4 * mr); store8(t.5, d + 5 * mr); store8(t.6, d + 6 * mr); store8(t.7, d + 7 * mr)
                    p += 8
                }
                while p < kb {
                    for r in 0..<mr { dst[p * mr + r] = src[r * lda + p] }
                    p += 1
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
            if transposed && cols == nr {
                // op(B)[p][j] = b[j*ldb + p]: eight source rows by eight steps at a time, through an
                // 8 x 8 transpose in registers; the last kb % 8 steps one by one.
                var j0 = 0
                while j0 < nr {
                    let src = b + (jc + jr + j0) * ldb + pc
                    var p = 0
                    while p + 8 <= kb {
                        let t = transpose8(
                            load8(src + p), load8(src + ldb + p), load8(src + 2 * ldb + p), load8(src + 3 * ldb + p),
                            load8(src + 4 * ldb + p), load8(src + 5 * ldb + p), load8(src + 6 * ldb + p), load8(src + 7 * ldb + p))
                        let d = dst + p * nr + j0
                        store8(t.0, d); store8(t.1, d + nr); store8(t.2, d + 2 * nr); store8(t.3, d + 3 * nr)
                        store8(t.4, d + 4 * nr); store8(t.5, d + 5 * nr); store8(t.6, d + 6 * nr); store8(t.7, d + 7 * nr)
                        p += 8
                    }
                    while p < kb {
                        for j in 0..<8 { dst[p * nr + j0 + j] = src[j * ldb + p] }
                        p += 1
                    }
                    j0 += 8
                }
            } else if transposed {
                // op(B)[p][j] = b[j*ldb + p], a partial panel: read each source row contiguously.
                for j in 0..<nr {
                    if j < cols {
                        let src = b + (jc + jr + j) * ldb + pc
                        for p in 0..<kb { dst[p * nr + j] = src[p] }
                    } else {
                        for p in 0..<kb { dst[p * nr + j] = 0 }
                    }
                }
            } else {
                // op(B)[p][j] = b[p*ldb + j]: nr contiguous floats per p.
                for p in 0..<kb {
                    let src = b + (pc + p) * ldb + jc + jr
                    let d = dst + p * nr
                    if cols == nr {
                        storeVector(loadVector(src), d)
                        storeVector(loadVector(src + laneCount), d + laneCount)
                    } else {
                        for j in 0..<nr { d[j] = j < cols ? src[j] : 0 }
                    }
                }
            }
            dst += nr * kb
            jr += nr
        }
    }

    /// The microkernel: `tile = Ap · Bp` over `kb` steps (`Ap`: `kb x mr` interleaved, `Bp`:
    /// `kb x nr`, step `p` at `Bp + p * bStride`: `nr` when packed, `ldb` when B is read in place),
    /// then `C = tile` or `C += tile` (`load`) on the valid `mv x nv` corner of C, plus `bias[j]` on
    /// every row when given, then `max(., 0)` when `relu`. Rows 6 and 7 exist in the AVX-512 layout
    /// only (`mr = 8`; 32 vector registers hold its 16 accumulators).
    @inline(__always)
    static func microkernel(
        _ kb: Int, _ ap: UnsafePointer<Float>, _ bp: UnsafePointer<Float>, _ bStride: Int,
        _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ load: Bool,
        _ bias: UnsafePointer<Float>?, _ relu: Bool, _ mv: Int, _ nv: Int
    ) {
        let w = laneCount
        var c00 = Vector(), c01 = Vector()
        var c10 = Vector(), c11 = Vector()
        var c20 = Vector(), c21 = Vector()
        var c30 = Vector(), c31 = Vector()
        var c40 = Vector(), c41 = Vector()
        var c50 = Vector(), c51 = Vector()
        #if DSGD_KERNELS_AVX512
        var c60 = Vector(), c61 = Vector()
        var c70 = Vector(), c71 = Vector()
        #endif
        var a = ap, b = bp
        for _ in 0..<kb {
            let b0 = loadVector(b), b1 = loadVector(b + w)
            var x = Vector(repeating: a[0])
            c00.addProductOf(x, b0); c01.addProductOf(x, b1)
            x = Vector(repeating: a[1])
            c10.addProductOf(x, b0); c11.addProductOf(x, b1)
            x = Vector(repeating: a[2])
            c20.addProductOf(x, b0); c21.addProductOf(x, b1)
            x = Vector(repeating: a[3])
            c30.addProductOf(x, b0); c31.addProductOf(x, b1)
            x = Vector(repeating: a[4])
            c40.addProductOf(x, b0); c41.addProductOf(x, b1)
            x = Vector(repeating: a[5])
            c50.addProductOf(x, b0); c51.addProductOf(x, b1)
            #if DSGD_KERNELS_AVX512
            x = Vector(repeating: a[6])
            c60.addProductOf(x, b0); c61.addProductOf(x, b1)
            x = Vector(repeating: a[7])
            c70.addProductOf(x, b0); c71.addProductOf(x, b1)
            #endif
            a += mr
            b += bStride
        }
        if mv == mr && nv == nr {
            var bLo = Vector(), bHi = Vector()
            if let bias {
                bLo = loadVector(bias)
                bHi = loadVector(bias + w)
            }
            let zero = Vector()
            var row = c
            @inline(__always) func put(_ lo: Vector, _ hi: Vector) {
                var lo = lo + bLo, hi = hi + bHi
                if load {
                    lo += loadVector(row)
                    hi += loadVector(row + w)
                }
                if relu {
                    lo = lo.replacing(with: zero, where: lo .< zero)
                    hi = hi.replacing(with: zero, where: hi .< zero)
                }
                storeVector(lo, row)
                storeVector(hi, row + w)
                row += ldc
            }
            put(c00, c01); put(c10, c11); put(c20, c21)
            put(c30, c31); put(c40, c41); put(c50, c51)
            #if DSGD_KERNELS_AVX512
            put(c60, c61); put(c70, c71)
            #endif
        } else {
            withUnsafeTemporaryAllocation(of: Vector.self, capacity: 2 * mr) { t in
                t[0] = c00; t[1] = c01; t[2] = c10; t[3] = c11; t[4] = c20; t[5] = c21
                t[6] = c30; t[7] = c31; t[8] = c40; t[9] = c41; t[10] = c50; t[11] = c51
                #if DSGD_KERNELS_AVX512
                t[12] = c60; t[13] = c61; t[14] = c70; t[15] = c71
                #endif
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

    // MARK: the elementwise steps around the products

    /// `d[j] = h[j] > 0 ? d[j] : 0` for `count` floats: the ReLU backward, reading the mask off
    /// the layer's output `h` (positive exactly where the pre-activation was).
    static func reluBackward(_ d: UnsafeMutablePointer<Float>, mask h: UnsafePointer<Float>, count: Int) {
        let zero = Vector()
        var j = 0
        while j + laneCount <= count {
            let v = loadVector(d + j)
            storeVector(v.replacing(with: zero, where: loadVector(h + j) .<= zero), d + j)
            j += laneCount
        }
        while j < count {
            if h[j] <= 0 { d[j] = 0 }
            j += 1
        }
    }

    /// `out[j] = sum_i a[i*lda + j]` for `rows x cols` (the bias gradient: column sums of dZ).
    static func columnSums(_ a: UnsafePointer<Float>, rows: Int, cols: Int, lda: Int, into out: UnsafeMutablePointer<Float>) {
        let w = laneCount
        var j = 0
        while j + 2 * w <= cols {
            var s0 = Vector(), s1 = Vector()
            var p = a + j
            for _ in 0..<rows {
                s0 += loadVector(p)
                s1 += loadVector(p + w)
                p += lda
            }
            storeVector(s0, out + j)
            storeVector(s1, out + j + w)
            j += 2 * w
        }
        while j < cols {
            var s: Float = 0
            for i in 0..<rows { s += a[i * lda + j] }
            out[j] = s
            j += 1
        }
    }
}

/// The 8 x 8 transpose of the rows `r0 ... r7`: element `p` of result `q` is element `q` of row
/// `p`. Written as AVX's unpack / shuffle / 128-bit permute steps, which LLVM maps onto those
/// instructions (on SSE it takes twice as many).
@inline(__always)
func transpose8(_ r0: Vector8, _ r1: Vector8, _ r2: Vector8, _ r3: Vector8,
                _ r4: Vector8, _ r5: Vector8, _ r6: Vector8, _ r7: Vector8)
    -> (Vector8, Vector8, Vector8, Vector8, Vector8, Vector8, Vector8, Vector8) {
    // unpcklps / unpckhps: interleave the low (high) pairs of each 128-bit half.
    @inline(__always) func lo(_ a: Vector8, _ b: Vector8) -> Vector8 { Vector8(a[0], b[0], a[1], b[1], a[4], b[4], a[5], b[5]) }
    @inline(__always) func hi(_ a: Vector8, _ b: Vector8) -> Vector8 { Vector8(a[2], b[2], a[3], b[3], a[6], b[6], a[7], b[7]) }
    // shufps 0x44 / 0xEE: the low (high) 64 bits of each half of a, then of b.
    @inline(__always) func ll(_ a: Vector8, _ b: Vector8) -> Vector8 { Vector8(a[0], a[1], b[0], b[1], a[4], a[5], b[4], b[5]) }
    @inline(__always) func hh(_ a: Vector8, _ b: Vector8) -> Vector8 { Vector8(a[2], a[3], b[2], b[3], a[6], a[7], b[6], b[7]) }
    let t0 = lo(r0, r1), t1 = hi(r0, r1), t2 = lo(r2, r3), t3 = hi(r2, r3)
    let t4 = lo(r4, r5), t5 = hi(r4, r5), t6 = lo(r6, r7), t7 = hi(r6, r7)
    // u0 = [r0..r3 at 0 | r0..r3 at 4], u1 at 1 | 5, u2 at 2 | 6, u3 at 3 | 7; u4...u7 for r4...r7.
    let u0 = ll(t0, t2), u1 = hh(t0, t2), u2 = ll(t1, t3), u3 = hh(t1, t3)
    let u4 = ll(t4, t6), u5 = hh(t4, t6), u6 = ll(t5, t7), u7 = hh(t5, t7)
    // vperm2f128: low halves together (steps 0-3), high halves together (steps 4-7).
    return (Vector8(lowHalf: u0.lowHalf, highHalf: u4.lowHalf), Vector8(lowHalf: u1.lowHalf, highHalf: u5.lowHalf),
            Vector8(lowHalf: u2.lowHalf, highHalf: u6.lowHalf), Vector8(lowHalf: u3.lowHalf, highHalf: u7.lowHalf),
            Vector8(lowHalf: u0.highHalf, highHalf: u4.highHalf), Vector8(lowHalf: u1.highHalf, highHalf: u5.highHalf),
            Vector8(lowHalf: u2.highHalf, highHalf: u6.highHalf), Vector8(lowHalf: u3.highHalf, highHalf: u7.highHalf))
}
