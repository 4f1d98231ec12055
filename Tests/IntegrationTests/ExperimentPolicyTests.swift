import DSGDCluster
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import XCTest

/// `dsgd experiment sync-vs-async --quick` and `dsgd experiment scaling --quick` end to end, with
/// the real binary: the shape each one states, checked against the run directories it wrote
/// (summary.json, config.json, metrics.jsonl) rather than against its own numbers, and its report
/// directory (report.md with the table printed on standard output, results.csv, the SVG parsed as
/// XML).
final class ExperimentPolicyTests: ClusterTestCase {
    // MARK: - results.json, as the tests read it

    /// sync-vs-async's results.json: what the test reads of it.
    struct SyncVsAsyncResults: Decodable {
        /// One set-up's run.
        struct Setup: Decodable {
            var name: String
            var mode: String
            var options: String
            var run: String
            var status: String
            var examples: Int
            var effectiveLearningRate: Double
            var examplesToTarget: Int?
            var timeToTarget: Double?
        }

        var workers: Int
        var batch: Int
        var budgetExamples: Int
        var learningRate: Double
        var optimum: Double
        var target: Double
        var setups: [Setup]
    }

    /// scaling's results.json: what the test reads of it.
    struct ScalingResults: Decodable {
        /// Median and range over trials.
        struct Spread: Decodable {
            var median: Double
            var min: Double
            var max: Double
        }

        /// One (mode, workers).
        struct Row: Decodable {
            var mode: String
            var workers: Int
            var processesExceedCores: Bool
            var examplesPerSecond: Spread?
            var updatesPerSecond: Spread?
            var timeToTarget: Spread?
            var examplesToTarget: Spread?
            var speedup: Double?
            var efficiency: Double?
        }

        var cpuCount: Int
        var target: Double
        var modes: [String]
        var workers: [Int]
        var trials: Int
        var rows: [Row]
    }

    /// `file` decoded with snake_case keys.
    func decodeJSON<T: Decodable>(_ type: T.Type, _ file: String) throws -> T {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(type, from: Data(contentsOf: URL(fileURLWithPath: file)))
    }

    /// The job of the run directory `dir` (config.json).
    func config(_ dir: String) throws -> JobConfig {
        try JSONCoding.decoder().decode(ConfigFile.self, from: Data(contentsOf: URL(fileURLWithPath: dir + "/config.json"))).job
    }

    // MARK: - Sync against async

    /// Six runs, one per set-up, each of its mode and options; all completed with the same
    /// budget, task, seed and `--lr`; every update's rate over the examples it stands for (worked
    /// out here from config.json: (N - b) B for sync, N B for local, B otherwise) is lr / (N B),
    /// the rule of `--lr-scaling linear`; examples to the target are the first evaluation at or
    /// below it in metrics.jsonl.
    func testSyncVsAsyncQuickRunsSixPoliciesAtOneRatePerExample() throws {
        let out = path("sync-vs-async")
        let r = try run(["experiment", "sync-vs-async", "--quick", "--out", out], timeout: 240)
        XCTAssertEqual(r.code, 0, r.stderr)
        let results = try decodeJSON(SyncVsAsyncResults.self, out + "/results.json")
        let modeOf = ["sync": "sync", "async": "async", "ssp": "ssp", "sync-backup": "sync", "local": "local", "easgd": "easgd"]
        XCTAssertEqual(results.setups.map(\.name).sorted(), modeOf.keys.sorted())

        var jobs: [JobConfig] = []
        var budgets: Set<Int> = []
        for s in results.setups {
            let dir = out + "/" + s.run
            let summary = try self.summary(dir)
            let job = try config(dir)
            jobs.append(job)
            XCTAssertEqual(summary.status, .completed, s.name)
            XCTAssertEqual(s.status, "completed", s.name)
            XCTAssertEqual(job.evaluation, .inline, "\(s.name): evaluation must stop the training clock")
            XCTAssertEqual(summary.mode.rawValue, modeOf[s.name], s.name)
            XCTAssertEqual(s.mode, summary.mode.rawValue, s.name)
            budgets.insert(summary.examples)
            XCTAssertEqual(s.examples, summary.examples, s.name)

            // The policy options: only the backup run has backup workers, local and easgd take
            // local steps, and the table's options say so.
            XCTAssertEqual(job.backupWorkers > 0, s.name == "sync-backup", s.name)
            XCTAssertEqual(job.syncEvery > 1, s.name == "local" || s.name == "easgd", s.name)
            if job.backupWorkers > 0 { XCTAssertTrue(s.options.contains("--backup-workers \(job.backupWorkers)"), s.options) }
            if job.mode == .ssp { XCTAssertTrue(s.options.contains("--staleness \(job.staleness)"), s.options) }
            if job.syncEvery > 1 { XCTAssertTrue(s.options.contains("--sync-every \(job.syncEvery)"), s.options) }

            // The rate per example.
            XCTAssertEqual(summary.lrScaling, "linear", s.name)
            let n = job.workers, b = job.batch
            let m = job.mode == .sync ? (n - job.backupWorkers) * b : job.mode == .local ? n * b : b
            let effective = try XCTUnwrap(summary.effectiveLearningRate, s.name)
            let perExample = Double(job.learningRate) / Double(n * b)
            XCTAssertEqual(effective / Double(m), perExample, accuracy: 1e-6 * perExample, "\(s.name): \(effective) per \(m) examples")
            XCTAssertEqual(s.effectiveLearningRate, effective, s.name)

            // Examples to the target: the first evaluation at or below it.
            let first = try metrics(dir).first { ($0.loss ?? .infinity) <= results.target }
            XCTAssertEqual(s.examplesToTarget, first?.examples, s.name)
            XCTAssertEqual(s.timeToTarget, first?.time, s.name)
        }
        XCTAssertEqual(budgets, [results.budgetExamples], "the runs applied different numbers of examples")
        for j in jobs.dropFirst() {
            XCTAssertEqual(j.dataset, jobs[0].dataset)
            XCTAssertEqual(j.seed, jobs[0].seed)
            XCTAssertEqual(j.workers, jobs[0].workers)
            XCTAssertEqual(j.batch, jobs[0].batch)
            XCTAssertEqual(j.learningRate, jobs[0].learningRate)
        }
        XCTAssertEqual(Double(jobs[0].learningRate), results.learningRate)
        XCTAssertGreaterThan(results.target, results.optimum)

        try checkReport(out, svg: "sync-vs-async.svg", stdout: r.stdout, csvRows: 6)
        // Three panels (time, examples, epochs), each with a curve per run.
        let root = try XCTUnwrap(XMLDocument(contentsOf: URL(fileURLWithPath: out + "/sync-vs-async.svg"), options: []).rootElement())
        let panels = root.descendants("g", class: "panel")
        XCTAssertEqual(panels.count, 3)
        for p in panels {
            let curves = p.descendants("path", class: "series")
            XCTAssertEqual(curves.count, 6)
            XCTAssertTrue(curves.allSatisfy { !($0.attr("d") ?? "").isEmpty })
        }
    }

    // MARK: - Scaling

    /// results.csv has one row of numbers per (mode, workers, trial), matching each run's
    /// summary.json and metrics.jsonl (examples to the target); results.json's medians and ranges are those of the CSV's trials, the
    /// 1-worker speedup is exactly 1, efficiency is speedup / workers; the CPU count is this
    /// machine's, and the report marks a row as over-subscribed, and explains it, exactly when
    /// workers + 1 > CPUs.
    func testScalingQuickReportsMediansSpeedupsAndContention() throws {
        let out = path("scaling")
        let r = try run(["experiment", "scaling", "--quick", "--out", out], timeout: 240)
        XCTAssertEqual(r.code, 0, r.stderr)
        let results = try decodeJSON(ScalingResults.self, out + "/results.json")
        let cpus = ProcessInfo.processInfo.activeProcessorCount
        XCTAssertEqual(results.cpuCount, cpus)
        XCTAssertTrue(results.workers.contains(1))

        // results.csv: one row per run, numbers where numbers belong, each matching its summary.
        let lines = try String(contentsOfFile: out + "/results.csv", encoding: .utf8).split(separator: "\n").map(String.init)
        let header = try XCTUnwrap(lines.first).split(separator: ",").map(String.init)
        let rows = lines.dropFirst().map { line in
            Dictionary(uniqueKeysWithValues: zip(header, line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)))
        }
        XCTAssertEqual(rows.count, results.modes.count * results.workers.count * results.trials)
        var seen: Set<String> = []
        for row in rows {
            let mode = try XCTUnwrap(row["mode"]), workers = try XCTUnwrap(row["workers"].flatMap { Int($0) }), trial = try XCTUnwrap(row["trial"].flatMap { Int($0) })
            XCTAssertTrue(results.modes.contains(mode) && results.workers.contains(workers) && (1...results.trials).contains(trial), "\(row)")
            XCTAssertTrue(seen.insert("\(mode) \(workers) \(trial)").inserted, "two rows for \(mode) \(workers) \(trial)")
            for key in ["steps", "examples", "training_seconds", "examples_per_second", "updates_per_second", "learning_rate", "effective_learning_rate"] {
                let x = try XCTUnwrap(row[key].flatMap { Double($0) }, "\(key) of \(mode) \(workers) \(trial): \(row[key] ?? "missing")")
                XCTAssertTrue(x.isFinite && x > 0, "\(key) \(x)")
            }
            if let t = row["time_to_target"], !t.isEmpty { XCTAssertNotNil(Double(t), t) }
            let first = try metrics(out + "/" + XCTUnwrap(row["run"])).first { ($0.loss ?? .infinity) <= results.target }
            XCTAssertEqual(row["examples_to_target"], first.map { String($0.examples) } ?? "", "\(mode) \(workers) \(trial)")
            XCTAssertEqual(row["time_to_target"]?.isEmpty, first == nil)
            XCTAssertEqual(row["processes_exceed_cores"], String(workers + 1 > cpus))
            let summary = try self.summary(out + "/" + XCTUnwrap(row["run"]))
            XCTAssertEqual(summary.status, .completed)
            XCTAssertEqual(summary.mode.rawValue, mode)
            XCTAssertEqual(summary.workers, workers)
            XCTAssertEqual(try config(out + "/" + XCTUnwrap(row["run"])).evaluation, .inline)
            XCTAssertEqual(row["examples_per_second"].flatMap { Double($0) }, summary.examplesPerSecond)
        }
        XCTAssertEqual(Set(rows.compactMap { $0["examples"] }).count, 1, "the runs applied different numbers of examples")

        // results.json: the CSV's medians and ranges, speedups and efficiencies.
        func values(_ key: String, _ mode: String, _ workers: Int) -> [Double] {
            rows.filter { $0["mode"] == mode && $0["workers"] == String(workers) }.compactMap { $0[key].flatMap { Double($0) } }
        }
        func check(_ spread: ScalingResults.Spread?, _ xs: [Double], _ what: String) {
            guard let spread else { return XCTAssertTrue(xs.isEmpty, "\(what): no spread for \(xs)") }
            XCTAssertEqual(spread.median, median(xs), accuracy: 1e-12 * abs(spread.median), what)
            XCTAssertEqual(spread.min, xs.min())
            XCTAssertEqual(spread.max, xs.max())
        }
        XCTAssertEqual(results.rows.count, results.modes.count * results.workers.count)
        for row in results.rows {
            let what = "\(row.mode) \(row.workers)"
            check(row.examplesPerSecond, values("examples_per_second", row.mode, row.workers), what + " examples/s")
            check(row.updatesPerSecond, values("updates_per_second", row.mode, row.workers), what + " updates/s")
            check(row.timeToTarget, values("time_to_target", row.mode, row.workers), what + " time to target")
            check(row.examplesToTarget, values("examples_to_target", row.mode, row.workers), what + " examples to target")
            XCTAssertEqual(row.processesExceedCores, row.workers + 1 > cpus, what)
            let base = try XCTUnwrap(results.rows.first { $0.mode == row.mode && $0.workers == 1 }?.examplesPerSecond?.median)
            let speedup = try XCTUnwrap(row.speedup, what), efficiency = try XCTUnwrap(row.efficiency, what)
            XCTAssertEqual(speedup, try XCTUnwrap(row.examplesPerSecond).median / base, accuracy: 1e-12 * speedup, what)
            XCTAssertEqual(efficiency, speedup / Double(row.workers), accuracy: 1e-12 * efficiency, what)
            if row.workers == 1 { XCTAssertEqual(speedup, 1, what) }
        }

        // report.md: the machine, the table (the stdout one), and the contention note exactly
        // when some row runs more processes than cores.
        try checkReport(out, svg: "scaling.svg", stdout: r.stdout, csvRows: rows.count)
        let report = try String(contentsOfFile: out + "/report.md", encoding: .utf8)
        XCTAssertTrue(report.contains("\(cpus) CPUs"))
        XCTAssertTrue(report.contains("Load average"))
        let table = r.stdout.filter { $0.hasPrefix("|") }.map { line in
            line.dropFirst(2).dropLast(2).components(separatedBy: " | ")
        }
        let column = try XCTUnwrap(table.first?.firstIndex(of: "processes > cores"))
        let workersColumn = try XCTUnwrap(table.first?.firstIndex(of: "workers"))
        XCTAssertEqual(table.count - 2, results.rows.count)
        for cells in table.dropFirst(2) {
            let workers = try XCTUnwrap(Int(cells[workersColumn]))
            XCTAssertEqual(cells[column].hasPrefix("yes"), workers + 1 > cpus, cells.joined(separator: " | "))
            XCTAssertEqual(cells[column].hasPrefix("no"), workers + 1 <= cpus, cells.joined(separator: " | "))
        }
        let oversubscribed = results.workers.contains { $0 + 1 > cpus }
        XCTAssertEqual(report.contains("measure CPU contention, not a scaling law"), oversubscribed)

        let root = try XCTUnwrap(XMLDocument(contentsOf: URL(fileURLWithPath: out + "/scaling.svg"), options: []).rootElement())
        XCTAssertEqual(root.descendants("g", class: "series").map { $0.descendants("circle").count },
                       Array(repeating: results.workers.count, count: results.modes.count))
    }

    /// The median (the mean of the middle two for an even count).
    func median(_ xs: [Double]) -> Double {
        let s = xs.sorted(), n = s.count
        return n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2
    }
}
