/// Stale synchronous parallel SGD (Ho et al. 2013): gradients are applied on arrival as in async
/// SGD, but a worker may run at most `s` clocks ahead of the slowest. A worker's clock is the
/// number of its gradients applied; after its gradient is applied, worker k is sent new parameters
/// only while `clock_k - min_j clock_j <= s`; otherwise it waits until the slowest catches up.
///
/// Invariant (checked in the logs): every release happens with a lead `clock_k - min clock <= s`
/// (the minimum over live workers: one declared dead under `--min-workers` holds no one back);
/// the largest lead is `lead_max` in metrics.jsonl and `ssp_lead_max` in summary.json. s = 0 runs
/// the workers in lockstep, one gradient each per round, each applied on its own.
final class SSPPolicy: UpdatePolicy {
    private let bound: Int
    private let async: AsyncPolicy
    private var clocks: [Int]
    private var waiting: [Bool]

    init(job: JobConfig) {
        bound = job.staleness
        async = AsyncPolicy(job: job)
        clocks = Array(repeating: 0, count: job.workers)
        waiting = Array(repeating: false, count: job.workers)
    }

    func start(_ c: Coordinator) throws {
        for k in clocks.indices { try releaseIfAllowed(k, c) }
    }

    func received(part: Int, last: Bool, from k: Int, computedOn: Int, _ c: Coordinator) throws {
        guard last else { return }
        guard try async.apply(from: k, computedOn: computedOn, c) else { return }
        clocks[k] += 1
        waiting[k] = true
        // k itself, and anyone the slowest's progress now lets go.
        for w in clocks.indices where waiting[w] {
            try releaseIfAllowed(w, c)
        }
    }

    /// The others go on: the slowest is now the slowest live worker, which may let some go.
    func workerLeft(_ k: Int, _ c: Coordinator) throws {
        waiting[k] = false
        for w in clocks.indices where waiting[w] { try releaseIfAllowed(w, c) }
    }

    /// A rejoined worker starts level with the slowest live worker, with its shard and the
    /// current parameters.
    func workerRejoined(_ k: Int, _ c: Coordinator) throws {
        clocks[k] = slowest(c, excluding: k) ?? clocks[k]
        waiting[k] = false
        try c.sendShard(to: k)
        try c.sendParams(to: k)
    }

    /// The smallest clock among the live workers (other than `excluded`).
    private func slowest(_ c: Coordinator, excluding excluded: Int = -1) -> Int? {
        var m: Int?
        for w in clocks.indices where w != excluded && !c.members.isDead(w) { m = min(m ?? clocks[w], clocks[w]) }
        return m
    }

    private func releaseIfAllowed(_ k: Int, _ c: Coordinator) throws {
        let lead = clocks[k] - (slowest(c) ?? clocks[k])
        guard lead <= bound else { return }
        waiting[k] = false
        c.recorder.recordLead(lead)
        try async.release(k, c)
    }
}
