import DSGDCluster
import Foundation
import XCTest
import ZeroMQ

/// A worker dying in the middle of a sync (and an ssp) run with `--min-workers`: the step in
/// progress completes with the live workers, the dead worker's unused minibatches of the epoch go
/// to the survivors, and the next epochs are split among the survivors, so every example is still
/// visited exactly once in every epoch; a SIGKILLed real worker leaves a run that completes and
/// reaches its target.
final class DeadWorkerSyncTests: ClusterTestCase {
    /// Four scripted workers, 48 examples, batch 4: 3 minibatches a worker an epoch with 4 workers,
    /// 4 with 3. Worker 3 stops answering at its fifth PARAMS (epoch 1, its second minibatch):
    /// its last two minibatches of epoch 1 are dealt to workers 0 and 1. Every minibatch a worker
    /// sent was applied (sync drops nothing), so the minibatches sent, grouped by the epoch of the
    /// shard they came from, must be the training set once per epoch.
    func testEveryExampleIsVisitedOnceInEveryEpochAfterAWorkerDies() throws {
        let n = 4, examples = 48, batch = 4, epochs = 4
        let out = path("coverage")
        let (coordinator, endpoint) = try startCoordinator(
            ["--workers", "\(n)", "--mode", "sync", "--model", "logistic", "--examples", "\(examples)", "--features", "3",
             "--batch", "\(batch)", "--epochs", "\(epochs)", "--min-workers", "3", "--worker-timeout", "1"], out: out)
        let workers = try (0..<n).map { try ScriptedWorker(id: $0, connect: endpoint) }
        for w in workers { try w.register() }

        var sent: [(worker: Int, epoch: Int, batch: [UInt32])] = []
        var paramsSeen = Array(repeating: 0, count: n)
        var live = Set(0..<n), stopped = Set<Int>()
        let deadline = Date().addingTimeInterval(60)
        while stopped.count < live.count, Date() < deadline {
            for w in workers where live.contains(w.id) && !stopped.contains(w.id) {
                guard try w.peer.poller.waitForInput(timeoutMs: 5) else { continue }
                switch try w.next() {
                case .params:
                    paramsSeen[w.id] += 1
                    if w.id == 3 && paramsSeen[3] == 5 {
                        w.peer.close()  // dies without a word
                        live.remove(3)
                        continue
                    }
                    let g = try w.computeGradient()
                    sent.append((w.id, w.shard!.epoch, g.batch))
                    try w.send(g)
                case .stop(let reason):
                    XCTAssertEqual(reason, "training completed")
                    stopped.insert(w.id)
                }
            }
        }
        XCTAssertEqual(stopped, [0, 1, 2], "the survivors are stopped at the end")
        for k in stopped { try workers[k].bye() }
        XCTAssertEqual(coordinator.wait(timeout: 30), 0)

        for e in 0..<epochs {
            let visited = sent.filter { $0.epoch == e }.flatMap(\.batch).map(Int.init).sorted()
            XCTAssertEqual(visited, Array(0..<examples), "epoch \(e): every example exactly once")
        }
        XCTAssertEqual(sent.filter { $0.worker == 3 }.map(\.epoch), [0, 0, 0, 1], "worker 3 died in its second minibatch of epoch 1")
        // The redistribution: a second SHARD of epoch 1 for workers 0 and 1 (1 own + 1 of worker 3's
        // minibatches) and worker 2 (its own last one); the next epochs split in three.
        XCTAssertEqual(workers[0].shards.map(\.epoch), [0, 1, 1, 2, 3])
        XCTAssertEqual(workers[0].shards.map(\.indices.count), [12, 12, 8, 16, 16])
        XCTAssertEqual(workers[2].shards.map(\.indices.count), [12, 12, 4, 16, 16])

        let s = try summary(out)
        XCTAssertEqual(s.status, .completed)
        XCTAssertEqual(s.deadWorkers, [3])
        XCTAssertEqual(s.examples, epochs * examples, "whole epochs, none lost")
        XCTAssertTrue(allStderr().contains("worker 3 declared dead: no gradient for 1.0 s; going on with 3 of 4 workers (--min-workers 3)"))
    }

    func workerPid(_ k: Int, of launcher: ChildProcess) -> pid_t? {
        for pid in processesLaunched(by: launcher.pid) {
            guard let argv = try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8).split(separator: "\0"),
                  argv.count > 1, argv[1] == "worker", let i = argv.firstIndex(of: "--id"), i + 1 < argv.count, argv[i + 1] == "\(k)"
            else { continue }
            return pid_t(pid)
        }
        return nil
    }

    /// `dsgd run`, 4 workers, one SIGKILLed early: the run completes at its target with 3.
    /// A small rate (`lr`, per update), so that the target is some thousand updates away.
    func checkRunSurvivesAKilledWorker(mode: String, lr: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let out = path("killed-\(mode)")
        let launcher = try start(["run", "--workers", "4", "--mode", mode, "--lr", lr, "--min-workers", "3", "--worker-timeout", "3",
                                  "--target-loss", "0.30", "--steps", "200000", "--eval-every", "100", "--out", out])
        XCTAssertNotNil(waitForLine(launcher, containing: "step 0/200000 "), "training started", file: file, line: line)
        usleep(300_000)
        kill(try XCTUnwrap(workerPid(1, of: launcher), file: file, line: line), SIGKILL)
        XCTAssertEqual(launcher.wait(timeout: 120), 0, "the run completes without worker 1", file: file, line: line)
        let s = try summary(out)
        XCTAssertEqual(s.status, .completed, file: file, line: line)
        XCTAssertEqual(s.deadWorkers, [1], file: file, line: line)
        XCTAssertNotNil(s.stepsToTarget, "the target is reached", file: file, line: line)
        XCTAssertLessThanOrEqual(try XCTUnwrap(s.finalLoss, file: file, line: line), 0.301, file: file, line: line)
        let minibatches = try XCTUnwrap(s.workerMinibatches, file: file, line: line)
        XCTAssertLessThan(minibatches[1] * 2, minibatches[0], "worker 1 stopped early", file: file, line: line)
    }

    func testSyncRunCompletesAtItsTargetWithoutAKilledWorker() throws {
        try checkRunSurvivesAKilledWorker(mode: "sync", lr: "0.05")
    }

    func testSSPRunCompletesAtItsTargetWithoutAKilledWorker() throws {
        try checkRunSurvivesAKilledWorker(mode: "ssp", lr: "0.0125")
    }
}
