/// Local SGD with periodic model averaging (Stich 2018), on the coordinator's side: each worker
/// sends the sum G_k of the H gradients it took along its H local SGD steps
/// (`x <- x - lr g` from the parameters w it was sent), and the coordinator applies the sync step
/// `w - lr (1/N) sum_k G_k`, which equals the mean of the workers' local models `x_k = w - lr G_k`
/// (in exact arithmetic; with momentum, the outer optimizer's).
///
/// Invariant: it is `SyncPolicy` over messages of H minibatches each, so H = 1 is sync SGD bit
/// for bit (a worker's one "local step" returns exactly its minibatch gradient).
final class LocalSGDPolicy: UpdatePolicy {
    private let sync: SyncPolicy

    init(job: JobConfig) {
        sync = SyncPolicy(job: job)
    }

    func start(_ c: Coordinator) throws { try sync.start(c) }

    func received(part: Int, last: Bool, from k: Int, computedOn: Int, _ c: Coordinator) throws {
        try sync.received(part: part, last: last, from: k, computedOn: computedOn, c)
    }

    func workerLeft(_ k: Int, _ c: Coordinator) throws { try sync.workerLeft(k, c) }

    func workerRejoined(_ k: Int, _ c: Coordinator) throws { try sync.workerRejoined(k, c) }
}
