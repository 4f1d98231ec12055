import ZeroMQ

/// Gradients as their parts arrive, held until a policy aggregates or drops them: float32 parts
/// as the received frame itself (no copy), encoded parts (`--compress`) decoded into a float32
/// buffer of the worker's.
///
/// Parts arrive in order, each `chunk` values (the last may be shorter), the last one flagged, in
/// the job's encoding; `accept` checks all of that.
final class GradientInbox {
    private let slots: [[ZMQMessage]]
    /// Per worker: parts of its current gradient received so far.
    private(set) var partsReceived: [Int]
    let parts: Int
    /// Where part `j` starts, in values.
    private let partStart: [Int]
    let codec: GradientCodec
    /// `--compress` other than none: each worker's decoded gradient (P floats).
    private let decoded: [UnsafeMutableBufferPointer<Float>]

    init(workers: Int, parts: Int, parameterCount: Int, partRange: (Int) -> Range<Int>, codec: GradientCodec = .f32) {
        self.parts = parts
        self.codec = codec
        partStart = (0..<parts).map { partRange($0).lowerBound }
        slots = (0..<workers).map { _ in (0..<(codec == .f32 ? parts : 0)).map { _ in ZMQMessage() } }
        partsReceived = Array(repeating: 0, count: workers)
        decoded = codec == .f32 ? [] : (0..<workers).map { _ in
            let b = UnsafeMutableBufferPointer<Float>.allocate(capacity: max(parameterCount, 1))
            b.initialize(repeating: 0)
            return b
        }
    }

    deinit { for b in decoded { b.deallocate() } }

    /// Checks that `h` is the next part of worker `k`'s gradient (its offset, its encoding and
    /// size, its last-part flag) for a vector whose part `j` covers `range(j)`, and takes `frame`
    /// into its slot (decoding it, if encoded). Returns the part index and whether it completes
    /// the gradient.
    func accept(_ h: MessageHeader, from k: Int, frame: ZMQMessage, range: (Int) -> Range<Int>) throws(ProtocolError) -> (part: Int, last: Bool) {
        let j = partsReceived[k]
        guard j < parts else { throw .unexpectedPart(worker: h.workerID, offset: h.count, expected: -1) }
        let r = range(j)
        guard Int(h.count) == r.lowerBound else { throw .unexpectedPart(worker: h.workerID, offset: h.count, expected: r.lowerBound) }
        guard h.codecID == codec.id else { throw .wrongEncoding(worker: h.workerID, got: h.codecID, expected: codec) }
        let size = codec.payloadBytes(count: r.count)
        guard frame.count == size else { throw .wrongPayloadSize(type: .gradient, got: frame.count, expected: size) }
        let last = j == parts - 1
        guard (h.flags & Wire.lastPartFlag != 0) == last else { throw .wrongLastFlag(worker: h.workerID, offset: h.count) }
        if codec == .f32 {
            slots[k][j].take(from: frame)
        } else {
            do { try codec.decode(frame.bytes, count: r.count, into: decoded[k].baseAddress! + r.lowerBound) } catch {
                throw .undecodable(worker: h.workerID, reason: error.description)
            }
        }
        partsReceived[k] = j + 1
        return (j, last)
    }

    /// The first float of worker `k`'s part `j`.
    func pointer(_ k: Int, part j: Int) -> UnsafeRawPointer {
        codec == .f32 ? slots[k][j].bytes.baseAddress! : UnsafeRawPointer(decoded[k].baseAddress! + partStart[j])
    }

    /// Releases worker `k`'s part `j` (its frame goes back to libzmq).
    func clear(_ k: Int, part j: Int) { if codec == .f32 { slots[k][j].clear() } }

    /// Forgets worker `k`'s gradient: releases its parts and expects part 0 next.
    func reset(_ k: Int) {
        if codec == .f32 { for j in 0..<partsReceived[k] { slots[k][j].clear() } }
        partsReceived[k] = 0
    }
}
