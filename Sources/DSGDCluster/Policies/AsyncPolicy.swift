/// Asynchronous SGD: every gradient is applied the moment its last part arrives, alone, and only
/// its sender gets the new parameters.
///
/// Invariant: a gradient computed on version v and applied to version u has staleness u - v,
/// recorded for every update. With `--delay d` every worker is sent version `current - d`
/// (version 0 before that), so one worker's gradients have staleness exactly d once d updates
/// have been applied (`w_t+1 = w_t - lr g(w_max(0, t-d))`). With `--lr-staleness inverse` an
/// update of staleness tau >= 1 applies `lr / tau`. With `--max-staleness m` a gradient of
/// staleness above m is dropped (counted in `dropped`, never applied) and its sender gets the
/// current parameters; so is, with `--max-gradient-norm g`, a gradient whose L2 norm is above g or
/// not finite.
final class AsyncPolicy: UpdatePolicy {
    let examplesPerUpdate: Int
    let delay: Int
    let inverseStaleness: Bool
    let maxStaleness: Int?
    let maxGradientNorm: Double?
    private var one = [0]

    init(job: JobConfig) {
        examplesPerUpdate = job.examplesPerStep
        delay = job.delay
        inverseStaleness = job.lrStaleness == .inverse
        maxStaleness = job.maxStaleness
        maxGradientNorm = job.maxGradientNorm
    }

    func start(_ c: Coordinator) throws {
        for k in 0..<c.members.count { try release(k, c) }
    }

    func received(part: Int, last: Bool, from k: Int, computedOn: Int, _ c: Coordinator) throws {
        guard last else { return }
        if let limit = maxStaleness, c.store.version - computedOn > limit { return try drop(k, c) }
        if let limit = maxGradientNorm, !(c.gradientNorm(of: k) <= limit) { return try drop(k, c) }
        try apply(from: k, computedOn: computedOn, c)
        if c.finished == nil { try release(k, c) }
    }

    /// Drops worker `k`'s gradient unapplied (counted in `dropped`) and sends it the current
    /// parameters.
    private func drop(_ k: Int, _ c: Coordinator) throws {
        c.inbox.reset(k)
        c.recorder.recordDropped()
        try release(k, c)
    }

    /// Applies worker `k`'s complete gradient on its own; false if the run ended on it.
    @discardableResult
    func apply(from k: Int, computedOn: Int, _ c: Coordinator) throws -> Bool {
        let staleness = c.store.version - computedOn
        c.store.beginUpdate()
        c.store.rateScale = inverseStaleness && staleness > 1 ? 1 / Float(staleness) : 1
        one[0] = k
        for j in 0..<c.store.parts {
            guard c.aggregate(part: j, workers: one, count: 1) else { return false }
        }
        c.inbox.reset(k)
        c.completeUpdate(examplesApplied: examplesPerUpdate, staleness: staleness)
        return c.finished == nil
    }

    /// Sends worker `k` a new shard if due, then the parameters it is to compute on.
    func release(_ k: Int, _ c: Coordinator) throws {
        if delay == 0 {
            try c.release(k)
        } else {
            let v = max(0, c.store.version - delay)
            try c.release(k, buffer: c.store.buffer(ofVersion: v), version: v)
        }
    }
}
