/// Decides what each arriving gradient does: apply it now, hold it until others arrive, drop it,
/// or make its sender wait; and which workers get which parameters next. It is the only part of
/// the coordinator that differs between modes: a new mode is one new type.
///
/// The coordinator owns the parts a policy works with: `members` (who owes what), `inbox` (the
/// gradient parts received), `store` (the versioned parameters) and `recorder`. Before calling
/// `received` it has counted the minibatch the sender used (at the first part) and, at the last
/// part, marked the sender as answered.
protocol UpdatePolicy: AnyObject {
    /// Training begins; every worker has its shard: send each one its first parameters.
    func start(_ c: Coordinator) throws

    /// Part `part` of worker `k`'s gradient, computed on version `computedOn`, is in the inbox;
    /// `last` when it completes the gradient.
    func received(part: Int, last: Bool, from k: Int, computedOn: Int, _ c: Coordinator) throws

    /// Worker `k` was declared dead (`--min-workers`); its part-received gradient is gone.
    func workerLeft(_ k: Int, _ c: Coordinator) throws

    /// Worker `k`, declared dead before, registered again and is READY.
    func workerRejoined(_ k: Int, _ c: Coordinator) throws
}

extension UpdatePolicy {
    /// By default the others go on as before.
    func workerLeft(_ k: Int, _ c: Coordinator) throws {}

    /// By default a rejoined worker gets its shard of its epoch from the start and the current
    /// parameters at once.
    func workerRejoined(_ k: Int, _ c: Coordinator) throws {
        try c.sendShard(to: k)
        try c.sendParams(to: k)
    }
}

extension JobConfig {
    /// The policy this job's mode and options name.
    func makePolicy() -> any UpdatePolicy {
        switch mode {
        case .sync: return backupWorkers > 0 ? BackupPolicy(job: self) : SyncPolicy(job: self)
        case .async: return AsyncPolicy(job: self)
        case .ssp: return SSPPolicy(job: self)
        case .local: return LocalSGDPolicy(job: self)
        case .easgd: return EASGDPolicy(job: self)
        }
    }
}
