import ArgumentParser
import DSGDCore
import Foundation

extension DataFileFormat: ExpressibleByArgument {}

/// The flags that name a data set, spelled the same in `dsgd run`, `dsgd coordinator`,
/// `dsgd analyze` and `dsgd dataset export`: `--data NAME` (alias `--dataset`) and the set's
/// options. The seed is each command's own `--seed`.
struct DataOptions: ParsableArguments {
    @Option(name: [.customLong("data"), .customLong("dataset")],
            help: "Data set: synthetic-logistic, synthetic-linear, lecun-2d, quadratic, blobs, breast-cancer, digits (see `dsgd dataset list`), or a data file: FILE.csv, FILE.svm / .libsvm (LIBSVM), an IDX images file (see --format).")
    var data: String?

    @Option(help: "The format of the --data file: csv, libsvm or idx (default: from its name: .csv; .svm, .libsvm, .svmlight; .idx or idxN in the name).")
    var format: DataFileFormat?

    @Option(help: "CSV: the label column, a header name or a 0-based index (negative: from the end) (default: label).")
    var labelColumn: String?

    @Option(help: "IDX: the labels file of the --data images file (default: its name with images -> labels, idx3 -> idx1).")
    var labels: String?

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

    /// The spec of data set `name` (default: `data`) with these options and `seed`. A data file
    /// gives its spec as `resolvedFile` left it (read and hashed), or unread before that.
    func spec(name: String? = nil, seed: UInt64) -> DatasetSpec {
        let which = name ?? data ?? ""
        if isFile(which) {
            if let done = DataOptions.resolved[fileKey(which)] { return done }
            if var s = try? unresolvedFileSpec(which) { s.seed = 0; return s }
        }
        return DatasetSpec(name: which, examples: examples, features: features, seed: seed,
                           condition: condition, classes: classes, replicate: replicate)
    }

    /// Whether `name` names a data file rather than a built-in set: not a built-in name, and
    /// --format given, a name whose format is known, or an existing file.
    func isFile(_ name: String) -> Bool {
        guard !DatasetSpec.names.contains(name), !name.isEmpty else { return false }
        return format != nil || labelColumn != nil || labels != nil || DataFileFormat.guess(path: name) != nil
            || FileManager.default.fileExists(atPath: name)
    }

    /// The file spec of `name` before the file is read.
    func unresolvedFileSpec(_ name: String) throws -> DatasetSpec {
        try DatasetSpec.file(name, format: format, labelColumn: labelColumn, labels: labels, replicate: replicate)
    }

    /// Reads and checks the data file `name` once per process (every line; an error names
    /// file:line:column) and remembers its spec for `spec(name:seed:)`.
    @discardableResult
    func resolveFile(_ name: String) throws -> DatasetSpec {
        let key = fileKey(name)
        if let done = DataOptions.resolved[key] { return done }
        let spec: DatasetSpec
        do { spec = try unresolvedFileSpec(name).resolvingFile() } catch { throw ValidationError("\(error)") }
        DataOptions.resolved[key] = spec
        return spec
    }

    /// Checks that the other flags fit a data file: the synthetic sets' options do not apply.
    func validateFileFlags(_ name: String) throws {
        guard isFile(name) else {
            if !DatasetSpec.names.contains(name) {
                throw ValidationError("unknown data set '\(name)' (known: \(DatasetSpec.names.joined(separator: ", "))), and no file of that name (a data file: .csv, .svm, .libsvm, IDX, or give --format)")
            }
            if format != nil || labelColumn != nil || labels != nil {
                throw ValidationError("--format, --label-column and --labels apply to a data file, not the built-in set '\(name)'")
            }
            return
        }
        do { _ = try unresolvedFileSpec(name) } catch { throw ValidationError("\(error)") }
    }

    private func fileKey(_ name: String) -> String {
        [name, format?.rawValue ?? "", labelColumn ?? "", labels ?? "", String(replicate)].joined(separator: "\u{0}")
    }

    /// Data files already read by this process, by path and options.
    nonisolated(unsafe) static var resolved: [String: DatasetSpec] = [:]

    /// Builds a built-in data set, or reads a data file (CSV, LIBSVM, IDX) when `allowFiles`;
    /// errors are one line.
    func load(name: String, seed: UInt64, allowFiles: Bool) throws -> Dataset {
        if allowFiles, isFile(name) {
            try validateFileFlags(name)
            let spec = try resolveFile(name)
            do { return try spec.materialize() } catch { throw ValidationError("\(error)") }
        }
        guard DatasetSpec.names.contains(name) else {
            let files = allowFiles ? ", or a data file (.csv, .svm, .libsvm, IDX; or give --format)" : ""
            throw ValidationError("unknown data set '\(name)' (known: \(DatasetSpec.names.joined(separator: ", "))\(files))")
        }
        let s = spec(name: name, seed: seed)
        if let problem = s.problems().first { throw ValidationError(problem) }
        return try s.materialize()
    }
}
