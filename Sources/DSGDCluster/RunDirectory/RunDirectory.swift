import DSGDCore
import Foundation

/// How a run ended.
public enum RunStatus: String, Codable, Sendable {
    case completed, failed, interrupted
}

/// `summary.json`: the outcome of a run.
public struct RunSummary: Codable, Equatable, Sendable {
    public var mode: TrainingMode
    public var workers: Int
    public var status: RunStatus
    /// Training-set loss of the final parameters (nil if never evaluated or not finite).
    public var finalLoss: Double?
    /// Model updates applied.
    public var steps: Int
    /// Examples whose gradients were applied.
    public var examples: Int
    /// Passes over the training set.
    public var epochs: Double
    /// Seconds from the start of training to the end.
    public var wallSeconds: Double
    /// Examples applied per second of training.
    public var examplesPerSecond: Double
    public var targetLoss: Double?
    /// Seconds until the training loss first reached `targetLoss` (the training clock when the
    /// parameters that reached it were current).
    public var timeToTarget: Double?
    /// The version that first reached `targetLoss` and the examples applied by then (with
    /// `--evaluation background` a run stops a few updates later, so `steps` can be larger).
    public var stepsToTarget: Int?
    public var examplesToTarget: Int?
    /// Why the run failed or was interrupted.
    public var error: String?
    /// Messages rejected as malformed or out of protocol.
    public var rejectedMessages: Int
    /// Sync: median and 90th percentile of the time between consecutive updates (milliseconds).
    public var roundMsMedian: Double?
    public var roundMsP90: Double?
    /// Async: staleness of applied gradients over the whole run.
    public var stalenessMean: Double?
    public var stalenessMax: Int?
    /// With `--holdout`: the final parameters' loss and accuracy on the held-out examples, and
    /// their accuracy on the training examples (classifiers).
    public var finalTestLoss: Double?
    public var finalTestAccuracy: Double?
    public var finalTrainAccuracy: Double?
    /// With `--online-curvature N`: the cluster's online estimate of lambda_max after N presentations.
    public var onlineLambdaMax: Double?

    // What makes runs comparable (so `dsgd compare` needs no join with config.json).
    /// Seconds from the coordinator's start to the start of training (registration, data,
    /// normalization, curvature); training seconds exclude evaluation, which takes
    /// `evaluation_seconds` (wall = training + evaluation).
    public var setupSeconds: Double?
    public var trainingSeconds: Double?
    public var evaluationSeconds: Double?
    public var model: String?
    public var dataset: String?
    /// `--lr`, and the rate an update applies after `--lr-scaling`.
    public var learningRate: Double?
    public var effectiveLearningRate: Double?
    public var lrScaling: String?
    public var batch: Int?
    public var seed: UInt64?
    public var momentum: Double?
    /// Minibatches each worker computed (applied or dropped), by worker id.
    public var workerMinibatches: [Int]?
    /// Bytes of PARAMS sent and GRADIENT received by the coordinator (payloads and headers).
    public var bytesMoved: Int?
    /// Policy options: `ssp` bound and the largest lead of a released worker over the slowest;
    /// backup workers and the gradients dropped; `--delay`; `--lr-staleness`.
    public var staleness: Int?
    public var sspLeadMax: Int?
    public var backupWorkers: Int?
    public var droppedGradients: Int?
    public var delay: Int?
    public var lrStaleness: String?
    /// The coordinator's peak resident set size (bytes, `getrusage` ru_maxrss) at the end.
    public var peakRssBytes: Int?
    /// With CURVE: handshakes denied (keys not in the allowed workers).
    public var deniedHandshakes: Int?
    /// `--max-staleness` (async): the limit; its drops are `dropped_gradients`.
    public var maxStaleness: Int?
    /// `--max-gradient-norm` (async): the limit; its drops are `dropped_gradients`.
    public var maxGradientNorm: Double?
    /// `--min-workers` (async), and the workers declared dead, in the order they were.
    public var minWorkers: Int?
    public var deadWorkers: [Int]?
    /// `--min-workers`: workers that registered again after they were declared dead.
    public var rejoinedWorkers: [Int]?
    /// `--evaluation`: `background` or `inline`.
    public var evaluation: String?
    /// `--noise-scale`: B_simple over the whole run (sums of both estimates over every step).
    public var noiseScale: Double?
    /// `--compress` and `--compress-params` (absent: none), and per worker the bytes of PARAMS the
    /// coordinator sent it and of GRADIENT it received from it (headers and payloads).
    public var compress: String?
    public var compressParams: String?
    public var workerBytesSent: [Int]?
    public var workerBytesReceived: [Int]?
}

/// `params.json`: the final parameters.
public struct ParamsFile: Codable, Sendable {
    public var model: ModelKind
    public var step: Int
    public var shapes: [ParameterShape]
    public var values: [Float]

    public init(model: ModelKind, step: Int, shapes: [ParameterShape], values: [Float]) {
        self.model = model
        self.step = step
        self.shapes = shapes
        self.values = values
    }
}

/// `config.json`: the resolved job plus where it ran and with what.
public struct ConfigFile: Codable, Sendable {
    public var job: JobConfig
    public var endpoint: String
    public var versions: [String: String]
}

/// One run's directory: config.json, metrics.jsonl, summary.json, params.json.
public final class RunDirectory {
    public let url: URL
    /// The directory as it was given (relative paths stay relative in messages).
    public let path: String
    private var metrics: FileHandle?
    private var curvature: FileHandle?

    /// Uses (and creates) `path`.
    public init(path: String) throws {
        self.path = path
        url = URL(fileURLWithPath: path, isDirectory: true)
        do {
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        } catch {
            throw RunDirectoryError("cannot create run directory \(path): \(error.localizedDescription)")
        }
    }

    /// The files that make a directory a run's (a directory holding any of them holds a run).
    public static let runFiles = ["config.json", "metrics.jsonl", "summary.json", "params.json", "curvature.jsonl", "checkpoints"]

    /// Creates (or uses, if empty of run files) `path` for a new run. A directory that already
    /// holds a run is refused, unless `overwrite`: then its run files, its workers' logs
    /// (`worker-ID.log`) and any temporary files of interrupted writes (`.*.nosync*`, `*.tmp`) are
    /// removed first, so nothing of the old run can
    /// be read as the new one's.
    /// - Throws: `RunDirectoryError` for an empty path, a path that is a file, or a directory
    ///   holding a run without `overwrite`.
    public static func createNew(path: String, overwrite: Bool) throws -> RunDirectory {
        guard !path.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw RunDirectoryError("--out must name a directory (got an empty path)")
        }
        var isDirectory: ObjCBool = false
        let fm = FileManager.default
        if fm.fileExists(atPath: path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw RunDirectoryError("--out \(path) is a file, not a directory") }
            let names = (try? fm.contentsOfDirectory(atPath: path)) ?? []
            let held = runFiles.filter(names.contains)
            if !held.isEmpty {
                guard overwrite else {
                    throw RunDirectoryError("--out \(path) already holds a run (\(held.joined(separator: ", "))): choose another directory, or pass --overwrite to replace it")
                }
            }
            if overwrite {
                for name in names where runFiles.contains(name) || Self.isWorkerLog(name) || name.contains(".nosync") || name.hasSuffix(".tmp") {
                    do { try fm.removeItem(atPath: path + "/" + name) } catch {
                        throw RunDirectoryError("--overwrite: cannot remove \(path)/\(name): \(error.localizedDescription)")
                    }
                }
            }
        }
        return try RunDirectory(path: path)
    }

    /// Opens the run in `path` to continue it (`--resume`): it must hold config.json. Its
    /// summary.json and params.json are removed (the resumed run writes them anew, so a crash of
    /// the resumed run cannot leave the old outcome beside newer metrics).
    /// - Throws: `RunDirectoryError` if `path` holds no run.
    public static func openForResume(path: String) throws -> RunDirectory {
        let fm = FileManager.default
        guard fm.fileExists(atPath: path + "/config.json") else {
            throw RunDirectoryError("--resume \(path): no run there (no config.json)")
        }
        for name in ["summary.json", "params.json"] where fm.fileExists(atPath: path + "/" + name) {
            do { try fm.removeItem(atPath: path + "/" + name) } catch {
                throw RunDirectoryError("--resume: cannot remove \(path)/\(name): \(error.localizedDescription)")
            }
        }
        return try RunDirectory(path: path)
    }

    /// Reads config.json back.
    public func readConfig() throws -> ConfigFile {
        guard FileManager.default.fileExists(atPath: url.appendingPathComponent("config.json").path) else {
            throw RunDirectoryError("\(path): no run there (no config.json)")
        }
        do {
            return try JSONCoding.decoder().decode(ConfigFile.self, from: Data(contentsOf: url.appendingPathComponent("config.json")))
        } catch {
            throw RunDirectoryError("\(path)/config.json: \(error)")
        }
    }

    /// Keeps the points of metrics.jsonl up to and including `step` (and drops a torn last line),
    /// rewriting the file atomically: a resumed run appends from there, so no step appears twice.
    public func keepMetrics(throughStep step: Int) throws {
        let file = url.appendingPathComponent("metrics.jsonl")
        guard let text = try? String(contentsOf: file, encoding: .utf8) else { return }
        var kept = ""
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            // Every point starts with its step (`MetricsPoint.jsonLine`); a torn line does not end with }.
            guard line.hasPrefix("{\"step\":"), line.hasSuffix("}"),
                  let s = Int(line.dropFirst(8).prefix { $0.isNumber }), s <= step else { continue }
            kept += line + "\n"
        }
        try Data(kept.utf8).write(to: file, options: .atomic)
    }

    /// Whether `name` is a worker's log of `dsgd run` (`worker-ID.log`).
    static func isWorkerLog(_ name: String) -> Bool {
        name.hasPrefix("worker-") && name.hasSuffix(".log") && Int(name.dropFirst(7).dropLast(4)) != nil
    }

    /// A new directory name under `root`: `<root>/<UTC yyyyMMdd-HHmmss>-<mode>-<pid>`.
    public static func defaultPath(root: String = "runs", mode: TrainingMode) -> String {
        let f = DateFormatter()
        f.dateFormat = "yyyyMMdd-HHmmss"
        f.timeZone = TimeZone(identifier: "UTC")
        f.locale = Locale(identifier: "en_US_POSIX")
        return "\(root)/\(f.string(from: Date()))-\(mode.rawValue)-\(getpid())"
    }


    func write<T: Encodable>(_ value: T, to name: String) throws {
        let data = try JSONCoding.encoder().encode(value)
        try (data + Data("\n".utf8)).write(to: url.appendingPathComponent(name), options: .atomic)
    }

    public func writeConfig(_ config: ConfigFile) throws { try write(config, to: "config.json") }
    public func writeSummary(_ summary: RunSummary) throws { try write(summary, to: "summary.json") }
    /// Writes params.json: the header fields through the JSON encoder, the values as one line of
    /// shortest round-trip decimals (fast for millions of parameters; JSON readers get the same floats).
    public func writeParams(_ params: ParamsFile) throws {
        var head = params
        head.values = []
        var text = String(decoding: try JSONCoding.encoder().encode(head), as: UTF8.self)
        guard let r = text.range(of: "\"values\" : [\n\n  ]") ?? text.range(of: "\"values\" : [\n  ]") ?? text.range(of: "\"values\" : []") else {
            return try write(params, to: "params.json")
        }
        var values = "\"values\" : ["
        values.reserveCapacity(params.values.count * 12 + 16)
        for (i, v) in params.values.enumerated() {
            if i > 0 { values += "," }
            values += v.isFinite ? v.description : "null"
        }
        values += "]"
        text.replaceSubrange(r, with: values)
        try Data((text + "\n").utf8).write(to: url.appendingPathComponent("params.json"), options: .atomic)
    }

    /// Appends one line to metrics.jsonl (created on first use) and flushes it.
    public func appendMetrics(_ line: String) throws { try append(line, to: "metrics.jsonl", handle: &metrics) }

    /// Appends one line to curvature.jsonl (`--online-curvature`; created on first use).
    public func appendCurvature(_ line: String) throws { try append(line, to: "curvature.jsonl", handle: &curvature) }

    /// Appends `line` and a newline to the JSON-lines file `name`, opening it (created if absent)
    /// into `handle` on first use.
    private func append(_ line: String, to name: String, handle: inout FileHandle?) throws {
        if handle == nil {
            let file = url.appendingPathComponent(name)
            // A resumed run appends to the points kept from before its checkpoint.
            if !FileManager.default.fileExists(atPath: file.path) { _ = FileManager.default.createFile(atPath: file.path, contents: nil) }
            handle = try FileHandle(forWritingTo: file)
            try handle!.seekToEnd()
        }
        try handle!.write(contentsOf: Data((line + "\n").utf8))
    }

    /// The last point of metrics.jsonl, if any.
    public func lastMetricsPoint() -> MetricsPoint? {
        guard let text = try? String(contentsOf: url.appendingPathComponent("metrics.jsonl"), encoding: .utf8),
              let line = text.split(separator: "\n").last,
              let o = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
              let step = o["step"] as? Int, let examples = o["examples"] as? Int else { return nil }
        return MetricsPoint(step: step, time: o["time"] as? Double ?? 0, examples: examples,
                            epoch: o["epoch"] as? Double ?? 0, loss: o["loss"] as? Double ?? .nan)
    }

    /// Reads summary.json back.
    public func readSummary() throws -> RunSummary {
        try JSONCoding.decoder().decode(RunSummary.self, from: Data(contentsOf: url.appendingPathComponent("summary.json")))
    }
}

/// A run directory could not be created or written.
public struct RunDirectoryError: Error, CustomStringConvertible {
    public let description: String
    init(_ d: String) { description = d }
}

/// One evaluation point of metrics.jsonl.
public struct MetricsPoint: Sendable {
    public var step: Int
    public var time: Double
    public var examples: Int
    public var epoch: Double
    public var loss: Double
    public var stalenessMean: Double?
    public var stalenessMax: Int?
    /// With `--holdout`: accuracy on the training examples, loss and accuracy on the held-out ones.
    public var trainAccuracy: Double?
    public var testLoss: Double?
    public var testAccuracy: Double?
    /// `ssp`: the largest lead of a released worker over the slowest since the previous point.
    public var leadMax: Int?
    /// Backup workers and `--max-staleness`: gradients dropped since the previous point.
    public var dropped: Int?
    /// `--noise-scale`: B_simple estimated over the steps since the previous point (nil when the
    /// estimate of |G|^2 is not positive), and the means over those steps of the per-step
    /// estimates of |G|^2 and tr(Sigma) (B_simple of several windows: the ratio of their
    /// step-weighted sums).
    public var noiseScale: Double?
    public var noiseGradientSquare: Double?
    public var noiseTrace: Double?
    /// `--min-workers`: workers declared dead so far.
    public var deadWorkers: Int?
    /// Bytes of PARAMS sent and GRADIENT received by the coordinator so far (headers and payloads).
    public var bytesMoved: Int?

    /// The JSON line: keys in a fixed order; a non-finite loss is written as null.
    public var jsonLine: String {
        var s = "{\"step\":\(step),\"time\":\(json(time)),\"examples\":\(examples),\"epoch\":\(json(epoch)),\"loss\":\(json(loss))"
        if let m = stalenessMean { s += ",\"staleness_mean\":\(json(m))" }
        if let m = stalenessMax { s += ",\"staleness_max\":\(m)" }
        if let a = trainAccuracy { s += ",\"train_accuracy\":\(json(a))" }
        if let l = testLoss { s += ",\"test_loss\":\(json(l))" }
        if let a = testAccuracy { s += ",\"test_accuracy\":\(json(a))" }
        if let l = leadMax { s += ",\"lead_max\":\(l)" }
        if let d = dropped { s += ",\"dropped\":\(d)" }
        if let n = noiseScale { s += ",\"noise_scale\":\(json(n))" }
        if let g = noiseGradientSquare { s += ",\"noise_gradient_square\":\(json(g))" }
        if let t = noiseTrace { s += ",\"noise_trace\":\(json(t))" }
        if let d = deadWorkers { s += ",\"dead_workers\":\(d)" }
        if let b = bytesMoved { s += ",\"bytes_moved\":\(b)" }
        return s + "}"
    }

    private func json(_ x: Double) -> String { x.isFinite ? "\(x)" : "null" }
}
