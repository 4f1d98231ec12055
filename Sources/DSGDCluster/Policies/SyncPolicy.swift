/// Synchronous SGD: every step takes one gradient from each participating worker and averages
/// them in worker-id order, so arrival order never changes a bit of the result.
///
/// Invariant: update t is `w_t+1 = step(w_t, (1/n) sum_k g_k(w_t))` over the step's n
/// participants, with the sum taken as `((g_0 + g_1) + g_2) + ...`; every participant computes
/// exactly one gradient on every version. The participants are every worker, unless one was
/// declared dead (`--min-workers`): the step in progress then completes with the others, the dead
/// worker's unused minibatches of the epoch are dealt out to the survivors, a survivor that has
/// used up its share waits for the others to finish the epoch, and the next epoch is split among
/// the live workers; so every example is still visited once in every epoch. A worker that rejoins
/// takes part again from the next epoch.
///
/// Pipelined by part: part j is averaged as soon as every participant's part j is in, and (unless
/// this update ends the run) the new parameters' part j goes out to the next step's participants
/// at once, while later parts are still on the wire. The first part of an update first sends the
/// SHARDs of a new epoch or of a redistribution (a SHARD must precede the PARAMS parts).
final class SyncPolicy: UpdatePolicy {
    private let unit: Int
    /// This step's participants and the next one's, in id order.
    private var participants: [Int]
    private var next: [Int] = []
    private var partsAggregated = 0
    private var pipelined = false
    /// Unused minibatches of dead workers, to deal out before the next step.
    private var orphans: [(epoch: Int, entries: [UInt32])] = []

    init(job: JobConfig) {
        unit = job.examplesPerGradient
        participants = Array(0..<job.workers)
        next.reserveCapacity(job.workers)
    }

    func start(_ c: Coordinator) throws {
        for k in participants { try c.release(k) }
    }

    func received(part: Int, last: Bool, from k: Int, computedOn: Int, _ c: Coordinator) throws {
        try aggregateWhatIsIn(c)
    }

    /// The step goes on without `k`; its unused minibatches go to the survivors before the next step.
    func workerLeft(_ k: Int, _ c: Coordinator) throws {
        let unused = c.unusedEntries(of: k)
        if !unused.entries.isEmpty { orphans.append(unused) }
        participants.removeAll { $0 == k }
        c.inbox.reset(k)
        try aggregateWhatIsIn(c)
    }

    /// A rejoined worker has no shard until the next epoch starts (`nextParticipants`).
    func workerRejoined(_ k: Int, _ c: Coordinator) throws {
        c.members.batchesDone[k] = 0
        c.members.shardBatches[k] = 0
        c.members.shardOverride[k] = nil
    }

    /// Averages every part that all participants have sent, in order, and completes the step
    /// when the last part is averaged.
    private func aggregateWhatIsIn(_ c: Coordinator) throws {
        let parts = c.store.parts
        guard !participants.isEmpty else { return }
        while partsAggregated < parts, participants.allSatisfy({ c.inbox.partsReceived[$0] > partsAggregated }) {
            let j = partsAggregated
            if j == 0 {
                c.store.beginUpdate(inPlace: c.stepsAreSparse)
                pipelined = !c.reachesLimit(examplesApplied: participants.count * unit)
                if pipelined { try nextParticipants(c) }
            }
            if let noise = c.recorder.noise { c.measureNoise(noise, part: j, workers: participants, count: participants.count) }
            guard c.aggregate(part: j, workers: participants, count: participants.count) else { return }
            if pipelined { try c.broadcastPart(j, of: c.store.pending!, version: c.store.version + 1, previous: c.store.current, to: next) }
            partsAggregated = j + 1
        }
        guard partsAggregated == parts else { return }
        partsAggregated = 0
        for w in participants { c.inbox.reset(w) }
        c.completeUpdate(examplesApplied: participants.count * unit, staleness: nil)
        if pipelined {
            swap(&participants, &next)
            let now = monotonicSeconds()
            for w in participants { c.members.markSent(w, version: c.store.version, at: now) }
        }
    }

    /// Sets `next` to the next step's participants, between two steps (every participant's
    /// minibatch of this step is counted): first deals out the dead workers' minibatches, then
    /// takes the live workers with a minibatch left in their shard; when none has one, starts the
    /// next epoch for every live worker.
    private func nextParticipants(_ c: Coordinator) throws {
        let live = c.members.liveAndReady
        for o in orphans { try c.redistribute(o.entries, epoch: o.epoch, among: live) }
        orphans.removeAll()
        next.removeAll(keepingCapacity: true)
        for k in live where c.members.batchesDone[k] < c.members.shardBatches[k] { next.append(k) }
        if next.isEmpty {
            try c.startEpoch(for: live)
            next.append(contentsOf: live)
        }
    }
}
