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
        let bytes = try DataFileIO.read(path)
        return try bytes.withUnsafeBufferPointer { try parse($0, file: path, label: label) }
    }

    /// Like `load(text:fileName:label:)`, and also returns the column names.
    public static func loadTable(text: String, fileName: String = "<text>", label: LabelColumn = .name("label")) throws -> CSVTable {
        let bytes = Array(text.utf8)
        return try bytes.withUnsafeBufferPointer { try parse($0, file: fileName, label: label) }
    }

    static func parse(_ bytes: UnsafeBufferPointer<UInt8>, file: String, label: LabelColumn) throws -> CSVTable {
        func fail(_ line: Int, _ column: Int?, _ message: String) -> DataFileError {
            DataFileError(file: file, line: line, column: column, message: message)
        }
        var start = 0
        if bytes.count >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF { start = 3 }  // UTF-8 BOM
        // Blank lines (and blanks) at the end are not rows.
        var end = bytes.count
        while end > start && (DataFileIO.isBlank(bytes[end - 1]) || bytes[end - 1] == 0x0A || bytes[end - 1] == 0x0D) {
            end -= 1
        }
        guard end > start else { throw fail(1, nil, "empty file (expected a header line)") }

        var lineStart = start
        let headerEnd = lineEnd(bytes, from: lineStart, to: end)
        let names = fields(bytes, lineStart, headerEnd).map { String(decoding: UnsafeBufferPointer(rebasing: bytes[$0]), as: UTF8.self) }
        guard names != [""] else { throw fail(1, nil, "the header line is empty") }
        let columns = names.count
        let labelIndex = try resolve(label, names: names, fail: { fail(1, $0, $1) })
        guard columns > 1 else { throw fail(1, nil, "no feature columns besides the label column \"\(names[labelIndex])\"") }
        lineStart = headerEnd + 1
        guard lineStart < end else { throw fail(2, nil, "no data rows after the header") }

        var rowsEstimate = 1
        for i in lineStart..<end where bytes[i] == 0x0A { rowsEstimate += 1 }
        var features: [Float] = []
        features.reserveCapacity(rowsEstimate * (columns - 1))
        var targets: [Float] = []
        targets.reserveCapacity(rowsEstimate)

        var line = 2
        while lineStart < end {
            let stop = lineEnd(bytes, from: lineStart, to: end)
            var found = 1
            for i in lineStart..<stop where bytes[i] == 0x2C { found += 1 }
            if found != columns {
                if found == 1 && isBlankLine(bytes, lineStart, stop) {
                    throw fail(line, 1, "empty line (expected \(columns) fields)")
                }
                throw fail(line, min(found, columns) + 1, "expected \(columns) fields, found \(found)")
            }
            var column = 0
            var a = lineStart
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
                if column == labelIndex { targets.append(value) } else { features.append(value) }
                column += 1
                a = b + 1
            }
            lineStart = stop + 1
            line += 1
        }
        var featureNames = names
        featureNames.remove(at: labelIndex)
        return CSVTable(
            data: Dataset(examples: targets.count, dimension: columns - 1, features: features, targets: targets),
            featureNames: featureNames, labelName: names[labelIndex]
        )
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

    /// The index of the `\n` ending the line that starts at `from`, or `to` if none does (a `\r`
    /// before it is trimmed off with the last field).
    @inline(__always)
    private static func lineEnd(_ bytes: UnsafeBufferPointer<UInt8>, from: Int, to: Int) -> Int {
        var i = from
        while i < to && bytes[i] != 0x0A { i += 1 }
        return i
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
