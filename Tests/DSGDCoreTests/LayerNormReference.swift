import DSGDCore
import Foundation

/// The layer-normalized MLP written again in float64 from README's definition, independent of
/// DSGDCore's `MLP`: layer sizes `sizes` (`[d, h1, ..., K]`), flat parameters
/// `[W1 (h1 x d, row-major), b1, gamma1, beta1, W2, ..., WL, bL]`; every hidden layer computes
/// `Z = W h + b`, `N = gamma (Z - mean Z) / sqrt(var Z + 1e-5) + beta` (biased variance over the
/// layer's units) and `h = relu(N)`; the output is softmax cross-entropy against the class index.
enum LayerNormReference {
    static let epsilon = 1e-5

    /// What the backward pass needs of one hidden layer: its input, normalized pre-activation,
    /// 1/sigma and output.
    private struct Hidden {
        var input: [Double]
        var xhat: [Double]
        var inverseSigma: Double
        var normalized: [Double]
    }

    /// The forward pass of example `i`: the logits, and every hidden layer's intermediates.
    private static func forward(_ w: [Double], sizes: [Int], data: Dataset, row i: Int) -> (logits: [Double], hidden: [Hidden], lastInput: [Double]) {
        let layers = sizes.count - 1
        var h = (0..<sizes[0]).map { Double(data.features[i * sizes[0] + $0]) }
        var hidden: [Hidden] = []
        var offset = 0
        for l in 1...layers {
            let fanIn = sizes[l - 1], width = sizes[l]
            let z = (0..<width).map { r in (0..<fanIn).reduce(w[offset + width * fanIn + r]) { $0 + w[offset + r * fanIn + $1] * h[$1] } }
            offset += width * fanIn + width
            if l == layers { return (z, hidden, h) }
            let mean = z.reduce(0, +) / Double(width)
            let variance = z.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(width)
            let inverseSigma = 1 / (variance + epsilon).squareRoot()
            let xhat = z.map { ($0 - mean) * inverseSigma }
            let normalized = (0..<width).map { w[offset + $0] * xhat[$0] + w[offset + width + $0] }
            hidden.append(Hidden(input: h, xhat: xhat, inverseSigma: inverseSigma, normalized: normalized))
            offset += 2 * width
            h = normalized.map { max($0, 0) }
        }
        fatalError("unreachable")
    }

    /// The logits of example `i`.
    static func logits(_ w: [Double], sizes: [Int], data: Dataset, row i: Int) -> [Double] {
        forward(w, sizes: sizes, data: data, row: i).logits
    }

    /// Mean cross-entropy over the examples `batch`.
    static func loss(_ w: [Double], sizes: [Int], data: Dataset, batch: [Int]) -> Double {
        var total = 0.0
        for i in batch {
            let z = logits(w, sizes: sizes, data: data, row: i)
            let m = z.max()!
            total += m + log(z.map { exp($0 - m) }.reduce(0, +)) - z[Int(data.targets[i])]
        }
        return total / Double(batch.count)
    }

    /// The analytic gradient of `loss`, by hand-written backpropagation: softmax minus one-hot at
    /// the output; through a normalization `dZ = (1/sigma) (dXhat - mean dXhat - xhat mean(dXhat xhat))`
    /// with `dXhat = gamma dN`, `dgamma = dN xhat`, `dbeta = dN`; through the ReLU `dN = dh [N > 0]`.
    static func gradient(_ w: [Double], sizes: [Int], data: Dataset, batch: [Int]) -> [Double] {
        let layers = sizes.count - 1
        // Offsets of each layer's W (and, for hidden layers, of gamma).
        var weightOffset: [Int] = [], gammaOffset: [Int] = []
        var offset = 0
        for l in 1...layers {
            weightOffset.append(offset)
            offset += sizes[l] * sizes[l - 1] + sizes[l]
            gammaOffset.append(offset)
            if l < layers { offset += 2 * sizes[l] }
        }
        var g = [Double](repeating: 0, count: w.count)
        let scale = 1 / Double(batch.count)
        for i in batch {
            let (z, hidden, lastInput) = forward(w, sizes: sizes, data: data, row: i)
            let m = z.max()!
            let e = z.map { exp($0 - m) }
            var dz = e.map { $0 / e.reduce(0, +) }
            dz[Int(data.targets[i])] -= 1
            for l in stride(from: layers, through: 1, by: -1) {
                let fanIn = sizes[l - 1], width = sizes[l], o = weightOffset[l - 1]
                let input = l == layers ? lastInput : hidden[l - 1].input
                for r in 0..<width {
                    for c in 0..<fanIn { g[o + r * fanIn + c] += scale * dz[r] * input[c] }
                    g[o + width * fanIn + r] += scale * dz[r]
                }
                guard l > 1 else { break }
                // Back through layer l - 1's ReLU and normalization.
                let below = hidden[l - 2], units = sizes[l - 1], go = gammaOffset[l - 2]
                let dh = (0..<fanIn).map { c in (0..<width).reduce(0.0) { $0 + w[o + $1 * fanIn + c] * dz[$1] } }
                let dn = (0..<units).map { below.normalized[$0] > 0 ? dh[$0] : 0 }
                for j in 0..<units {
                    g[go + j] += scale * dn[j] * below.xhat[j]
                    g[go + units + j] += scale * dn[j]
                }
                let dxhat = (0..<units).map { dn[$0] * w[go + $0] }
                let meanD = dxhat.reduce(0, +) / Double(units)
                let meanDX = zip(dxhat, below.xhat).map(*).reduce(0, +) / Double(units)
                dz = (0..<units).map { below.inverseSigma * (dxhat[$0] - meanD - below.xhat[$0] * meanDX) }
            }
        }
        return g
    }
}
