import DSGDCluster
import DSGDCore
import Foundation
import XCTest

/// `--data FILE` with a worker that has no copy of the file (another host, no shared filesystem):
/// it fetches the file from the coordinator (FILE messages, 1 MiB at a time) into its cache,
/// checks it against the job's SHA-256, and trains bit-identically to a worker that had the file;
/// a second run finds the file in the cache and fetches nothing.
final class DataShippingTests: ClusterTestCase {
    /// Starts `dsgd ARGS` with `directory` as its working directory (and `environment`).
    func start(in directory: String, _ args: [String], name: String, environment: [String: String] = [:]) throws -> ChildProcess {
        let quoted = ([Self.binary] + args).map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }.joined(separator: " ")
        let c = try ChildProcess(name: name, executable: "/bin/sh", arguments: ["-c", "cd '\(directory)' && exec \(quoted)"],
                                 environment: environment, pipeStdout: true, stderrFile: path("\(name).stderr"))
        children.append(c)
        return c
    }

    /// One sync run of 2 workers on `data.csv` in `here`; worker 1 runs in `worker1Directory`.
    func run(_ out: String, here: String, worker1Directory: String, cache: String) throws -> [Float] {
        let label = (out as NSString).lastPathComponent
        let c = try start(in: here, ["coordinator", "--data", "data.csv", "--workers", "2", "--mode", "sync", "--steps", "120",
                                     "--bind", "tcp://127.0.0.1:0", "--out", out], name: "coordinator-\(label)")
        let ready = try XCTUnwrap(waitForLine(c, containing: "listening on "), "the coordinator's readiness line")
        let endpoint = String(ready[ready.range(of: "listening on ")!.upperBound...])
        let w0 = try start(in: here, ["worker", "--connect", endpoint, "--id", "0"], name: "w0-\(label)", environment: ["DSGD_CACHE": cache])
        let w1 = try start(in: worker1Directory, ["worker", "--connect", endpoint, "--id", "1"], name: "w1-\(label)", environment: ["DSGD_CACHE": cache])
        XCTAssertEqual(c.wait(timeout: 60), 0)
        XCTAssertEqual(w0.wait(timeout: 10), 0)
        XCTAssertEqual(w1.wait(timeout: 10), 0)
        return try params(out).values
    }

    func testAWorkerWithoutTheFileFetchesItAndTrainsBitIdentically() throws {
        let here = path("coordinator-host"), elsewhere = path("worker-host"), cache = path("cache")
        for d in [here, elsewhere] { try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true) }
        // About 1.4 MB of CSV: two chunks.
        let export = try run(["dataset", "export", "synthetic-logistic", "--examples", "15000", "--features", "8", "--out", here + "/data.csv"])
        XCTAssertEqual(export.code, 0, export.stderr)
        let size = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: here + "/data.csv")[.size] as? Int)
        XCTAssertGreaterThan(size, Wire.fileChunk, "the file takes more than one FILE answer")

        let together = try run(path("together"), here: here, worker1Directory: here, cache: cache)
        XCTAssertFalse(FileManager.default.fileExists(atPath: cache), "workers with the file fetch nothing")

        let apart = try run(path("apart"), here: here, worker1Directory: elsewhere, cache: cache)
        assertBitIdentical(apart, together, "worker 1 on the fetched copy against worker 1 on the file")
        let log = try String(contentsOfFile: path("w1-apart.stderr"), encoding: .utf8)
        XCTAssertTrue(log.contains("data.csv is not here: fetching it from the coordinator into \(cache)"), log)
        XCTAssertTrue(log.contains("fetched \(size) bytes into \(cache)/"), log)
        let cached = try FileManager.default.contentsOfDirectory(atPath: cache)
        XCTAssertEqual(cached.count, 1, "one file, named by its hash, no temporary left: \(cached)")
        let job = try JSONCoding.decoder().decode(ConfigFile.self, from: Data(contentsOf: URL(fileURLWithPath: path("apart") + "/config.json"))).job
        XCTAssertEqual(cached.first, job.dataset.sha256)

        // Again: the cached copy is used, nothing is fetched.
        let again = try run(path("again"), here: here, worker1Directory: elsewhere, cache: cache)
        assertBitIdentical(again, together, "worker 1 on the cached copy")
        let second = try String(contentsOfFile: path("w1-again.stderr"), encoding: .utf8)
        XCTAssertFalse(second.contains("fetching"), second)
    }
}
