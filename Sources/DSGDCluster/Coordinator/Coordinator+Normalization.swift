import DSGDCore

extension Coordinator {
    // MARK: Normalization (--normalize)

    /// `--normalize`: asks worker k for the statistics of the k-th contiguous slice of the
    /// training indices (the slices cover all of them), combines the answers in worker-id order,
    /// fits the normalizer, sends it to every worker in NORMALIZE and normalizes the
    /// coordinator's own training and test sets.
    func fitNormalization() throws {
        let train = trainIndices ?? (0..<UInt32(data.examples)).map { $0 }
        let n = job.workers
        for k in 0..<n {
            let lo = k * train.count / n, hi = (k + 1) * train.count / n
            var payload = [UInt8]()
            payload.reserveCapacity(4 * (hi - lo))
            for i in train[lo..<hi] { payload.appendLittleEndian(i) }
            statsRequested[k] = hi - lo
            try send(.stats, to: k, count: UInt32(hi - lo), payload: payload)
        }
        try awaitAnswers("STATS", while: "fitting the normalization") { statsReceived.indices.filter { statsReceived[$0] == nil } }
        guard finished == nil else { return }
        var total = statsReceived[0]!
        for k in 1..<n { total = total + statsReceived[k]! }
        guard total.count == train.count else {
            throw CoordinatorError("the workers' statistics cover \(total.count) examples, expected \(train.count)")
        }
        let normalizer = Normalizer(job.normalize, statistics: total)
        var payload = [UInt8]()
        payload.reserveCapacity(8 * (normalizer.mean.count + normalizer.matrix.count))
        for x in normalizer.mean + normalizer.matrix { payload.appendLittleEndian(x) }
        for k in 0..<n { try send(.normalize, to: k, payload: payload) }
        recorder.trainData = normalizer.apply(to: recorder.trainData)
        recorder.testData = recorder.testData.map { normalizer.apply(to: $0) }
        log.out("dsgd coordinator: normalization (\(job.normalize.rawValue)) fitted on \(total.count) examples from \(n) workers")
    }
}
