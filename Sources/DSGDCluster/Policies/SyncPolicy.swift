/// Synchronous SGD: every step takes one gradient from each of the N workers and averages them in
/// worker-id order, so arrival order never changes a bit of the result.
///
/// Invariant: update t is `w_t+1 = step(w_t, (1/N) sum_k g_k(w_t))` with the sum taken as
/// `((g_0 + g_1) + g_2) + ...`; every worker computes exactly one gradient on every version.
///
/// Pipelined by part: part j is averaged as soon as every worker's part j is in, and (unless this
/// update ends the run) the new parameters' part j goes out to every worker at once, while later
/// parts are still on the wire. The first part of an update first sends a new SHARD to each
/// worker whose shard is used up (a SHARD must precede the PARAMS parts).
final class SyncPolicy: UpdatePolicy {
    private let workers: Int
    private let examplesPerUpdate: Int
    private let order: [Int]
    private var partsAggregated = 0
    private var pipelined = false

    init(job: JobConfig) {
        workers = job.workers
        examplesPerUpdate = job.examplesPerStep
        order = Array(0..<job.workers)
    }

    func start(_ c: Coordinator) throws {
        for k in 0..<workers { try c.release(k) }
    }

    func received(part: Int, last: Bool, from k: Int, computedOn: Int, _ c: Coordinator) throws {
        let parts = c.store.parts
        while partsAggregated < parts, c.inbox.partsReceived.allSatisfy({ $0 > partsAggregated }) {
            let j = partsAggregated
            if j == 0 {
                c.store.beginUpdate()
                pipelined = !c.reachesLimit(examplesApplied: examplesPerUpdate)
                if pipelined { for w in 0..<workers { try c.sendShardIfUsedUp(w) } }
            }
            if let noise = c.recorder.noise { c.measureNoise(noise, part: j, workers: order, count: workers) }
            guard c.aggregate(part: j, workers: order, count: workers) else { return }
            if pipelined { try c.broadcastPart(j, of: c.store.pending!, version: c.store.version + 1) }
            partsAggregated = j + 1
        }
        guard partsAggregated == parts else { return }
        partsAggregated = 0
        for w in 0..<workers { c.inbox.reset(w) }
        c.completeUpdate(examplesApplied: examplesPerUpdate, staleness: nil)
        if pipelined {
            let now = monotonicSeconds()
            for w in 0..<workers { c.members.markSent(w, version: c.store.version, at: now) }
        }
    }
}
