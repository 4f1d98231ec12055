import DSGDCore
import Foundation
import ZeroMQ

extension Coordinator {
    // MARK: Online curvature (--online-curvature)

    /// Runs `job.onlineCurvature` presentations of the online lambda_max estimate of LeCun, Simard
    /// and Pearlmutter across the cluster, at the initial parameters, before training:
    ///
    ///     every worker k:  q_k = (grad E_Bk(w + a psi/|psi|) - grad E_Bk(w)) / a   on its next minibatch B_k
    ///     coordinator:     psi <- (1 - g) psi + g (1/N) sum_k q_k                    (worker-id order)
    ///
    /// `|psi|` is the estimate (`OnlineCurvature`, seeded from the job's seed; one presentation is
    /// one averaged quotient over N minibatches of `--batch` examples). Each presentation is
    /// appended to curvature.jsonl. With `--lr auto` the learning rate becomes 1 / estimate and
    /// config.json is rewritten with it.
    func estimateCurvature() throws {
        let n = job.workers, p = parameterCount, total = job.onlineCurvature
        for k in 0..<n { try sendShard(to: k) }
        initialShardsSent = true
        var online = OnlineCurvature(parameterCount: p, perturbation: job.curvaturePerturbation,
                                     smoothing: job.curvatureSmoothing, seed: job.seed)
        // The request payload: [parameters (P), direction (P)]; the parameters stay fixed.
        var request = [Float](repeating: 0, count: 2 * p)
        request.withUnsafeMutableBufferPointer { $0.baseAddress!.update(from: store.current.floats.baseAddress!, count: p) }
        var mean = [Float](repeating: 0, count: p)
        let every = max(1, total / 10)
        log.out("dsgd coordinator: online curvature: \(total) presentations, each the mean of \(n) difference quotients on minibatches of \(job.batch)")
        for t in 0..<total {
            for j in 0..<p { request[p + j] = online.psi[j] }
            for k in 0..<n {
                curvatureAnswers[k] = nil
                curvatureRequested[k] = UInt64(t)
                try sendCurvatureRequest(request, presentation: t, to: k)
            }
            try awaitAnswers("CURVATURE", while: "estimating the curvature") { curvatureAnswers.indices.filter { curvatureAnswers[$0] == nil } }
            guard finished == nil else { return }
            for j in 0..<p {
                var sum: Float = 0
                for k in 0..<n { sum += curvatureAnswers[k]![j] }
                mean[j] = sum / Float(n)
            }
            online.update(with: mean)
            let estimate = online.estimate
            do {
                try runDirectory.appendCurvature("{\"presentation\":\(t + 1),\"examples\":\((t + 1) * n * job.batch),\"lambda_max\":\(estimate.isFinite ? "\(estimate)" : "null")}")
            } catch {
                log.error("cannot write curvature.jsonl: \(error)")
            }
            guard estimate.isFinite else {
                return finish(.failed, "online curvature: the estimate is \(estimate) after presentation \(t + 1) (try a smaller --curvature-perturbation)")
            }
            if (t + 1) % every == 0 || t + 1 == total {
                log.out("online curvature: presentation \(t + 1)/\(total)  lambda_max ~ \(String(format: "%.6g", estimate))")
            }
        }
        for k in 0..<n { curvatureRequested[k] = nil }
        let estimate = online.estimate
        onlineLambdaMax = estimate
        log.out("dsgd coordinator: online curvature: lambda_max ~ \(String(format: "%.6g", estimate)) after \(total) presentations (eta_opt ~ \(String(format: "%.6g", 1 / estimate)), eta_max ~ \(String(format: "%.6g", 2 / estimate)))")
        guard job.lrAuto else { return }
        guard estimate > 0, Float(1 / estimate).isFinite else {
            throw CoordinatorError("--lr auto: the online estimate of lambda_max is \(estimate), not positive; give --lr a number")
        }
        job.lambdaMax = estimate
        job.learningRate = Float(1 / estimate)
        store.optimizer = job.optimizer
        log.out("dsgd coordinator: --lr auto: learning rate eta_opt = 1/lambda_max = \(job.learningRate) (online estimate)")
        do {
            try runDirectory.writeConfig(ConfigFile(job: job, endpoint: endpoint, versions: Versions.all))
        } catch {
            log.error("cannot write config.json: \(error)")
        }
    }

    /// Sends CURVATURE (`[parameters, direction]`, f32) for presentation `t` to worker `k`.
    func sendCurvatureRequest(_ request: [Float], presentation t: Int, to k: Int) throws {
        let h = MessageHeader(type: .curvature, workerID: UInt32(k), count: UInt32(parameterCount), step: UInt64(t),
                              payloadLength: UInt32(4 * request.count), value: job.curvaturePerturbation)
        h.encode(into: header)
        try sendRouted(to: k) {
            try socket.send(bytes: UnsafeRawBufferPointer(header), more: true)
            try request.withUnsafeBytes { try socket.send(bytes: $0, more: false) }
        }
    }

    /// A CURVATURE answer from worker `k`: its difference quotient (P f32) for the presentation it
    /// was asked about, accepted once. The size and presentation are checked; a non-finite
    /// quotient ends the run as failed (the perturbation is too large for this model).
    func handleCurvature(_ h: MessageHeader, from k: Int) throws {
        guard let asked = curvatureRequested[k], curvatureAnswers[k] == nil else { throw ProtocolError.unexpectedType(.curvature) }
        guard h.step == asked else { throw ProtocolError.unexpectedPresentation(worker: h.workerID, got: h.step, expected: asked) }
        guard frames[2].count == 4 * parameterCount else {
            throw ProtocolError.wrongPayloadSize(type: .curvature, got: frames[2].count, expected: 4 * parameterCount)
        }
        let bytes = frames[2].bytes
        let q = (0..<parameterCount).map { bytes.f32($0) }
        guard q.allSatisfy({ $0.isFinite }) else {
            return finish(.failed, "online curvature: worker \(k) returned a non-finite difference quotient at presentation \(asked + 1) (try a smaller --curvature-perturbation)")
        }
        curvatureAnswers[k] = q
    }
}
