/// Reads LIBSVM / SVMlight text into a dense `Dataset`. Each line is one example,
/// `label index:value index:value ...`, tokens separated by spaces or tabs, indices 1-based and
/// strictly increasing; features not listed are 0. Everything from a `#` to the end of the line
/// is a comment; blank and comment-only lines are skipped. Feature index k becomes column k-1,
/// and the dimension is the largest index seen (or the caller's `features`, if larger). Errors are
/// `DataFileError`s naming the file, the 1-based line and the 1-based token position (the label
/// is token 1).
public enum LIBSVMLoader {
    /// Loads the LIBSVM file at `path`, with at least `features` columns.
    public static func load(path: String, features: Int = 0) throws -> Dataset {
        try load(.file(path), file: path, features: features)
    }

    /// Loads LIBSVM `text` as if read from a file called `fileName` (the name errors show).
    public static func load(text: String, fileName: String = "<text>", features: Int = 0) throws -> Dataset {
        let bytes = Array(text.utf8)
        return try bytes.withUnsafeBufferPointer { try parse($0, file: fileName, features: features) }
    }

    /// Largest accepted feature index (Int32.max); a dense matrix must also stay below 2^31 floats.
    static let maxIndex = Int(Int32.max)

    static func parse(_ bytes: UnsafeBufferPointer<UInt8>, file: String, features minimum: Int) throws -> Dataset {
        try load(.memory(bytes), file: file, features: minimum)
    }

    /// The shape of a LIBSVM text and the SHA-256 of its bytes, from a pass that checks every line.
    struct Scan {
        var rows = 0
        /// The largest feature index seen (the dense dimension, before any minimum).
        var maxIndex = 0
        var sha256 = ""
    }

    /// Checks every line of `source` without keeping the features (a file is read in chunks):
    /// rows, largest index, targets (into `targets`, if given) and the SHA-256 of its bytes.
    static func scan(_ source: DataSource, file: String, targets: UnsafeMutablePointer<[Float]>? = nil) throws -> Scan {
        var result = Scan()
        var hash = SHA256()
        try withUnsafeMutablePointer(to: &hash) { h in
            try DataStream.forEachLine(source, file: file, hash: h) { line, number in
                guard let label = try parseLine(line, number: number, file: file, { index, _ in
                    result.maxIndex = max(result.maxIndex, index)
                }) else { return }
                result.rows += 1
                targets?.pointee.append(label)
            }
        }
        result.sha256 = hash.finalizeHex()
        guard result.rows > 0 else { throw DataFileError(file: file, message: "no examples (every line is blank or a comment)") }
        return result
    }

    /// Loads `source` in two passes: a scan for the shape (and errors), then one dense fill, so
    /// the dense matrix is the only large allocation (the sparse rows are never held). With
    /// `expectedSHA256`, a text whose hash differs is refused before the fill.
    static func load(_ source: DataSource, file: String, features minimum: Int, expectedSHA256: String? = nil,
                     mismatch: ((String) -> Error)? = nil) throws -> Dataset {
        precondition(minimum >= 0, "features must not be negative")
        let shape = try scan(source, file: file)
        if let expectedSHA256, shape.sha256 != expectedSHA256 {
            throw mismatch?(shape.sha256) ?? DataFileError(file: file, message: "SHA-256 \(shape.sha256) is not the expected \(expectedSHA256)")
        }
        let n = shape.rows
        let dimension = max(minimum, shape.maxIndex)
        let (cells, overflow) = n.multipliedReportingOverflow(by: dimension)
        guard !overflow && cells <= Int(Int32.max) else {
            throw DataFileError(file: file, message: "a dense \(n) x \(dimension) matrix is too large")
        }
        var dense = [Float](repeating: 0, count: cells)
        var targets = [Float]()
        targets.reserveCapacity(n)
        try dense.withUnsafeMutableBufferPointer { out in
            try DataStream.forEachLine(source, file: file) { line, number in
                let row = targets.count
                guard let label = try parseLine(line, number: number, file: file, { index, value in
                    guard row < n, index <= dimension else {
                        throw DataFileError(file: file, line: number, message: "the file changed while it was read")
                    }
                    out[row * dimension + index - 1] = value
                }) else { return }
                guard row < n else { throw DataFileError(file: file, line: number, message: "the file changed while it was read") }
                targets.append(label)
            }
        }
        guard targets.count == n else { throw DataFileError(file: file, message: "the file changed while it was read") }
        return Dataset(examples: n, dimension: dimension, features: dense, targets: targets)
    }

    /// Parses one line: calls `feature` with each (1-based index, value) and returns the label,
    /// or nil for a blank or comment-only line.
    static func parseLine(
        _ line: UnsafeBufferPointer<UInt8>, number line_: Int, file: String, _ feature: (Int, Float) throws -> Void
    ) throws -> Float? {
        let bytes = line
        var contentEnd = 0
        while contentEnd < bytes.count && bytes[contentEnd] != 0x23 { contentEnd += 1 }  // '#'
        var token = 0
        var previous = 0
        var label: Float? = nil
        var a = 0
        while true {
            while a < contentEnd && isSeparator(bytes[a]) { a += 1 }
            if a >= contentEnd { break }
            var b = a
            while b < contentEnd && !isSeparator(bytes[b]) { b += 1 }
            token += 1
            let text = UnsafeBufferPointer(rebasing: bytes[a..<b])
            func fail(_ message: String) -> DataFileError {
                DataFileError(file: file, line: line_, column: token, message: message)
            }
            if token == 1 {
                guard let value = DataFileIO.parseFloat(text) else {
                    throw fail("expected a numeric label, found \(DataFileIO.quoted(text))")
                }
                guard value.isFinite else { throw fail("expected a finite label, found \(DataFileIO.quoted(text))") }
                label = value
            } else {
                guard let colon = text.firstIndex(of: 0x3A), colon > 0, colon < text.count - 1 else {
                    throw fail("expected index:value, found \(DataFileIO.quoted(text))")
                }
                guard let index = parseIndex(UnsafeBufferPointer(rebasing: text[..<colon])) else {
                    throw fail("expected a positive integer index (at most \(maxIndex)) before ':', found \(DataFileIO.quoted(text))")
                }
                guard index > 0 else { throw fail("feature index 0 in \(DataFileIO.quoted(text)) (indices start at 1)") }
                guard index > previous else {
                    throw fail("feature index \(index) is not greater than the previous index \(previous)")
                }
                let valueText = UnsafeBufferPointer(rebasing: text[(colon + 1)...])
                guard let value = DataFileIO.parseFloat(valueText) else {
                    throw fail("expected a number after \"\(index):\", found \(DataFileIO.quoted(valueText))")
                }
                guard value.isFinite else { throw fail("expected a finite number, found \(DataFileIO.quoted(valueText))") }
                previous = index
                try feature(index, value)
            }
            a = b
        }
        return label
    }

    /// A decimal integer of ASCII digits only, or nil (also when above `maxIndex`).
    private static func parseIndex(_ text: UnsafeBufferPointer<UInt8>) -> Int? {
        guard !text.isEmpty else { return nil }
        var v = 0
        for c in text {
            guard c >= 0x30 && c <= 0x39 else { return nil }
            v = v * 10 + Int(c - 0x30)
            if v > maxIndex { return nil }
        }
        return v
    }

    /// Space, tab, or the `\r` of a `\r\n` line ending.
    @inline(__always)
    private static func isSeparator(_ b: UInt8) -> Bool { DataFileIO.isBlank(b) || b == 0x0D }
}
