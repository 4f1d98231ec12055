import DSGDCluster
import Foundation
import XCTest

/// One line of metrics.jsonl, read with `JSONDecoder` (the keys README documents).
struct MetricsRow: Decodable, Equatable {
    var step: Int
    var examples: Int
    var epoch: Double
    var loss: Double?
    var stalenessMean: Double?
    var stalenessMax: Int?
    var trainAccuracy: Double?
    var testLoss: Double?
    var testAccuracy: Double?
    var time: Double?
    var noiseScale: Double?
    var noiseGradientSquare: Double?
    var noiseTrace: Double?
    var dropped: Int?
    var deadWorkers: Int?

    enum CodingKeys: String, CodingKey {
        case step, examples, epoch, loss, time, dropped
        case deadWorkers = "dead_workers"
        case noiseScale = "noise_scale", noiseGradientSquare = "noise_gradient_square", noiseTrace = "noise_trace"
        case stalenessMean = "staleness_mean", stalenessMax = "staleness_max"
        case trainAccuracy = "train_accuracy", testLoss = "test_loss", testAccuracy = "test_accuracy"
    }
}

/// Clusters assembled by hand: `dsgd coordinator` on port 0, `dsgd worker` processes and/or
/// `ScriptedWorker`s, and what their logs say.
extension ClusterTestCase {
    /// Starts `dsgd coordinator` with `arguments`, bound to `tcp://127.0.0.1:0`, writing to `out`,
    /// and waits for its readiness line; returns the process and the endpoint it names.
    func startCoordinator(_ arguments: [String], out: String, file: StaticString = #filePath, line: UInt = #line)
        throws -> (process: ChildProcess, endpoint: String)
    {
        let c = try start(["coordinator", "--bind", "tcp://127.0.0.1:0", "--out", out] + arguments, name: "coordinator")
        let ready = try XCTUnwrap(waitForLine(c, containing: "dsgd coordinator: listening on ", timeout: 30),
                                  "the coordinator's readiness line", file: file, line: line)
        let endpoint = String(ready[ready.range(of: "listening on ")!.upperBound...])
        XCTAssertTrue(endpoint.hasPrefix("tcp://127.0.0.1:") && !endpoint.hasSuffix(":0"), endpoint, file: file, line: line)
        return (c, endpoint)
    }

    /// Starts `dsgd worker --id k` against `endpoint` (its stderr goes to a file of the scratch directory).
    func startWorker(_ k: Int, endpoint: String) throws -> ChildProcess {
        try start(["worker", "--connect", endpoint, "--id", "\(k)"], name: "worker\(k)")
    }

    /// Every line of `dir`/metrics.jsonl.
    func metrics(_ dir: String) throws -> [MetricsRow] {
        let text = try String(contentsOfFile: dir + "/metrics.jsonl", encoding: .utf8)
        return try text.split(separator: "\n").map { try JSONDecoder().decode(MetricsRow.self, from: Data($0.utf8)) }
    }

    /// The minibatch counts dsgd's workers report when they stop ("dsgd worker K: coordinator says
    /// stop: ... (M minibatches computed)"), by worker id, from the text of their stderr.
    func minibatchesComputed(in stderr: String) -> [Int: Int] {
        var counts: [Int: Int] = [:]
        for line in stderr.split(separator: "\n") where line.hasPrefix("dsgd worker ") && line.hasSuffix(" minibatches computed)") {
            let id = line.dropFirst("dsgd worker ".count).prefix { $0.isNumber }
            let tail = line[line.range(of: "(", options: .backwards)!.upperBound...]
            if let k = Int(id), let m = Int(tail.prefix { $0.isNumber }) { counts[k] = m }
        }
        return counts
    }

    /// The stderr text of every child started so far.
    func allStderr() -> String {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: scratch.path)) ?? []
        return files.filter { $0.hasSuffix(".stderr") }.sorted()
            .compactMap { try? String(contentsOfFile: path($0), encoding: .utf8) }.joined(separator: "\n")
    }
}
