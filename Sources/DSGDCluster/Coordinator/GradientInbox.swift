import ZeroMQ

/// Gradients as their parts arrive, held until a policy aggregates or drops them: float32 parts
/// as the received frame itself (no copy), and so bf16 parts when only the aggregator reads them
/// (it widens them on the fly: `storage`); other encoded parts (`--compress`) decoded into a
/// float32 buffer of the worker's. `topk` parts are kept as their entries (indices and values)
/// and written into that buffer only when something asks for them densely (`pointer`): the sparse
/// step reads the entries alone (`topKEntries`, `topKValues`).
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
    /// How `pointer`'s parts are stored: float32, or bf16 frames as received.
    let storage: GradientStorage
    /// Whether parts are kept as the received frames (float32, or bf16 as `storage` says).
    private let keepsFrames: Bool
    /// `--compress` other than none, unless bf16 frames are kept: each worker's decoded gradient
    /// (P floats, zero-filled), allocated when first written (a `topk` gradient only when it is
    /// read densely: under the sparse step, never).
    private var decoded: [UnsafeMutableBufferPointer<Float>?]
    private let parameterCount: Int
    /// `topk`: per worker and part, the indices its last payload set, ascending (so that the next
    /// one clears just those instead of the whole part, and an update can visit just those), their
    /// values, and how many (0: none held).
    private let setIndices: [UnsafeMutablePointer<UInt32>]
    private let setValues: [UnsafeMutablePointer<Float>]
    private var setCount: [[Int]]
    /// `topk`: per worker and part, whether the held entries are written into `decoded` (which is
    /// zero elsewhere, and everywhere in a part whose entries are not written).
    private var written: [[Bool]]
    /// `topk`: entries per part at most (0 for other encodings).
    let keptPerPart: Int

    /// An inbox for gradients of `parameterCount` values in `parts` parts in `codec`.
    /// `floatReaders`: whether anything but the aggregator reads the parts (`--noise-scale`,
    /// `--max-gradient-norm`), which then must be float32.
    init(workers: Int, parts: Int, parameterCount: Int, partRange: (Int) -> Range<Int>, codec: GradientCodec = .f32, floatReaders: Bool = false) {
        self.parts = parts
        self.codec = codec
        keepsFrames = codec == .f32 || (codec == .bf16 && !floatReaders)
        storage = codec == .bf16 && keepsFrames ? .bfloat16 : .float32
        partStart = (0..<parts).map { partRange($0).lowerBound }
        let keepsFrames = keepsFrames
        slots = (0..<workers).map { _ in (0..<(keepsFrames ? parts : 0)).map { _ in ZMQMessage() } }
        partsReceived = Array(repeating: 0, count: workers)
        self.parameterCount = parameterCount
        decoded = Array(repeating: nil, count: keepsFrames ? 0 : workers)
        var isTopK = false
        if case .topk = codec { isTopK = true }
        let kept = isTopK ? (0..<parts).map { codec.kept(partRange($0).count) }.max() ?? 0 : 0
        keptPerPart = kept
        setIndices = isTopK ? (0..<workers).map { _ in .allocate(capacity: max(parts * kept, 1)) } : []
        setValues = isTopK ? (0..<workers).map { _ in .allocate(capacity: max(parts * kept, 1)) } : []
        setCount = isTopK ? Array(repeating: Array(repeating: 0, count: parts), count: workers) : []
        written = isTopK ? Array(repeating: Array(repeating: false, count: parts), count: workers) : []
    }

    deinit {
        for b in decoded { b?.deallocate() }
        for p in setIndices { p.deallocate() }
        for p in setValues { p.deallocate() }
    }

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
        if keepsFrames {
            slots[k][j].take(from: frame)
        } else if isTopK {
            try acceptTopK(frame, from: k, part: j, range: r, worker: h.workerID)
        } else {
            do { try codec.decode(frame.bytes, count: r.count, into: dense(k) + r.lowerBound) } catch {
                throw .undecodable(worker: h.workerID, reason: error.description)
            }
        }
        partsReceived[k] = j + 1
        return (j, last)
    }

    /// `topk`: clears the entries the previous payload of worker `k`'s part `j` wrote into its
    /// buffer, if they were written, then holds this payload's entries (checked as `decode` checks
    /// them). A payload that does not decode leaves nothing held: the part reads as all zero.
    private func acceptTopK(_ frame: ZMQMessage, from k: Int, part j: Int, range r: Range<Int>, worker: UInt32) throws(ProtocolError) {
        let at = j * keptPerPart
        if written[k][j] {
            let part = dense(k) + r.lowerBound, held = setIndices[k] + at
            for w in 0..<setCount[k][j] { part[Int(held[w])] = 0 }
            written[k][j] = false
        }
        setCount[k][j] = 0
        let entries = codec.kept(r.count)
        do { try GradientCodec.entries(of: frame.bytes, count: entries, partSize: r.count, indices: setIndices[k] + at, values: setValues[k] + at, what: "topk") } catch {
            throw .undecodable(worker: worker, reason: error.description)
        }
        setCount[k][j] = entries
    }

    /// Whether parts are `topk` payloads, whose set entries `topKEntries` lists.
    var isTopK: Bool { !setIndices.isEmpty }

    /// `topk`: the entries (ascending, relative to the part's start) that worker `k`'s part `j`
    /// as last received sets; every other entry of it is zero. Empty for other encodings.
    func topKEntries(_ k: Int, part j: Int) -> UnsafeBufferPointer<UInt32> {
        guard isTopK else { return UnsafeBufferPointer(start: nil, count: 0) }
        return UnsafeBufferPointer(start: setIndices[k] + j * keptPerPart, count: setCount[k][j])
    }

    /// Worker `k`'s decoded gradient, allocated (zero-filled) the first time it is asked for.
    private func dense(_ k: Int) -> UnsafeMutablePointer<Float> {
        if let b = decoded[k] { return b.baseAddress! }
        let b = UnsafeMutableBufferPointer<Float>.allocate(capacity: max(parameterCount, 1))
        b.initialize(repeating: 0)
        decoded[k] = b
        return b.baseAddress!
    }

    /// How many workers' decoded gradients are allocated (P floats each).
    var denseBuffers: Int { decoded.reduce(0) { $0 + ($1 == nil ? 0 : 1) } }

    /// `topk`: the values of `topKEntries(k, part: j)`, in the same order.
    func topKValues(_ k: Int, part j: Int) -> UnsafeBufferPointer<Float> {
        guard isTopK else { return UnsafeBufferPointer(start: nil, count: 0) }
        return UnsafeBufferPointer(start: setValues[k] + j * keptPerPart, count: setCount[k][j])
    }

    /// The first value of worker `k`'s part `j`, stored as `storage` says (a `topk` part's
    /// entries are written into its buffer first, if they are not yet).
    func pointer(_ k: Int, part j: Int) -> UnsafeRawPointer {
        if keepsFrames { return UnsafeRawPointer(slots[k][j].bytes.baseAddress!) }
        let part = dense(k) + partStart[j]
        if isTopK && !written[k][j] {
            let at = j * keptPerPart, indices = setIndices[k] + at, values = setValues[k] + at
            for w in 0..<setCount[k][j] { part[Int(indices[w])] = values[w] }
            written[k][j] = true
        }
        return UnsafeRawPointer(part)
    }

    /// Releases worker `k`'s part `j` (its frame goes back to libzmq).
    func clear(_ k: Int, part j: Int) { if keepsFrames { slots[k][j].clear() } }

    /// Forgets worker `k`'s gradient: releases its parts and expects part 0 next.
    func reset(_ k: Int) {
        if keepsFrames { for j in 0..<partsReceived[k] { slots[k][j].clear() } }
        partsReceived[k] = 0
    }
}
