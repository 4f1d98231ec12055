import ZeroMQ

/// `--compress-params bf16|fp16`: the parameters of one version encoded part by part into a
/// buffer that libzmq sends without a copy, each part encoded once however many workers get it.
///
/// Parts of a version are asked for in order from part 0 (a sync broadcast, or one worker's whole
/// vector); a new version takes a buffer libzmq has released, so a version still on the wire to
/// one worker is never overwritten for another. No allocation in steady state.
final class ParamsEncoder {
    let codec: GradientCodec
    private let pool: ZeroCopyBufferPool
    private var buffer: ZeroCopyBuffer
    private var version = -1
    /// The source buffer the encoded parts were read from (another buffer of the same version is
    /// a different vector under `--delay`, so both must match to reuse).
    private weak var source: ZeroCopyBuffer?
    private var partsEncoded = 0
    private let bytesPerValue: Int
    private var unusedScratch: Float = 0

    /// An encoder for `count` parameters with `codec` (2 bytes a value).
    init(codec: GradientCodec, count: Int) {
        precondition(codec == .bf16 || codec == .fp16)
        self.codec = codec
        bytesPerValue = codec.payloadBytes(count: 1)
        pool = ZeroCopyBufferPool(count: (count * bytesPerValue + 3) / 4, initial: 2)
        buffer = pool.acquire()
    }

    /// Points `message` at part `range` (part `j`) of `source`, the parameters of `version`,
    /// encoded; returns the payload size.
    func wrap(part j: Int, range: Range<Int>, of source: ZeroCopyBuffer, version: Int, into message: ZMQMessage) throws -> Int {
        if version != self.version || source !== self.source {
            buffer = pool.acquire(excluding: buffer.isInFlight ? buffer : nil)
            self.version = version
            self.source = source
            partsEncoded = 0
        }
        let offset = range.lowerBound * bytesPerValue, size = range.count * bytesPerValue
        if j == partsEncoded {
            codec.encode(UnsafeBufferPointer(rebasing: source.floats[range]),
                         into: UnsafeMutableRawPointer(buffer.floats.baseAddress!) + offset, scratch: &unusedScratch)
            partsEncoded = j + 1
        }
        try buffer.wrap(byteOffset: offset, byteCount: size, into: message)
        return size
    }
}
