/// Reads and writes IDX, the format of the MNIST files: a 4-byte magic (two zero bytes, the
/// element type, the number of dimensions), one big-endian UInt32 size per dimension, then the
/// elements, big-endian, in row-major order. Errors are `DataFileError`s whose message starts with
/// the 0-based byte offset of the problem, e.g. `labels.idx1-ubyte: byte 2: unknown element type 0x07 ...`.
/// The files must be uncompressed (gunzip the `.gz` downloads first).
public enum IDXLoader {
    /// The element types of IDX: the third byte of the magic.
    public enum ElementType: UInt8, Sendable, CaseIterable {
        case uint8 = 0x08, int8 = 0x09, int16 = 0x0B, int32 = 0x0C, float32 = 0x0D, float64 = 0x0E

        /// Bytes per element.
        public var byteCount: Int {
            switch self {
            case .uint8, .int8: return 1
            case .int16: return 2
            case .int32, .float32: return 4
            case .float64: return 8
            }
        }

        /// The name the IDX description uses.
        public var name: String {
            switch self {
            case .uint8: return "unsigned byte"
            case .int8: return "signed byte"
            case .int16: return "short"
            case .int32: return "int"
            case .float32: return "float"
            case .float64: return "double"
            }
        }
    }

    /// One IDX file's contents, every element converted to `Float` (exact for the byte and short
    /// types; ints beyond 2^24 and doubles round to the nearest float).
    public struct Tensor: Sendable, Equatable {
        /// The element type stored in the file.
        public let type: ElementType
        /// The size of each dimension, outermost first.
        public let shape: [Int]
        /// The elements in row-major order (times the `scale` they were read with).
        public let values: [Float]
    }

    /// Loads an image set: `images` holds n images as n x rows x cols (or n x d) elements, `labels`
    /// holds n labels (1 dimension). Features are the pixels times `scale` (default 1/255: MNIST's
    /// unsigned bytes become 0...1), row-major; targets are the labels as read.
    public static func load(images: String, labels: String, scale: Float = 1 / 255) throws -> Dataset {
        let x = try read(path: images, scale: scale)
        guard x.shape.count == 2 || x.shape.count == 3 else {
            throw DataFileError(file: images, message: "byte 3: images need 3 dimensions (count, rows, columns) or 2 (count, features), found \(x.shape.count)")
        }
        let y = try read(path: labels)
        guard y.shape.count == 1 else {
            throw DataFileError(file: labels, message: "byte 3: labels need 1 dimension, found \(y.shape.count)")
        }
        let n = x.shape[0]
        guard y.shape[0] == n else {
            throw DataFileError(file: labels, message: "byte 4: \(y.shape[0]) labels for \(n) images in \(images)")
        }
        guard n > 0 else { throw DataFileError(file: images, message: "byte 4: no images") }
        let d = x.values.count / n
        guard d > 0 else { throw DataFileError(file: images, message: "byte 8: the images have no pixels (shape \(shapeText(x.shape)))") }
        return Dataset(examples: n, dimension: d, features: x.values, targets: y.values)
    }

    /// Reads any IDX file, multiplying every element by `scale`.
    public static func read(path: String, scale: Float = 1) throws -> Tensor {
        let bytes = try DataFileIO.read(path)
        return try bytes.withUnsafeBufferPointer { try decode($0, file: path, scale: scale) }
    }

    /// Writes `values` as an IDX file of `shape` and element `type` (replacing `path`). Throws if
    /// the shape does not hold `values.count` elements or a value is not exactly representable in
    /// `type` (e.g. 1.5 or 256 as `.uint8`).
    public static func write(_ values: [Float], shape: [Int], type: ElementType = .uint8, to path: String) throws {
        guard (1...255).contains(shape.count), shape.allSatisfy({ (0...Int(UInt32.max)).contains($0) }) else {
            throw DataFileError(file: path, message: "IDX needs 1 to 255 dimensions of 0...\(UInt32.max) each, got \(shapeText(shape))")
        }
        guard shape.reduce(1, *) == values.count else {
            throw DataFileError(file: path, message: "shape \(shapeText(shape)) holds \(shape.reduce(1, *)) elements, got \(values.count)")
        }
        var out: [UInt8] = [0, 0, type.rawValue, UInt8(shape.count)]
        out.reserveCapacity(4 + 4 * shape.count + values.count * type.byteCount)
        for s in shape { appendBigEndian(UInt64(s), bytes: 4, to: &out) }
        for (i, v) in values.enumerated() {
            let fits: Bool
            switch type {
            case .uint8: fits = v == v.rounded() && v >= 0 && v <= 255
            case .int8: fits = v == v.rounded() && v >= -128 && v <= 127
            case .int16: fits = v == v.rounded() && v >= -32768 && v <= 32767
            case .int32: fits = v == v.rounded() && v >= -2_147_483_648 && v < 2_147_483_648
            case .float32, .float64: fits = true
            }
            guard fits else {
                throw DataFileError(file: path, message: "value \(v) at element \(i) is not representable as \(type.name)")
            }
            switch type {
            case .uint8: out.append(UInt8(v))
            case .int8: out.append(UInt8(bitPattern: Int8(v)))
            case .int16: appendBigEndian(UInt64(UInt16(bitPattern: Int16(v))), bytes: 2, to: &out)
            case .int32: appendBigEndian(UInt64(UInt32(bitPattern: Int32(v))), bytes: 4, to: &out)
            case .float32: appendBigEndian(UInt64(v.bitPattern), bytes: 4, to: &out)
            case .float64: appendBigEndian(Double(v).bitPattern, bytes: 8, to: &out)
            }
        }
        try DataFileIO.write(out, to: path)
    }

    static func decode(_ bytes: UnsafeBufferPointer<UInt8>, file: String, scale: Float) throws -> Tensor {
        func fail(_ offset: Int, _ message: String) -> DataFileError {
            DataFileError(file: file, message: "byte \(offset): \(message)")
        }
        let size = bytes.count
        guard size >= 4 else { throw fail(0, "too short for an IDX header (\(size) bytes, need at least 4)") }
        if bytes[0] == 0x1F && bytes[1] == 0x8B { throw fail(0, "gzip-compressed (magic 0x1F 0x8B): decompress it first") }
        guard bytes[0] == 0 && bytes[1] == 0 else {
            throw fail(0, "bad magic \(hex(bytes[0])) \(hex(bytes[1])): an IDX file starts with two zero bytes")
        }
        guard let type = ElementType(rawValue: bytes[2]) else {
            let known = ElementType.allCases.map { "\(hex($0.rawValue)) \($0.name)" }.joined(separator: ", ")
            throw fail(2, "unknown element type \(hex(bytes[2])) (known: \(known))")
        }
        let dims = Int(bytes[3])
        guard dims > 0 else { throw fail(3, "zero dimensions") }
        let header = 4 + 4 * dims
        guard size >= header else {
            throw fail(size, "truncated header: \(dims) dimension sizes need \(header) bytes, the file has \(size)")
        }
        var shape: [Int] = []
        var count = 1
        for k in 0..<dims {
            let s = Int(readBigEndian(bytes, at: 4 + 4 * k, bytes: 4))
            shape.append(s)
            let (product, overflow) = count.multipliedReportingOverflow(by: s)
            guard !overflow && product <= Int(Int32.max) else { throw fail(4 + 4 * k, "sizes \(shapeText(shape)) hold too many elements") }
            count = product
        }
        let expected = header + count * type.byteCount
        guard size >= expected else {
            throw fail(size, "truncated: \(shapeText(shape)) \(type.name)s need \(count * type.byteCount) data bytes after the \(header)-byte header, the file has \(size - header)")
        }
        guard size == expected else { throw fail(expected, "\(size - expected) unexpected bytes after the data") }

        var values = [Float](repeating: 0, count: count)
        var offset = header
        switch type {
        case .uint8: for i in 0..<count { values[i] = Float(bytes[offset + i]) * scale }
        case .int8: for i in 0..<count { values[i] = Float(Int8(bitPattern: bytes[offset + i])) * scale }
        case .int16:
            for i in 0..<count { values[i] = Float(Int16(bitPattern: UInt16(readBigEndian(bytes, at: offset + 2 * i, bytes: 2)))) * scale }
        case .int32:
            for i in 0..<count { values[i] = Float(Int32(bitPattern: UInt32(readBigEndian(bytes, at: offset + 4 * i, bytes: 4)))) * scale }
        case .float32, .float64:
            for i in 0..<count {
                let v = type == .float32
                    ? Float(bitPattern: UInt32(readBigEndian(bytes, at: offset, bytes: 4)))
                    : Float(Double(bitPattern: readBigEndian(bytes, at: offset, bytes: 8)))
                guard v.isFinite else { throw fail(offset, "element \(i) is \(v), not a finite number") }
                values[i] = v * scale
                offset += type.byteCount
            }
        }
        return Tensor(type: type, shape: shape, values: values)
    }

    @inline(__always)
    private static func readBigEndian(_ bytes: UnsafeBufferPointer<UInt8>, at offset: Int, bytes n: Int) -> UInt64 {
        var v: UInt64 = 0
        for k in 0..<n { v = v << 8 | UInt64(bytes[offset + k]) }
        return v
    }

    private static func appendBigEndian(_ v: UInt64, bytes n: Int, to out: inout [UInt8]) {
        for k in stride(from: n - 1, through: 0, by: -1) { out.append(UInt8(truncatingIfNeeded: v >> (8 * UInt64(k)))) }
    }

    static func hex(_ b: UInt8) -> String {
        let digits = Array("0123456789ABCDEF")
        return "0x" + String(digits[Int(b >> 4)]) + String(digits[Int(b & 15)])
    }

    static func shapeText(_ shape: [Int]) -> String { shape.map(String.init).joined(separator: " x ") }
}
