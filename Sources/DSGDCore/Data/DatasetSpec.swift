import Foundation
/// Names a data set that every process can build for itself from a few numbers: the coordinator
/// sends the spec, not the data, and each worker materialises the same examples from the seed.
/// The real data sets are compiled in (`EmbeddedData`); a spec with a `format` names the user's
/// data file instead, which every process reads from its own copy (`DataFile`).
///
/// Which fields a data set reads (the others are carried along and ignored):
///
/// | name | examples | features | seed | other |
/// |---|---|---|---|---|
/// | `synthetic-logistic`, `synthetic-linear` | yes | yes | yes | |
/// | `lecun-2d` | yes (the paper uses 100) | ignored, always 2 | yes | |
/// | `quadratic` | yes | yes | yes | `condition` |
/// | `blobs` | yes | yes | yes | `classes` |
/// | `breast-cancer`, `digits` | ignored (569, 1797) | ignored (30, 64) | ignored | |
///
/// Every data set reads `replicate`: the set is its base set repeated that many times, so
/// `examples` is the *base* count and `totalExamples` the number of rows materialised.
///
/// The options are typed fields rather than an `options` dictionary: they are few, each has a
/// meaning and a range that `problems()` checks, and old JSON without them still decodes (each
/// takes its default when absent, see `init(from:)`).
public struct DatasetSpec: Codable, Equatable, Sendable {
    /// The generator's name (see `DatasetSpec.names`).
    public var name: String
    /// Number of examples of the base set (before `replicate`).
    public var examples: Int
    /// Number of input features.
    public var features: Int
    /// Seed of the generator.
    public var seed: UInt64
    /// `quadratic`: the condition number of the inputs' second-moment matrix (at least 1).
    public var condition: Double
    /// `blobs`: the number of classes (at least 1).
    public var classes: Int
    /// How many times the base set is repeated (at least 1): a redundant training set.
    public var replicate: Int
    /// A data file's format (`dsgd --data FILE`); nil for the built-in sets. For a file, `name` is
    /// its path as given (relative paths are read from each process's working directory),
    /// `examples` and `features` its shape, `classes` K when its targets are class indices 0...K-1
    /// (0: other targets), and `seed` is unused. Absent from the JSON of a built-in set.
    public var format: DataFileFormat? = nil
    /// CSV: the label column, a header name or a 0-based index (negative: from the end).
    public var labelColumn: String? = nil
    /// IDX: the labels file that goes with the images file `name`.
    public var labelsFile: String? = nil
    /// A data file's SHA-256 (hex), computed by the coordinator from its copy; every process that
    /// materialises the set first checks its own copy against it. Nil: not yet read.
    public var sha256: String? = nil
    /// IDX: the SHA-256 of the labels file.
    public var labelsSha256: String? = nil

    public static let defaultCondition = 100.0
    public static let defaultClasses = 3
    public static let defaultReplicate = 1

    public init(
        name: String, examples: Int, features: Int, seed: UInt64,
        condition: Double = DatasetSpec.defaultCondition, classes: Int = DatasetSpec.defaultClasses,
        replicate: Int = DatasetSpec.defaultReplicate
    ) {
        self.name = name
        self.examples = examples
        self.features = features
        self.seed = seed
        self.condition = condition
        self.classes = classes
        self.replicate = replicate
    }

    /// Decodes a spec; `condition`, `classes` and `replicate` take their defaults when absent, so
    /// configurations written before they existed still decode.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        examples = try c.decode(Int.self, forKey: .examples)
        features = try c.decode(Int.self, forKey: .features)
        seed = try c.decode(UInt64.self, forKey: .seed)
        condition = try c.decodeIfPresent(Double.self, forKey: .condition) ?? DatasetSpec.defaultCondition
        classes = try c.decodeIfPresent(Int.self, forKey: .classes) ?? DatasetSpec.defaultClasses
        replicate = try c.decodeIfPresent(Int.self, forKey: .replicate) ?? DatasetSpec.defaultReplicate
        format = try c.decodeIfPresent(DataFileFormat.self, forKey: .format)
        labelColumn = try c.decodeIfPresent(String.self, forKey: .labelColumn)
        labelsFile = try c.decodeIfPresent(String.self, forKey: .labelsFile)
        sha256 = try c.decodeIfPresent(String.self, forKey: .sha256)
        labelsSha256 = try c.decodeIfPresent(String.self, forKey: .labelsSha256)
    }

    /// Whether this spec names a data file (`format` is set) rather than a built-in set.
    public var isFile: Bool { format != nil }

    /// The data sets dsgd knows.
    public static let names = [
        "synthetic-logistic", "synthetic-linear", "lecun-2d", "quadratic", "blobs", "breast-cancer", "digits",
    ]

    /// Rows of the materialised data set: the base count (fixed for a real data set) times `replicate`.
    public var totalExamples: Int {
        (EmbeddedDatasets.shape(name)?.examples ?? examples) * replicate
    }

    /// Features of the materialised data set: `features`, or the fixed count of `lecun-2d` (2) and
    /// of the real data sets.
    public var dimension: Int {
        if name == "lecun-2d" { return 2 }
        return EmbeddedDatasets.shape(name)?.features ?? features
    }

    /// Number of classes when the targets are class indices 0..K-1 (nil for regression targets,
    /// including `lecun-2d`'s +1/-1).
    public var classCount: Int? {
        if isFile { return classes > 0 ? classes : nil }
        switch name {
        case "synthetic-logistic", "breast-cancer": return 2
        case "digits": return 10
        case "blobs": return classes
        default: return nil
        }
    }

    /// Whether this is a real (embedded) data set, whose rows and features are fixed.
    public var isEmbedded: Bool { EmbeddedDatasets.shape(name) != nil }

    /// What the targets are, in a few words (for `dsgd dataset list`).
    public var task: String {
        if let format {
            return "\(format.rawValue) file" + (classes > 0 ? ", \(classes)-class classification" : ", regression")
        }
        switch name {
        case "synthetic-logistic", "breast-cancer": return "binary classification (labels 0/1)"
        case "digits": return "10-class classification (labels 0-9)"
        case "blobs": return "\(classes)-class classification (labels 0-\(classes - 1); --classes)"
        case "lecun-2d": return "regression on two classes (targets +1/-1)"
        case "quadratic": return "regression, ill-conditioned inputs (--condition \(condition))"
        default: return "regression"
        }
    }

    /// Every reason this spec cannot be materialised (empty when it can), one line each, naming
    /// fields as the command line does (`--examples`; the JSON key is `examples`).
    public func problems() -> [String] {
        if isFile {
            var p: [String] = []
            if sha256 == nil { return [] }  // not read yet: `resolvingFile()` checks the file
            if examples < 1 { p.append("\(name) has no examples") }
            if features < 1 { p.append("\(name) has no features") }
            if replicate < 1 { p.append("--replicate must be at least 1 (got \(replicate))") }
            if p.isEmpty, let size = sizeProblem() { p.append(size) }
            return p
        }
        guard DatasetSpec.names.contains(name) else {
            return ["unknown data set '\(name)' (known: \(DatasetSpec.names.joined(separator: ", ")))"]
        }
        var p: [String] = []
        let real = EmbeddedDatasets.shape(name) != nil
        if !real && examples < 1 { p.append("--examples must be at least 1 (got \(examples))") }
        if !real && name != "lecun-2d" && features < 1 { p.append("--features must be at least 1 (got \(features))") }
        if name == "quadratic" && !(condition.isFinite && condition >= 1) {
            p.append("--condition must be a finite number >= 1 (got \(condition))")
        }
        if name == "blobs" && classes < 1 { p.append("--classes must be at least 1 (got \(classes))") }
        if replicate < 1 { p.append("--replicate must be at least 1 (got \(replicate))") }
        if p.isEmpty, let size = sizeProblem() { p.append(size) }
        return p
    }

    /// The most rows a data set may have: the protocol sends a shard as u32 indices in one frame
    /// whose length is a u32 byte count.
    public static let maxExamples = (1 << 30) - 1

    /// Why the materialised set is too large to build, or nil: more rows than `maxExamples`, or
    /// more bytes (rows x (features + 1) float32) than half of this machine's memory. Checked
    /// before anything is allocated (flags, and a WELCOME from an untrusted coordinator), with
    /// overflow-safe arithmetic.
    func sizeProblem() -> String? {
        let base = EmbeddedDatasets.shape(name)?.examples ?? examples
        let (rows, o1) = base.multipliedReportingOverflow(by: replicate)
        if o1 || rows > Self.maxExamples {
            return "the data set would have \(o1 ? "more than \(Int.max)" : String(rows)) rows (--examples \(examples) x --replicate \(replicate)); at most \(Self.maxExamples) are supported"
        }
        let (cells, o2) = rows.multipliedReportingOverflow(by: dimension + 1)
        let (bytes, o3) = cells.multipliedReportingOverflow(by: 4)
        let limit = ProcessInfo.processInfo.physicalMemory / 2
        if o2 || o3 || UInt64(bytes) > limit {
            let gb = { (b: Double) in String(format: "%.3g GB", b / 1e9) }
            return "the data set would need \(o2 || o3 ? "more than \(gb(Double(Int.max)))" : gb(Double(bytes))) (\(rows) rows x \(dimension) features, float32), more than half of this machine's memory (\(gb(Double(limit * 2))))"
        }
        return nil
    }

    /// Builds the data set, or explains why it cannot.
    public func materialize() throws -> Dataset {
        if let first = problems().first { throw DatasetError.invalid(first) }
        if isFile { return try DataFile.load(self).replicated(replicate) }
        let base: Dataset
        switch name {
        case "synthetic-logistic": base = SyntheticData.logistic(examples: examples, features: features, seed: seed)
        case "synthetic-linear": base = SyntheticData.linear(examples: examples, features: features, seed: seed)
        case "lecun-2d": base = SyntheticData.lecun2D(examples: examples, seed: seed)
        case "quadratic":
            base = SyntheticData.quadratic(examples: examples, features: features, condition: condition, seed: seed)
        case "blobs": base = SyntheticData.blobs(examples: examples, features: features, classes: classes, seed: seed)
        default: base = try EmbeddedDatasets.load(name)
        }
        return base.replicated(replicate)
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
