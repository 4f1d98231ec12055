/// IDX read in chunks (never the whole file in memory), with the same checks and messages as
/// `IDXLoader.decode`, hashing the bytes as they are read: the path `dsgd --data FILE.idx` takes.
extension IDXLoader {
    /// One IDX file read in chunks: its type, shape, its elements times `scale` (empty when not
    /// stored) and the SHA-256 of its bytes.
    struct Streamed {
        var type: ElementType
        var shape: [Int]
        var values: [Float]
        var sha256: String
    }

    /// Reads the IDX file at `path` in chunks: every check of `decode` (the header, the size, and
    /// finite elements of a float file), the SHA-256 of the bytes, and the elements times `scale`
    /// when `store` (else `values` is empty: a scan). `scale` nil: 1/255 for unsigned bytes, else 1.
    static func stream(path: String, scale: Float?, store: Bool) throws -> Streamed {
        func fail(_ offset: Int, _ message: String) -> DataFileError {
            DataFileError(file: path, message: "byte \(offset): \(message)")
        }
        let size = DataStream.size(path) ?? -1
        var header: [UInt8] = []
        var type = ElementType.uint8
        var shape: [Int] = []
        var count = 0
        var headerLength = -1
        var factor: Float = 1
        var values: [Float] = []
        var element = 0
        var carry: [UInt8] = []
        var hash = SHA256()

        func parseHeader() throws -> Bool {
            if header.count >= 2 && header[0] == 0x1F && header[1] == 0x8B { throw fail(0, "gzip-compressed (magic 0x1F 0x8B): decompress it first") }
            if header.count >= 2 && !(header[0] == 0 && header[1] == 0) {
                throw fail(0, "bad magic \(hex(header[0])) \(hex(header[1])): an IDX file starts with two zero bytes")
            }
            guard header.count >= 4 else { return false }
            guard let t = ElementType(rawValue: header[2]) else {
                let known = ElementType.allCases.map { "\(hex($0.rawValue)) \($0.name)" }.joined(separator: ", ")
                throw fail(2, "unknown element type \(hex(header[2])) (known: \(known))")
            }
            let dims = Int(header[3])
            guard dims > 0 else { throw fail(3, "zero dimensions") }
            let need = 4 + 4 * dims
            guard header.count >= need else { return false }
            type = t
            count = 1
            for k in 0..<dims {
                var s = 0
                for b in header[(4 + 4 * k)..<(8 + 4 * k)] { s = s << 8 | Int(b) }
                shape.append(s)
                let (product, overflow) = count.multipliedReportingOverflow(by: s)
                guard !overflow && product <= Int(Int32.max) else { throw fail(4 + 4 * k, "sizes \(shapeText(shape)) hold too many elements") }
                count = product
            }
            headerLength = need
            let expected = need + count * type.byteCount
            if size >= 0 {
                guard size >= expected else {
                    throw fail(size, "truncated: \(shapeText(shape)) \(type.name)s need \(count * type.byteCount) data bytes after the \(need)-byte header, the file has \(size - need)")
                }
                guard size == expected else { throw fail(expected, "\(size - expected) unexpected bytes after the data") }
            }
            factor = scale ?? (type == .uint8 ? 1 / 255 : 1)
            if store { values.reserveCapacity(count) }
            return true
        }

        @inline(__always) func take(_ p: UnsafePointer<UInt8>) throws {
            let v: Float
            switch type {
            case .uint8: v = Float(p[0]) * factor
            case .int8: v = Float(Int8(bitPattern: p[0])) * factor
            case .int16: v = Float(Int16(bitPattern: UInt16(p[0]) << 8 | UInt16(p[1]))) * factor
            case .int32:
                let u = UInt32(p[0]) << 24 | UInt32(p[1]) << 16 | UInt32(p[2]) << 8 | UInt32(p[3])
                v = Float(Int32(bitPattern: u)) * factor
            case .float32, .float64:
                var u: UInt64 = 0
                for k in 0..<type.byteCount { u = u << 8 | UInt64(p[k]) }
                let x = type == .float32 ? Float(bitPattern: UInt32(u)) : Float(Double(bitPattern: u))
                guard x.isFinite else { throw fail(headerLength + element * type.byteCount, "element \(element) is \(x), not a finite number") }
                v = x * factor
            }
            if store { values.append(v) }
            element += 1
        }

        var offset = 0
        try withUnsafeMutablePointer(to: &hash) { h in
            try DataStream.forEachChunk(.file(path), file: path, hash: h) { chunk in
                var i = 0
                while headerLength < 0 && i < chunk.count {
                    header.append(chunk[i])
                    i += 1
                    if header.count >= 2, try parseHeader() { break }
                }
                if headerLength < 0 { offset += chunk.count; return }
                let width = type.byteCount
                guard let base = chunk.baseAddress else { return }
                if !carry.isEmpty {
                    while carry.count < width && i < chunk.count { carry.append(chunk[i]); i += 1 }
                    if carry.count == width {
                        try carry.withUnsafeBufferPointer { try take($0.baseAddress!) }
                        carry.removeAll(keepingCapacity: true)
                    }
                }
                while chunk.count - i >= width && element < count {
                    try take(base + i)
                    i += width
                }
                while i < chunk.count { carry.append(chunk[i]); i += 1 }
                offset += chunk.count
            }
        }
        if headerLength < 0 {
            if header.count < 4 { throw fail(header.count, "too short for an IDX header (\(header.count) bytes, need at least 4)") }
            let dims = Int(header[3])
            throw fail(header.count, "truncated header: \(dims) dimension sizes need \(4 + 4 * dims) bytes, the file has \(header.count)")
        }
        guard element == count, carry.isEmpty else { throw DataFileError(file: path, message: "the file changed while it was read") }
        return Streamed(type: type, shape: shape, values: values, sha256: hash.finalizeHex())
    }
}
