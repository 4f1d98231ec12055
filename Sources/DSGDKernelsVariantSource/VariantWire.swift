/// The wire encodings of docs/PROTOCOL.md §4.1 that touch every value of a part: bf16 and fp16
/// (IEEE binary16) both ways, and `sign`'s scale, bits and error-feedback residual. Each is a
/// plain loop over raw pointers with wrapping integer arithmetic and selects instead of branches,
/// so that the compiler's loop vectorizer turns it into this variant's instructions (16 lanes and
/// `vpmovdw` narrowing on AVX-512, 8 lanes on AVX2, SSE2 on the portable build). The results are
/// the documented bits, identical in every variant (GradientCodec calls these through the active
/// table; WireKernelTests checks every variant against independent references).
///
/// Multi-byte values are little-endian on the wire; these loops store the host's order, and the
/// caller (GradientCodec) uses them only on little-endian hosts.
enum VariantWire {
    // MARK: bf16

    /// bf16 of each float: its top 16 bits rounded to nearest even; any NaN becomes 0x7FC0.
    static func encodeBFloat16(_ x: UnsafePointer<Float>, _ out: UnsafeMutableRawPointer, _ n: Int) {
        let src = UnsafeRawPointer(x).assumingMemoryBound(to: UInt32.self)
        let dst = out.assumingMemoryBound(to: UInt16.self)
        for i in 0..<n {
            let bits = src[i]
            let rounded = (bits &+ 0x7FFF &+ ((bits &>> 16) & 1)) &>> 16
            dst[i] = bits & 0x7FFF_FFFF > 0x7F80_0000 ? 0x7FC0 : UInt16(truncatingIfNeeded: rounded)
        }
    }

    /// The float of each bf16 (exact: the 16 bits become the float's top half).
    static func decodeBFloat16(_ payload: UnsafeRawPointer, _ out: UnsafeMutablePointer<Float>, _ n: Int) {
        let src = payload.assumingMemoryBound(to: UInt16.self)
        let dst = UnsafeMutableRawPointer(out).assumingMemoryBound(to: UInt32.self)
        for i in 0..<n { dst[i] = UInt32(src[i]) &<< 16 }
    }

    // MARK: fp16

    /// IEEE binary16 of each float, rounded to nearest even (F. Giesen's method in integer and
    /// float arithmetic): above 65504 (after rounding) infinity, any NaN 0x7E00, below 2^-14
    /// subnormals or zero.
    static func encodeBinary16(_ x: UnsafePointer<Float>, _ out: UnsafeMutableRawPointer, _ n: Int) {
        let src = UnsafeRawPointer(x).assumingMemoryBound(to: UInt32.self)
        let dst = out.assumingMemoryBound(to: UInt16.self)
        let magic: UInt32 = ((127 - 15) + (23 - 10) + 1) << 23
        let rebias = UInt32(bitPattern: Int32(15 - 127) << 23)
        for i in 0..<n {
            let bits = src[i]
            let sign = bits & 0x8000_0000
            let f = bits ^ sign
            // Subnormal or zero: the float add rounds the mantissa where binary16 keeps it.
            let small = (Float(bitPattern: f) + Float(bitPattern: magic)).bitPattern &- magic
            let normal = (f &+ rebias &+ 0xFFF &+ ((f &>> 13) & 1)) &>> 13
            let large: UInt32 = f > 255 << 23 ? 0x7E00 : 0x7C00
            let o = f >= (127 + 16) << 23 ? large : (f < 113 << 23 ? small : normal)
            dst[i] = UInt16(truncatingIfNeeded: o | sign &>> 16)
        }
    }

    /// The float of each binary16 (exact).
    static func decodeBinary16(_ payload: UnsafeRawPointer, _ out: UnsafeMutablePointer<Float>, _ n: Int) {
        let src = payload.assumingMemoryBound(to: UInt16.self)
        let dst = UnsafeMutableRawPointer(out).assumingMemoryBound(to: UInt32.self)
        let shiftedExponent: UInt32 = 0x7C00 << 13
        for i in 0..<n {
            let h = UInt32(src[i])
            let o = (h & 0x7FFF) &<< 13
            let exponent = o & shiftedExponent
            let biased = o &+ ((127 - 15) << 23)
            let special = biased &+ ((128 - 16) << 23)  // infinity or NaN
            // Zero or subnormal: renormalise.
            let tiny = (Float(bitPattern: biased &+ (1 << 23)) - Float(bitPattern: 113 << 23)).bitPattern
            let magnitude = exponent == shiftedExponent ? special : (exponent == 0 ? tiny : biased)
            dst[i] = magnitude | (h & 0x8000) &<< 16
        }
    }

    // MARK: sign

    /// Σ|v_i| in the documented order: eight lanes, lane j adding the v_i with i ≡ j (mod 8) in
    /// index order, then ((l0 + l1) + (l2 + l3)) + ((l4 + l5) + (l6 + l7)). `|v|` is `-v` for
    /// v < 0 and v otherwise (so -0 and a negative NaN keep their sign bit).
    static func absoluteSum(_ v: UnsafePointer<Float>, _ n: Int) -> Float {
        var lanes = Vector8()
        let whole = n & ~7
        var i = 0
        while i < whole {
            let x = load8(v + i)
            lanes += x.replacing(with: -x, where: x .< 0)
            i += 8
        }
        for j in 0..<(n - whole) {
            let x = v[whole + j]
            lanes[j] += x < 0 ? -x : x
        }
        return ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]))
    }

    /// `sign`'s payload of `v`: the scale (Σ|v_i|)/n as 4 bytes, then ceil(n/8) bytes whose bit
    /// i mod 8 of byte i div 8 is v_i's sign bit.
    static func encodeSign(_ v: UnsafePointer<Float>, _ out: UnsafeMutableRawPointer, _ n: Int) {
        let scale = n > 0 ? absoluteSum(v, n) / Float(n) : 0
        out.storeBytes(of: scale.bitPattern, as: UInt32.self)
        signBits(v, out + 4, n)
    }

    /// The sign bits of `v`, eight to a byte, lowest index in the lowest bit.
    static func signBits(_ v: UnsafePointer<Float>, _ out: UnsafeMutableRawPointer, _ n: Int) {
        let src = UnsafeRawPointer(v).assumingMemoryBound(to: UInt32.self)
        let bytes = out.assumingMemoryBound(to: UInt8.self)
        let whole = n / 8
        for b in 0..<whole {
            let s = src + 8 * b
            var byte: UInt32 = s[0] &>> 31
            byte |= (s[1] &>> 31) &<< 1
            byte |= (s[2] &>> 31) &<< 2
            byte |= (s[3] &>> 31) &<< 3
            byte |= (s[4] &>> 31) &<< 4
            byte |= (s[5] &>> 31) &<< 5
            byte |= (s[6] &>> 31) &<< 6
            byte |= (s[7] &>> 31) &<< 7
            bytes[b] = UInt8(truncatingIfNeeded: byte)
        }
        if whole * 8 < n {
            var byte: UInt32 = 0
            for j in 0..<(n - whole * 8) { byte |= (src[8 * whole + j] &>> 31) &<< UInt32(j) }
            bytes[whole] = UInt8(truncatingIfNeeded: byte)
        }
    }

    /// Decodes a `sign` payload of `n` values: -|s| where the bit is set, |s| elsewhere.
    static func decodeSign(_ payload: UnsafeRawPointer, _ out: UnsafeMutablePointer<Float>, _ n: Int) {
        let plus = payload.loadUnaligned(as: UInt32.self) & 0x7FFF_FFFF
        let bytes = (payload + 4).assumingMemoryBound(to: UInt8.self)
        let dst = UnsafeMutableRawPointer(out).assumingMemoryBound(to: UInt32.self)
        let whole = n / 8
        for b in 0..<whole {
            // Bit j of the byte into bit 31 of value j: eight independent lanes.
            let byte = UInt32(bytes[b]), d = dst + 8 * b
            d[0] = plus | byte &<< 31
            d[1] = plus | (byte &>> 1) &<< 31
            d[2] = plus | (byte &>> 2) &<< 31
            d[3] = plus | (byte &>> 3) &<< 31
            d[4] = plus | (byte &>> 4) &<< 31
            d[5] = plus | (byte &>> 5) &<< 31
            d[6] = plus | (byte &>> 6) &<< 31
            d[7] = plus | (byte &>> 7) &<< 31
        }
        for i in (8 * whole)..<n { dst[i] = plus | (UInt32(bytes[whole]) &>> UInt32(i & 7)) &<< 31 }
    }

    /// `sign` with error feedback on part `r` of the residual: `r += v`, encodes `r` as
    /// `encodeSign` does, then leaves in `r` what the receiver does not see, `r - (±|s|)` with
    /// the sign of each `r_i`. Two passes: the addition, the absolute sum (in `absoluteSum`'s
    /// lanes and order) in one, the sign bits of the sums, then the subtraction of the scale.
    static func accumulateAndEncodeSign(_ v: UnsafePointer<Float>, _ r: UnsafeMutablePointer<Float>, _ out: UnsafeMutableRawPointer, _ n: Int) {
        let whole = n & ~7
        var lanes = Vector8()
        var i = 0
        while i < whole {
            let x = load8(r + i) + load8(v + i)
            store8(x, r + i)
            lanes += x.replacing(with: -x, where: x .< 0)
            i += 8
        }
        for j in 0..<(n - whole) {
            let x = r[whole + j] + v[whole + j]
            r[whole + j] = x
            lanes[j] += x < 0 ? -x : x
        }
        signBits(r, out + 4, n)
        let sum = ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]))
        let scale = sum / Float(n)
        out.storeBytes(of: scale.bitPattern, as: UInt32.self)
        let plus = scale.bitPattern & 0x7FFF_FFFF
        let bits = UnsafeMutableRawPointer(r).assumingMemoryBound(to: UInt32.self)
        for i in 0..<n {
            let x = bits[i]
            bits[i] = (Float(bitPattern: x) - Float(bitPattern: plus | x & 0x8000_0000)).bitPattern
        }
    }

    // MARK: top-k candidates

    /// `topk`'s candidate pass (`WireKernels.gatherAtLeast`; GradientCodec+TopK.swift): over
    /// `values[0..<n]`, `n` a multiple of 16, sixteen at a time. With `addends`, the sixteen
    /// become `values[i] + addends[i]` first, stored. Then the indices of the lanes whose key
    /// `bits & 0x7FFF_FFFF` reaches `threshold` are packed to the front of two 8-lane stores, one
    /// per half, without a branch: each lane's comparison becomes a byte 0 or 1 (the sign of a
    /// difference, narrowed), a multiplication gathers a half's eight bytes into an 8-bit mask, the
    /// mask picks its lanes' positions from `packedLanes`, and the count goes up by the mask's
    /// population. Every chunk thus stores 16 indices from the count on, of which only the counted
    /// ones are kept (`indices` needs room for 16 past the returned count). Stops after the chunk
    /// that takes the count above `limit`.
    ///
    /// About 2% of the values are candidates, in about a quarter of the chunks, at random: the
    /// pass this replaced branched on "any lane reaches it", which mispredicted in one chunk in
    /// four, and then took the hit lanes' bits out of the vector comparison lane by lane (the
    /// compiler's lowering of a mask to bits), which cost more than the rest of the chunk.
    static func gatherAtLeast(_ values: UnsafeMutablePointer<Float>, _ addends: UnsafePointer<Float>?, _ n: Int,
                              _ threshold: UInt32, _ limit: Int, _ indices: UnsafeMutablePointer<UInt32>) -> (count: Int, end: Int) {
        if let addends { return gather(values, addends, n, threshold, limit, indices, adding: true) }
        return gather(values, values, n, threshold, limit, indices, adding: false)
    }

    /// For each 8-bit mask, the positions of its set bits in ascending order, then zeros.
    nonisolated(unsafe) static let packedLanes: UnsafePointer<SIMD8<UInt32>> = {
        let table = UnsafeMutablePointer<SIMD8<UInt32>>.allocate(capacity: 256)
        for mask in 0..<256 {
            var lanes = SIMD8<UInt32>(), w = 0
            for lane in 0..<8 where mask >> lane & 1 == 1 {
                lanes[w] = UInt32(lane)
                w += 1
            }
            table[mask] = lanes
        }
        return UnsafePointer(table)
    }()

    /// `gatherAtLeast`, specialised for adding or not by inlining.
    @inline(__always)
    static func gather(_ values: UnsafeMutablePointer<Float>, _ addends: UnsafePointer<Float>, _ n: Int, _ threshold: UInt32,
                       _ limit: Int, _ indices: UnsafeMutablePointer<UInt32>, adding: Bool) -> (count: Int, end: Int) {
        let raw = UnsafeMutableRawPointer(values), extra = UnsafeRawPointer(addends), out = UnsafeMutableRawPointer(indices)
        let magnitude = SIMD16<Int32>(repeating: 0x7FFF_FFFF), below = SIMD16<Int32>(repeating: Int32(bitPattern: threshold) &- 1)
        let table = packedLanes
        // Bytes b_0 ... b_7 (each 0 or 1) of a little-endian word, times this, put b_j at bit 56 + j.
        let gatherBits: UInt64 = 0x0102_0408_1020_4080
        var m = 0, i = 0
        while i < n {
            var v = raw.loadUnaligned(fromByteOffset: 4 &* i, as: SIMD16<Float>.self)
            if adding {
                v += extra.loadUnaligned(fromByteOffset: 4 &* i, as: SIMD16<Float>.self)
                raw.storeBytes(of: v, toByteOffset: 4 &* i, as: SIMD16<Float>.self)
            }
            // 1 in the lanes whose key reaches the threshold: the sign of (threshold - 1 - key),
            // which cannot overflow (0 <= key < 2^31, -1 <= threshold - 1 < 2^31).
            let hit = (below &- (unsafeBitCast(v, to: SIMD16<Int32>.self) & magnitude)) &>> 31
            let words = unsafeBitCast(SIMD16<UInt8>(truncatingIfNeeded: hit) & 1, to: SIMD2<UInt64>.self)
            let low = Int(truncatingIfNeeded: (UInt64(littleEndian: words[0]) &* gatherBits) &>> 56)
            let high = Int(truncatingIfNeeded: (UInt64(littleEndian: words[1]) &* gatherBits) &>> 56)
            let first = SIMD8<UInt32>(repeating: UInt32(truncatingIfNeeded: i))
            out.storeBytes(of: table[low] &+ first, toByteOffset: 4 &* m, as: SIMD8<UInt32>.self)
            m &+= low.nonzeroBitCount
            out.storeBytes(of: table[high] &+ (first &+ 8), toByteOffset: 4 &* m, as: SIMD8<UInt32>.self)
            m &+= high.nonzeroBitCount
            if m > limit { return (m, i &+ 16) }
            i &+= 16
        }
        return (m, n)
    }
}
