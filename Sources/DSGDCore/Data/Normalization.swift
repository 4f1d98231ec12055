/// Input normalization: `standardize` (zero mean, unit variance per feature) or `whiten` (zero
/// mean, identity covariance). Both are fitted from `FeatureStatistics`, which add up across
/// shards, so a cluster can combine the workers' partial statistics into those of the whole set.
public enum NormalizationKind: String, Codable, CaseIterable, Sendable {
    case none, standardize, whiten
}

/// Count, per-feature sums and the matrix of summed products of a set of examples, in float64.
/// Two statistics of disjoint example sets combine with `+` into those of their union.
public struct FeatureStatistics: Equatable, Sendable {
    public var count: Int
    public var sums: [Double]
    /// Row-major `d x d` sums of `x_i x_j`.
    public var products: [Double]

    public init(dimension d: Int) {
        count = 0
        sums = [Double](repeating: 0, count: d)
        products = [Double](repeating: 0, count: d * d)
    }

    /// The statistics of the examples `indices` of `data` (all examples when nil).
    public init(of data: Dataset, indices: [Int]? = nil) {
        let d = data.dimension
        self.init(dimension: d)
        data.features.withUnsafeBufferPointer { xs in
            for i in indices ?? Array(0..<data.examples) {
                let x = xs.baseAddress! + i * d
                for a in 0..<d {
                    let xa = Double(x[a])
                    sums[a] += xa
                    for b in a..<d { products[a * d + b] += xa * Double(x[b]) }
                }
                count += 1
            }
        }
        for a in 0..<d { for b in 0..<a { products[a * d + b] = products[b * d + a] } }
    }

    public static func + (l: FeatureStatistics, r: FeatureStatistics) -> FeatureStatistics {
        var s = l
        s.count += r.count
        for i in s.sums.indices { s.sums[i] += r.sums[i] }
        for i in s.products.indices { s.products[i] += r.products[i] }
        return s
    }

    public var dimension: Int { sums.count }
    public var mean: [Double] { sums.map { $0 / Double(max(count, 1)) } }

    /// The (biased, 1/count) covariance matrix, row-major.
    public var covariance: [Double] {
        let d = dimension, m = mean, n = Double(max(count, 1))
        var c = [Double](repeating: 0, count: d * d)
        for a in 0..<d { for b in 0..<d { c[a * d + b] = products[a * d + b] / n - m[a] * m[b] } }
        return c
    }
}

/// An affine map of the inputs, `x' = W (x - mean)`, fitted from statistics.
public struct Normalizer: Equatable, Sendable {
    public let kind: NormalizationKind
    public let mean: [Double]
    /// Row-major `d x d` (diagonal for `standardize`, identity for `none`).
    public let matrix: [Double]

    /// A normalizer from its parts (e.g. received over the wire); `matrix` is row-major `d x d`
    /// with `d = mean.count`.
    public init(kind: NormalizationKind, mean: [Double], matrix: [Double]) {
        precondition(matrix.count == mean.count * mean.count, "matrix must be d x d")
        self.kind = kind
        self.mean = mean
        self.matrix = matrix
    }

    /// Fits `kind` to `stats`. A feature with zero variance is centred but not scaled; whitening
    /// drops no direction but floors eigenvalues at 1e-12 of the largest.
    public init(_ kind: NormalizationKind, statistics stats: FeatureStatistics) {
        let d = stats.dimension
        self.kind = kind
        var w = [Double](repeating: 0, count: d * d)
        switch kind {
        case .none:
            mean = [Double](repeating: 0, count: d)
            for a in 0..<d { w[a * d + a] = 1 }
        case .standardize:
            mean = stats.mean
            let c = stats.covariance
            for a in 0..<d {
                let v = c[a * d + a]
                w[a * d + a] = v > 0 ? 1 / v.squareRoot() : 1
            }
        case .whiten:
            mean = stats.mean
            // PCA whitening: W = diag(1/sqrt(lambda)) U^T, so W C W^T = I.
            let (values, vectors) = Eigen.jacobi(stats.covariance, n: d)
            let floor = (values.max() ?? 0) * 1e-12
            for k in 0..<d {
                let s = 1 / max(values[k], floor, .leastNormalMagnitude).squareRoot()
                for a in 0..<d { w[k * d + a] = s * vectors[a * d + k] }
            }
        }
        matrix = w
    }

    /// The normalized copy of `data` (targets unchanged).
    public func apply(to data: Dataset) -> Dataset {
        let d = data.dimension
        var out = [Float](repeating: 0, count: data.examples * d)
        var centred = [Double](repeating: 0, count: d)
        for i in 0..<data.examples {
            for a in 0..<d { centred[a] = Double(data.features[i * d + a]) - mean[a] }
            for k in 0..<d {
                var s = 0.0
                if kind == .whiten {
                    for a in 0..<d { s += matrix[k * d + a] * centred[a] }
                } else {
                    s = matrix[k * d + k] * centred[k]
                }
                out[i * d + k] = Float(s)
            }
        }
        return Dataset(examples: data.examples, dimension: d, features: out, targets: data.targets)
    }
}
