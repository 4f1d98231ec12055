/// Fused minibatch loss and gradient of the affine models (`z = w.x + b` with a per-example loss
/// `l(z, y)`: linear and logistic regression), over an arbitrary list of row indices.
///
/// The math (parameters `[w_0 ... w_{d-1}, b]`, batch `B` of `n` examples):
///
///     forward   z_i = w.x_i + b,  l_i = l(z_i, y_i),  s_i = dl/dz (z_i, y_i)
///     loss      (1/n) sum_i l_i
///     backward  dE/dw = (1/n) sum_i s_i x_i,  dE/db = (1/n) sum_i s_i      (chain rule through z)
///
/// It runs on the kernel variant of this process (`Kernels.active`, see `KernelVariant`); how
/// (blocks of eight rows, one pass over each row, prefetching, software pipelining) is described
/// in DSGDKernelsVariantSource/VariantAffine.swift. No allocation.
public enum AffineKernels {
    /// The per-example loss of an affine model.
    public enum Loss: Sendable {
        /// `l = (z - y)^2 / 2`, `dl/dz = z - y` (linear regression).
        case squared
        /// `l = log(1 + e^z) - y z`, `dl/dz = sigmoid(z) - y` (logistic regression; see
        /// `VectorMath.logisticLossAndSlope` for the stable form and the special values).
        case logistic
    }

    /// Writes the mean gradient over the rows `batch` into `gradient` (`dimension + 1` floats,
    /// overwritten; the last is the bias) and returns the mean loss.
    ///
    /// - `parameters`: `dimension + 1` floats, `[w, b]`.
    /// - `features`: row-major, `dimension` floats per row; `targets`: one float per row. Every
    ///   index in `batch` must be a valid row.
    /// - `next`: the rows the next call will read, if known, or empty (a hint: the first of them are
    ///   prefetched while this batch's last rows are computed; valid rows, as in `batch`, but only
    ///   prefetched, so the result does not depend on them).
    /// - `featureRows`: how many rows `features` holds, or 0 if unknown: a data set too large for
    ///   the caches whose batch's rows are consecutive is read in address order (a hint; the
    ///   result does not depend on it).
    /// An empty batch gives NaN (a mean over nothing).
    public static func lossAndGradient(
        _ loss: Loss, parameters: UnsafePointer<Float>, dimension: Int,
        features: UnsafePointer<Float>, featureRows: Int = 0, targets: UnsafePointer<Float>,
        batch: UnsafeBufferPointer<UInt32>, gradient: UnsafeMutablePointer<Float>,
        next: UnsafeBufferPointer<UInt32> = UnsafeBufferPointer(start: nil, count: 0)
    ) -> Double {
        Kernels.active.lossAndGradient(loss, parameters: parameters, dimension: dimension, features: features, featureRows: featureRows,
                                       targets: targets, batch: batch, gradient: gradient, next: next)
    }

    /// The mean loss over rows `0..<examples` (the same blocks and sums as `lossAndGradient` over
    /// the batch `0, 1, ..., examples - 1`, without the backward pass).
    public static func meanLoss(
        _ loss: Loss, parameters: UnsafePointer<Float>, dimension: Int,
        features: UnsafePointer<Float>, targets: UnsafePointer<Float>, examples: Int
    ) -> Double {
        Kernels.active.meanLoss(loss, parameters: parameters, dimension: dimension, features: features,
                                targets: targets, examples: examples)
    }
}
