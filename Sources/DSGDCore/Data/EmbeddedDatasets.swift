import DSGDEmbeddedData

/// The real data sets compiled into dsgd (`EmbeddedData`, generated from `data/` by
/// scripts/embed-data.py): their names, shapes, and parsing with `CSVLoader`.
enum EmbeddedDatasets {
    /// A compiled-in CSV file: its data-set name, the file it came from, its text and its shape.
    struct Entry {
        let name: String
        let fileName: String
        let text: String
        let examples: Int
        let features: Int
    }

    static let entries: [Entry] = [
        Entry(name: "breast-cancer", fileName: "breast_cancer.csv", text: EmbeddedData.breastCancer, examples: 569, features: 30),
        Entry(name: "digits", fileName: "digits.csv", text: EmbeddedData.digits, examples: 1797, features: 64),
    ]

    /// The shape of the real data set `name`, or nil if `name` is not one.
    static func shape(_ name: String) -> (examples: Int, features: Int)? {
        entries.first { $0.name == name }.map { ($0.examples, $0.features) }
    }

    /// Parses the real data set `name`: every column but `label` is a feature, in file order.
    static func load(_ name: String) throws -> Dataset {
        guard let e = entries.first(where: { $0.name == name }) else {
            throw DatasetError.invalid("unknown data set '\(name)' (known: \(DatasetSpec.names.joined(separator: ", ")))")
        }
        let data = try CSVLoader.load(text: e.text, fileName: "data/\(e.fileName) (embedded)", label: .name("label"))
        guard data.examples == e.examples && data.dimension == e.features else {
            throw DatasetError.invalid(
                "embedded data set '\(name)' has \(data.examples) x \(data.dimension), expected \(e.examples) x \(e.features): rerun scripts/embed-data.py")
        }
        return data
    }
}
