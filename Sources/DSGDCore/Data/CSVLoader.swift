/// Which column of a CSV file holds the target.
public enum LabelColumn: Sendable, Equatable {
    /// The column whose header field is this name.
    case name(String)
    /// A 0-based column index; negative counts from the end (-1 is the last column).
    case index(Int)
}

/// A CSV file as loaded: the data set and the names the header gave its columns.
public struct CSVTable: Sendable {
    /// Features (every column but the label, in file order) and targets (the label column).
    public let data: Dataset
    /// The header names of the feature columns, in the order of `data`'s features.
    public let featureNames: [String]
    /// The header name of the label column.
    public let labelName: String
}

/// Reads numeric CSV into a `Dataset`. The first line is a header of column names; every other
/// line is one example with exactly as many fields as the header. Fields are separated by commas
/// (no quoting), may be padded with spaces or tabs, and parse as `Float` (so `Float.description`
/// output reads back bit-exact); NaN and infinities are rejected. Lines may end in `\n` or
/// `\r\n`; blank lines are allowed only at the end of the file. Errors are `DataFileError`s naming
/// the file, the 1-based line and the 1-based field number.
public enum CSVLoader {
    /// Loads the CSV file at `path`; `label` picks the target column, every other column is a feature.
    public static func load(path: String, label: LabelColumn = .name("label")) throws -> Dataset {
        try loadTable(path: path, label: label).data
    }

    /// Loads CSV `text` as if read from a file called `fileName` (the name errors show).
    public static func load(text: String, fileName: String = "<text>", label: LabelColumn = .name("label")) throws -> Dataset {
        try loadTable(text: text, fileName: fileName, label: label).data
    }

    /// Like `load(path:label:)`, and also returns the column names.
    public static func loadTable(path: String, label: LabelColumn = .name("label")) throws -> CSVTable {
        let rows = try DataStream.countLines(.file(path), file: path) + 1
        return try stream(.file(path), file: path, label: label, reserveRows: rows, storeFeatures: true)
    }

    /// Like `load(text:fileName:label:)`, and also returns the column names.
    public static func loadTable(text: String, fileName: String = "<text>", label: LabelColumn = .name("label")) throws -> CSVTable {
        let bytes = Array(text.utf8)
        return try bytes.withUnsafeBufferPointer { try parse($0, file: fileName, label: label) }
    }

    static func parse(_ bytes: UnsafeBufferPointer<UInt8>, file: String, label: LabelColumn) throws -> CSVTable {
        var rows = 1
        for b in bytes where b == 0x0A { rows += 1 }
        return try stream(.memory(bytes), file: file, label: label, reserveRows: rows, storeFeatures: true)
    }

    /// Parses CSV from `source` line by line (a file is read in chunks, never whole), hashing the
    /// bytes into `hash` if given. With `storeFeatures` false the features are checked but not
    /// kept (the table's `data` then has no features: a scan for errors, shape and targets).
    /// `reserveRows` (at least the row count, e.g. the number of newlines plus one) sizes the
    /// arrays once, so the result is the only large allocation.
    static func stream(
        _ source: DataSource, file: String, label: LabelColumn, reserveRows: Int, storeFeatures: Bool,
        hash: UnsafeMutablePointer<SHA256>? = nil
    ) throws -> CSVTable {
        func fail(_ line: Int, _ column: Int?, _ message: String) -> DataFileError {
            DataFileError(file: file, line: line, column: column, message: message)
        }
        var names: [String]? = nil
        var headerBlank = false
        var columns = 0
        var labelIndex = 0
        var firstBlank: Int? = nil
        var lastLine = 0
        var features: [Float] = []
        var targets: [Float] = []
        targets.reserveCapacity(max(reserveRows, 1))

        try DataStream.forEachLine(source, file: file, hash: hash) { raw, line in
            lastLine = line
            var bytes = raw
            if line == 1, bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF {  // UTF-8 BOM
                bytes = UnsafeBufferPointer(rebasing: bytes[3...])
            }
            let blank = isBlankLine(bytes, 0, bytes.count)
            guard names != nil else {
                if line == 1 && blank { headerBlank = true; return }
                if headerBlank {
                    if blank { return }
                    throw fail(1, nil, "the header line is empty")
                }
                let header = fields(bytes, 0, bytes.count).map { String(decoding: UnsafeBufferPointer(rebasing: bytes[$0]), as: UTF8.self) }
                names = header
                columns = header.count
                labelIndex = try resolve(label, names: header, fail: { fail(1, $0, $1) })
                guard columns > 1 else { throw fail(1, nil, "no feature columns besides the label column \"\(header[labelIndex])\"") }
                if storeFeatures { features.reserveCapacity(max(reserveRows, 1) * (columns - 1)) }
                return
            }
            if blank {
                if firstBlank == nil { firstBlank = line }
                return
            }
            if let b = firstBlank { throw fail(b, 1, "empty line (expected \(columns) fields)") }
            let stop = bytes.count
            var found = 1
            for i in 0..<stop where bytes[i] == 0x2C { found += 1 }
            if found != columns {
                throw fail(line, min(found, columns) + 1, "expected \(columns) fields, found \(found)")
            }
            var column = 0
            var a = 0
            while column < columns {
                var b = a
                while b < stop && bytes[b] != 0x2C { b += 1 }
                let field = UnsafeBufferPointer(rebasing: bytes[trim(bytes, a, b)])
                guard let value = DataFileIO.parseFloat(field) else {
                    throw fail(line, column + 1, field.isEmpty
                        ? "expected a number, found an empty field" : "expected a number, found \(DataFileIO.quoted(field))")
                }
                guard value.isFinite else {
                    throw fail(line, column + 1, "expected a finite number, found \(DataFileIO.quoted(field))")
                }
                if column == labelIndex { targets.append(value) } else if storeFeatures { features.append(value) }
                column += 1
                a = b + 1
            }
        }
        guard let names else { throw fail(1, nil, "empty file (expected a header line)") }
        guard !targets.isEmpty else { throw fail(2, nil, "no data rows after the header") }
        _ = lastLine
        var featureNames = names
        featureNames.remove(at: labelIndex)
        let data = storeFeatures
            ? Dataset(examples: targets.count, dimension: columns - 1, features: features, targets: targets)
            : Dataset(examples: targets.count, dimension: 0, features: [], targets: targets)
        return CSVTable(data: data, featureNames: featureNames, labelName: names[labelIndex])
    }

    /// The 0-based index `label` names, or an error at `column` (nil: the header as a whole).
    private static func resolve(
        _ label: LabelColumn, names: [String], fail: (Int?, String) -> DataFileError
    ) throws -> Int {
        let n = names.count
        switch label {
        case .name(let name):
            let matches = names.indices.filter { names[$0] == name }
            guard let first = matches.first else {
                throw fail(nil, "no column named \"\(name)\" in the header (\(n) columns: \(summary(names)))")
            }
            guard matches.count == 1 else {
                throw fail(matches[1] + 1, "column name \"\(name)\" appears more than once (fields \(matches.map { "\($0 + 1)" }.joined(separator: ", ")))")
            }
            return first
        case .index(let i):
            guard i >= -n && i < n else {
                throw fail(nil, "label column index \(i) is out of range for \(n) columns (0...\(n - 1), or -\(n)...-1 from the end)")
            }
            return i < 0 ? n + i : i
        }
    }

    /// The first and last few names, for an error message.
    private static func summary(_ names: [String]) -> String {
        names.count <= 6 ? names.joined(separator: ", ")
            : (names.prefix(3) + ["..."] + names.suffix(2)).joined(separator: ", ")
    }

    /// The comma-separated fields of `bytes[a..<b]`, each trimmed of blanks and of a line's `\r`.
    private static func fields(_ bytes: UnsafeBufferPointer<UInt8>, _ a: Int, _ b: Int) -> [Range<Int>] {
        var result: [Range<Int>] = []
        var s = a
        while true {
            var e = s
            while e < b && bytes[e] != 0x2C { e += 1 }
            result.append(trim(bytes, s, e))
            if e >= b { return result }
            s = e + 1
        }
    }

    /// `a..<b` without the leading and trailing spaces, tabs and `\r` of `bytes`.
    @inline(__always)
    private static func trim(_ bytes: UnsafeBufferPointer<UInt8>, _ a: Int, _ b: Int) -> Range<Int> {
        var a = a, b = b
        while a < b && (DataFileIO.isBlank(bytes[a]) || bytes[a] == 0x0D) { a += 1 }
        while b > a && (DataFileIO.isBlank(bytes[b - 1]) || bytes[b - 1] == 0x0D) { b -= 1 }
        return a ..< b
    }

    private static func isBlankLine(_ bytes: UnsafeBufferPointer<UInt8>, _ a: Int, _ b: Int) -> Bool {
        trim(bytes, a, b).isEmpty
    }
}
