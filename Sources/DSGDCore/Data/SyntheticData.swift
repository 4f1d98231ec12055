/// Deterministic synthetic data sets: the same seed gives the same floats on every machine.
public enum SyntheticData {
    /// Binary classification: x ~ N(0, I), a hidden weight vector w* with |w*| = 4 and bias 0.5,
    /// labels y ~ Bernoulli(sigmoid(w*.x + 0.5)) in {0, 1}. The best achievable logistic loss is
    /// well above zero (the labels are noisy), so convergence is to a plateau, not to 0.
    public static func logistic(examples n: Int, features d: Int, seed: UInt64) -> Dataset {
        gaussianInputs(examples: n, features: d, seed: seed, stream: 0x10_6157, norm: 4) { z, rng in
            let p = 1 / (1 + _exp(-z))
            return rng.nextUnit() < p ? 1 : 0
        }
    }

    /// Regression: x ~ N(0, I), y = w*.x + 0.5 + N(0, 0.1^2) with |w*| = 2.
    public static func linear(examples n: Int, features d: Int, seed: UInt64) -> Dataset {
        gaussianInputs(examples: n, features: d, seed: seed, stream: 0x11_4EA2, norm: 2) { z, rng in
            Float(z + 0.1 * rng.nextGaussian())
        }
    }

    /// x ~ N(0, I) row by row; after each row, `target(w*.x + 0.5, &rng)` draws its target from
    /// the same generator (so the draw order is: w*, then per row d inputs and the target's draws).
    private static func gaussianInputs(
        examples n: Int, features d: Int, seed: UInt64, stream: UInt64, norm: Double,
        target: (Double, inout SplitMix64) -> Float
    ) -> Dataset {
        var rng = SplitMix64(seed: seed, stream: stream)
        let wStar = hiddenWeights(features: d, norm: norm, rng: &rng)
        var x = [Float](repeating: 0, count: n * d)
        var y = [Float](repeating: 0, count: n)
        for i in 0..<n {
            var z = 0.5
            for j in 0..<d {
                let v = rng.nextGaussian()
                x[i * d + j] = Float(v)
                z += wStar[j] * v
            }
            y[i] = target(z, &rng)
        }
        return Dataset(examples: n, dimension: d, features: x, targets: y)
    }

    private static func hiddenWeights(features d: Int, norm: Double, rng: inout SplitMix64) -> [Double] {
        var w = (0..<d).map { _ in rng.nextGaussian() }
        let len = w.reduce(0) { $0 + $1 * $1 }.squareRoot()
        for j in 0..<d { w[j] *= norm / len }
        return w
    }
}

#if canImport(Glibc)
import Glibc
@inline(__always) func _exp(_ x: Double) -> Double { Glibc.exp(x) }
#elseif canImport(Darwin)
import Darwin
@inline(__always) func _exp(_ x: Double) -> Double { Darwin.exp(x) }
#endif
