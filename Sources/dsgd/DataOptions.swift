import ArgumentParser
import DSGDCore

/// The flags that name a data set, spelled the same in `dsgd run`, `dsgd coordinator`,
/// `dsgd analyze` and `dsgd dataset export`: `--data NAME` (alias `--dataset`) and the set's
/// options. The seed is each command's own `--seed`.
struct DataOptions: ParsableArguments {
    @Option(name: [.customLong("data"), .customLong("dataset")],
            help: "Data set: synthetic-logistic, synthetic-linear, lecun-2d, quadratic, blobs, breast-cancer, digits (see `dsgd dataset list`).")
    var data: String?

    @Option(parsing: .unconditional, help: "Examples of a synthetic data set (its base set, before --replicate).")
    var examples: Int = 8192

    @Option(parsing: .unconditional, help: "Input features of a synthetic data set.")
    var features: Int = 32

    @Option(parsing: .unconditional, help: "quadratic: condition number of the inputs' second-moment matrix.")
    var condition: Double = DatasetSpec.defaultCondition

    @Option(parsing: .unconditional, help: "blobs: number of classes.")
    var classes: Int = DatasetSpec.defaultClasses

    @Option(parsing: .unconditional, help: "Repeat the data set this many times (a redundant training set).")
    var replicate: Int = DatasetSpec.defaultReplicate

    /// The spec of data set `name` (default: `data`) with these options and `seed`.
    func spec(name: String? = nil, seed: UInt64) -> DatasetSpec {
        DatasetSpec(name: name ?? data ?? "", examples: examples, features: features, seed: seed,
                    condition: condition, classes: classes, replicate: replicate)
    }

    /// Builds a built-in data set, or reads a `.csv` file (label column "label") when
    /// `allowFiles`; errors are one line.
    func load(name: String, seed: UInt64, allowFiles: Bool) throws -> Dataset {
        if allowFiles, name.hasSuffix(".csv") {
            return try CSVLoader.load(path: name).replicated(replicate)
        }
        guard DatasetSpec.names.contains(name) else {
            let files = allowFiles ? ", or a path ending in .csv" : ""
            throw ValidationError("unknown data set '\(name)' (known: \(DatasetSpec.names.joined(separator: ", "))\(files))")
        }
        let s = spec(name: name, seed: seed)
        if let problem = s.problems().first { throw ValidationError(problem) }
        return try s.materialize()
    }
}
