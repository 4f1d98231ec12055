import DSGDKernels
import DSGDKernelTable

/// How a vector part travels on the wire (`--compress`, `--compress-params`): its encoding of L
/// float32 values, its payload size, and its decoding. PROTOCOL.md §4.1 specifies each byte.
///
/// - `f32`: L × f32 (4L bytes), exact.
/// - `bf16`: L × u16, the top half of each f32 rounded to nearest even (2L bytes): 8 bits of
///   mantissa, the f32 range.
/// - `fp16`: L × IEEE binary16, rounded to nearest even (2L bytes): 11 bits of mantissa, values
///   above 65504 become infinite (and fail the run as a non-finite gradient).
/// - `topk(F)`: the k = max(1, ceil(F·L)) entries of largest magnitude (ties: the lower index), as
///   k × u32 indices into the part, ascending, then their k × f32 values (8k bytes); the rest is 0.
/// - `sign`: one f32 scale s = (1/L) Σ|v_i| (in eight lanes, see `absoluteSum`) and ceil(L/8) bytes of sign bits (bit i%8 of byte i/8
///   is v_i's sign bit: set for negative values and −0); v_i decodes to ±s (4 + ceil(L/8) bytes).
///   The scaled sign of Karimireddy et al. 2019.
///
/// `topk` and `sign` are lossy beyond rounding; a worker keeps what they leave out in an error
/// feedback residual and adds it to its next vector (`ErrorFeedback`).
///
/// Parameters alone may also go as `changes` (`--compress-params sparse`, lossless): the entries of
/// a part that differ from the version the worker holds, as k × u32 indices into the part,
/// ascending, then their k × f32 new values (8k bytes, k variable); the other values stay.
public enum GradientCodec: Equatable, Sendable, CustomStringConvertible {
    case f32, bf16, fp16
    case topk(Double)
    case sign
    case changes

    /// Parses `none`, `bf16`, `fp16`, `topk:F` (0 < F ≤ 1) or `sign`.
    public init(parsing text: String) throws(JobConfigError) {
        switch text {
        case "none", "f32": self = .f32
        case "bf16": self = .bf16
        case "fp16": self = .fp16
        case "sign": self = .sign
        case "sparse": self = .changes
        default:
            guard text.hasPrefix("topk:"), let f = Double(text.dropFirst(5)), f.isFinite, f > 0, f <= 1 else {
                throw JobConfigError("--compress must be none, bf16, fp16, topk:F (0 < F <= 1) or sign, --compress-params none, bf16, fp16 or sparse (got '\(text)')")
            }
            self = .topk(f)
        }
    }

    public var description: String {
        switch self {
        case .f32: return "none"
        case .bf16: return "bf16"
        case .fp16: return "fp16"
        case .topk(let f): return "topk:\(f)"
        case .sign: return "sign"
        case .changes: return "sparse"
        }
    }

    /// The codec's number in a header's flags (bits 1-3, PROTOCOL.md §3).
    public var id: UInt8 {
        switch self {
        case .f32: return 0
        case .bf16: return 1
        case .fp16: return 2
        case .topk: return 3
        case .sign: return 4
        case .changes: return 5
        }
    }

    /// Whether it loses more than rounding (and so wants error feedback).
    public var isSparse: Bool {
        switch self {
        case .topk, .sign: return true
        default: return false
        }
    }

    /// Entries a `topk` part of `count` values keeps.
    func kept(_ count: Int) -> Int {
        guard case .topk(let f) = self else { return count }
        return min(count, max(1, Int((f * Double(count)).rounded(.up))))
    }

    /// Payload bytes of a part of `count` values (for `changes`, the most: every value changed).
    public func payloadBytes(count: Int) -> Int {
        switch self {
        case .changes: return 8 * count
        case .f32: return 4 * count
        case .bf16, .fp16: return 2 * count
        case .topk: return 8 * kept(count)
        case .sign: return 4 + (count + 7) / 8
        }
    }

    /// Encodes `values` into `out` (exactly `payloadBytes(count: values.count)` bytes). `scratch`
    /// (at least `values.count` floats' room) is used by `topk` to find its threshold.
    public func encode(_ values: UnsafeBufferPointer<Float>, into out: UnsafeMutableRawPointer, scratch: UnsafeMutablePointer<Float>) {
        let n = values.count
        switch self {
        case .f32:
            out.copyMemory(from: values.baseAddress!, byteCount: 4 * n)
        case .bf16:
            #if _endian(little)
            if n > 0 { Self.wire.encodeBFloat16(values.baseAddress!, out, n) }
            #else
            let o = out.assumingMemoryBound(to: UInt16.self)
            for i in 0..<n { o[i] = Self.bfloat16(values[i]).littleEndian }
            #endif
        case .fp16:
            #if _endian(little)
            if n > 0 { Self.wire.encodeBinary16(values.baseAddress!, out, n) }
            #else
            let o = out.assumingMemoryBound(to: UInt16.self)
            for i in 0..<n { o[i] = Self.binary16(values[i]).littleEndian }
            #endif
        case .topk:
            Self.encodeTopK(values, k: kept(n), into: out, scratch: UnsafeMutableRawPointer(scratch).assumingMemoryBound(to: UInt32.self))
        case .changes:
            preconditionFailure("`changes` are encoded against a previous version: encodeChanges")
        case .sign:
            #if _endian(little)
            if n > 0 { return Self.wire.encodeSign(values.baseAddress!, out, n) }
            #endif
            let scale = n > 0 ? Self.absoluteSum(values) / Float(n) : 0
            out.storeBytes(of: scale.bitPattern.littleEndian, as: UInt32.self)
            let bits = (out + 4).assumingMemoryBound(to: UInt8.self)
            var i = 0, b = 0
            while i < n {
                var byte: UInt8 = 0
                for j in 0..<min(8, n - i) { byte |= UInt8(truncatingIfNeeded: values[i + j].bitPattern >> 31) << UInt8(j) }
                bits[b] = byte
                i += 8
                b += 1
            }
        }
    }

    /// Encodes part `range` of a vector, `values` pointing at its first element, into `out`: with
    /// `feedback`, through its residual (`ErrorFeedback.encode`), else as it is.
    public func encode(_ values: UnsafePointer<Float>, range: Range<Int>, feedback: ErrorFeedback?, into out: UnsafeMutableRawPointer,
                       scratch: UnsafeMutablePointer<Float>) {
        if let feedback {
            feedback.encode(values, range: range, codec: self, into: out, scratch: scratch)
        } else {
            encode(UnsafeBufferPointer(start: values, count: range.count), into: out, scratch: scratch)
        }
    }

    /// Decodes a part of `count` values from `payload` into `out`, checking its size (and, for
    /// `topk`, that the indices ascend within the part).
    public func decode(_ payload: UnsafeRawBufferPointer, count n: Int, into out: UnsafeMutablePointer<Float>) throws(CodecError) {
        if self == .changes { return try Self.applyChanges(payload, count: n, onto: out) }
        guard payload.count == payloadBytes(count: n) else {
            throw CodecError("a \(self) part of \(n) values has \(payloadBytes(count: n)) bytes, got \(payload.count)")
        }
        let p = payload.baseAddress!
        switch self {
        case .f32:
            UnsafeMutableRawPointer(out).copyMemory(from: p, byteCount: 4 * n)
        case .bf16:
            #if _endian(little)
            if n > 0 { Self.wire.decodeBFloat16(p, out, n) }
            #else
            for i in 0..<n { out[i] = Float(bitPattern: UInt32(UInt16(littleEndian: p.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) << 16) }
            #endif
        case .fp16:
            #if _endian(little)
            if n > 0 { Self.wire.decodeBinary16(p, out, n) }
            #else
            for i in 0..<n { out[i] = Self.float(binary16: UInt16(littleEndian: p.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) }
            #endif
        case .topk:
            out.update(repeating: 0, count: n)
            try Self.scatter(payload, entries: kept(n), count: n, into: out, what: "topk")
        case .changes:
            break  // applied above
        case .sign:
            #if _endian(little)
            if n > 0 { return Self.wire.decodeSign(p, out, n) }
            #endif
            let scale = Float(bitPattern: UInt32(littleEndian: p.loadUnaligned(as: UInt32.self)))
            let plus = scale.bitPattern & 0x7FFF_FFFF
            var i = 0, b = 4
            while i < n {
                let byte = UInt32(p.load(fromByteOffset: b, as: UInt8.self))
                for j in 0..<min(8, n - i) { out[i + j] = Float(bitPattern: plus | ((byte >> UInt32(j)) & 1) << 31) }
                i += 8
                b += 1
            }
        }
    }

    /// `changes`: writes into `out` the entries of `new` (a part of `count` values) whose bits
    /// differ from `old`, as ascending indices then values; returns the payload size, or nil when
    /// more than half the values changed (the float32 part is then smaller).
    static func encodeChanges(old: UnsafePointer<Float>, new: UnsafePointer<Float>, count n: Int, into out: UnsafeMutableRawPointer) -> Int? {
        var k = 0
        differences(old, new, count: n) { _, lanes in k += lanes.nonzeroBitCount }
        guard 2 * k <= n else { return nil }
        let indices = out.assumingMemoryBound(to: UInt32.self), vals = (out + 4 * k).assumingMemoryBound(to: UInt32.self)
        var w = 0
        differences(old, new, count: n) { start, lanes in
            var lanes = lanes
            while lanes != 0 {
                let i = start + lanes.trailingZeroBitCount
                indices[w] = UInt32(i).littleEndian
                vals[w] = new[i].bitPattern.littleEndian
                w += 1
                lanes &= lanes &- 1
            }
        }
        return 8 * k
    }

    /// `encodeChanges` from the list of what changed (`entries`, ascending, unique, below `n`, and
    /// their new `values`): the same payload, or nil.
    static func encodeChanges(entries: UnsafeBufferPointer<UInt32>, values: UnsafeBufferPointer<Float>, count n: Int,
                              into out: UnsafeMutableRawPointer) -> Int? {
        let k = entries.count
        guard 2 * k <= n else { return nil }
        let indices = out.assumingMemoryBound(to: UInt32.self), vals = (out + 4 * k).assumingMemoryBound(to: UInt32.self)
        for w in 0..<k {
            indices[w] = entries[w].littleEndian
            vals[w] = values[w].bitPattern.littleEndian
        }
        return 8 * k
    }

    /// `encodeChanges` when `new` can differ from `old` only at the `candidates` (ascending,
    /// unique indices below `n`): the same payload, or nil, from the candidates alone.
    static func encodeChanges(old: UnsafePointer<Float>, new: UnsafePointer<Float>, count n: Int, candidates: UnsafeBufferPointer<UInt32>,
                              into out: UnsafeMutableRawPointer) -> Int? {
        var k = 0
        for c in candidates where old[Int(c)].bitPattern != new[Int(c)].bitPattern { k += 1 }
        guard 2 * k <= n else { return nil }
        let indices = out.assumingMemoryBound(to: UInt32.self), vals = (out + 4 * k).assumingMemoryBound(to: UInt32.self)
        var w = 0
        for c in candidates where old[Int(c)].bitPattern != new[Int(c)].bitPattern {
            indices[w] = c.littleEndian
            vals[w] = new[Int(c)].bitPattern.littleEndian
            w += 1
        }
        return 8 * k
    }

    /// Calls `body(start, lanes)` for each run of 16 values (and the tail) from `start` where `a`
    /// and `b` differ in some bit, `lanes` having bit j set when value `start + j` differs; runs
    /// without a difference cost one vector compare.
    @inline(__always) static func differences(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count n: Int, _ body: (Int, UInt32) -> Void) {
        let laneBits = SIMD16<UInt32>(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768)
        let pa = UnsafeRawPointer(a), pb = UnsafeRawPointer(b)
        var i = 0
        while i + 16 <= n {
            let differ = pa.loadUnaligned(fromByteOffset: 4 * i, as: SIMD16<UInt32>.self) .!= pb.loadUnaligned(fromByteOffset: 4 * i, as: SIMD16<UInt32>.self)
            let lanes = SIMD16<UInt32>(repeating: 0).replacing(with: laneBits, where: differ).wrappedSum()
            if lanes != 0 { body(i, lanes) }
            i += 16
        }
        var tail: UInt32 = 0
        for j in 0..<(n - i) where a[i + j].bitPattern != b[i + j].bitPattern { tail |= 1 << UInt32(j) }
        if tail != 0 { body(i, tail) }
    }

    /// `changes`: sets the listed entries of `out` (a part of `count` values held from the
    /// previous version), checking the payload's size and that the indices ascend inside the part.
    static func applyChanges(_ payload: UnsafeRawBufferPointer, count n: Int, onto out: UnsafeMutablePointer<Float>) throws(CodecError) {
        guard payload.count % 8 == 0, payload.count / 8 <= n else {
            throw CodecError("a sparse part of \(n) values has at most \(8 * n) bytes in whole entries of 8, got \(payload.count)")
        }
        try scatter(payload, entries: payload.count / 8, count: n, into: out, what: "sparse")
    }

    /// Copies the `count` (index, value) pairs of `payload` (k u32 indices, then k f32 values) into
    /// `indices` and `values`, checking as `scatter` does that the indices ascend inside a part of
    /// `partSize` values.
    static func entries(of payload: UnsafeRawBufferPointer, count k: Int, partSize n: Int, indices: UnsafeMutablePointer<UInt32>,
                        values: UnsafeMutablePointer<Float>, what: String) throws(CodecError) {
        var previous = -1
        for w in 0..<k {
            let i = try ascendingIndex(payload, w, after: previous, below: n, what: what)
            previous = i
            indices[w] = UInt32(truncatingIfNeeded: i)
            values[w] = Float(bitPattern: UInt32(littleEndian: payload.loadUnaligned(fromByteOffset: 4 * (k + w), as: UInt32.self)))
        }
    }

    /// Sets `out[i] = v` for the `entries` (index, value) pairs of `payload` (k u32 indices, then k
    /// f32 values), checking that the indices ascend inside the part of `count` values.
    static func scatter(_ payload: UnsafeRawBufferPointer, entries k: Int, count n: Int, into out: UnsafeMutablePointer<Float>,
                                what: String) throws(CodecError) {
        var previous = -1
        for w in 0..<k {
            if w + scatteredPrefetchDistance < k {
                let ahead = Int(UInt32(littleEndian: payload.loadUnaligned(fromByteOffset: 4 * (w + scatteredPrefetchDistance), as: UInt32.self)))
                prefetchForWrite(out + min(ahead, n - 1))
            }
            let i = try ascendingIndex(payload, w, after: previous, below: n, what: what)
            previous = i
            out[i] = Float(bitPattern: UInt32(littleEndian: payload.loadUnaligned(fromByteOffset: 4 * (k + w), as: UInt32.self)))
        }
    }

    /// Index `w` of a sparse payload, checked to come after `previous` and below `n`.
    @inline(__always)
    private static func ascendingIndex(_ payload: UnsafeRawBufferPointer, _ w: Int, after previous: Int, below n: Int,
                                       what: String) throws(CodecError) -> Int {
        let i = Int(UInt32(littleEndian: payload.loadUnaligned(fromByteOffset: 4 * w, as: UInt32.self)))
        guard i > previous, i < n else { throw CodecError("\(what) index \(i) after \(previous) in a part of \(n) values (they must ascend)") }
        return i
    }

    /// IEEE binary16 of `x`, rounded to nearest even, in integer arithmetic (no conversion
    /// instruction is assumed: the cluster code is built for baseline x86-64): above 65504 gives
    /// infinity, a NaN a quiet NaN, and values below 2^-14 subnormals (F. Giesen's method).
    @inline(__always) static func binary16(_ x: Float) -> UInt16 {
        var f = x.bitPattern
        let sign = f & 0x8000_0000
        f ^= sign
        let o: UInt32
        if f >= (127 + 16) << 23 {
            o = f > 255 << 23 ? 0x7E00 : 0x7C00
        } else if f < 113 << 23 {
            // Subnormal or zero: the float add rounds the mantissa where binary16 keeps it.
            let magic: UInt32 = ((127 - 15) + (23 - 10) + 1) << 23
            o = (Float(bitPattern: f) + Float(bitPattern: magic)).bitPattern &- magic
        } else {
            let odd = (f >> 13) & 1
            o = (f &+ (UInt32(bitPattern: Int32(15 - 127) << 23)) &+ 0xFFF &+ odd) >> 13
        }
        return UInt16(truncatingIfNeeded: o | sign >> 16)
    }

    /// The float of the IEEE binary16 `h` (exact).
    @inline(__always) static func float(binary16 h: UInt16) -> Float {
        let shiftedExponent: UInt32 = 0x7C00 << 13
        var o = UInt32(h & 0x7FFF) << 13
        let exponent = o & shiftedExponent
        o &+= (127 - 15) << 23
        if exponent == shiftedExponent {
            o &+= (128 - 16) << 23  // infinity or NaN
        } else if exponent == 0 {
            o &+= 1 << 23  // zero or subnormal: renormalise
            o = (Float(bitPattern: o) - Float(bitPattern: 113 << 23)).bitPattern
        }
        return Float(bitPattern: o | UInt32(h & 0x8000) << 16)
    }

    /// The active kernel variant's whole-part loops for bf16, fp16 and sign (`VariantWire`): the
    /// same bytes as the one-value conversions here, which remain the reference (and the code on
    /// a big-endian host).
    static var wire: WireKernels { Kernels.active.table.wire }

    /// bf16 of `x`: the top 16 bits, rounded to nearest even (a NaN stays a quiet NaN).
    static func bfloat16(_ x: Float) -> UInt16 {
        if x.isNaN { return 0x7FC0 }
        let bits = x.bitPattern
        return UInt16(truncatingIfNeeded: (bits &+ 0x7FFF &+ ((bits >> 16) & 1)) >> 16)
    }

    /// `sign`'s Σ|v_i| in float32, in the documented order: eight partial sums, lane j taking
    /// i ≡ j (mod 8) in index order, added as ((l0 + l1) + (l2 + l3)) + ((l4 + l5) + (l6 + l7)).
    static func absoluteSum(_ v: UnsafeBufferPointer<Float>) -> Float {
        var lanes = SIMD8<Float>(repeating: 0)
        let n = v.count, whole = n & ~7
        var i = 0
        while i < whole {
            var x = SIMD8<Float>()
            for j in 0..<8 { x[j] = v[i + j] }
            lanes += x.replacing(with: -x, where: x .< 0)
            i += 8
        }
        for j in 0..<(n - whole) { lanes[j] += abs(v[whole + j]) }
        return ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]))
    }
}

/// Whether multi-byte values are stored least significant byte first here (the wire's order).
let isLittleEndianHost: Bool = {
    #if _endian(little)
    return true
    #else
    return false
    #endif
}()

/// A vector part that does not decode.
public struct CodecError: Error, CustomStringConvertible {
    public let description: String
    init(_ d: String) { description = d }
}

/// Error feedback (Seide et al. 2014; Stich, Cordonnier and Jaggi 2018; Karimireddy et al. 2019):
/// what a lossy encoding leaves out of a vector is kept and added to the next one, so nothing is
/// lost for good, only delayed. `residual` starts at 0.
public final class ErrorFeedback {
    public let residual: UnsafeMutableBufferPointer<Float>
    private let decoded: UnsafeMutableBufferPointer<Float>

    public init(count: Int) {
        residual = .allocate(capacity: max(count, 1))
        residual.initialize(repeating: 0)
        decoded = .allocate(capacity: max(count, 1))
        decoded.initialize(repeating: 0)
    }

    deinit {
        residual.deallocate()
        decoded.deallocate()
    }

    /// Encodes `values` (part `range` of a vector) with the residual added, into `out`
    /// (`codec.payloadBytes(count: range.count)` bytes), and keeps what the encoding leaves out:
    /// `accumulate`, `codec.encode`, then `keep`. For top-k the addition and the candidate gather
    /// share one pass (`GradientCodec.accumulateAndEncodeTopK`: the same payload and residual).
    /// `scratch` holds `range.count` floats.
    public func encode(_ values: UnsafePointer<Float>, range: Range<Int>, codec: GradientCodec, into out: UnsafeMutableRawPointer,
                       scratch: UnsafeMutablePointer<Float>) {
        if case .topk = codec {
            GradientCodec.accumulateAndEncodeTopK(values, into: residual.baseAddress! + range.lowerBound, count: range.count, k: codec.kept(range.count),
                                                  out: out, scratch: UnsafeMutableRawPointer(scratch).assumingMemoryBound(to: UInt32.self))
        } else if codec == .sign, isLittleEndianHost, range.count > 0 {
            // The addition, encoding and keeping in the variant's loops.
            return GradientCodec.wire.accumulateAndEncodeSign(values, residual.baseAddress! + range.lowerBound, out, range.count)
        } else {
            let part = accumulate(values, range: range)
            codec.encode(UnsafeBufferPointer(start: part, count: range.count), into: out, scratch: scratch)
        }
        keep(sentAs: UnsafeRawBufferPointer(start: out, count: codec.payloadBytes(count: range.count)), codec: codec, range: range)
    }

    /// Adds `values` (part `range` of a vector) into the residual and returns the residual's part,
    /// which now holds the vector to encode: `residual + values`.
    public func accumulate(_ values: UnsafePointer<Float>, range: Range<Int>) -> UnsafeMutablePointer<Float> {
        let r = residual.baseAddress! + range.lowerBound
        for i in 0..<range.count { r[i] += values[i] }
        return r
    }

    /// After the residual's part `range` (`accumulate`'s result) went out as `payload`: leaves in
    /// it what the receiver does not see, `part - decode(payload)`, computed straight from the
    /// payload for `topk` (0 where sent) and `sign` (`part ∓ scale`).
    public func keep(sentAs payload: UnsafeRawBufferPointer, codec: GradientCodec, range: Range<Int>) {
        let r = residual.baseAddress! + range.lowerBound, n = range.count
        switch codec {
        case .topk:
            for w in 0..<codec.kept(n) {
                r[Int(UInt32(littleEndian: payload.loadUnaligned(fromByteOffset: 4 * w, as: UInt32.self)))] = 0
            }
        case .sign:
            let scale = Float(bitPattern: UInt32(littleEndian: payload.loadUnaligned(as: UInt32.self)))
            for i in 0..<n { r[i] -= Float(bitPattern: scale.bitPattern & 0x7FFF_FFFF | r[i].bitPattern & 0x8000_0000) }
        default:
            let d = decoded.baseAddress! + range.lowerBound
            try! codec.decode(payload, count: n, into: d)  // our own encoding: it decodes
            for i in 0..<n { r[i] -= d[i] }
        }
    }
}
