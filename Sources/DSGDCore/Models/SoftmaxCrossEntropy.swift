/// Softmax of one row of `k` logits in place, stably: leaves `e^(z_c - m)` in `z` (`m = max z`, so
/// `p_c = z[c] / sum`) and returns the cross-entropy `l = log sum_c e^(z_c - m) - (z_y - m)`
/// (= logsumexp(z) - z_y) and the sum. However large the logits, nothing overflows: every
/// `e^(z_c - m)` is at most 1 and their sum lies in [1, k]. Shared by `SoftmaxRegression` and `MLP`.
@inline(__always)
func softmaxCrossEntropyInPlace(_ z: UnsafeMutablePointer<Float>, _ k: Int, _ y: Int) -> (loss: Float, sum: Float) {
    var m = -Float.infinity
    for c in 0..<k { m = max(m, z[c]) }
    let zy = z[y] - m
    var sum: Float = 0
    for c in 0..<k {
        z[c] = expf(z[c] - m)
        sum += z[c]
    }
    return (logf(sum) - zy, sum)
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
