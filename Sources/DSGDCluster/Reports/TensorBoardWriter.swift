import Foundation

/// Writes TensorBoard event files: TFRecord-framed `tensorflow.Event` protocol buffers, encoded by
/// hand (no TensorFlow, no protobuf library).
///
/// A record is `uint64 length | uint32 masked_crc32c(length) | data | uint32 masked_crc32c(data)`,
/// all little-endian. The first event carries `file_version = "brain.Event:2"`; every later one a
/// `wall_time`, a `step` and a `Summary` of scalar values:
///
///     Event   { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5; }
///     Summary { repeated Value value = 1; }
///     Value   { string tag = 1; float simple_value = 2; }
public struct TensorBoardWriter {
    /// The encoded file so far.
    public private(set) var bytes: [UInt8] = []

    /// Starts a file with the version record, stamped `wallTime` (seconds since 1970).
    public init(wallTime: Double) {
        var event = ProtobufWriter()
        event.appendDouble(field: 1, wallTime)
        event.appendString(field: 3, "brain.Event:2")
        appendRecord(event.bytes)
    }

    /// The conventional file name, `events.out.tfevents.<unix seconds>.<host>` (TensorBoard reads
    /// every file whose name contains `tfevents`).
    public static func fileName(wallTime: Double, host: String) -> String {
        let safeHost = String(host.map { $0 == "/" ? "_" : $0 })
        return "events.out.tfevents.\(Int64(wallTime.rounded(.down))).\(safeHost)"
    }

    /// Appends one event holding the scalars `values` (tag, value) at `step`.
    public mutating func appendScalars(_ values: [(tag: String, value: Float)], step: Int64, wallTime: Double) {
        var summary = ProtobufWriter()
        for (tag, value) in values {
            var v = ProtobufWriter()
            v.appendString(field: 1, tag)
            v.appendFloat(field: 2, value)
            summary.appendMessage(field: 1, v)
        }
        var event = ProtobufWriter()
        event.appendDouble(field: 1, wallTime)
        event.appendInt64(field: 2, step)
        event.appendMessage(field: 5, summary)
        appendRecord(event.bytes)
    }

    /// Appends `data` framed as one TFRecord.
    public mutating func appendRecord(_ data: [UInt8]) {
        var length: [UInt8] = []
        for i in 0..<8 { length.append(UInt8(truncatingIfNeeded: UInt64(data.count) >> (8 * UInt64(i)))) }
        bytes += length
        appendUInt32(CRC32C.maskedChecksum(length))
        bytes += data
        appendUInt32(CRC32C.maskedChecksum(data))
    }

    /// Writes the file to `url` (replacing it).
    public func write(to url: URL) throws {
        try Data(bytes).write(to: url, options: .atomic)
    }

    private mutating func appendUInt32(_ v: UInt32) {
        for i in 0..<4 { bytes.append(UInt8(truncatingIfNeeded: v >> (8 * UInt32(i)))) }
    }
}
