import DSGDCore
import Foundation

extension Coordinator {
    /// The run as it stands after an update, as a checkpoint. Every submitted evaluation must have
    /// been collected (so the recorder's totals are those of this version).
    ///
    /// A sync run that has lost (or regained) a worker splits its data among the live workers; a
    /// resumed run starts with every worker again, so its workers' places are then recorded as the
    /// start of their epochs (the epoch is visited again rather than partly skipped).
    func makeCheckpoint() -> Checkpoint {
        let resharded = sharers.count != job.workers || members.shardOverride.contains { $0 != nil }
        let state = CheckpointState(
            step: store.version, parameterCount: store.count, hasVelocity: store.velocity != nil,
            mode: job.mode, workers: job.workers, seed: job.seed, learningRate: job.learningRate,
            onlineLambdaMax: onlineLambdaMax, shardEpochs: members.shardEpoch,
            batchesDone: resharded ? Array(repeating: 0, count: job.workers) : members.batchesDone.map { max(0, $0) },
            minibatches: members.minibatches, bytesMoved: bytesMoved, recorder: recorder.state)
        return Checkpoint(state: state, parameters: store.values, velocity: store.velocity)
    }

    /// Why `c` cannot continue this job, or nil.
    func checkpointProblem(_ c: Checkpoint) -> String? { c.problem(for: job, parameterCount: store.count) }

    /// Continues from `c` (checked by `checkpointProblem`): parameters, momentum and version; each
    /// worker's shard epoch and place in it (its first SHARD holds the rest of that shard); the
    /// recorder's totals and clocks.
    func restore(from c: Checkpoint) {
        store.restore(parameters: c.parameters, velocity: c.velocity, version: c.state.step)
        for k in 0..<job.workers {
            members.shardEpoch[k] = c.state.shardEpochs[k]
            members.batchesDone[k] = c.state.batchesDone[k]
            members.minibatches[k] = c.state.minibatches[k]
        }
        onlineLambdaMax = c.state.onlineLambdaMax
        bytesMoved = c.state.bytesMoved
        recorder.restore(c.state.recorder)
    }

    /// Writes a checkpoint after an update when `--checkpoint-every` steps or
    /// `--checkpoint-seconds` have come round.
    func checkpointIfDue() {
        let byStep = job.checkpointEvery.map { store.version % $0 == 0 } ?? false
        let byTime = job.checkpointSeconds > 0 && monotonicSeconds() - lastCheckpointAt >= job.checkpointSeconds
        if byStep || byTime { writeCheckpoint() }
    }

    /// At the end of a run that did not complete (a signal, a worker lost): a checkpoint of the
    /// last update, unless one is half applied (sync, between its first and last part), in which
    /// case the newest periodic checkpoint stands.
    func checkpointAtEnd() {
        guard recorder.trainingStarted else { return }
        guard store.pending == nil else {
            return log.info("no checkpoint of step \(store.version + 1): the run ended in the middle of it; --resume takes the newest one in \(checkpoints.directory.path)")
        }
        if checkpoints.list().first?.step == store.version { return }
        writeCheckpoint()
        log.info("checkpoint of step \(store.version) written; continue with --resume \(runDirectory.path)")
    }

    /// Writes the checkpoint of the current version (waiting for the evaluations in flight first,
    /// so the metrics and totals it records are complete). A failed write is logged and training
    /// goes on; the previous checkpoints stay.
    func writeCheckpoint() {
        collectEvaluations(wait: true)
        let started = monotonicSeconds()
        lastCheckpointAt = started
        do {
            let bytes = try makeCheckpoint().encoded()
            try checkpoints.write(bytes, step: store.version)
            checkpointsWritten += 1
            if checkpointsWritten == 1 {
                log.info(String(format: "checkpoint of step %d written to %@ (%.1f MB, %.0f ms); the newest %d are kept",
                                store.version, checkpoints.directory.path, Double(bytes.count) / 1e6,
                                (monotonicSeconds() - started) * 1e3, job.keepCheckpoints))
            }
        } catch {
            log.error("cannot write the checkpoint of step \(store.version): \(error)")
        }
    }
}
