/// Reading and writing the little-endian numbers of payload frames (indices u32, tensors f32,
/// statistics f64; docs/PROTOCOL.md §4). Frames carry no alignment guarantee, so reads are unaligned.
extension UnsafeRawBufferPointer {
    /// The `i`-th little-endian u32 of the payload.
    func u32(_ i: Int) -> UInt32 { UInt32(littleEndian: loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)) }
    /// The `i`-th little-endian f32 of the payload.
    func f32(_ i: Int) -> Float { Float(bitPattern: u32(i)) }
    /// The `i`-th little-endian f64 of the payload.
    func f64(_ i: Int) -> Double { Double(bitPattern: UInt64(littleEndian: loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))) }
}

extension Array where Element == UInt8 {
    /// Appends `x` as 4 little-endian bytes.
    mutating func appendLittleEndian(_ x: UInt32) { Swift.withUnsafeBytes(of: x.littleEndian) { append(contentsOf: $0) } }
    /// Appends `x` as 8 little-endian bytes (IEEE 754 binary64).
    mutating func appendLittleEndian(_ x: Double) { Swift.withUnsafeBytes(of: x.bitPattern.littleEndian) { append(contentsOf: $0) } }
}
