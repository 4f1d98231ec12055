import Foundation

/// The formats of the user's data files `dsgd --data FILE` reads.
public enum DataFileFormat: String, Codable, Sendable, CaseIterable {
    /// A header line, then one row of numbers an example; the label column is `--label-column`.
    case csv
    /// `label index:value ...`, one example a line (LIBSVM / SVMlight), made dense: every model's
    /// kernels (SGEMM, the fused affine loss and gradient) and the shards and statistics of the
    /// protocol work on dense row-major float32 rows, so a sparse file costs its dense size
    /// (examples x largest index x 4 bytes) in every process.
    case libsvm
    /// The MNIST format: an images file and a labels file.
    case idx

    /// The format a file's name implies: `.csv`; `.svm`, `.libsvm`, `.svmlight`; `.idx`, or a name
    /// with `idxN` in it (`train-images-idx3-ubyte`, `t10k-images.idx3-ubyte`). Nil otherwise.
    public static func guess(path: String) -> DataFileFormat? {
        let base = (path.split(separator: "/").last.map(String.init) ?? path).lowercased()
        if base.hasSuffix(".csv") { return .csv }
        if base.hasSuffix(".svm") || base.hasSuffix(".libsvm") || base.hasSuffix(".svmlight") { return .libsvm }
        if base.hasSuffix(".idx") { return .idx }
        let chars = Array(base)
        for i in 0..<max(0, chars.count - 3) where chars[i] == "i" && chars[i + 1] == "d" && chars[i + 2] == "x" && chars[i + 3].isNumber {
            return .idx
        }
        return nil
    }

    /// The labels file that goes with IDX images at `path` by MNIST's naming (`images` becomes
    /// `labels`, `idx3` becomes `idx1`), or nil when the name has no `images` in it.
    public static func idxLabelsPath(forImages path: String) -> String? {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard var base = parts.last, base.contains("images") else { return nil }
        base = base.replacingOccurrences(of: "images", with: "labels").replacingOccurrences(of: "idx3", with: "idx1")
        return (parts.dropLast() + [base]).joined(separator: "/")
    }
}

/// What a scan of a data file found: enough for the job's spec (`DatasetSpec.resolvingFile()`).
public struct DataFileFacts: Equatable, Sendable {
    public var examples: Int
    public var features: Int
    /// K when every target is a class index 0...K-1 (K at least 2), nil for other targets.
    public var classes: Int?
    public var sha256: String
    /// IDX: the SHA-256 of the labels file.
    public var labelsSha256: String?
}

/// Reading the user's data files as `DatasetSpec`s name them (a spec with a `format`): a scan
/// that checks every line and hashes the bytes (the coordinator's, before any worker starts), and
/// the load every process does, which first compares the file's SHA-256 with the spec's.
///
/// Memory: files are read in chunks of `DataStream.chunkSize`; the float32 result is the only
/// large allocation (CSV: a first pass counts the lines and hashes, the second parses into arrays
/// sized once; LIBSVM: a first pass finds the dimension, the second fills the dense matrix; IDX:
/// the header gives the size). A scan keeps only the targets.
public enum DataFile {
    /// The most classes a file's integer targets are taken to be class indices for.
    public static let maxClasses = 100_000

    /// Checks every line of the file `spec` names and hashes it.
    public static func scan(_ spec: DatasetSpec) throws -> DataFileFacts {
        guard let format = spec.format else { throw DatasetError.invalid("\(spec.name) is not a data file") }
        switch format {
        case .csv:
            let file = spec.name
            var hash = SHA256()
            let table = try withUnsafeMutablePointer(to: &hash) { h in
                try CSVLoader.stream(.file(file), file: file, label: try spec.csvLabel(), reserveRows: 1024, storeFeatures: false, hash: h)
            }
            return DataFileFacts(examples: table.data.examples, features: table.featureNames.count,
                                 classes: classCount(table.data.targets), sha256: hash.finalizeHex())
        case .libsvm:
            var targets: [Float] = []
            let s = try withUnsafeMutablePointer(to: &targets) { try LIBSVMLoader.scan(.file(spec.name), file: spec.name, targets: $0) }
            return DataFileFacts(examples: s.rows, features: max(s.maxIndex, spec.features), classes: classCount(targets), sha256: s.sha256)
        case .idx:
            let labelsPath = try spec.idxLabels()
            let x = try IDXLoader.stream(path: spec.name, scale: nil, store: false)
            let y = try IDXLoader.stream(path: labelsPath, scale: 1, store: true)
            let (n, d) = try idxShape(x, y, images: spec.name, labels: labelsPath)
            return DataFileFacts(examples: n, features: d, classes: classCount(y.values), sha256: x.sha256, labelsSha256: y.sha256)
        }
    }

    /// Loads the file `spec` names, after checking that its SHA-256 (and its labels file's) are
    /// the spec's when the spec has them, and that its shape is the spec's.
    public static func load(_ spec: DatasetSpec) throws -> Dataset {
        guard let format = spec.format else { throw DatasetError.invalid("\(spec.name) is not a data file") }
        let file = spec.name
        let data: Dataset
        switch format {
        case .csv:
            let (sha, newlines) = try DataStream.hashAndCountLines(.file(file), file: file)
            try check(sha, against: spec.sha256, file: file)
            data = try CSVLoader.stream(.file(file), file: file, label: try spec.csvLabel(), reserveRows: newlines + 1, storeFeatures: true).data
        case .libsvm:
            data = try LIBSVMLoader.load(.file(file), file: file, features: spec.features, expectedSHA256: spec.sha256,
                                         mismatch: { mismatch(file: file, found: $0, expected: spec.sha256 ?? "") })
        case .idx:
            let labelsPath = try spec.idxLabels()
            let y = try IDXLoader.stream(path: labelsPath, scale: 1, store: true)
            try check(y.sha256, against: spec.labelsSha256, file: labelsPath)
            let x = try IDXLoader.stream(path: file, scale: nil, store: true)
            try check(x.sha256, against: spec.sha256, file: file)
            _ = try idxShape(x, y, images: file, labels: labelsPath)
            data = Dataset(examples: y.values.count, dimension: x.values.count / max(y.values.count, 1), features: x.values, targets: y.values)
        }
        if spec.sha256 != nil, data.examples != spec.examples || data.dimension != spec.features {
            throw DatasetError.invalid("\(file): \(data.examples) examples x \(data.dimension) features, but the job says \(spec.examples) x \(spec.features)")
        }
        return data
    }

    /// K when every target is an integer in 0..<`maxClasses` (K = the largest + 1, at least 2), else nil.
    public static func classCount(_ targets: [Float]) -> Int? {
        var top: Float = 0
        for y in targets {
            guard y >= 0, y == y.rounded(.towardZero), y < Float(maxClasses) else { return nil }
            top = max(top, y)
        }
        return max(2, Int(top) + 1)
    }

    /// The one line a worker prints when its copy of a file is not the coordinator's.
    static func mismatch(file: String, found: String, expected: String) -> DatasetError {
        .invalid("data file \(file) differs from the coordinator's: its SHA-256 is \(found), the job's is \(expected) (give every worker the same file at the same path)")
    }

    private static func check(_ found: String, against expected: String?, file: String) throws {
        if let expected, found != expected { throw mismatch(file: file, found: found, expected: expected) }
    }

    private static func idxShape(_ x: IDXLoader.Streamed, _ y: IDXLoader.Streamed, images: String, labels: String) throws -> (Int, Int) {
        guard x.shape.count == 2 || x.shape.count == 3 else {
            throw DataFileError(file: images, message: "byte 3: images need 3 dimensions (count, rows, columns) or 2 (count, features), found \(x.shape.count)")
        }
        guard y.shape.count == 1 else { throw DataFileError(file: labels, message: "byte 3: labels need 1 dimension, found \(y.shape.count)") }
        let n = x.shape[0]
        guard y.shape[0] == n else { throw DataFileError(file: labels, message: "byte 4: \(y.shape[0]) labels for \(n) images in \(images)") }
        guard n > 0 else { throw DataFileError(file: images, message: "byte 4: no images") }
        let d = x.shape.dropFirst().reduce(1, *)
        guard d > 0 else { throw DataFileError(file: images, message: "byte 8: the images have no pixels (shape \(IDXLoader.shapeText(x.shape)))") }
        return (n, d)
    }
}

extension DatasetSpec {
    /// The spec of a data file: `path` as the name, its format (nil: from the name), the CSV label
    /// column and the IDX labels file. Not yet resolved: `resolvingFile()` reads the file.
    public static func file(_ path: String, format: DataFileFormat?, labelColumn: String? = nil, labels: String? = nil,
                            replicate: Int = DatasetSpec.defaultReplicate) throws -> DatasetSpec {
        guard let f = format ?? DataFileFormat.guess(path: path) else {
            throw DatasetError.invalid("cannot tell the format of \(path) from its name: give --format csv, libsvm or idx")
        }
        if labelColumn != nil, f != .csv { throw DatasetError.invalid("--label-column applies to CSV files only (\(path) is \(f.rawValue))") }
        if labels != nil, f != .idx { throw DatasetError.invalid("--labels applies to IDX files only (\(path) is \(f.rawValue))") }
        var s = DatasetSpec(name: path, examples: 0, features: 0, seed: 0, classes: 0, replicate: replicate)
        s.format = f
        s.labelColumn = f == .csv ? (labelColumn ?? "label") : nil
        s.labelsFile = f == .idx ? (labels ?? DataFileFormat.idxLabelsPath(forImages: path)) : nil
        if f == .idx, s.labelsFile == nil {
            throw DatasetError.invalid("IDX images \(path) need a labels file: give --labels FILE")
        }
        return s
    }

    /// This file spec with the file read and checked (every line; errors name file:line:column)
    /// and its facts filled in: examples, features, classes (0: not class indices), SHA-256.
    public func resolvingFile() throws -> DatasetSpec {
        let facts = try DataFile.scan(self)
        var s = self
        s.examples = facts.examples
        s.features = facts.features
        s.classes = facts.classes ?? 0
        s.sha256 = facts.sha256
        s.labelsSha256 = facts.labelsSha256
        return s
    }

    /// The CSV label column: a header name, or a 0-based index (negative from the end).
    func csvLabel() throws -> LabelColumn {
        let text = labelColumn ?? "label"
        if let i = Int(text) { return .index(i) }
        return .name(text)
    }

    func idxLabels() throws -> String {
        guard let l = labelsFile else { throw DatasetError.invalid("IDX images \(name) need a labels file (labels_file)") }
        return l
    }
}
