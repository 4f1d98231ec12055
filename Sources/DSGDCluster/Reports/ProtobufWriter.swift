/// A minimal protocol-buffers encoder: enough wire format (varints, 64-bit, 32-bit and
/// length-delimited fields) to write TensorBoard's `Event` and `Summary` messages by hand.
///
/// Fields are appended in the order called; protobuf readers accept any order.
public struct ProtobufWriter {
    /// Protobuf wire types (the low three bits of a field key).
    public enum WireType: UInt64 {
        case varint = 0, fixed64 = 1, lengthDelimited = 2, fixed32 = 5
    }

    /// The encoded message so far.
    public private(set) var bytes: [UInt8] = []

    public init() {}

    /// Appends `value` as a base-128 varint (seven bits a byte, least significant group first).
    public mutating func appendVarint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    /// Appends a field key: `(field << 3) | wireType`.
    public mutating func appendKey(field: Int, _ wireType: WireType) {
        appendVarint(UInt64(field) << 3 | wireType.rawValue)
    }

    /// A `double` field (wire type 1, eight little-endian bytes).
    public mutating func appendDouble(field: Int, _ value: Double) {
        appendKey(field: field, .fixed64)
        appendLittleEndian(value.bitPattern, count: 8)
    }

    /// A `float` field (wire type 5, four little-endian bytes).
    public mutating func appendFloat(field: Int, _ value: Float) {
        appendKey(field: field, .fixed32)
        appendLittleEndian(UInt64(value.bitPattern), count: 4)
    }

    /// An `int64` field (wire type 0; negative values take ten bytes, as protobuf specifies).
    public mutating func appendInt64(field: Int, _ value: Int64) {
        appendKey(field: field, .varint)
        appendVarint(UInt64(bitPattern: value))
    }

    /// A `string` field (wire type 2, UTF-8).
    public mutating func appendString(field: Int, _ value: String) {
        appendBytes(field: field, Array(value.utf8))
    }

    /// A `bytes` field or an embedded message (wire type 2: length varint, then the bytes).
    public mutating func appendBytes(field: Int, _ value: [UInt8]) {
        appendKey(field: field, .lengthDelimited)
        appendVarint(UInt64(value.count))
        bytes.append(contentsOf: value)
    }

    /// An embedded message field.
    public mutating func appendMessage(field: Int, _ message: ProtobufWriter) {
        appendBytes(field: field, message.bytes)
    }

    private mutating func appendLittleEndian(_ value: UInt64, count: Int) {
        for i in 0..<count { bytes.append(UInt8(truncatingIfNeeded: value >> (8 * UInt64(i)))) }
    }
}
