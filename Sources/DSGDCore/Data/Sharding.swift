/// How the training set is split among workers: every epoch the coordinator draws a permutation
/// of all example indices from `(seed, epoch)` and gives worker k the k-th of `workers` equal
/// slices. The `examples mod workers` examples at the end of the permutation sit out that epoch
/// (a different few every epoch), so every worker takes the same number of steps.
public struct Sharding: Sendable, Equatable {
    public let examples: Int
    public let workers: Int
    public let seed: UInt64

    public init(examples: Int, workers: Int, seed: UInt64) {
        precondition(workers > 0 && examples >= workers)
        self.examples = examples
        self.workers = workers
        self.seed = seed
    }

    /// Examples in one worker's shard.
    public var shardSize: Int { examples / workers }

    /// The permutation of epoch `epoch` (Fisher–Yates from the seeded generator).
    public func permutation(epoch: Int) -> [UInt32] {
        var p: [UInt32] = []
        fillPermutation(epoch: epoch, into: &p)
        return p
    }

    /// Writes the permutation of epoch `epoch` into `buffer` (reusing its storage).
    public func fillPermutation(epoch: Int, into buffer: inout [UInt32]) {
        buffer.removeAll(keepingCapacity: true)
        for i in 0..<examples { buffer.append(UInt32(i)) }
        var rng = SplitMix64(seed: seed, stream: 0x5A4D_0000 &+ UInt64(epoch))
        var i = examples - 1
        while i > 0 {
            let j = Int(rng.next() % UInt64(i + 1))
            buffer.swapAt(i, j)
            i -= 1
        }
    }

    /// The example indices worker `worker` trains on in epoch `epoch`.
    public func shard(worker: Int, epoch: Int) -> ArraySlice<UInt32> {
        permutation(epoch: epoch)[worker * shardSize ..< (worker + 1) * shardSize]
    }
}
