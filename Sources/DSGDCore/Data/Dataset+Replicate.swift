extension Dataset {
    /// The data set repeated `k` times (`k >= 1`), tiled: rows `0 ..< examples` in order, then the
    /// same rows again, `k` times in all; row `i` of the result is row `i mod examples` of `self`.
    /// `k == 1` returns `self`.
    public func replicated(_ k: Int) -> Dataset {
        precondition(k >= 1, "replicate at least once (got \(k))")
        if k == 1 { return self }
        var x: [Float] = []
        x.reserveCapacity(features.count * k)
        var y: [Float] = []
        y.reserveCapacity(targets.count * k)
        for _ in 0..<k {
            x.append(contentsOf: features)
            y.append(contentsOf: targets)
        }
        return Dataset(examples: examples * k, dimension: dimension, features: x, targets: y)
    }
}
