import DSGDCore

/// Averages gradients and applies the optimizer in one pass over memory.
///
/// The parameters are processed in chunks small enough to stay in L1: each chunk of the sum is
/// built in worker-id order (g0 + g1 + ... , so arrival order never changes a bit of the result),
/// checked for NaN/Inf, scaled by 1/N and handed to the optimizer, which writes the new
/// parameters to a separate buffer. No allocation after `init`.
public final class Aggregator {
    public let parameterCount: Int
    private let chunk = 2048
    private let sum: UnsafeMutablePointer<Float>
    private let velocity: UnsafeMutablePointer<Float>
    private let sources: UnsafeMutablePointer<UnsafePointer<Float>?>
    private let capacity: Int

    /// An aggregator for `parameterCount` parameters and at most `maxGradients` gradients per update.
    public init(parameterCount: Int, maxGradients: Int) {
        self.parameterCount = parameterCount
        capacity = maxGradients
        sum = .allocate(capacity: chunk)
        velocity = .allocate(capacity: max(parameterCount, 1))
        velocity.initialize(repeating: 0, count: max(parameterCount, 1))
        sources = .allocate(capacity: max(maxGradients, 1))
        sources.initialize(repeating: nil, count: max(maxGradients, 1))
    }

    deinit {
        sum.deallocate()
        velocity.deallocate()
        sources.deallocate()
    }

    /// Sets gradient `index` (worker-id order) for the next `apply`.
    public func setGradient(_ index: Int, _ pointer: UnsafeRawPointer) {
        sources[index] = pointer.assumingMemoryBound(to: Float.self)
    }

    /// Computes `out = step(params, mean of gradients 0..<count)`. Returns false, leaving `out`
    /// partly written and the velocity possibly touched only in chunks before the bad one, if the
    /// sum holds NaN or infinity; the caller then keeps `params` and reports the failure.
    public func apply(count: Int, optimizer: SGD, params: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>) -> Bool {
        precondition(count >= 1 && count <= capacity)
        let scale = 1 / Float(count)
        var start = 0
        while start < parameterCount {
            let n = min(chunk, parameterCount - start)
            sum.update(from: sources[0]! + start, count: n)
            for k in 1..<count {
                let g = sources[k]! + start
                for i in 0..<n { sum[i] += g[i] }
            }
            var bad = false
            for i in 0..<n where !sum[i].isFinite { bad = true }
            if bad { return false }
            optimizer.step(params: params + start, gradient: sum, scale: scale,
                           velocity: velocity + start, out: out + start, count: n)
            start += n
        }
        return true
    }
}
