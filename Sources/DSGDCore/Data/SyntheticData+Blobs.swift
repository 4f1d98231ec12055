extension SyntheticData {
    /// Multi-class Gaussian blobs: K = `classes` centres c_k ~ N(0, 4 I) (standard deviation 2 per
    /// coordinate), row i belongs to class k = i mod K (so class counts differ by at most one) and
    /// is x = c_k + N(0, I); its target is k as a float, 0 ... K-1.
    ///
    /// Draw order (one generator): the centres (class by class, d coordinates each), then per row
    /// its d coordinates.
    public static func blobs(examples n: Int, features d: Int, classes: Int, seed: UInt64) -> Dataset {
        var rng = SplitMix64(seed: seed, stream: 0xB1_0B5)
        let centres = (0..<(classes * d)).map { _ in 2 * rng.nextGaussian() }
        var x = [Float](repeating: 0, count: n * d)
        var y = [Float](repeating: 0, count: n)
        for i in 0..<n {
            let k = i % classes
            for j in 0..<d { x[i * d + j] = Float(centres[k * d + j] + rng.nextGaussian()) }
            y[i] = Float(k)
        }
        return Dataset(examples: n, dimension: d, features: x, targets: y)
    }
}
