/// Asynchronous elastic averaging SGD (Zhang, Choromanska and LeCun 2015, Algorithm 1), on the
/// coordinator's side: the parameters it holds are the centre variable. Each message from a
/// worker is its elastic difference `e = alpha (x_i - centre)` (alpha = lr rho, computed on the
/// centre it was sent), which the coordinator adds to the centre on arrival, alone, and sends the
/// worker the new centre. The worker meanwhile moved `x_i <- x_i - e` and took H local SGD steps.
///
/// Invariant: the centre changes by exactly e per message (`JobConfig.optimizer` is `w - (-1) e`),
/// so rho = 0 leaves it unchanged bit for bit; staleness is recorded as in async SGD.
final class EASGDPolicy: UpdatePolicy {
    private let async: AsyncPolicy

    init(job: JobConfig) {
        async = AsyncPolicy(job: job)
    }

    func start(_ c: Coordinator) throws { try async.start(c) }

    func received(part: Int, last: Bool, from k: Int, computedOn: Int, _ c: Coordinator) throws {
        try async.received(part: part, last: last, from: k, computedOn: computedOn, c)
    }
}
