/// A deterministic train/test split of a materialised data set: a permutation of all `examples`
/// indices drawn from the seed on its own SplitMix64 stream (independent of the shard
/// permutations); the last `round(fraction x examples)` of it are the held-out test set, the rest
/// the training set. Both index lists are sorted ascending. `fraction == 0` holds nothing out:
/// `train` is `0 ..< examples` in order and `test` is empty.
public struct HoldoutSplit: Sendable, Equatable {
    /// The stream tag of the split's permutation.
    public static let stream: UInt64 = 0x484F_4C44_0000_0000
    /// Training example indices, ascending.
    public let train: [UInt32]
    /// Held-out example indices, ascending.
    public let test: [UInt32]

    /// Examples held out of `examples` for `fraction` (rounded to nearest).
    public static func testCount(examples: Int, fraction: Double) -> Int {
        guard fraction > 0, examples > 0 else { return 0 }
        return min(examples, max(0, Int((fraction * Double(examples)).rounded())))
    }

    public init(examples: Int, fraction: Double, seed: UInt64) {
        let held = Self.testCount(examples: examples, fraction: fraction)
        var p = (0..<examples).map { UInt32($0) }
        if held > 0 {
            var rng = SplitMix64(seed: seed, stream: Self.stream)
            var i = examples - 1
            while i > 0 {
                let j = Int(rng.next() % UInt64(i + 1))
                p.swapAt(i, j)
                i -= 1
            }
        }
        train = p[..<(examples - held)].sorted()
        test = p[(examples - held)...].sorted()
    }

    /// Whether the training set is the whole data set in order (nothing held out).
    public var isIdentity: Bool { test.isEmpty }
}

extension Dataset {
    /// The rows `indices` of this data set, in that order, as a new data set.
    public func subset(_ indices: [UInt32]) -> Dataset {
        var x: [Float] = []
        x.reserveCapacity(indices.count * dimension)
        var y: [Float] = []
        y.reserveCapacity(indices.count)
        features.withUnsafeBufferPointer { xs in
            for i in indices {
                let r = Int(i) * dimension
                x.append(contentsOf: xs[r ..< r + dimension])
                y.append(targets[Int(i)])
            }
        }
        return Dataset(examples: indices.count, dimension: dimension, features: x, targets: y)
    }
}
