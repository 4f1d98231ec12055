import ZeroMQ

/// Gradients as their parts arrive, held without a copy until a policy aggregates or drops them:
/// slot `[worker][part]` takes the received frame.
///
/// Parts arrive in order, each `chunk` floats (the last may be shorter), the last one flagged;
/// `accept` checks all of that.
final class GradientInbox {
    private let slots: [[ZMQMessage]]
    /// Per worker: parts of its current gradient received so far.
    private(set) var partsReceived: [Int]
    let parts: Int

    init(workers: Int, parts: Int) {
        self.parts = parts
        slots = (0..<workers).map { _ in (0..<parts).map { _ in ZMQMessage() } }
        partsReceived = Array(repeating: 0, count: workers)
    }

    /// Checks that `h` is the next part of worker `k`'s gradient (its offset, its size, its
    /// last-part flag) for a vector whose part `j` covers `range(j)`, and takes `frame` into its
    /// slot. Returns the part index and whether it completes the gradient.
    func accept(_ h: MessageHeader, from k: Int, frame: ZMQMessage, range: (Int) -> Range<Int>) throws(ProtocolError) -> (part: Int, last: Bool) {
        let j = partsReceived[k]
        guard j < parts else { throw .unexpectedPart(worker: h.workerID, offset: h.count, expected: -1) }
        let r = range(j)
        guard Int(h.count) == r.lowerBound else { throw .unexpectedPart(worker: h.workerID, offset: h.count, expected: r.lowerBound) }
        guard frame.count == 4 * r.count else { throw .wrongPayloadSize(type: .gradient, got: frame.count, expected: 4 * r.count) }
        let last = j == parts - 1
        guard (h.flags & Wire.lastPartFlag != 0) == last else { throw .wrongLastFlag(worker: h.workerID, offset: h.count) }
        slots[k][j].take(from: frame)
        partsReceived[k] = j + 1
        return (j, last)
    }

    /// The first float of worker `k`'s part `j`.
    func pointer(_ k: Int, part j: Int) -> UnsafeRawPointer { slots[k][j].bytes.baseAddress! }

    /// Releases worker `k`'s part `j` (its frame goes back to libzmq).
    func clear(_ k: Int, part j: Int) { slots[k][j].clear() }

    /// Forgets worker `k`'s gradient: releases its parts and expects part 0 next.
    func reset(_ k: Int) {
        for j in 0..<partsReceived[k] { slots[k][j].clear() }
        partsReceived[k] = 0
    }
}
