extension SyntheticData {
    /// The two-class, two-feature problem of LeCun, Bottou, Orr and Müller, "Efficient BackProp"
    /// (1998), §5.2: class +1 is N((0.4, 0.8), 0.036 I), class -1 is N((-0.4, -0.8), 0.036 I)
    /// (standard deviation sqrt(0.036) per coordinate); the target is the class, +1 or -1. Classes
    /// alternate, even rows +1 and odd rows -1, so any even count is half each. The paper uses 100
    /// examples. The inputs' second-moment matrix is about m m^T + 0.036 I, eigenvalues
    /// |m|^2 + 0.036 = 0.836 (along m) and 0.036.
    public static func lecun2D(examples n: Int, seed: UInt64) -> Dataset {
        var rng = SplitMix64(seed: seed, stream: 0x1E_C02D)
        let sd = 0.036.squareRoot()
        var x = [Float](repeating: 0, count: n * 2)
        var y = [Float](repeating: 0, count: n)
        for i in 0..<n {
            let s: Double = i % 2 == 0 ? 1 : -1
            x[2 * i] = Float(s * 0.4 + sd * rng.nextGaussian())
            x[2 * i + 1] = Float(s * 0.8 + sd * rng.nextGaussian())
            y[i] = Float(s)
        }
        return Dataset(examples: n, dimension: 2, features: x, targets: y)
    }
}
