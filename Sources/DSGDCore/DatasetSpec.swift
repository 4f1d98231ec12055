/// Names a data set that every process can build for itself from a few numbers: the coordinator
/// sends the spec, not the data, and each worker materialises the same examples from the seed.
public struct DatasetSpec: Codable, Equatable, Sendable {
    /// The generator's name (see `DatasetSpec.names`).
    public var name: String
    /// Number of examples.
    public var examples: Int
    /// Number of input features.
    public var features: Int
    /// Seed of the generator.
    public var seed: UInt64

    public init(name: String, examples: Int, features: Int, seed: UInt64) {
        self.name = name
        self.examples = examples
        self.features = features
        self.seed = seed
    }

    /// The generators dsgd knows.
    public static let names = ["synthetic-logistic", "synthetic-linear"]

    /// Builds the data set, or explains why it cannot.
    public func materialize() throws -> Dataset {
        guard examples > 0 else { throw DatasetError.invalid("a data set needs at least one example (got \(examples))") }
        guard features > 0 else { throw DatasetError.invalid("a data set needs at least one feature (got \(features))") }
        switch name {
        case "synthetic-logistic": return SyntheticData.logistic(examples: examples, features: features, seed: seed)
        case "synthetic-linear": return SyntheticData.linear(examples: examples, features: features, seed: seed)
        default:
            throw DatasetError.invalid("unknown data set '\(name)' (known: \(DatasetSpec.names.joined(separator: ", ")))")
        }
    }
}

/// Why a data set could not be built or read.
public enum DatasetError: Error, CustomStringConvertible, Equatable {
    case invalid(String)

    public var description: String {
        switch self {
        case .invalid(let s): return s
        }
    }
}
