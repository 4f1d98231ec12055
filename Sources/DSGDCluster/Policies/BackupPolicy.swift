/// Synchronous SGD with backup workers (Chen et al. 2016): each step averages the first N - b
/// gradients computed on the current version (summed in worker-id order, so which workers were
/// first decides the result, not the order they came in), applies the update and releases those
/// workers; a gradient computed on an older version comes too late and is dropped, and its sender
/// gets the current parameters.
///
/// Invariant: every update aggregates exactly N - b gradients, every gradient is either
/// aggregated or dropped, and when every worker computes one gradient per version, exactly b are
/// dropped per step (`dropped` in metrics.jsonl, `dropped_gradients` in summary.json).
///
/// Not pipelined by part: an update starts once N - b whole gradients are in.
final class BackupPolicy: UpdatePolicy {
    private let needed: Int
    private let examplesPerUpdate: Int
    private var arrived: [Int] = []
    private var chosen: [Int]

    init(job: JobConfig) {
        needed = job.workers - job.backupWorkers
        examplesPerUpdate = needed * job.batch
        chosen = Array(repeating: 0, count: needed)
        arrived.reserveCapacity(job.workers)
    }

    func start(_ c: Coordinator) throws {
        for k in 0..<c.members.count { try c.release(k) }
    }

    func received(part: Int, last: Bool, from k: Int, computedOn: Int, _ c: Coordinator) throws {
        guard last else { return }
        guard computedOn == c.store.version else {
            c.inbox.reset(k)
            c.recorder.recordDropped()
            return try c.release(k)
        }
        arrived.append(k)
        guard arrived.count == needed else { return }
        for i in 0..<needed { chosen[i] = arrived[i] }
        chosen.sort()
        arrived.removeAll(keepingCapacity: true)
        c.store.beginUpdate()
        for j in 0..<c.store.parts {
            guard c.aggregate(part: j, workers: chosen, count: needed) else { return }
        }
        for w in chosen { c.inbox.reset(w) }
        c.completeUpdate(examplesApplied: examplesPerUpdate, staleness: nil)
        guard c.finished == nil else { return }
        for w in chosen { try c.release(w) }
    }
}
