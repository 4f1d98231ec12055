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
/// - `sign`: one f32 scale s = (1/L) Σ|v_i| and ceil(L/8) bytes of sign bits (bit i%8 of byte i/8
///   set when v_i < 0); v_i decodes to ±s (4 + ceil(L/8) bytes). The scaled sign of Karimireddy et
///   al. 2019.
///
/// `topk` and `sign` are lossy beyond rounding; a worker keeps what they leave out in an error
/// feedback residual and adds it to its next vector (`ErrorFeedback`).
public enum GradientCodec: Equatable, Sendable, CustomStringConvertible {
    case f32, bf16, fp16
    case topk(Double)
    case sign

    /// Parses `none`, `bf16`, `fp16`, `topk:F` (0 < F ≤ 1) or `sign`.
    public init(parsing text: String) throws(JobConfigError) {
        switch text {
        case "none", "f32": self = .f32
        case "bf16": self = .bf16
        case "fp16": self = .fp16
        case "sign": self = .sign
        default:
            guard text.hasPrefix("topk:"), let f = Double(text.dropFirst(5)), f.isFinite, f > 0, f <= 1 else {
                throw JobConfigError("--compress must be none, bf16, fp16, topk:F (0 < F <= 1) or sign (got '\(text)')")
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

    /// Payload bytes of a part of `count` values.
    public func payloadBytes(count: Int) -> Int {
        switch self {
        case .f32: return 4 * count
        case .bf16, .fp16: return 2 * count
        case .topk: return 8 * kept(count)
        case .sign: return 4 + (count + 7) / 8
        }
    }

    /// Encodes `values` into `out` (exactly `payloadBytes(count: values.count)` bytes). `scratch`
    /// (at least `values.count` floats) is used by `topk` to find its threshold.
    public func encode(_ values: UnsafeBufferPointer<Float>, into out: UnsafeMutableRawPointer, scratch: UnsafeMutablePointer<Float>) {
        let n = values.count
        switch self {
        case .f32:
            out.copyMemory(from: values.baseAddress!, byteCount: 4 * n)
        case .bf16:
            let o = out.assumingMemoryBound(to: UInt16.self)
            for i in 0..<n { o[i] = Self.bfloat16(values[i]).littleEndian }
        case .fp16:
            #if arch(x86_64) || arch(arm64)
            let o = out.assumingMemoryBound(to: UInt16.self)
            for i in 0..<n { o[i] = Float16(values[i]).bitPattern.littleEndian }
            #endif
        case .topk:
            let k = kept(n)
            // The k-th largest magnitude (NaN counts as the largest, so it is sent and caught).
            for i in 0..<n { scratch[i] = Self.magnitude(values[i]) }
            let threshold = Self.select(scratch, count: n, rank: n - k)
            var above = 0
            for i in 0..<n where Self.magnitude(values[i]) > threshold { above += 1 }
            var equalAllowed = k - above, w = 0
            let indices = out.assumingMemoryBound(to: UInt32.self), vals = (out + 4 * k).assumingMemoryBound(to: UInt32.self)
            for i in 0..<n {
                let m = Self.magnitude(values[i])
                guard m > threshold || (m == threshold && equalAllowed > 0) else { continue }
                if m == threshold { equalAllowed -= 1 }
                indices[w] = UInt32(i).littleEndian
                vals[w] = values[i].bitPattern.littleEndian
                w += 1
            }
        case .sign:
            var sum: Float = 0
            for i in 0..<n { sum += abs(values[i]) }
            let scale = n > 0 ? sum / Float(n) : 0
            out.storeBytes(of: scale.bitPattern.littleEndian, as: UInt32.self)
            let bits = (out + 4).assumingMemoryBound(to: UInt8.self)
            for b in 0..<((n + 7) / 8) { bits[b] = 0 }
            for i in 0..<n where values[i] < 0 { bits[i >> 3] |= 1 << UInt8(i & 7) }
        }
    }

    /// Decodes a part of `count` values from `payload` into `out`, checking its size (and, for
    /// `topk`, that the indices ascend within the part).
    public func decode(_ payload: UnsafeRawBufferPointer, count n: Int, into out: UnsafeMutablePointer<Float>) throws(CodecError) {
        guard payload.count == payloadBytes(count: n) else {
            throw CodecError("a \(self) part of \(n) values has \(payloadBytes(count: n)) bytes, got \(payload.count)")
        }
        let p = payload.baseAddress!
        switch self {
        case .f32:
            UnsafeMutableRawPointer(out).copyMemory(from: p, byteCount: 4 * n)
        case .bf16:
            for i in 0..<n { out[i] = Float(bitPattern: UInt32(UInt16(littleEndian: p.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) << 16) }
        case .fp16:
            #if arch(x86_64) || arch(arm64)
            for i in 0..<n { out[i] = Float(Float16(bitPattern: UInt16(littleEndian: p.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))) }
            #endif
        case .topk:
            let k = kept(n)
            out.update(repeating: 0, count: n)
            var previous = -1
            for w in 0..<k {
                let i = Int(UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 4 * w, as: UInt32.self)))
                guard i > previous, i < n else { throw CodecError("topk index \(i) after \(previous) in a part of \(n) values (they must ascend)") }
                previous = i
                out[i] = Float(bitPattern: UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 4 * (k + w), as: UInt32.self)))
            }
        case .sign:
            let scale = Float(bitPattern: UInt32(littleEndian: p.loadUnaligned(as: UInt32.self)))
            for i in 0..<n {
                let negative = p.load(fromByteOffset: 4 + i >> 3, as: UInt8.self) & (1 << UInt8(i & 7)) != 0
                out[i] = negative ? -scale : scale
            }
        }
    }

    /// bf16 of `x`: the top 16 bits, rounded to nearest even (a NaN stays a quiet NaN).
    static func bfloat16(_ x: Float) -> UInt16 {
        if x.isNaN { return 0x7FC0 }
        let bits = x.bitPattern
        return UInt16(truncatingIfNeeded: (bits &+ 0x7FFF &+ ((bits >> 16) & 1)) >> 16)
    }

    private static func magnitude(_ x: Float) -> Float { x.isNaN ? .infinity : abs(x) }

    /// The value of rank `rank` (0-based, ascending) among `a[0..<count]` (reordering them):
    /// quickselect with the median of three, no allocation.
    static func select(_ a: UnsafeMutablePointer<Float>, count: Int, rank: Int) -> Float {
        var lo = 0, hi = count - 1
        while lo < hi {
            let mid = lo + (hi - lo) / 2
            if a[mid] < a[lo] { swap(&a[mid], &a[lo]) }
            if a[hi] < a[lo] { swap(&a[hi], &a[lo]) }
            if a[hi] < a[mid] { swap(&a[hi], &a[mid]) }
            let pivot = a[mid]
            var i = lo, j = hi
            while i <= j {
                while a[i] < pivot { i += 1 }
                while a[j] > pivot { j -= 1 }
                if i <= j { swap(&a[i], &a[j]); i += 1; j -= 1 }
            }
            if rank <= j { hi = j } else if rank >= i { lo = i } else { return a[rank] }
        }
        return a[rank]
    }
}

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

    /// Adds the residual of `range` to `values` (the part about to be encoded, in place).
    public func add(into values: UnsafeMutablePointer<Float>, range: Range<Int>) {
        for i in 0..<range.count { values[i] += residual[range.lowerBound + i] }
    }

    /// After `values` (of `range`, residual added) went out as `payload`: the residual becomes
    /// what the receiver does not see, `values - decode(payload)`.
    public func keep(_ values: UnsafePointer<Float>, sentAs payload: UnsafeRawBufferPointer, codec: GradientCodec, range: Range<Int>) {
        let d = decoded.baseAddress! + range.lowerBound
        try! codec.decode(payload, count: range.count, into: d)  // our own encoding: it decodes
        for i in 0..<range.count { residual[range.lowerBound + i] = values[i] - d[i] }
    }
}
