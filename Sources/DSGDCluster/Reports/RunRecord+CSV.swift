extension RunRecord {
    /// The columns every metrics CSV starts with, in this order; other keys follow sorted.
    public static let leadingMetricsColumns = ["step", "time", "examples", "epoch", "loss"]

    /// metrics.jsonl as CSV: a header with the union of the lines' keys (`leadingMetricsColumns`
    /// first, then the rest sorted), one row per line, every value as written in the file, empty
    /// cells for absent or null values.
    public func metricsCSV() -> String {
        var keys = Set<String>()
        for m in metrics { for (k, _) in m.object.fields { keys.insert(k) } }
        let columns = Self.leadingMetricsColumns + keys.subtracting(Self.leadingMetricsColumns).sorted()
        var lines = [columns.map(CompareTable.csvQuoted).joined(separator: ",")]
        for m in metrics {
            lines.append(columns.map { CompareTable.csvQuoted(m.object[$0]?.text ?? "") }.joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
