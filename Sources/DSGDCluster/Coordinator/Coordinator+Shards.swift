import DSGDCore
import ZeroMQ

/// Which examples each worker trains on: worker k's shard of epoch e is its slice of e's
/// permutation among the `sharers` (every worker, unless a sync run lost or regained one), less the
/// minibatches it has used; after a sync worker's death, the rest of its shard is dealt out to
/// the survivors (`redistribute`), so every example is still visited once in the epoch.
extension Coordinator {
    /// The indices of worker `k`'s current shard, whole (from its first minibatch).
    func shardEntries(of k: Int) -> ArraySlice<UInt32> {
        if let o = members.shardOverride[k] { return o[...] }
        let epoch = members.shardEpoch[k]
        if permutationEpoch != epoch {
            sharding.fillPermutation(epoch: epoch, into: &permutation)
            // With a held-out set the permutation is of positions in the training index list.
            if let train = trainIndices {
                for i in permutation.indices { permutation[i] = train[Int(permutation[i])] }
            }
            permutationEpoch = epoch
        }
        let size = sharding.examples / sharers.count
        let i = sharers.firstIndex(of: k) ?? 0
        return permutation[(i * size) ..< ((i + 1) * size)]
    }

    /// Minibatches in a slice of the permutation among `count` sharers.
    func plannedBatches(sharers count: Int) -> Int { (sharding.examples / count) / job.examplesPerGradient }

    /// Sends worker `k` its current shard, less the minibatches it has already used of it (none,
    /// except in a run resumed from a checkpoint mid-shard).
    func sendShard(to k: Int) throws {
        let entries = shardEntries(of: k)
        let used = members.batchesDone[k] * job.examplesPerGradient
        let rest = entries.dropFirst(used)
        let h = MessageHeader(type: .shard, workerID: UInt32(k), count: UInt32(rest.count), step: UInt64(members.shardEpoch[k]),
                              payloadLength: UInt32(4 * rest.count))
        h.encode(into: header)
        try sendRouted(to: k) {
            try socket.send(bytes: UnsafeRawBufferPointer(header), more: true)
            try rest.withUnsafeBytes { try socket.send(bytes: $0, more: false) }
        }
    }

    /// Sends worker `k` the next epoch's shard if it has used up its current one.
    func sendShardIfUsedUp(_ k: Int) throws {
        guard members.batchesDone[k] >= members.shardBatches[k] else { return }
        members.batchesDone[k] = 0
        members.shardEpoch[k] += 1
        members.shardOverride[k] = nil
        members.shardBatches[k] = plannedBatches(sharers: sharers.count)
        try sendShard(to: k)
    }

    /// Sync: starts the next epoch for `workers` (every live worker, each done with its shard, or
    /// rejoined), the permutation split among them, and sends each its shard.
    func startEpoch(for workers: [Int]) throws {
        let epoch = workers.map { members.shardEpoch[$0] }.max()! + 1
        sharers = workers
        let batches = plannedBatches(sharers: workers.count)
        for k in workers {
            members.shardEpoch[k] = epoch
            members.batchesDone[k] = 0
            members.shardOverride[k] = nil
            members.shardBatches[k] = batches
            try sendShard(to: k)
        }
    }

    /// The unused rest of worker `k`'s current shard (whole minibatches), and its epoch.
    func unusedEntries(of k: Int) -> (epoch: Int, entries: [UInt32]) {
        let unit = job.examplesPerGradient
        let entries = shardEntries(of: k)
        let from = entries.startIndex + max(0, members.batchesDone[k]) * unit
        let to = entries.startIndex + members.shardBatches[k] * unit
        return (members.shardEpoch[k], from < to ? Array(entries[from ..< to]) : [])
    }

    /// Sync: deals `orphans` (whole minibatches of epoch `epoch`, of a dead worker) out to
    /// `survivors` (live workers in that epoch, between two steps): each gets a new shard of the
    /// rest of its own and its share of the orphans (shares differ by at most one minibatch), sent
    /// now. Returns false if no survivor is in that epoch (the orphans are then not visited).
    @discardableResult
    func redistribute(_ orphans: [UInt32], epoch: Int, among survivors: [Int]) throws -> Bool {
        let unit = job.examplesPerGradient
        let takers = survivors.filter { members.shardEpoch[$0] == epoch }
        guard !takers.isEmpty else { return false }
        let batches = orphans.count / unit
        var next = 0
        for (i, k) in takers.enumerated() {
            let share = batches / takers.count + (i < batches % takers.count ? 1 : 0)
            let entries = unusedEntries(of: k).entries + orphans[(next * unit) ..< ((next + share) * unit)]
            next += share
            members.shardOverride[k] = entries
            members.batchesDone[k] = 0
            members.shardBatches[k] = entries.count / unit
            try sendShard(to: k)
        }
        return true
    }
}
