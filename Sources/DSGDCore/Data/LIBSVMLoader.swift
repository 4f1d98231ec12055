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
        let bytes = try DataFileIO.read(path)
        return try bytes.withUnsafeBufferPointer { try parse($0, file: path, features: features) }
    }

    /// Loads LIBSVM `text` as if read from a file called `fileName` (the name errors show).
    public static func load(text: String, fileName: String = "<text>", features: Int = 0) throws -> Dataset {
        let bytes = Array(text.utf8)
        return try bytes.withUnsafeBufferPointer { try parse($0, file: fileName, features: features) }
    }

    /// Largest accepted feature index (Int32.max); a dense matrix must also stay below 2^31 floats.
    static let maxIndex = Int(Int32.max)

    static func parse(_ bytes: UnsafeBufferPointer<UInt8>, file: String, features minimum: Int) throws -> Dataset {
        precondition(minimum >= 0, "features must not be negative")
        // The sparse rows first (the dimension is known only at the end), then one dense fill.
        var targets: [Float] = []
        var rowStart: [Int] = [0]
        var indices: [Int32] = []
        var values: [Float] = []
        var dimension = minimum

        var line = 1
        var lineStart = 0
        while lineStart < bytes.count {
            var stop = lineStart
            while stop < bytes.count && bytes[stop] != 0x0A { stop += 1 }
            var contentEnd = lineStart
            while contentEnd < stop && bytes[contentEnd] != 0x23 { contentEnd += 1 }  // '#'
            var token = 0
            var previous = 0
            var a = lineStart
            while true {
                while a < contentEnd && isSeparator(bytes[a]) { a += 1 }
                if a >= contentEnd { break }
                var b = a
                while b < contentEnd && !isSeparator(bytes[b]) { b += 1 }
                token += 1
                let text = UnsafeBufferPointer(rebasing: bytes[a..<b])
                func fail(_ message: String) -> DataFileError {
                    DataFileError(file: file, line: line, column: token, message: message)
                }
                if token == 1 {
                    guard let label = DataFileIO.parseFloat(text) else {
                        throw fail("expected a numeric label, found \(DataFileIO.quoted(text))")
                    }
                    guard label.isFinite else { throw fail("expected a finite label, found \(DataFileIO.quoted(text))") }
                    targets.append(label)
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
                    indices.append(Int32(index - 1))
                    values.append(value)
                }
                a = b
            }
            if token > 0 {
                rowStart.append(indices.count)
                dimension = max(dimension, previous)
            }
            lineStart = stop + 1
            line += 1
        }

        let n = targets.count
        guard n > 0 else { throw DataFileError(file: file, message: "no examples (every line is blank or a comment)") }
        let (cells, overflow) = n.multipliedReportingOverflow(by: dimension)
        guard !overflow && cells <= Int(Int32.max) else {
            throw DataFileError(file: file, message: "a dense \(n) x \(dimension) matrix is too large")
        }
        var dense = [Float](repeating: 0, count: cells)
        for i in 0..<n {
            for k in rowStart[i]..<rowStart[i + 1] { dense[i * dimension + Int(indices[k])] = values[k] }
        }
        return Dataset(examples: n, dimension: dimension, features: dense, targets: targets)
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
