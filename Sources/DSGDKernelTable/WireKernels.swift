/// The wire encodings a kernel variant exports (docs/PROTOCOL.md §4.1): the passes over every
/// value of a GRADIENT or PARAMS part, built with the variant's instructions (and the pass of
/// `topk`'s selection that reads every value). Every variant gives
/// the same bytes; GradientCodec (DSGDCluster) calls them through `Kernels.active`.
public struct WireKernels: Sendable {
    /// Encodes `count` floats into `count` 16-bit values (host byte order): floats, out, count.
    public typealias Encode = @Sendable (UnsafePointer<Float>, UnsafeMutableRawPointer, Int) -> Void
    /// Decodes `count` values: payload, out, count.
    public typealias Decode = @Sendable (UnsafeRawPointer, UnsafeMutablePointer<Float>, Int) -> Void
    /// Adds floats into a residual part, encodes the sum and leaves in the residual what the
    /// encoding loses: floats, residual, out, count.
    public typealias EncodeWithFeedback = @Sendable (UnsafePointer<Float>, UnsafeMutablePointer<Float>, UnsafeMutableRawPointer, Int) -> Void
    /// `topk`'s candidate pass: values, addends (or nil), count (a multiple of 16), threshold,
    /// limit, indices out; returns how many indices were written and where the pass stopped.
    public typealias Gather = @Sendable (UnsafeMutablePointer<Float>, UnsafePointer<Float>?, Int, UInt32, Int, UnsafeMutablePointer<UInt32>) -> (count: Int, end: Int)

    /// bf16, rounded to nearest even; any NaN becomes 0x7FC0.
    public let encodeBFloat16: Encode
    public let decodeBFloat16: Decode
    /// IEEE binary16, rounded to nearest even; any NaN becomes 0x7E00.
    public let encodeBinary16: Encode
    public let decodeBinary16: Decode
    /// `sign`: the scale (Σ|v_i|)/count in the documented eight-lane order, then the sign bits.
    public let encodeSign: Encode
    public let decodeSign: Decode
    /// `sign` with error feedback: `r += v`, encode `r`, `r -= ±scale` with the sign of each `r_i`.
    public let accumulateAndEncodeSign: EncodeWithFeedback
    /// `topk`'s candidate pass over `count` values in chunks of 16 (count a multiple of 16). With
    /// addends, each chunk of values first becomes `values[i] + addends[i]`, stored (error
    /// feedback's sum). Then the index of every value whose key `bits & 0x7FFF_FFFF` is at least
    /// `threshold` (below 2^31) is written to the indices, ascending; the indices past the count
    /// returned may be overwritten too, up to 16 of them (room for them is the caller's). The pass
    /// stops after the first chunk that takes the count of indices above `limit`; it returns that
    /// count and the end of the last chunk done (`count` when nothing stopped it).
    public let gatherAtLeast: Gather

    public init(encodeBFloat16: @escaping Encode, decodeBFloat16: @escaping Decode, encodeBinary16: @escaping Encode,
                decodeBinary16: @escaping Decode, encodeSign: @escaping Encode, decodeSign: @escaping Decode,
                accumulateAndEncodeSign: @escaping EncodeWithFeedback, gatherAtLeast: @escaping Gather) {
        self.encodeBFloat16 = encodeBFloat16
        self.decodeBFloat16 = decodeBFloat16
        self.encodeBinary16 = encodeBinary16
        self.decodeBinary16 = decodeBinary16
        self.encodeSign = encodeSign
        self.decodeSign = decodeSign
        self.accumulateAndEncodeSign = accumulateAndEncodeSign
        self.gatherAtLeast = gatherAtLeast
    }
}
