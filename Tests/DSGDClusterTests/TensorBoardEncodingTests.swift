import DSGDCluster
import XCTest

/// CRC32C, the protobuf encoder and TFRecord framing against published check values and against
/// bytes produced by the `tensorboard` Python package (its `event_pb2` protobufs, `masked_crc32c`
/// and `RecordWriter`), hard-coded here.
final class TensorBoardEncodingTests: XCTestCase {
    private func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

    func testCRC32CCheckValues() {
        // The CRC catalogue's check value, and the iSCSI (RFC 3720 B.4) test vectors.
        XCTAssertEqual(CRC32C.checksum(Array("123456789".utf8)), 0xE306_9283)
        XCTAssertEqual(CRC32C.checksum([UInt8]()), 0)
        XCTAssertEqual(CRC32C.checksum([UInt8](repeating: 0, count: 32)), 0x8A91_36AA)
        XCTAssertEqual(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)), 0x62A8_AB43)
        XCTAssertEqual(CRC32C.checksum((0..<32).map { UInt8($0) }), 0x46DD_794E)
        XCTAssertEqual(CRC32C.checksum((0..<32).map { UInt8(31 - $0) }), 0x113F_DB5C)
    }

    func testMaskedCRC32CAgainstTensorBoard() {
        // tensorboard.compat.tensorflow_stub.pywrap_tensorflow.masked_crc32c of the same bytes.
        XCTAssertEqual(CRC32C.maskedChecksum(Array("123456789".utf8)), 0xC78A_B0E5)
        XCTAssertEqual(CRC32C.maskedChecksum([UInt8](repeating: 0, count: 8)), 0x0798_0329)
        XCTAssertEqual(CRC32C.maskedChecksum([24, 0, 0, 0, 0, 0, 0, 0]), 0x224B_7FA3)
        // The mask rotates right by 15 and adds a constant, wrapping.
        XCTAssertEqual(CRC32C.masked(0), 0xA282_EAD8)
        XCTAssertEqual(CRC32C.masked(0x0000_8000), 0xA282_EAD9)
        XCTAssertEqual(CRC32C.masked(0xFFFF_FFFF), 0xA282_EAD7)
    }

    func testVarintsAndFieldKeys() {
        func varint(_ v: UInt64) -> [UInt8] { var w = ProtobufWriter(); w.appendVarint(v); return w.bytes }
        XCTAssertEqual(varint(0), [0x00])
        XCTAssertEqual(varint(1), [0x01])
        XCTAssertEqual(varint(127), [0x7F])
        XCTAssertEqual(varint(128), [0x80, 0x01])
        XCTAssertEqual(varint(300), [0xAC, 0x02])  // the protobuf encoding guide's example
        XCTAssertEqual(varint(UInt64.max), [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01])
        var w = ProtobufWriter()
        w.appendInt64(field: 2, -1)
        XCTAssertEqual(hex(w.bytes), "10ffffffffffffffffff01")  // event_pb2.Event(step=-1)
        w = ProtobufWriter()
        w.appendFloat(field: 2, 0.25)
        XCTAssertEqual(hex(w.bytes), "150000803e")
        w = ProtobufWriter()
        w.appendString(field: 1, "loss")
        XCTAssertEqual(hex(w.bytes), "0a046c6f7373")
    }

    func testEventsAndRecordsEqualTensorBoardsOwnBytes() {
        // RecordWriter(event_pb2.Event(wall_time=1700000000.25, file_version="brain.Event:2")), then
        // RecordWriter(event_pb2.Event(wall_time=1.5, step=7, summary={value: [{tag: "loss", simple_value: 0.25}]})).
        var first = TensorBoardWriter(wallTime: 1_700_000_000.25)
        let versionEvent = "0900001040fc54d9411a0d627261696e2e4576656e743a32"
        XCTAssertEqual(hex(Array(first.bytes[12..<(first.bytes.count - 4)])), versionEvent)
        XCTAssertEqual(first.bytes.count, 12 + versionEvent.count / 2 + 4)
        let start = first.bytes.count
        first.appendScalars([(tag: "loss", value: 0.25)], step: 7, wallTime: 1.5)
        XCTAssertEqual(hex(Array(first.bytes[start...])),
                       "1a00000000000000129bd82d09000000000000f83f10072a0d0a0b0a046c6f7373150000803ec9d07b8d")
    }

    func testFileName() {
        XCTAssertEqual(TensorBoardWriter.fileName(wallTime: 1_700_000_000.9, host: "box"), "events.out.tfevents.1700000000.box")
        XCTAssertEqual(TensorBoardWriter.fileName(wallTime: 5, host: "a/b"), "events.out.tfevents.5.a_b")
    }
}
