@testable import DSGDCluster
import XCTest
import ZeroMQ

/// A `topk` inbox holds each part as the entries its payload sets; read densely (`pointer`, as
/// the dense step, `--noise-scale` and `--max-gradient-norm` read it) a part is those entries and
/// zero elsewhere, and a later payload of the part clears what an earlier one wrote, whether it
/// was read densely in between or not. The dense buffer exists only once something reads it.
final class GradientInboxTests: XCTestCase {
    private let n = 100, half = 50
    private let codec = GradientCodec.topk(0.1)  // 5 entries of each part of 50

    private func partRange(_ j: Int) -> Range<Int> { j * half ..< (j + 1) * half }

    /// Gradient values with large entries at `large` (the ones top-k keeps), small ones elsewhere.
    private func gradient(large: [Int], seed: Float) -> [Float] {
        (0..<n).map { i in large.contains(i) ? (i % 2 == 0 ? 1 : -1) * (10 + Float(i) + seed) : Float(i % 7) * 0.01 * seed }
    }

    /// The top-k payload of part `j` of `values`, as a worker encodes it.
    private func payload(_ values: [Float], part j: Int) -> [UInt8] {
        let part = Array(values[partRange(j)])
        var payload = [UInt8](repeating: 0, count: codec.payloadBytes(count: half))
        var scratch = [Float](repeating: 0, count: half)
        part.withUnsafeBufferPointer { p in payload.withUnsafeMutableBytes { out in scratch.withUnsafeMutableBufferPointer { s in
            codec.encode(p, into: out.baseAddress!, scratch: s.baseAddress!)
        } } }
        return payload
    }

    /// Sends `values` as one worker's gradient in two top-k parts.
    private func send(_ values: [Float], to inbox: GradientInbox) throws {
        for j in 0..<2 {
            let payload = payload(values, part: j)
            let frame = ZMQMessage()
            try payload.withUnsafeBytes { try frame.set(copying: $0) }
            let h = MessageHeader(type: .gradient, workerID: 0, count: UInt32(j * half), payloadLength: UInt32(payload.count),
                                  flags: Wire.flags(last: j == 1, codec: codec))
            _ = try inbox.accept(h, from: 0, frame: frame, range: partRange)
        }
        inbox.reset(0)
    }

    /// What the receiver of `values` sees: the top-k entries, zero elsewhere.
    private func sent(_ values: [Float]) throws -> [Float] {
        var out = [Float](repeating: 0, count: n)
        for j in 0..<2 {
            try payload(values, part: j).withUnsafeBytes { b in try out.withUnsafeMutableBufferPointer { try codec.decode(b, count: half, into: $0.baseAddress! + j * half) } }
        }
        return out
    }

    private func dense(_ inbox: GradientInbox) -> [Float] {
        (0..<2).flatMap { j in Array(UnsafeBufferPointer(start: inbox.pointer(0, part: j).assumingMemoryBound(to: Float.self), count: half)) }
    }

    private func held(_ inbox: GradientInbox) -> [Float] {
        var out = [Float](repeating: 0, count: n)
        for j in 0..<2 {
            for (e, v) in zip(inbox.topKEntries(0, part: j), inbox.topKValues(0, part: j)) { out[j * half + Int(e)] = v }
        }
        return out
    }

    func testTopKPartsHoldTheLastPayloadReadDenselyOrNot() throws {
        let inbox = GradientInbox(workers: 1, parts: 2, parameterCount: n, partRange: partRange, codec: codec)
        let first = gradient(large: [1, 4, 9, 16, 25, 52, 60, 77, 81, 99], seed: 1)
        let second = gradient(large: [0, 3, 8, 15, 24, 50, 61, 70, 88, 98], seed: 2)
        let third = gradient(large: [2, 5, 10, 17, 26, 51, 62, 71, 89, 97], seed: 3)

        try send(first, to: inbox)
        XCTAssertEqual(held(inbox).map(\.bitPattern), try sent(first).map(\.bitPattern), "the entries held")
        XCTAssertEqual(inbox.denseBuffers, 0, "no dense buffer until one is read")
        XCTAssertEqual(dense(inbox).map(\.bitPattern), try sent(first).map(\.bitPattern), "read densely")
        XCTAssertEqual(inbox.denseBuffers, 1)

        try send(second, to: inbox)
        XCTAssertEqual(held(inbox).map(\.bitPattern), try sent(second).map(\.bitPattern))
        // Not read densely now: the third payload must still clear what the first wrote.
        try send(third, to: inbox)
        XCTAssertEqual(held(inbox).map(\.bitPattern), try sent(third).map(\.bitPattern))
        XCTAssertEqual(dense(inbox).map(\.bitPattern), try sent(third).map(\.bitPattern), "only the last payload's entries")
        XCTAssertEqual(dense(inbox).map(\.bitPattern), try sent(third).map(\.bitPattern), "a second dense read writes nothing new")
    }
}
