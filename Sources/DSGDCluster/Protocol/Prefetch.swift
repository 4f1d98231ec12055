/// LLVM's prefetch: address, read (0) or write (1), temporal locality 0...3, data (1) or
/// instruction (0) cache.
@_silgen_name("llvm.prefetch.p0")
private func llvmPrefetch(_ address: UnsafeRawPointer, _ write: Int32, _ locality: Int32, _ data: Int32)

/// Asks for the cache line of `address`, to be written soon (a hint: it never faults).
///
/// For loops over entries scattered across a large vector (a sparse step, the changes a worker
/// applies): the line of an entry `scatteredPrefetchDistance` further on is asked for now, so
/// that many misses are in flight at once, not the few the core's window of instructions reaches.
@inline(__always)
func prefetchForWrite(_ address: UnsafeRawPointer) {
    llvmPrefetch(address, 1, 3, 1)
}

/// How many entries ahead loops over scattered entries prefetch (`prefetchForWrite`).
let scatteredPrefetchDistance = 32
