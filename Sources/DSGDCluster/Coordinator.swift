import DSGDCore
import Foundation
import ZeroMQ

/// The coordinator: binds a ROUTER socket, registers the workers, shards the data, holds the
/// parameters and applies their gradients (sync or async), evaluates the training loss and writes
/// the run directory.
///
/// Single-threaded: one loop polls the socket; libzmq's I/O thread does the transfers.
public final class Coordinator {
    /// The job (`--lr auto` with `--online-curvature` sets its learning rate before training).
    var job: JobConfig
    let log = Log(role: "coordinator")
    let runDirectory: RunDirectory
    let model: any Model
    let data: Dataset
    /// The training examples (`data` itself when nothing is held out) and the held-out test set.
    /// (Replaced by their normalized copies once `--normalize` is fitted.)
    var trainData: Dataset
    var testData: Dataset?
    /// Indices into `data` of the training examples; nil when nothing is held out (identity).
    let trainIndices: [UInt32]?
    let sharding: Sharding
    var optimizer: SGD
    let parameterCount: Int
    /// The endpoint actually bound (port 0 resolved to the real port).
    public let endpoint: String

    let context: ZMQContext
    let socket: ZMQSocket
    let poller: ZMQPoller
    /// Receive slots: routing id, header, payload, and a slot that swallows extra frames.
    let frames = [ZMQMessage(), ZMQMessage(), ZMQMessage(), ZMQMessage()]
    let header = UnsafeMutableRawBufferPointer.allocate(byteCount: Wire.headerSize, alignment: 8)
    let welcome: Data

    // Parameters: `current` holds version `version`; `paramsMessage` shares it with libzmq;
    // `next` receives the update being aggregated.
    let pool: ZeroCopyBufferPool
    var current: ZeroCopyBuffer
    var next: ZeroCopyBuffer?
    let paramsMessage = ZMQMessage()
    let sendMessage = ZMQMessage()
    var pipelined = false             // sync: this round's PARAMS parts go out as they are computed
    let aggregator: Aggregator

    // Per worker (indexed by worker id).
    var routingIDs: [[UInt8]?]
    var outstanding: [Bool]          // PARAMS sent, gradient not yet received
    var sentAt: [Double]             // when the last PARAMS went out
    var sentVersion: [Int]           // the version the last PARAMS carried
    var shardEpoch: [Int]
    var batchesDone: [Int]
    var byeReceived: [Bool]
    let parts: Int                   // GRADIENT parts per gradient
    let gradientSlots: [[ZMQMessage]] // [worker][part]: received parts, held until aggregated
    var partsReceived: [Int]         // per worker: parts of the current gradient received
    var partsAggregated = 0          // sync: parts of this round already averaged

    // --normalize: the statistics requested from (sent STATS) and answered by each worker.
    var statsRequested: [Int?]
    var statsReceived: [FeatureStatistics?]
    // --online-curvature: the presentation each worker was asked about, and its answer.
    var curvatureRequested: [UInt64?]
    var curvatureAnswers: [[Float]?]
    /// The online estimate of lambda_max after the last presentation (nil without the phase).
    var onlineLambdaMax: Double?
    /// Whether every worker already has its epoch-0 SHARD (sent before the curvature phase).
    var initialShardsSent = false

    var permutation: [UInt32] = []
    var permutationEpoch = -1

    // Progress.
    var version = 0
    var examples = 0
    var rejected = 0
    var trainingStart = 0.0
    var lastUpdateTime = 0.0
    var roundTimes: [Double] = []
    var lastEvaluatedVersion = -1
    var lastLoss = Double.nan
    var lastTestLoss: Double?
    var lastTestAccuracy: Double?
    var lastTrainAccuracy: Double?
    /// The training loss at step 0 (the first evaluation), the reference of the divergence rule.
    var initialLoss: Double?
    var lastProgressPrint = -1.0
    var timeToTarget: Double?
    var windowStaleness = (sum: 0, count: 0, max: 0)
    var totalStaleness = (sum: 0, count: 0, max: 0)
    var finished: (status: RunStatus, error: String?)?

    /// Prepares a coordinator for `job`, bound to `bind`, writing into `runDirectory`.
    public init(job: JobConfig, bind: String, runDirectory: RunDirectory) throws {
        self.job = job
        self.runDirectory = runDirectory
        data = try job.dataset.materialize()
        model = job.makeModel()
        parameterCount = model.parameterCount
        let split = HoldoutSplit(examples: data.examples, fraction: job.holdout, seed: job.seed)
        if split.isIdentity {
            trainData = data
            testData = nil
            trainIndices = nil
        } else {
            trainData = data.subset(split.train)
            testData = data.subset(split.test)
            trainIndices = split.train
        }
        sharding = Sharding(examples: trainData.examples, workers: job.workers, seed: job.seed)
        optimizer = job.optimizer
        welcome = try job.jsonData()

        context = try ZMQContext()
        socket = try ZMQSocket(context, .router, lingerMs: 100)
        try socket.setRouterMandatory(true)
        // Larger messages than any the protocol sends drop the connection instead of filling memory.
        // (--normalize: a STATS answer carries 8 (1 + d + d^2) bytes.)
        let d = data.dimension, stats = job.normalize == .none ? 0 : 8 * (1 + d + d * d)
        try socket.setMaxMessageSize(Int64(max(4 * parameterCount, 4 * data.examples, stats, 1 << 16) + 1024))
        endpoint = try socket.bind(bind)
        poller = ZMQPoller([socket])

        pool = ZeroCopyBufferPool(count: parameterCount, initial: 3)
        let first = pool.acquire()
        let count = parameterCount
        try job.initialParameters().withUnsafeBufferPointer { first.floats.baseAddress!.update(from: $0.baseAddress!, count: count) }
        current = first
        aggregator = Aggregator(parameterCount: parameterCount, maxGradients: job.workers)

        let n = job.workers
        routingIDs = Array(repeating: nil, count: n)
        outstanding = Array(repeating: false, count: n)
        sentAt = Array(repeating: 0, count: n)
        sentVersion = Array(repeating: 0, count: n)
        shardEpoch = Array(repeating: 0, count: n)
        batchesDone = Array(repeating: 0, count: n)
        byeReceived = Array(repeating: false, count: n)
        statsRequested = Array(repeating: nil, count: n)
        statsReceived = Array(repeating: nil, count: n)
        curvatureRequested = Array(repeating: nil, count: n)
        curvatureAnswers = Array(repeating: nil, count: n)
        let partCount = job.gradientParts(parameterCount: parameterCount)
        parts = partCount
        gradientSlots = (0..<n).map { _ in (0..<partCount).map { _ in ZMQMessage() } }
        partsReceived = Array(repeating: 0, count: n)
        roundTimes.reserveCapacity(min(job.steps ?? 100_000, 100_000))
        permutation.reserveCapacity(data.examples)
    }

    deinit {
        header.deallocate()
    }

    /// Runs the job to the end and returns its summary (also written to summary.json).
    public func run() -> RunSummary {
        do {
            try runDirectory.writeConfig(ConfigFile(job: job, endpoint: endpoint, versions: Versions.all))
        } catch {
            log.error("cannot write config.json: \(error)")
        }
        log.out("dsgd coordinator: listening on \(endpoint)")
        log.info("\(job.mode) SGD, \(job.workers) workers, model \(job.model.rawValue) (\(parameterCount) parameters), \(data.examples) examples\(testData.map { ", \(trainData.examples) for training, \($0.examples) held out" } ?? ""), run directory \(runDirectory.path)")
        do {
            try register()
            if finished == nil, job.normalize != .none { try fitNormalization() }
            if finished == nil, job.onlineCurvature > 0 { try estimateCurvature() }
            if finished == nil { try train() }
        } catch {
            finish(.failed, "\(error)")
        }
        return wrapUp()
    }

    /// Marks the run as over (the first reason wins). A failure after SIGINT/SIGTERM (e.g. a
    /// worker that the same Ctrl-C already ended) counts as an interruption.
    func finish(_ status: RunStatus, _ error: String? = nil) {
        guard finished == nil else { return }
        if status == .failed, let s = TerminationSignal.received {
            finished = (.interrupted, "interrupted by signal \(s)")
        } else {
            finished = (status, error)
        }
    }

    // MARK: Registration

    func register() throws {
        let deadline = monotonicSeconds() + job.registerTimeout
        while finished == nil && routingIDs.contains(where: { $0 == nil }) {
            if let s = TerminationSignal.received { return finish(.interrupted, "interrupted by signal \(s) while waiting for workers") }
            if monotonicSeconds() > deadline {
                let missing = routingIDs.indices.filter { routingIDs[$0] == nil }.map(String.init).joined(separator: ", ")
                throw CoordinatorError("only \(job.workers - missingCount) of \(job.workers) workers registered within \(job.registerTimeout) s (missing: \(missing))")
            }
            if try poller.waitForInput(timeoutMs: 100) { try drainMessages() }
        }
        if finished == nil { log.info("all \(job.workers) workers registered") }
    }

    var missingCount: Int { routingIDs.filter { $0 == nil }.count }

    // MARK: Normalization

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
        trainData = normalizer.apply(to: trainData)
        testData = testData.map { normalizer.apply(to: $0) }
        log.out("dsgd coordinator: normalization (\(job.normalize.rawValue)) fitted on \(total.count) examples from \(n) workers")
    }

    /// Serves messages until `missing()` (the workers whose answer is still due) is empty, the run
    /// finishes, or a signal arrives. Throws when no message came for `--worker-timeout` seconds
    /// while answers were due, naming the silent workers.
    func awaitAnswers(_ what: String, while doing: String, missing: () -> [Int]) throws {
        var deadline = monotonicSeconds() + job.workerTimeout
        while finished == nil {
            let due = missing()
            if due.isEmpty { return }
            if let s = TerminationSignal.received { return finish(.interrupted, "interrupted by signal \(s) while \(doing)") }
            if monotonicSeconds() > deadline {
                throw CoordinatorError("no \(what) answer within \(job.workerTimeout) s from worker(s) \(due.map(String.init).joined(separator: ", "))")
            }
            if try poller.waitForInput(timeoutMs: 100) {
                try drainMessages()
                deadline = max(deadline, monotonicSeconds() + job.workerTimeout)
            }
        }
    }

    // MARK: Training

    func train() throws {
        trainingStart = monotonicSeconds()
        lastUpdateTime = trainingStart
        evaluate(force: true)
        for k in 0..<job.workers {
            if !initialShardsSent { try sendShard(to: k) }
            try sendParams(to: k)
        }
        while finished == nil {
            if let s = TerminationSignal.received { return finish(.interrupted, "interrupted by signal \(s)") }
            if try poller.waitForInput(timeoutMs: 100) { try drainMessages() }
            checkTimeouts()
        }
    }

    func checkTimeouts() {
        let now = monotonicSeconds()
        for k in 0..<job.workers where outstanding[k] && now - sentAt[k] > job.workerTimeout {
            return finish(.failed, "worker \(k) sent no gradient for \(job.workerTimeout) s (is it still running?)")
        }
    }

    /// Called after every applied update: bookkeeping, evaluation, stop conditions.
    func didUpdate(examplesApplied: Int) {
        let now = monotonicSeconds()
        if job.mode == .sync, roundTimes.count < roundTimes.capacity { roundTimes.append(now - lastUpdateTime) }
        lastUpdateTime = now
        let limitReached = reachesLimit(examplesApplied: examplesApplied)
        version += 1
        examples += examplesApplied
        evaluate(force: limitReached)
        if finished != nil { return }
        if limitReached { finish(.completed) }
    }

    /// Whether the next update, applying `examplesApplied` examples, reaches `--steps` or `--epochs`.
    func reachesLimit(examplesApplied: Int) -> Bool {
        let epochsDone = job.epochs.map { Double(examples + examplesApplied) >= $0 * Double(job.examplesPerEpoch) } ?? false
        let stepsDone = job.steps.map { version + 1 >= $0 } ?? false
        return epochsDone || stepsDone
    }

    /// The divergence rule: an evaluated training loss above `divergenceFactor` x max(initial
    /// loss, 1), i.e. above max(1e6 x the loss at step 0, 1e6), means training diverged. Real
    /// training never multiplies its loss by a million, while a learning rate above 2/lambda_max
    /// does so geometrically (on a quadratic the loss grows by (1 - lr lambda_max)^2 per step), so
    /// the run stops cleanly with finite numbers, long before float32 overflows to inf and NaN.
    static let divergenceFactor = 1e6

    /// The loss above which `evaluate` declares divergence (see `divergenceFactor`).
    static func divergenceThreshold(initialLoss: Double) -> Double {
        divergenceFactor * max(initialLoss, 1)
    }

    /// Evaluates the training loss every `resolvedEvalEvery` updates (or now, if `force`), writes a
    /// metrics point, prints progress, and stops on reaching the target or on divergence: a
    /// non-finite loss, or one above max(1e6 x the initial loss, 1e6) (`divergenceThreshold`).
    func evaluate(force: Bool) {
        guard version != lastEvaluatedVersion, force || version % job.resolvedEvalEvery == 0 else { return }
        lastEvaluatedVersion = version
        let params = UnsafeBufferPointer(current.floats)
        let loss = model.loss(parameters: params, data: trainData)
        lastLoss = loss
        if let testData {
            lastTrainAccuracy = model.accuracy(parameters: params, data: trainData)
            lastTestLoss = model.loss(parameters: params, data: testData)
            lastTestAccuracy = model.accuracy(parameters: params, data: testData)
        }
        let time = monotonicSeconds() - trainingStart
        var point = MetricsPoint(step: version, time: time, examples: examples,
                                 epoch: Double(examples) / Double(job.examplesPerEpoch), loss: loss)
        point.trainAccuracy = lastTrainAccuracy
        point.testLoss = lastTestLoss
        point.testAccuracy = lastTestAccuracy
        if job.mode == .async {
            point.stalenessMean = windowStaleness.count > 0 ? Double(windowStaleness.sum) / Double(windowStaleness.count) : 0
            point.stalenessMax = windowStaleness.max
            windowStaleness = (0, 0, 0)
        }
        do { try runDirectory.appendMetrics(point.jsonLine) } catch { log.error("cannot write metrics.jsonl: \(error)") }
        printProgress(point, force: force)
        if !loss.isFinite {
            return finish(.failed, "training diverged: the training loss is \(loss) at step \(version) (try a smaller --lr)")
        }
        if let initial = initialLoss {
            if loss > Self.divergenceThreshold(initialLoss: initial) {
                let g = { (x: Double) in String(format: "%.6g", x) }
                return finish(.failed, "training diverged: the training loss grew from \(g(initial)) to \(g(loss)) by step \(version) (try a smaller --lr)")
            }
        } else {
            initialLoss = loss
        }
        if let target = job.targetLoss, loss <= target, timeToTarget == nil {
            timeToTarget = time
            finish(.completed)
        }
    }

    func printProgress(_ p: MetricsPoint, force: Bool) {
        let now = monotonicSeconds()
        guard force || now - lastProgressPrint >= 0.1 else { return }
        lastProgressPrint = now
        let rate = p.time > 0 ? Double(p.examples) / p.time : 0
        var line = "step \(p.step)  epoch \(String(format: "%.2f", p.epoch))  loss \(String(format: "%.6f", p.loss))  \(Int(rate)) examples/s"
        if let a = p.testAccuracy { line += "  test acc \(String(format: "%.4f", a))" }
        if let m = p.stalenessMean, let x = p.stalenessMax { line += "  staleness \(String(format: "%.2f", m)) (max \(x))" }
        log.out(line)
    }

    // MARK: The end

    func wrapUp() -> RunSummary {
        let (status, error) = finished ?? (.failed, "stopped without a reason")
        if let error { status == .failed ? log.error(error) : log.info(error) }
        if trainingStart > 0 && lastEvaluatedVersion != version && status != .failed { evaluate(force: true) }
        let wall = trainingStart > 0 ? monotonicSeconds() - trainingStart : 0
        stopWorkers(reason: status == .completed ? "training completed" : (error ?? status.rawValue),
                    wait: status == .interrupted ? 0.5 : 3)
        var summary = RunSummary(
            mode: job.mode, workers: job.workers, status: status,
            finalLoss: lastLoss.isFinite ? lastLoss : nil, steps: version, examples: examples,
            epochs: Double(examples) / Double(max(job.examplesPerEpoch, 1)), wallSeconds: wall,
            examplesPerSecond: wall > 0 ? Double(examples) / wall : 0, targetLoss: job.targetLoss,
            timeToTarget: timeToTarget, error: error, rejectedMessages: rejected)
        if testData != nil {
            summary.finalTestLoss = lastTestLoss.flatMap { $0.isFinite ? $0 : nil }
            summary.finalTestAccuracy = lastTestAccuracy
            summary.finalTrainAccuracy = lastTrainAccuracy
        }
        if job.mode == .sync, !roundTimes.isEmpty {
            // The first rounds include connection warm-up; skip up to 5 of them.
            let sorted = roundTimes.dropFirst(min(5, roundTimes.count - 1)).sorted()
            summary.roundMsMedian = sorted[sorted.count / 2] * 1e3
            summary.roundMsP90 = sorted[min(sorted.count - 1, sorted.count * 9 / 10)] * 1e3
        }
        summary.onlineLambdaMax = onlineLambdaMax
        if job.mode == .async {
            summary.stalenessMean = totalStaleness.count > 0 ? Double(totalStaleness.sum) / Double(totalStaleness.count) : 0
            summary.stalenessMax = totalStaleness.max
        }
        do {
            try runDirectory.writeParams(ParamsFile(model: job.model, step: version, shapes: model.shapes,
                                                    values: Array(current.floats.prefix(parameterCount))))
            try runDirectory.writeSummary(summary)
        } catch {
            log.error("cannot write the run directory: \(error)")
        }
        log.out("dsgd coordinator: \(status.rawValue) after \(version) steps, final loss \(summary.finalLoss.map { String(format: "%.6f", $0) } ?? "n/a")\(summary.finalTestAccuracy.map { String(format: ", test accuracy %.4f", $0) } ?? ""), \(String(format: "%.2f", wall)) s; run directory \(runDirectory.path)")
        return summary
    }

    /// Sends STOP to every registered worker and waits up to `wait` seconds for their BYE; logs
    /// one line for each worker whose BYE did not come (the run's status is not changed by it).
    func stopWorkers(reason: String, wait: Double) {
        for k in 0..<job.workers where routingIDs[k] != nil {
            try? send(.stop, to: k, payload: Array(reason.utf8))
        }
        let deadline = monotonicSeconds() + wait
        let silent = { (0..<self.job.workers).filter { self.routingIDs[$0] != nil && !self.byeReceived[$0] } }
        while monotonicSeconds() < deadline, !silent().isEmpty {
            guard (try? poller.waitForInput(timeoutMs: 50)) == true else { continue }
            try? drainMessages(stopping: true)
        }
        for k in silent() {
            log.info("worker \(k) sent no BYE within \(wait) s after STOP (it may have exited already)")
        }
    }
}

/// A reason the coordinator could not run the job.
public struct CoordinatorError: Error, CustomStringConvertible {
    public let description: String
    init(_ d: String) { description = d }
}
