import DSGDCluster
import XCTest

final class WireFormatTests: XCTestCase {
    func testHeaderLayoutIsExact() {
        let h = MessageHeader(type: .gradient, workerID: 3, count: 32, step: 0x0102_0304_0506_0708, payloadLength: 132, value: 1.5)
        let expected: [UInt8] = [
            0x44, 0x53, 0x47, 0x44,  // "DSGD"
            3, 5, 0, 0,              // version, type, flags
            3, 0, 0, 0,              // worker id
            32, 0, 0, 0,             // count
            8, 7, 6, 5, 4, 3, 2, 1,  // step
            132, 0, 0, 0,            // payload length
            0x00, 0x00, 0xC0, 0x3F,  // 1.5 as float32
        ]
        XCTAssertEqual(h.bytes, expected)
    }

    func testEveryTypeRoundTrips() throws {
        for type in MessageType.allCases {
            let payload: [UInt8] = type.hasPayload ? [1, 2, 3, 4] : []
            let h = MessageHeader(type: type, workerID: 7, count: 1, step: 99, payloadLength: UInt32(payload.count), value: -2)
            let decoded = try h.bytes.withUnsafeBytes { hb in
                try payload.withUnsafeBytes { pb in
                    try MessageHeader.decode(frames: type.hasPayload ? 2 : 1, header: hb, payload: type.hasPayload ? pb : nil)
                }
            }
            XCTAssertEqual(decoded, h)
        }
    }

    func decodeError(_ bytes: [UInt8], frames: Int = 1, payload: [UInt8]? = nil) -> ProtocolError? {
        do {
            _ = try bytes.withUnsafeBytes { hb in
                try (payload ?? []).withUnsafeBytes { pb in
                    try MessageHeader.decode(frames: frames, header: hb, payload: payload == nil ? nil : pb)
                }
            }
            return nil
        } catch let e as ProtocolError {
            return e
        } catch {
            XCTFail("unexpected error \(error)")
            return nil
        }
    }

    func testMalformedHeadersAreRejectedWithTheReason() {
        let hello = MessageHeader(type: .hello, workerID: 0).bytes
        XCTAssertEqual(decodeError(Array(hello.prefix(31))), .badHeaderSize(31))
        XCTAssertEqual(decodeError(hello + [0]), .badHeaderSize(33))
        XCTAssertEqual(decodeError([]), .badHeaderSize(0))
        var badMagic = hello
        badMagic[0] = 0x58
        XCTAssertEqual(decodeError(badMagic), .badMagic(0x4447_5358))
        var v1 = hello
        v1[4] = 1
        XCTAssertEqual(decodeError(v1), .unsupportedVersion(1), "version 1 had no READY: a version 1 worker would never start")
        var v2 = hello
        v2[4] = 2
        XCTAssertEqual(decodeError(v2), .unsupportedVersion(2), "version 2 had no encodings: a version 2 worker would send float32 to a compressing job")
        var v4 = hello
        v4[4] = 4
        XCTAssertEqual(decodeError(v4), .unsupportedVersion(4))
        var t0 = hello
        t0[5] = 0
        XCTAssertEqual(decodeError(t0), .unknownType(0))
        var t99 = hello
        t99[5] = 99
        XCTAssertEqual(decodeError(t99), .unknownType(99))
    }

    func testFrameCountAndLengthAreChecked() {
        // HELLO carries no payload: a second frame is an error.
        XCTAssertEqual(decodeError(MessageHeader(type: .hello, workerID: 0).bytes, frames: 2, payload: [1]),
                       .wrongFrameCount(type: .hello, got: 2, expected: 1))
        // GRADIENT needs its payload frame.
        let g = MessageHeader(type: .gradient, workerID: 0, payloadLength: 8).bytes
        XCTAssertEqual(decodeError(g, frames: 1), .wrongFrameCount(type: .gradient, got: 1, expected: 2))
        // Declared 8 bytes, sent 4.
        XCTAssertEqual(decodeError(g, frames: 2, payload: [0, 0, 0, 0]), .lengthMismatch(declared: 8, actual: 4))
        XCTAssertNil(decodeError(g, frames: 2, payload: [UInt8](repeating: 0, count: 8)))
    }

    func testErrorsReadAsSentences() {
        XCTAssertEqual("\(ProtocolError.unsupportedVersion(9))", "protocol version 9 is not supported (this build speaks 3)")
        XCTAssertEqual("\(ProtocolError.lengthMismatch(declared: 8, actual: 4))",
                       "header declares a 8-byte payload but the payload frame has 4 bytes")
    }

    func testStatsAndNormalizeRoundTripWithTheirPayloads() throws {
        XCTAssertEqual(MessageType.stats.rawValue, 9)
        XCTAssertEqual(MessageType.normalize.rawValue, 10)
        XCTAssertTrue(MessageType.stats.hasPayload)
        XCTAssertTrue(MessageType.normalize.hasPayload)
        // STATS request: u32 indices; answer: f64 [count, sums, products]; NORMALIZE: f64 [mean, matrix].
        let indices: [UInt32] = [3, 4, 5]
        let request = indices.flatMap { i in withUnsafeBytes(of: i.littleEndian) { Array($0) } }
        let answer = [3.0, 1.5, -2, 4, 0.5, 0.5, 9].flatMap { x in withUnsafeBytes(of: x.bitPattern.littleEndian) { Array($0) } }
        for (type, count, payload) in [(MessageType.stats, UInt32(3), request), (.stats, 3, answer), (.normalize, 0, answer)] {
            let h = MessageHeader(type: type, workerID: 2, count: count, payloadLength: UInt32(payload.count))
            XCTAssertEqual(h.bytes[5], type.rawValue)
            let decoded = try h.bytes.withUnsafeBytes { hb in
                try payload.withUnsafeBytes { pb in try MessageHeader.decode(frames: 2, header: hb, payload: pb) }
            }
            XCTAssertEqual(decoded, h)
            XCTAssertEqual(decodeError(h.bytes, frames: 1), .wrongFrameCount(type: type, got: 1, expected: 2))
        }
        XCTAssertEqual("\(ProtocolError.wrongPayloadSize(type: .stats, got: 8, expected: 56))", "stats payload has 8 bytes, expected 56")
    }
}
