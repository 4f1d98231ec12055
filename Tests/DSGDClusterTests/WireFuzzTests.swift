import DSGDCluster
import XCTest

/// The message decoder against random byte strings and mutated valid messages, for a bounded
/// time: it never crashes, rejects with a `ProtocolError` whatever is not a well-formed message,
/// and whatever it accepts re-encodes to exactly the bytes it was given.
final class WireFuzzTests: XCTestCase {
    /// A seeded generator (SplitMix64), so a failure can be replayed.
    struct Rng {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    }

    /// Decodes `header` with a payload of `payloadLength` bytes (nil: no payload frame) and
    /// checks the outcome; returns whether it was accepted.
    func check(_ header: [UInt8], payload: Int?) -> Bool {
        let payloadBytes = payload.map { [UInt8](repeating: 7, count: $0) }
        let frames = payload == nil ? 1 : 2
        do {
            let h = try header.withUnsafeBytes { hb in
                try (payloadBytes ?? []).withUnsafeBytes { pb in
                    try MessageHeader.decode(frames: frames, header: hb, payload: payloadBytes == nil ? nil : pb)
                }
            }
            XCTAssertEqual(h.bytes, header, "an accepted header re-encodes to the bytes it came from")
            XCTAssertEqual(h.type.hasPayload ? 2 : 1, frames)
            XCTAssertEqual(Int(h.payloadLength), h.type.hasPayload ? (payload ?? -1) : 0)
            return true
        } catch {
            return false  // a ProtocolError, by the decoder's typed throws
        }
    }

    func testRandomBytesAndMutatedMessagesNeverCrashTheDecoder() {
        var rng = Rng(state: 20261201)
        let deadline = Date().addingTimeInterval(3)
        var random = 0, mutated = 0, accepted = 0
        // Random byte strings of every small length, with and without a payload frame.
        while Date() < deadline && random < 200_000 {
            let n = rng.below(3) == 0 ? Wire.headerSize : rng.below(70)
            let bytes = (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            if check(bytes, payload: rng.below(2) == 0 ? nil : rng.below(64)) { accepted += 1 }
            random += 1
        }
        // Valid messages of every type, then mutated: bits flipped, fields set to extremes,
        // frames dropped or added, payloads of the wrong length.
        let extremes: [UInt32] = [0, 1, UInt32.max, UInt32(Int32.max), 0x8000_0000]
        var acceptedMutants = 0
        while Date() < deadline.addingTimeInterval(3) && mutated < 200_000 {
            let type = MessageType.allCases[rng.below(MessageType.allCases.count)]
            let length = type.hasPayload ? rng.below(48) : 0
            var header = MessageHeader(type: type, workerID: UInt32(rng.below(8)), count: UInt32(rng.below(100)),
                                       step: rng.next() % 1000, payloadLength: UInt32(length)).bytes
            XCTAssertTrue(check(header, payload: type.hasPayload ? length : nil), "the valid \(type) is accepted")
            var payload: Int? = type.hasPayload ? length : nil
            switch rng.below(4) {
            case 0:
                let bit = rng.below(8 * Wire.headerSize)
                header[bit / 8] ^= UInt8(1 << (bit % 8))
            case 1:
                let field = [8, 12, 24][rng.below(3)], v = extremes[rng.below(extremes.count)]
                for i in 0..<4 { header[field + i] = UInt8(truncatingIfNeeded: v >> (8 * i)) }
            case 2:
                payload = payload == nil ? rng.below(16) : nil
            default:
                payload = (payload ?? 0) + 1 + rng.below(8)
            }
            if check(header, payload: payload) { acceptedMutants += 1 }
            mutated += 1
        }
        XCTAssertGreaterThan(random, 10_000)
        XCTAssertGreaterThan(mutated, 10_000)
        XCTAssertLessThan(acceptedMutants, mutated, "most mutants are rejected")
        XCTAssertGreaterThan(acceptedMutants, 0, "some mutants (a flipped worker id, say) are still well formed")
        print("WireFuzzTests: \(random) random strings (\(accepted) accepted), \(mutated) mutated messages (\(acceptedMutants) accepted)")
    }
}
