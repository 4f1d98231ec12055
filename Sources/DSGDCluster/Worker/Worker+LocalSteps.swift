import DSGDCore

/// The worker's side of `--mode local` and `--mode easgd`: several SGD steps on its own copy of
/// the parameters between two exchanges with the coordinator.
///
/// Buffers (allocated once, at WELCOME): `localParameters` x (P), `scratch` for one minibatch
/// gradient (P). No allocation per step.
extension Worker {
    /// Local SGD: H steps `x <- x - lr g_h(x)` from `params` on the next H minibatches of the
    /// shard; writes the sum of the H gradients to `out` (for H = 1 exactly the one gradient, so
    /// that H = 1 is sync SGD) and returns the mean minibatch loss.
    func localSteps(from params: UnsafeBufferPointer<Float>, job: JobConfig, model: any Model, data: Dataset,
                    into out: UnsafeMutableBufferPointer<Float>) -> Double {
        let x = localParameters!, g = scratch!
        x.baseAddress!.update(from: params.baseAddress!, count: x.count)
        var loss = 0.0
        for h in 0..<job.syncEvery {
            loss += minibatchGradient(at: UnsafeBufferPointer(x), job: job, model: model, data: data, into: h == 0 ? out : g)
            if h > 0 { for j in 0..<out.count { out[j] += g[j] } }
            if h + 1 < job.syncEvery { step(x, along: h == 0 ? UnsafeBufferPointer(out) : UnsafeBufferPointer(g), rate: job.effectiveLearningRate) }
        }
        return loss / Double(job.syncEvery)
    }

    /// Elastic averaging: on the centre `params` (the first centre also starts x), moves
    /// `e = alpha (x - centre)`, `x <- x - e` (alpha = lr rho), writes e to `out`, then takes H
    /// local SGD steps on x; returns their mean minibatch loss.
    func elasticSteps(centre params: UnsafeBufferPointer<Float>, job: JobConfig, model: any Model, data: Dataset,
                      into out: UnsafeMutableBufferPointer<Float>) -> Double {
        let x = localParameters!, g = scratch!
        if !localStarted {
            x.baseAddress!.update(from: params.baseAddress!, count: x.count)
            localStarted = true
        }
        let alpha = job.effectiveLearningRate * job.rho
        for j in 0..<x.count {
            let e = alpha * (x[j] - params[j])
            out[j] = e
            x[j] -= e
        }
        var loss = 0.0
        for _ in 0..<job.syncEvery {
            loss += minibatchGradient(at: UnsafeBufferPointer(x), job: job, model: model, data: data, into: g)
            step(x, along: UnsafeBufferPointer(g), rate: job.effectiveLearningRate)
        }
        return loss / Double(job.syncEvery)
    }

    /// The gradient of the next minibatch of the shard at `params`, into `out`; advances the cursor.
    func minibatchGradient(at params: UnsafeBufferPointer<Float>, job: JobConfig, model: any Model, data: Dataset,
                           into out: UnsafeMutableBufferPointer<Float>) -> Double {
        let loss = shard.withUnsafeBufferPointer { s in
            // The shard's next minibatch, as far as this shard holds it: a hint to prefetch.
            let next = min(cursor + job.batch, s.count) ..< min(cursor + 2 * job.batch, s.count)
            return model.lossAndGradient(parameters: params, data: data,
                                         batch: UnsafeBufferPointer(rebasing: s[cursor ..< cursor + job.batch]), gradient: out,
                                         next: UnsafeBufferPointer(rebasing: s[next]))
        }
        cursor += job.batch
        steps += 1
        return loss
    }

    /// `x <- x - rate g`.
    func step(_ x: UnsafeMutableBufferPointer<Float>, along g: UnsafeBufferPointer<Float>, rate: Float) {
        for j in 0..<x.count { x[j] -= rate * g[j] }
    }
}
