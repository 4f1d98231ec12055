import Foundation

/// Everything the reports (`dsgd compare`, `dsgd export`) read from one run directory:
/// summary.json, config.json's `job` and metrics.jsonl.
///
/// Fields that make runs comparable (model, data set, learning rate and its scaling, batch, seed,
/// mode, workers) come from summary.json when it has them and otherwise from config.json's `job`.
/// Every summary field is optional, so older run directories, runs killed before their summary
/// was written and summaries with fields added later (`setup_seconds`, `bytes_moved`, ...) all read.
public struct RunRecord: Sendable {
    /// The directory as given.
    public let path: String
    /// The name shown in tables, legends and TensorBoard: the directory's base name (see `uniqueNames`).
    public var name: String

    public var mode: String?
    public var workers: Int?
    public var model: String?
    /// The data set's name.
    public var dataset: String?
    public var learningRate: Double?
    /// `--lr-scaling` (`none`, `linear`, `sqrt`); `none` for runs written before the flag existed.
    public var lrScaling: String?
    /// Examples per minibatch per worker.
    public var batch: Int?
    public var seed: Int?

    /// `completed`, `failed` or `interrupted`; nil without a summary.
    public var status: String?
    /// Model updates (the summary's `steps`, else the last metrics point's step).
    public var steps: Int?
    /// Examples applied (the summary's, else the last metrics point's).
    public var examples: Int?
    public var epochs: Double?
    public var wallSeconds: Double?
    /// Seconds before training started (summary `setup_seconds`, when present).
    public var setupSeconds: Double?
    /// The summary's `final_loss`, else the last finite loss of metrics.jsonl.
    public var finalLoss: Double?
    /// The run's own `--target-loss`, and when it was reached.
    public var targetLoss: Double?
    public var timeToTarget: Double?
    /// Async: staleness over the whole run.
    public var stalenessMean: Double?
    public var stalenessMax: Int?
    /// Bytes sent and received (summary `bytes_moved`, when present).
    public var bytesMoved: Int64?
    /// Minibatches each worker computed (summary `worker_minibatches`, when present).
    public var workerMinibatches: [Int]?
    /// When training started, in seconds since 1970: the summary's `start_time` when present,
    /// else summary.json's modification time minus `wall_seconds`, else config.json's
    /// modification time (else metrics.jsonl's less its last point's time).
    public var startTime: Double?

    /// The points of metrics.jsonl, in file order.
    public var metrics: [MetricsRecord]

    /// Reads the run directory at `path`.
    /// - Throws: `RunRecordError` with one line naming the directory or file and line at fault.
    public init(path: String) throws {
        self.path = path
        let dir = URL(fileURLWithPath: path, isDirectory: true)
        name = dir.standardizedFileURL.lastPathComponent
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw RunRecordError("\(path): no such run directory")
        }
        guard isDirectory.boolValue else { throw RunRecordError("\(path) is not a run directory (it is a file)") }
        let files = ["summary.json", "config.json", "metrics.jsonl"].map { dir.appendingPathComponent($0) }
        guard files.contains(where: { FileManager.default.fileExists(atPath: $0.path) }) else {
            throw RunRecordError("\(path) is not a run directory (no summary.json, config.json or metrics.jsonl)")
        }
        let summary = try Self.readObject(files[0], shown: "\(path)/summary.json")
        let config = try Self.readObject(files[1], shown: "\(path)/config.json")
        let job = config?["job"].flatMap(Self.object)
        metrics = try Self.readMetrics(files[2], shown: "\(path)/metrics.jsonl")

        func pick(_ key: String) -> FlatJSONObject.Value? { summary?[key] ?? job?[key] }
        mode = Self.string(pick("mode"))
        workers = Self.int(pick("workers"))
        model = Self.string(pick("model"))
        let data = pick("dataset")
        dataset = Self.string(data) ?? data.flatMap(Self.object).flatMap { Self.string($0["name"]) }
        learningRate = Self.double(pick("learning_rate"))
        lrScaling = Self.string(pick("lr_scaling")) ?? (job != nil ? "none" : nil)
        batch = Self.int(pick("batch"))
        seed = Self.int(pick("seed"))
        targetLoss = Self.double(pick("target_loss"))

        status = Self.string(summary?["status"])
        steps = Self.int(summary?["steps"]) ?? metrics.last?.step
        examples = Self.int(summary?["examples"]) ?? metrics.last?.examples
        epochs = Self.double(summary?["epochs"]) ?? metrics.last?.epoch
        wallSeconds = Self.double(summary?["wall_seconds"])
        setupSeconds = Self.double(summary?["setup_seconds"])
        finalLoss = Self.double(summary?["final_loss"]) ?? metrics.last(where: { $0.loss != nil })?.loss
        timeToTarget = Self.double(summary?["time_to_target"])
        stalenessMean = Self.double(summary?["staleness_mean"])
        stalenessMax = Self.int(summary?["staleness_max"])
        bytesMoved = Self.int(summary?["bytes_moved"]).map(Int64.init)
        workerMinibatches = Self.ints(summary?["worker_minibatches"])

        if let t = Self.double(summary?["start_time"]) {
            startTime = t
        } else if let s = Self.modified(files[0]), let w = wallSeconds {
            startTime = s - w
        } else if let c = Self.modified(files[1]) {
            startTime = c
        } else if let m = Self.modified(files[2]) {
            startTime = m - (metrics.last?.time ?? 0)
        }
    }

    /// The first metrics point whose training loss is at or below `target`.
    public func firstPoint(reaching target: Double) -> MetricsRecord? {
        metrics.first { ($0.loss ?? .infinity) <= target }
    }

    /// Names for `runs` that tell them apart: base names, lengthened by parent directories
    /// (`a/sync`, `b/sync`) where two runs share one.
    public static func uniqueNames(_ runs: [RunRecord]) -> [String] {
        let parts = runs.map { URL(fileURLWithPath: $0.path).standardizedFileURL.pathComponents.filter { $0 != "/" } }
        var depth = Array(repeating: 1, count: runs.count)
        func name(_ i: Int) -> String { parts[i].suffix(depth[i]).joined(separator: "/") }
        while true {
            let clashing = runs.indices.filter { i in
                depth[i] < parts[i].count && runs.indices.contains { $0 != i && name($0) == name(i) }
            }
            if clashing.isEmpty { break }
            for i in clashing { depth[i] += 1 }
        }
        return runs.indices.map(name)
    }

    // MARK: - Reading

    /// A JSON file's top-level object (numbers parsed exactly, as `Double(String)` does), or nil
    /// when the file does not exist.
    private static func readObject(_ url: URL, shown: String) throws -> FlatJSONObject? {
        guard let data = FileManager.default.contents(atPath: url.path) else { return nil }
        do {
            return try FlatJSONObject(parsing: String(decoding: data, as: UTF8.self))
        } catch {
            throw RunRecordError("\(shown): not a JSON object (\(error))")
        }
    }

    private static func readMetrics(_ url: URL, shown: String) throws -> [MetricsRecord] {
        guard let data = FileManager.default.contents(atPath: url.path) else { return [] }
        let text = String(decoding: data, as: UTF8.self)
        var records: [MetricsRecord] = []
        for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            if line.allSatisfy(\.isWhitespace) { continue }
            do {
                records.append(try MetricsRecord(parsing: String(line), line: i + 1))
            } catch {
                throw RunRecordError("\(shown):\(i + 1): \(error)")
            }
        }
        return records
    }

    private static func modified(_ url: URL) -> Double? {
        ((try? FileManager.default.attributesOfItem(atPath: url.path))?[.modificationDate] as? Date)?.timeIntervalSince1970
    }

    /// A number as a Double ("nan", "inf" and "-inf" strings too, as dsgd writes non-finite values).
    static func double(_ value: FlatJSONObject.Value?) -> Double? {
        switch value {
        case .number(let x, _)?: return x
        case .string(let s)?: return ["nan": .nan, "inf": .infinity, "-inf": -.infinity][s]
        default: return nil
        }
    }

    /// A whole number (read from its text, so large counts keep every digit).
    static func int(_ value: FlatJSONObject.Value?) -> Int? {
        guard case .number(let x, let text)? = value else { return nil }
        return Int(text) ?? Int(exactly: x)
    }

    static func string(_ value: FlatJSONObject.Value?) -> String? {
        if case .string(let s)? = value { return s }
        return nil
    }

    /// A nested object.
    static func object(_ value: FlatJSONObject.Value) -> FlatJSONObject? {
        guard case .nested(let raw) = value, raw.hasPrefix("{") else { return nil }
        return try? FlatJSONObject(parsing: raw)
    }

    /// A flat array of whole numbers ("[24, 24]"); nil for anything else.
    static func ints(_ value: FlatJSONObject.Value?) -> [Int]? {
        guard case .nested(let raw)? = value, raw.hasPrefix("["), raw.hasSuffix("]") else { return nil }
        let inner = raw.dropFirst().dropLast().trimmingCharacters(in: .whitespacesAndNewlines)
        if inner.isEmpty { return [] }
        let items = inner.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        return items.contains(nil) ? nil : items.compactMap { $0 }
    }
}

/// One line of metrics.jsonl: an evaluation point.
public struct MetricsRecord: Sendable {
    /// Line number in metrics.jsonl (1-based).
    public let line: Int
    /// Every field as written.
    public let object: FlatJSONObject
    /// Model version (updates applied).
    public let step: Int
    /// Seconds since training started.
    public let time: Double
    /// Examples applied.
    public let examples: Int
    /// Passes over the training set.
    public let epoch: Double
    /// Training-set loss; nil when written as null (not finite).
    public let loss: Double?

    /// Parses one line.
    /// - Throws: a one-line description: not a JSON object (and where), or a required field
    ///   (`step`, `time`, `examples`, `epoch`, `loss`) missing or not a number.
    public init(parsing text: String, line: Int) throws {
        self.line = line
        let object: FlatJSONObject
        do {
            object = try FlatJSONObject(parsing: text)
        } catch {
            throw RunRecordError("not a JSON object: \(error)")
        }
        self.object = object
        func number(_ key: String, nullable: Bool = false) throws -> Double? {
            switch object[key] {
            case .number(let x, _)?: return x
            case .null? where nullable: return nil
            case nil: throw RunRecordError("no \"\(key)\"")
            default: throw RunRecordError("\"\(key)\" is not a number")
            }
        }
        guard let s = try number("step").flatMap({ Int(exactly: $0) }), let e = try number("examples").flatMap({ Int(exactly: $0) }) else {
            throw RunRecordError("\"step\" and \"examples\" must be whole numbers")
        }
        step = s
        examples = e
        time = try number("time")!
        epoch = try number("epoch")!
        loss = try number("loss", nullable: true).flatMap { $0.isFinite ? $0 : nil }
    }

    /// The number under `key`, if present and finite.
    public func value(_ key: String) -> Double? { object[key]?.double }
}

/// A run directory or one of its files could not be read; the description is one line.
public struct RunRecordError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
