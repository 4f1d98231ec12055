/// What distinguishes one kernel variant from another. Every file of this folder is compiled once
/// per variant target (DSGDKernelsAVX512, DSGDKernelsAVX2, DSGDKernelsPortable; each target's
/// folder holds symbolic links to these files), with that target's `-target-cpu` and one of the
/// defines below (see Package.swift):
///
/// | define                 | vector            | microkernel | fused multiply-add | target CPU      |
/// |------------------------|-------------------|-------------|--------------------|-----------------|
/// | `DSGD_KERNELS_AVX512`  | `SIMD16<Float>`   | 8 x 32      | yes                | skylake-avx512  |
/// | `DSGD_KERNELS_AVX2`    | `SIMD8<Float>`    | 6 x 16      | yes                | haswell         |
/// | (neither: portable)    | `SIMD4<Float>`    | 6 x 8       | not on x86-64      | none (baseline) |
///
/// The test-only target DSGDKernelsAVX512OnAVX2 compiles the AVX-512 layout (16 lanes, 8 x 32)
/// for AVX2, so that a machine without AVX-512 still tests that code's logic.
///
/// Nothing here is public but the variant's `Variant.table` (Variant.swift): the front target
/// DSGDKernels calls a variant only through that table.

#if DSGD_KERNELS_AVX512
/// One vector register of floats.
typealias Vector = SIMD16<Float>
/// Floats per vector.
var laneCount: Int { 16 }
/// Rows of the SGEMM microkernel tile (its columns are two vectors).
var microRows: Int { 8 }
/// Block of the shared dimension (one packed B panel `kc x 32` = 16 KB stays in L1).
var blockK: Int { 128 }
#if DSGD_KERNELS_CHECK
var variantName: String { "avx512-layout-on-avx2" }
#else
var variantName: String { "avx512" }
#endif
#elseif DSGD_KERNELS_AVX2
typealias Vector = SIMD8<Float>
var laneCount: Int { 8 }
var microRows: Int { 6 }
/// One packed B panel `kc x 16` = 16 KB stays in L1.
var blockK: Int { 256 }
var variantName: String { "avx2" }
#else
typealias Vector = SIMD4<Float>
var laneCount: Int { 4 }
var microRows: Int { 6 }
/// One packed B panel `kc x 8` = 8 KB stays in L1.
var blockK: Int { 256 }
var variantName: String { "portable" }
#endif

/// Eight float lanes: the eight rows of a block of the affine kernels, and the width of
/// `VectorMath`, in every variant.
typealias Vector8 = SIMD8<Float>

extension SIMD where Scalar == Float {
    /// `self + a * b`: one fused multiply-add where the target has one; a product and a sum in the
    /// portable variant on x86-64, whose baseline has no FMA (there `addingProduct` would become a
    /// call to `fmaf` per lane).
    @inline(__always)
    func madd(_ a: Self, _ b: Self) -> Self {
        #if DSGD_KERNELS_PORTABLE && arch(x86_64)
        return self + a * b
        #else
        return addingProduct(a, b)
        #endif
    }

    /// `self + a * b` with a scalar `b` (see the vector form).
    @inline(__always)
    func madd(_ a: Self, _ b: Float) -> Self {
        #if DSGD_KERNELS_PORTABLE && arch(x86_64)
        return self + a * b
        #else
        return addingProduct(a, b)
        #endif
    }

    /// Adds `a * b` into `self` (see `madd`).
    @inline(__always)
    mutating func addProductOf(_ a: Self, _ b: Self) {
        self = madd(a, b)
    }
}

/// An unaligned load of one vector.
@inline(__always)
func loadVector(_ p: UnsafePointer<Float>) -> Vector {
    UnsafeRawPointer(p).loadUnaligned(as: Vector.self)
}

/// An unaligned store of one vector.
@inline(__always)
func storeVector(_ v: Vector, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: Vector.self)
}

/// An unaligned load of eight floats.
@inline(__always)
func load8(_ p: UnsafePointer<Float>) -> Vector8 {
    UnsafeRawPointer(p).loadUnaligned(as: Vector8.self)
}

/// An unaligned store of eight floats.
@inline(__always)
func store8(_ v: Vector8, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: Vector8.self)
}
