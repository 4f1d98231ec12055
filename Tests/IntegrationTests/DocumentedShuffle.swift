/// dsgd's data order written again from docs/PROTOCOL.md (§6.1 SplitMix64, §6.3 sharding and the
/// held-out split), without DSGDCore's `SplitMix64`, `Sharding` or `HoldoutSplit`: the reference
/// the cluster tests hold the coordinator's SHARD messages against, so a shuffle bug in the code
/// under test cannot hide in a reference that shares it.
enum DocumentedShuffle {
    /// SplitMix64 as §6.1 gives it: u64 arithmetic, wrapping.
    struct Generator {
        var state: UInt64

        mutating func next() -> UInt64 {
            state = state &+ 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }

        /// `stream(seed, tag)` of §6.1: an independent sub-stream, one draw discarded.
        static func stream(seed: UInt64, tag: UInt64) -> Generator {
            var mixer = Generator(state: seed ^ 0x9E37_79B9_7F4A_7C15)
            let a = mixer.next()
            var g = Generator(state: a &+ tag &* 0xD1B5_4A32_D192_ED03)
            _ = g.next()
            return g
        }
    }

    /// The stream tag of epoch `epoch`'s permutation (§6.3).
    static func epochTag(_ epoch: Int) -> UInt64 { 0x5A4D_0000 &+ UInt64(epoch) }
    /// The stream tag of the held-out split's permutation (§6.3).
    static let holdoutTag: UInt64 = 0x484F_4C44_0000_0000

    /// §6.3: start from the identity of `0 ..< n`; for i = n-1 down to 1 swap entries i and
    /// `r.next() mod (i + 1)`, r = `stream(seed, tag)`.
    static func permutation(count n: Int, seed: UInt64, tag: UInt64) -> [Int] {
        var p = Array(0..<n)
        var r = Generator.stream(seed: seed, tag: tag)
        var i = n - 1
        while i >= 1 {
            let j = Int(r.next() % UInt64(i + 1))
            p.swapAt(i, j)
            i -= 1
        }
        return p
    }

    /// The held-out split of `m` materialised examples (§6.3): the last `round(fraction m)`
    /// entries of the split's permutation are the test set, the rest, ascending, the training list.
    static func split(examples m: Int, fraction: Double, seed: UInt64) -> (train: [Int], test: [Int]) {
        let held = Int((fraction * Double(m)).rounded())
        guard held > 0 else { return (Array(0..<m), []) }
        let p = permutation(count: m, seed: seed, tag: holdoutTag)
        return (p[..<(m - held)].sorted(), p[(m - held)...].sorted())
    }

    /// Worker `worker`'s shard of epoch `epoch` (§6.3): entries `[k S, (k+1) S)` of the epoch's
    /// permutation of the `train.count` training positions, S = `train.count / workers`, mapped
    /// through the training list (indices into the full data set).
    static func shard(epoch: Int, worker: Int, workers: Int, train: [Int], seed: UInt64) -> [UInt32] {
        let n = train.count, s = n / workers
        let p = permutation(count: n, seed: seed, tag: epochTag(epoch))
        return p[(worker * s) ..< ((worker + 1) * s)].map { UInt32(train[$0]) }
    }
}
