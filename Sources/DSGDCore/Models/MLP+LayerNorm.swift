/// The layer normalization of `MLP`'s hidden layers (`layerNorm: true`): the row-wise forward and
/// backward steps around the matrix products. The math, side by side, is in `MLP`'s documentation.
/// The loops run eight lanes at a time (`SIMD8<Float>`) with a scalar tail.
extension MLP {
    /// The `eps` added to the variance (PyTorch's `nn.LayerNorm` default).
    public static let layerNormEpsilon: Float = 1e-5

    /// Offset of `gamma_l` in the flat vector (hidden layer `l < L` of a layer-normalized MLP);
    /// `beta_l` follows at `+ n_l`.
    func gammaOffset(_ l: Int) -> Int {
        precondition(layerNorm && l >= 1 && l < layers, "layer \(l) has no normalization")
        return offsets[l - 1] + sizes[l] * sizes[l - 1] + sizes[l]
    }

    /// For each of `rows` rows of `width` floats: `z` (holding Zl) becomes
    /// `Xhat = (Zl - mean) / sigma` in place, `inverseSigma[i] = 1 / sigma` with
    /// `sigma = sqrt(biased variance + eps)`, and `output` gets `relu(gamma ⊙ Xhat + beta)`.
    /// Mean and variance in two passes over the row (no cancellation from `E[z²] - E[z]²`).
    static func layerNormForward(
        _ z: UnsafeMutablePointer<Float>, rows: Int, width: Int,
        gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>,
        inverseSigma: UnsafeMutablePointer<Float>, output: UnsafeMutablePointer<Float>
    ) {
        let count = Float(width), vectorEnd = width & ~7
        for i in 0..<rows {
            let row = z + i * width, h = output + i * width
            var s8 = SIMD8<Float>()
            var j = 0
            while j < vectorEnd { s8 += load8(row + j); j += 8 }
            var sum = s8.sum()
            while j < width { sum += row[j]; j += 1 }
            let mean = sum / count
            let m8 = SIMD8<Float>(repeating: mean)
            var q8 = SIMD8<Float>()
            j = 0
            while j < vectorEnd {
                let c = load8(row + j) - m8
                q8 += c * c
                j += 8
            }
            var squares = q8.sum()
            while j < width {
                let c = row[j] - mean
                squares += c * c
                j += 1
            }
            let r = 1 / (squares / count + layerNormEpsilon).squareRoot()
            inverseSigma[i] = r
            let r8 = SIMD8<Float>(repeating: r), zero = SIMD8<Float>()
            j = 0
            while j < vectorEnd {
                let xhat = (load8(row + j) - m8) * r8
                store8(xhat, row + j)
                let n = load8(gamma + j) * xhat + load8(beta + j)
                store8(n.replacing(with: zero, where: n .< zero), h + j)
                j += 8
            }
            while j < width {
                let xhat = (row[j] - mean) * r
                row[j] = xhat
                h[j] = max(gamma[j] * xhat + beta[j], 0)
                j += 1
            }
        }
    }

    /// The backward of `layerNormForward` for `rows` rows of `width` floats: `d` holds dN (the
    /// ReLU already applied) and becomes dZ in place,
    /// `dZ = r (dXhat - mean(dXhat) - Xhat ⊙ mean(dXhat ⊙ Xhat))` with `dXhat = dN ⊙ gamma`;
    /// `gammaGradient` gets `sum_rows dN ⊙ Xhat` and `betaGradient` `sum_rows dN` (overwritten).
    static func layerNormBackward(
        _ d: UnsafeMutablePointer<Float>, rows: Int, width: Int,
        normalized xhat: UnsafePointer<Float>, inverseSigma: UnsafePointer<Float>, gamma: UnsafePointer<Float>,
        gammaGradient: UnsafeMutablePointer<Float>, betaGradient: UnsafeMutablePointer<Float>
    ) {
        gammaGradient.update(repeating: 0, count: width)
        betaGradient.update(repeating: 0, count: width)
        let count = Float(width), vectorEnd = width & ~7
        for i in 0..<rows {
            let dn = d + i * width, x = xhat + i * width
            var sum8 = SIMD8<Float>(), dot8 = SIMD8<Float>()           // sum_j dXhat, sum_j dXhat ⊙ Xhat
            var j = 0
            while j < vectorEnd {
                let g = load8(dn + j), xh = load8(x + j)
                store8(load8(betaGradient + j) + g, betaGradient + j)
                store8(load8(gammaGradient + j) + g * xh, gammaGradient + j)
                let dx = g * load8(gamma + j)
                sum8 += dx
                dot8 += dx * xh
                j += 8
            }
            var sum = sum8.sum(), dot = dot8.sum()
            while j < width {
                betaGradient[j] += dn[j]
                gammaGradient[j] += dn[j] * x[j]
                let dx = dn[j] * gamma[j]
                sum += dx
                dot += dx * x[j]
                j += 1
            }
            let mean = sum / count, meanDot = dot / count, r = inverseSigma[i]
            let mean8 = SIMD8<Float>(repeating: mean), meanDot8 = SIMD8<Float>(repeating: meanDot), r8 = SIMD8<Float>(repeating: r)
            j = 0
            while j < vectorEnd {
                store8(r8 * (load8(dn + j) * load8(gamma + j) - mean8 - load8(x + j) * meanDot8), dn + j)
                j += 8
            }
            while j < width {
                dn[j] = r * (dn[j] * gamma[j] - mean - x[j] * meanDot)
                j += 1
            }
        }
    }
}
