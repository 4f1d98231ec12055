import DSGDCluster
import Foundation
import XCTest

/// Checkpoints and `--resume`, with real processes: a sync run whose coordinator is SIGKILLed
/// mid-run and resumed reaches the target at the same step and the same final parameters, bit for
/// bit, as the run never interrupted, with no step twice in metrics.jsonl; a corrupt newest
/// checkpoint is named and the one before it used; SIGINT writes a checkpoint of the step it
/// stopped at and `dsgd coordinator --resume` continues from it; `--resume` is refused where it
/// cannot continue.
final class CheckpointResumeTests: ClusterTestCase {
    /// 4 sync workers, evaluated inline every 100 steps so the run stops at exactly the version that
    /// reached the target (near step 3,200 here: long enough to kill it after a checkpoint).
    let job = ["--workers", "4", "--mode", "sync", "--momentum", "0.5", "--lr", "0.25", "--steps", "8000", "--target-loss", "0.2927",
               "--eval-every", "100", "--evaluation", "inline", "--checkpoint-every", "250", "--checkpoint-seconds", "0"]

    /// Waits until `dir`/checkpoints holds a checkpoint of at least `step`.
    func waitForCheckpoint(_ dir: String, atLeast step: Int, timeout: Double = 60) -> Bool {
        let files = CheckpointFiles(run: URL(fileURLWithPath: dir))
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let newest = files.list().first, newest.step >= step { return true }
            usleep(20_000)
        }
        return false
    }

    /// The pid of the coordinator `dsgd run` (pid `launcher`) started.
    func coordinatorPid(of launcher: ChildProcess) throws -> pid_t {
        let pid = processesLaunched(by: launcher.pid, role: "coordinator").first
        return pid_t(try XCTUnwrap(pid, "the launcher's coordinator"))
    }

    func testASyncRunResumedAfterItsCoordinatorWasKilledIsBitIdenticalToOneNeverInterrupted() throws {
        let whole = path("whole")
        XCTAssertEqual(try run(["run", "--quiet", "--out", whole] + job).code, 0)
        let reference = try summary(whole)
        XCTAssertEqual(reference.status, .completed)
        let targetStep = try XCTUnwrap(reference.stepsToTarget)
        XCTAssertGreaterThan(targetStep, 1000, "the run lasts past the checkpoint it is killed after")

        let out = path("killed")
        let launcher = try start(["run", "--quiet", "--out", out] + job)
        XCTAssertTrue(waitForCheckpoint(out, atLeast: 750), "checkpoints written every 250 steps")
        kill(try coordinatorPid(of: launcher), SIGKILL)
        XCTAssertEqual(launcher.wait(timeout: 30), 1)
        XCTAssertEqual(try summary(out).error, "the coordinator was killed by signal 9")
        let kept = CheckpointFiles(run: URL(fileURLWithPath: out)).list()
        XCTAssertLessThanOrEqual(kept.count, 3, "the newest 3 are kept")
        XCTAssertLessThan(try XCTUnwrap(kept.first).step, targetStep, "killed before the end")
        XCTAssertTrue(kept.allSatisfy { $0.step % 250 == 0 })

        // A torn or flipped newest checkpoint: named, and the one before it used.
        let newest = try XCTUnwrap(kept.first), before = kept[1]
        var bytes = try [UInt8](Data(contentsOf: newest.url))
        bytes[bytes.count / 2] ^= 0x10
        try Data(bytes).write(to: newest.url)

        let resumed = try run(["run", "--resume", out])
        XCTAssertEqual(resumed.code, 0, resumed.stderr)
        XCTAssertTrue(resumed.stderr.contains("skipping checkpoint \(newest.url.lastPathComponent): checksum mismatch (corrupt or truncated)"), resumed.stderr)
        XCTAssertTrue(resumed.stderr.contains("resuming \(out) from step \(before.step)"), resumed.stderr)
        let s = try summary(out)
        XCTAssertEqual(s.status, .completed)
        XCTAssertEqual(s.stepsToTarget, targetStep, "the same target at the same step")
        XCTAssertEqual(s.steps, reference.steps)
        XCTAssertEqual(s.examples, reference.examples)
        assertBitIdentical(try params(out).values, try params(whole).values, "final parameters, resumed against never interrupted")

        // metrics.jsonl: each step once, and the same points (step, examples, loss) as the whole run.
        let rows = try metrics(out), wholeRows = try metrics(whole)
        XCTAssertEqual(rows.map(\.step), wholeRows.map(\.step))
        XCTAssertEqual(Set(rows.map(\.step)).count, rows.count, "no step twice")
        XCTAssertEqual(rows.map(\.examples), wholeRows.map(\.examples))
        XCTAssertEqual(rows.map(\.loss), wholeRows.map(\.loss))
    }

    func testSIGINTWritesACheckpointOfItsStepAndCoordinatorResumeContinuesFromIt() throws {
        let out = path("interrupted")
        let args = ["--workers", "2", "--mode", "async", "--lr", "0.2", "--steps", "40000", "--eval-every", "500", "--checkpoint-seconds", "0"]
        let (c, endpoint) = try startCoordinator(args, out: out)
        let workers = try (0..<2).map { try startWorker($0, endpoint: endpoint) }
        XCTAssertNotNil(waitForProgress(c, atLeastStep: 1000), "training is under way")
        kill(c.pid, SIGINT)
        XCTAssertEqual(c.wait(timeout: 10), 130)
        for w in workers { XCTAssertNotNil(w.wait(timeout: 10)) }
        let stopped = try summary(out)
        XCTAssertEqual(stopped.status, .interrupted)
        let files = CheckpointFiles(run: URL(fileURLWithPath: out))
        XCTAssertEqual(files.list().map(\.step), [stopped.steps], "--checkpoint-seconds 0: only the checkpoint at the signal, of its step")

        // Resumed by hand: the job is config.json's; it runs on to the step limit.
        let r = try start(["coordinator", "--resume", out, "--bind", "tcp://127.0.0.1:0"], name: "resumed")
        let ready = try XCTUnwrap(waitForLine(r, containing: "listening on "))
        let again = String(ready[ready.range(of: "listening on ")!.upperBound...])
        XCTAssertFalse(FileManager.default.fileExists(atPath: out + "/summary.json"), "the old outcome is gone while the run goes on")
        _ = try (0..<2).map { try startWorker($0, endpoint: again) }
        XCTAssertEqual(r.wait(timeout: 120), 0)
        let s = try summary(out)
        XCTAssertEqual(s.status, .completed)
        XCTAssertEqual(s.steps, 40000)
        XCTAssertEqual(s.examples, 40000 * 32, "examples count on from the checkpoint's")
        let steps = try metrics(out).map(\.step)
        XCTAssertEqual(steps, steps.sorted())
        XCTAssertEqual(Set(steps).count, steps.count, "no step twice")
        XCTAssertTrue(steps.contains(stopped.steps), "the point of the interrupted step is kept")
        XCTAssertLessThan(try XCTUnwrap(s.finalLoss), 0.31, "trained on from the checkpoint (0.69 at step 0)")
    }

    func testResumeIsRefusedWhereItCannotContinue() throws {
        let empty = path("empty")
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        let none = try run(["run", "--resume", empty])
        XCTAssertEqual(none.code, 1)
        XCTAssertTrue(none.stderr.contains("\(empty): no run there (no config.json)"), none.stderr)

        let done = path("done")
        XCTAssertEqual(try run(["run", "--quiet", "--workers", "2", "--steps", "50", "--checkpoint-seconds", "0", "--out", done]).code, 0)
        let noCheckpoint = try run(["run", "--resume", done])
        XCTAssertEqual(noCheckpoint.code, 1)
        XCTAssertTrue(noCheckpoint.stderr.contains("no valid checkpoint in \(done)/checkpoints"), noCheckpoint.stderr)

        for (args, message) in [(["--lr", "0.1"], "give no training flags with it"), (["--out", done], "give no --out or --overwrite with it")] {
            let r = try run(["run", "--resume", done] + args)
            XCTAssertNotEqual(r.code, 0)
            XCTAssertTrue(r.stderr.contains(message), r.stderr)
        }
    }
}
