/// Writes a `Dataset` as CSV that `CSVLoader` reads back bit-exact: a header line, then one line
/// per example, its features followed by its target, every value in the shortest decimal form
/// that round-trips (`Float.description`, e.g. `0.1`, `1e-05`, `-0.0`), `\n` line endings.
public enum CSVWriter {
    /// Writes `data` to `path` (replacing it). The header is `featureNames` (default `x0` ...
    /// `x{d-1}`) followed by `labelName`. Throws a `DataFileError` for a NaN or infinite value
    /// (naming the line and field it would have had), for names that would not read back (a
    /// comma, a line break, leading or trailing blanks, or the label name among the features),
    /// and for I/O errors.
    public static func write(
        _ data: Dataset, to path: String, featureNames: [String]? = nil, labelName: String = "label"
    ) throws {
        try DataFileIO.write(encode(data, featureNames: featureNames, labelName: labelName, naming: path), to: path)
    }

    /// The CSV text of `data`, as `write` writes it; errors name `destination` as their file
    /// (e.g. "<stdout>").
    public static func encode(
        _ data: Dataset, featureNames: [String]? = nil, labelName: String = "label", naming destination: String
    ) throws -> [UInt8] {
        let path = destination
        let d = data.dimension
        let names = featureNames ?? (0..<d).map { "x\($0)" }
        guard names.count == d else {
            throw DataFileError(file: path, message: "\(names.count) feature names for \(d) features")
        }
        for name in names + [labelName] where !readsBack(name) {
            throw DataFileError(file: path, message: "column name \"\(name)\" would not read back (no commas, line breaks, or leading or trailing blanks)")
        }
        guard !names.contains(labelName) else {
            throw DataFileError(file: path, message: "the label name \"\(labelName)\" is also a feature name")
        }

        var out: [UInt8] = []
        out.reserveCapacity(16 * (d + 1) * (data.examples + 1))
        out.append(contentsOf: (names + [labelName]).joined(separator: ",").utf8)
        out.append(0x0A)
        for i in 0..<data.examples {
            for j in 0...d {
                let v = j < d ? data.features[i * d + j] : data.targets[i]
                guard v.isFinite else {
                    throw DataFileError(file: path, line: i + 2, column: j + 1, message: "cannot write \(v): CSV data must be finite")
                }
                if j > 0 { out.append(0x2C) }
                out.append(contentsOf: v.description.utf8)
            }
            out.append(0x0A)
        }
        return out
    }

    private static func readsBack(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        if bytes.contains(where: { $0 == 0x2C || $0 == 0x0A || $0 == 0x0D }) { return false }
        if let first = bytes.first, DataFileIO.isBlank(first) { return false }
        if let last = bytes.last, DataFileIO.isBlank(last) { return false }
        return true
    }
}
