import DSGDCluster
import Foundation
import XCTest

/// Run directories that cannot lie, and a launcher whose cleanup never rewrites a run's status:
/// a directory holding a run is refused (by `dsgd run` and by a coordinator by hand) unless
/// `--overwrite`, which removes every file of the old run and temporary files of interrupted
/// writes; an empty `--out` is refused; a killed coordinator is named as the cause; a worker the
/// launcher has to stop after a completed run leaves the run completed.
final class RunDirectoryTests: ClusterTestCase {
    let small = ["--workers", "2", "--examples", "800", "--features", "8", "--steps", "40", "--quiet"]

    func testADirectoryHoldingARunIsRefusedUnlessOverwritten() throws {
        let out = path("reused")
        let first = try run(["run"] + small + ["--online-curvature", "3", "--out", out])
        XCTAssertEqual(first.code, 0, first.stderr)
        let before = try String(contentsOfFile: out + "/summary.json", encoding: .utf8)
        XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/curvature.jsonl"))

        let again = try run(["run"] + small + ["--steps", "20", "--out", out])
        XCTAssertEqual(again.code, 1)
        XCTAssertTrue(again.stderr.contains("--out \(out) already holds a run (config.json, metrics.jsonl, summary.json, params.json, curvature.jsonl): choose another directory, or pass --overwrite to replace it"), again.stderr)
        XCTAssertEqual(try String(contentsOfFile: out + "/summary.json", encoding: .utf8), before, "the old run is untouched")

        let byHand = try run(["coordinator", "--workers", "1", "--out", out])
        XCTAssertEqual(byHand.code, 1)
        XCTAssertTrue(byHand.stderr.contains("already holds a run"), byHand.stderr)

        // A temporary file of an interrupted write, and a file of the user's, beside the old run.
        _ = FileManager.default.createFile(atPath: out + "/.summary.json.nosync1a2b", contents: Data("{".utf8))
        _ = FileManager.default.createFile(atPath: out + "/notes.txt", contents: Data("mine".utf8))
        let replaced = try run(["run"] + small + ["--steps", "20", "--overwrite", "--out", out])
        XCTAssertEqual(replaced.code, 0, replaced.stderr)
        let s = try summary(out)
        XCTAssertEqual(s.steps, 20)
        XCTAssertEqual(try metrics(out).last?.step, 20)
        XCTAssertEqual(try metrics(out).first?.step, 0, "metrics.jsonl starts anew")
        XCTAssertFalse(FileManager.default.fileExists(atPath: out + "/curvature.jsonl"), "no stale curvature.jsonl")
        XCTAssertFalse(FileManager.default.fileExists(atPath: out + "/.summary.json.nosync1a2b"), "no temporary file left")
        XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/notes.txt"), "other files are left alone")
        // Each worker's log is in the run directory, of this run only (the first run's lines are gone).
        for k in 0..<2 {
            let log = try String(contentsOfFile: out + "/worker-\(k).log", encoding: .utf8)
            XCTAssertEqual(log.components(separatedBy: "dsgd worker \(k): coordinator says stop: training completed (20 minibatches computed)").count - 1, 1, log)
        }
    }

    func testEmptyAndFilePathsAreRefused() throws {
        let empty = try run(["run"] + small + ["--out", ""])
        XCTAssertEqual(empty.code, 1)
        XCTAssertTrue(empty.stderr.contains("--out must name a directory (got an empty path)"), empty.stderr)
        let file = path("a-file")
        _ = FileManager.default.createFile(atPath: file, contents: Data())
        let onFile = try run(["run"] + small + ["--out", file])
        XCTAssertEqual(onFile.code, 1)
        XCTAssertTrue(onFile.stderr.contains("--out \(file) is a file, not a directory"), onFile.stderr)
    }

    /// SIGKILL of the coordinator under `dsgd run`: the launcher names it as the cause at once
    /// and stops the workers together.
    func testAKilledCoordinatorIsTheCause() throws {
        let out = path("killed")
        let launcher = try start(["run", "--workers", "4", "--epochs", "100000", "--eval-every", "50", "--out", out])
        XCTAssertNotNil(waitForLine(launcher, containing: "step 0 "), "training started")
        let coordinator = try XCTUnwrap(processesLaunched(by: launcher.pid, role: "coordinator").first)
        let killedAt = Date()
        kill(pid_t(coordinator), SIGKILL)
        XCTAssertEqual(launcher.wait(timeout: 30), 1)
        XCTAssertLessThan(Date().timeIntervalSince(killedAt), 10, "the workers were stopped together, not 5 s each")
        let s = try summary(out)
        XCTAssertEqual(s.status, .failed)
        XCTAssertEqual(s.error, "the coordinator was killed by signal 9")
        XCTAssertTrue(processesLaunched(by: launcher.pid).isEmpty)
    }

    /// A worker frozen (SIGSTOP) during an async run: the others finish it, the launcher has to
    /// stop the frozen one after the coordinator completed, and the run stays completed.
    func testStoppingASlowWorkerAfterTheRunDoesNotFailIt() throws {
        let out = path("straggler")
        let launcher = try start(["run", "--workers", "3", "--mode", "async", "--examples", "3000", "--features", "8",
                                  "--steps", "3000", "--eval-every", "100", "--worker-timeout", "60", "--out", out])
        XCTAssertNotNil(waitForLine(launcher, containing: "step 0/3000 "), "training started")
        let workers = processesLaunched(by: launcher.pid, role: "worker")
        XCTAssertEqual(workers.count, 3)
        guard let frozen = workers.first else { return }
        kill(pid_t(frozen), SIGSTOP)
        XCTAssertEqual(launcher.wait(timeout: 60), 0, "the run completed and cleanup does not fail it")
        let s = try summary(out)
        XCTAssertEqual(s.status, .completed)
        XCTAssertEqual(s.steps, 3000)
        XCTAssertNil(s.error)
        let log = try String(contentsOfFile: path(try XCTUnwrap(FileManager.default.contentsOfDirectory(atPath: scratch.path).first { $0.hasPrefix("dsgd-") && $0.hasSuffix(".stderr") })), encoding: .utf8)
        XCTAssertTrue(log.contains("had not exited 5 s after the coordinator; stopped it"), log)
    }
}
