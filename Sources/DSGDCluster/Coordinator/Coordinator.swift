import DSGDCore
import Foundation
import ZeroMQ

/// The coordinator: one ROUTER socket and one event loop that wires the parts together.
///
/// - `members` (`Membership`): routing ids, registration, what each worker owes;
/// - `store` (`ParameterStore`): the versioned parameters and the optimizer;
/// - `inbox` (`GradientInbox`): gradient parts held without a copy until used;
/// - `policy` (`UpdatePolicy`): what an arriving gradient does (sync, async, ssp, backup);
/// - `recorder` (`Recorder`): clocks, evaluation, metrics, progress, summary.
///
/// A run: bind, register every worker, fit `--normalize`, run `--online-curvature`, train, stop
/// the workers and write the run directory. Single-threaded; libzmq's I/O thread moves the bytes.
public final class Coordinator {
    /// The job (`--lr auto` with `--online-curvature` sets its learning rate before training).
    var job: JobConfig
    let log = Log(role: "coordinator")
    let runDirectory: RunDirectory
    let model: any Model
    let data: Dataset
    /// Indices into `data` of the training examples; nil when nothing is held out (identity).
    let trainIndices: [UInt32]?
    let sharding: Sharding
    /// The endpoint actually bound (port 0 resolved to the real port).
    public let endpoint: String

    let members: Membership
    let store: ParameterStore
    let inbox: GradientInbox
    /// `--compress-params bf16|fp16`: the parameters encoded for the wire.
    let paramsEncoder: ParamsEncoder?
    /// `--compress-params sparse`: buffers for one part's changed entries (8 bytes each at most).
    let paramsChanges: ZeroCopyBufferPool?
    let changesMessage = ZMQMessage()
    let recorder: Recorder
    let policy: any UpdatePolicy

    let context: ZMQContext
    let socket: ZMQSocket
    /// With CURVE: the handler that authorizes each handshake and names the worker id of a key.
    let zap: ZAPHandler?
    let poller: ZMQPoller
    /// Receive slots: routing id, header, payload, and a slot that swallows extra frames.
    let frames = [ZMQMessage(), ZMQMessage(), ZMQMessage(), ZMQMessage()]
    let header = UnsafeMutableRawBufferPointer.allocate(byteCount: Wire.headerSize, alignment: 8)
    let welcome: Data
    let paramsMessage = ZMQMessage()
    let sendMessage = ZMQMessage()

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
    /// The workers an epoch's permutation is split among, in id order: every worker, until a sync
    /// run starts an epoch after a death or a rejoin (`startEpoch`).
    var sharers: [Int]
    /// Counts rejected (malformed or out-of-protocol) messages and decides which to log and answer.
    var limiter = RejectionLimiter()
    /// Messages rejected as malformed or out of protocol.
    var rejected: Int { limiter.rejected }
    /// Bytes of PARAMS sent and GRADIENT received (payloads and headers).
    var bytesMoved = 0
    var finished: (status: RunStatus, error: String?)?

    /// The run directory's checkpoints, when the last was written, and the checkpoint this run
    /// resumed from (nil for a new run).
    let checkpoints: CheckpointFiles
    var lastCheckpointAt = 0.0
    var checkpointsWritten = 0
    let resumedFrom: Checkpoint?

    /// Prepares a coordinator for `job`, bound to `bind`, writing into `runDirectory`; with
    /// `security`, every peer must complete a CURVE handshake with an allowed worker's key, and a
    /// worker id can be claimed only with that worker's key.
    ///
    /// With `resume`, the run continues from that checkpoint (of this job, see `checkpointProblem`):
    /// its parameters, momentum, step, learning rate, each worker's place in the data and the
    /// recorder's totals; normalization is fitted again (the same result), the curvature phase is
    /// not run again.
    public init(job given: JobConfig, bind: String, runDirectory: RunDirectory, security: CoordinatorSecurity? = nil,
                resume: Checkpoint? = nil) throws {
        var job = given
        if let resume {
            job.learningRate = resume.state.learningRate
            job.lrAuto = false
        }
        self.job = job
        resumedFrom = resume
        checkpoints = CheckpointFiles(run: runDirectory.url, keep: job.keepCheckpoints)
        self.runDirectory = runDirectory
        data = try job.dataset.materialize()
        model = job.makeModel()
        let split = HoldoutSplit(examples: data.examples, fraction: job.holdout, seed: job.seed)
        let trainData: Dataset, testData: Dataset?
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
        welcome = try job.jsonData()

        context = try ZMQContext()
        socket = try ZMQSocket(context, .router, lingerMs: 100)
        try socket.setRouterMandatory(true)
        // Bounded queues both ways, and no send blocks for longer than `sendTimeoutMs`: a peer
        // that never reads cannot freeze the loop (answers to bad messages never block at all).
        try socket.setHighWaterMarks(send: Self.highWaterMark, receive: Self.highWaterMark)
        try socket.setSendTimeout(ms: Self.sendTimeoutMs)
        if let security {
            zap = try ZAPHandler(context: context, allowed: security.allowedWorkers, log: log)
            try socket.setCurveServer(secretKey: security.keys.secretKey)
        } else {
            zap = nil
        }
        // Larger messages than any the protocol sends drop the connection instead of filling memory.
        // (--normalize: a STATS answer carries 8 (1 + d + d^2) bytes.)
        let d = data.dimension, stats = job.normalize == .none ? 0 : 8 * (1 + d + d * d)
        try socket.setMaxMessageSize(Int64(max(4 * model.parameterCount, 4 * data.examples, stats, 1 << 16) + 1024))
        endpoint = try socket.bind(bind)
        poller = ZMQPoller([socket])

        let n = job.workers
        members = Membership(count: n, batchesPerShard: job.batchesPerShard)
        store = ParameterStore(initial: try job.initialParameters(), chunk: job.gradientChunk, maxGradients: n,
                               optimizer: job.optimizer, keepVersions: job.delay)
        inbox = GradientInbox(workers: n, parts: store.parts, parameterCount: store.count, partRange: store.partRange, codec: job.compress,
                              floatReaders: job.noiseScale || job.maxGradientNorm != nil)
        paramsEncoder = job.compressParams == .bf16 || job.compressParams == .fp16 ? ParamsEncoder(codec: job.compressParams, count: store.count) : nil
        // A changes payload of a part of L values holds at most L/2 entries of 8 bytes (more go
        // as float32): L floats' room.
        paramsChanges = job.compressParams == .changes ? ZeroCopyBufferPool(count: min(store.chunk, store.count), initial: 2) : nil
        recorder = Recorder(job: job, model: model, runDirectory: runDirectory, log: log, trainData: trainData, testData: testData)
        policy = job.makePolicy()
        sharers = Array(0..<n)
        statsRequested = Array(repeating: nil, count: n)
        statsReceived = Array(repeating: nil, count: n)
        curvatureRequested = Array(repeating: nil, count: n)
        curvatureAnswers = Array(repeating: nil, count: n)
        permutation.reserveCapacity(data.examples)
        if let resume {
            if let problem = checkpointProblem(resume) { throw CoordinatorError(problem) }
            restore(from: resume)
        }
    }

    deinit {
        header.deallocate()
    }

    /// Messages queued per peer and direction before sends block (or fail) and receives stop
    /// reading from that peer.
    static let highWaterMark: Int32 = 1000
    /// How long a send to a worker may block on its full queue before the worker counts as
    /// unreachable (milliseconds).
    static let sendTimeoutMs: Int32 = 2000
    /// Messages handled per `drainMessages` call.
    static let drainLimit = 256

    var parameterCount: Int { store.count }

    /// Runs the job to the end and returns its summary (also written to summary.json).
    public func run() -> RunSummary {
        do {
            try runDirectory.writeConfig(ConfigFile(job: job, endpoint: endpoint, versions: Versions.all))
        } catch {
            log.error("cannot write config.json: \(error)")
        }
        log.out("dsgd coordinator: listening on \(endpoint)")
        let held = recorder.testData.map { ", \(recorder.trainData.examples) for training, \($0.examples) held out" } ?? ""
        log.info("\(job.policyDescription), \(job.workers) workers, model \(job.model.rawValue) (\(parameterCount) parameters), \(data.examples) examples\(held), run directory \(runDirectory.path)")
        do {
            try register()
            if finished == nil, job.normalize != .none { try fitNormalization() }
            if finished == nil, job.onlineCurvature > 0, resumedFrom == nil { try estimateCurvature() }
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

    /// Waits until every worker has registered (HELLO) and built its data set (READY), for at
    /// most `--register-timeout` seconds.
    func register() throws {
        let deadline = monotonicSeconds() + job.registerTimeout
        while finished == nil && !members.notReady.isEmpty {
            if let s = TerminationSignal.received { return finish(.interrupted, "interrupted by signal \(s) while waiting for workers") }
            if monotonicSeconds() > deadline {
                let missing = members.missing
                if !missing.isEmpty {
                    throw CoordinatorError("only \(job.workers - missing.count) of \(job.workers) workers registered within \(job.registerTimeout) s (missing: \(missing.map(String.init).joined(separator: ", ")))")
                }
                throw CoordinatorError("worker(s) \(members.notReady.map(String.init).joined(separator: ", ")) registered but did not build the data set within \(job.registerTimeout) s")
            }
            if try poller.waitForInput(timeoutMs: 100) { try drainMessages() }
        }
        if finished == nil { log.info("all \(job.workers) workers registered and ready") }
    }

    /// Serves messages until `missing()` (the workers whose answer is still due) is empty, the run
    /// finishes, or a signal arrives. Throws when no answer came for `--worker-timeout` seconds
    /// while answers were due, naming the silent workers.
    func awaitAnswers(_ what: String, while doing: String, missing: () -> [Int]) throws {
        var deadline = monotonicSeconds() + job.workerTimeout
        var dueCount = Int.max
        while finished == nil {
            let due = missing()
            if due.isEmpty { return }
            // Only an answer moves the deadline (other traffic, a flood say, does not).
            if due.count < dueCount {
                if dueCount != Int.max { deadline = monotonicSeconds() + job.workerTimeout }
                dueCount = due.count
            }
            if let s = TerminationSignal.received { return finish(.interrupted, "interrupted by signal \(s) while \(doing)") }
            if monotonicSeconds() > deadline {
                throw CoordinatorError("no \(what) answer within \(job.workerTimeout) s from worker(s) \(due.map(String.init).joined(separator: ", "))")
            }
            if try poller.waitForInput(timeoutMs: 100) { try drainMessages() }
        }
    }

    // MARK: Training

    func train() throws {
        recorder.startTraining()
        lastCheckpointAt = monotonicSeconds()
        // A resumed run's first point is its checkpoint's, already in metrics.jsonl.
        if resumedFrom == nil { evaluate(force: true) }
        if !initialShardsSent {
            for k in 0..<job.workers { try sendShard(to: k) }
        }
        try policy.start(self)
        while finished == nil {
            if let s = TerminationSignal.received { return finish(.interrupted, "interrupted by signal \(s)") }
            if try poller.waitForInput(timeoutMs: 100) { try drainMessages() }
            collectEvaluations(wait: false)
            if let k = members.overdue(now: monotonicSeconds(), timeout: job.workerTimeout) {
                if members.liveCount - 1 >= job.minWorkers ?? job.workers {
                    try declareDead(k)
                } else {
                    finish(.failed, "worker \(k) sent no gradient for \(job.workerTimeout) s (is it still running?)"
                           + (job.minWorkers.map { ", and fewer than --min-workers \($0) would be left" } ?? ""))
                }
            }
        }
    }

    /// Declares worker `k` dead (`--min-workers`): its part-received gradient is discarded, it is
    /// logged and recorded, and the run goes on with the others.
    func declareDead(_ k: Int) throws {
        // A minibatch whose gradient came in part only was counted at its first part, but is never applied.
        if inbox.partsReceived[k] > 0 { members.batchesDone[k] -= 1 }
        members.declareDead(k)
        inbox.reset(k)
        recorder.recordDeath(k)
        log.error("worker \(k) declared dead: no gradient for \(job.workerTimeout) s; going on with \(members.liveCount) of \(job.workers) workers (--min-workers \(job.minWorkers ?? job.workers))")
        try policy.workerLeft(k, self)
    }

    /// Whether an update applying `examplesApplied` examples reaches `--steps` or `--epochs`.
    func reachesLimit(examplesApplied: Int) -> Bool {
        let epochsDone = job.epochs.map { Double(recorder.examples + examplesApplied) >= $0 * Double(job.examplesPerEpoch) } ?? false
        let stepsDone = job.steps.map { store.version + 1 >= $0 } ?? false
        return epochsDone || stepsDone
    }

    /// Whether `aggregate` takes the sparse step (top-k gradients under plain SGD), which
    /// `ParameterStore.beginUpdate(inPlace:)` may write into the current parameters.
    var stepsAreSparse: Bool { inbox.isTopK && store.takesSparseSteps }

    /// For a policy: sums part `j` of the gradients of `workers[0..<count]` in that order into the
    /// pending update and releases those parts; false (and the run fails, naming the worker of a
    /// lone gradient) on NaN or infinity. Allocates nothing unless it fails.
    func aggregate(part j: Int, workers: [Int], count: Int) -> Bool {
        let ok: Bool
        if stepsAreSparse {
            // From the entries the workers sent: their gradients are never written out densely.
            ok = store.applySparse(part: j, gradients: count, entries: { inbox.topKEntries(workers[$0], part: j) },
                                   values: { inbox.topKValues(workers[$0], part: j) })
        } else {
            for i in 0..<count { store.setGradient(i, inbox.pointer(workers[i], part: j)) }
            ok = store.apply(part: j, gradients: count, storage: inbox.storage)
        }
        for i in 0..<count { inbox.clear(workers[i], part: j) }
        if !ok {
            let who = count == 1 ? "worker \(workers[0])" : "the workers"
            finish(.failed, "training diverged: a non-finite gradient (NaN or infinity) from \(who) at step \(store.version) (try a smaller --lr)")
        }
        return ok
    }

    /// For a policy (`--noise-scale`): adds part `j` of the gradients of `workers[0..<count]` to
    /// the noise-scale estimate of this step (before `aggregate` releases them).
    func measureNoise(_ noise: NoiseScaleMeter, part j: Int, workers: [Int], count: Int) {
        for i in 0..<count { noise.setGradient(i, inbox.pointer(workers[i], part: j)) }
        noise.add(n: store.partRange(j).count)
    }

    /// For a policy (`--max-gradient-norm`): the L2 norm of worker `k`'s complete gradient, held
    /// in the inbox (float64 sum of squares; NaN or infinity when the gradient holds one).
    func gradientNorm(of k: Int) -> Double {
        var sum = 0.0
        for j in 0..<store.parts {
            let p = inbox.pointer(k, part: j).assumingMemoryBound(to: Float.self)
            var part: Float = 0
            for i in 0..<store.partRange(j).count { part += p[i] * p[i] }
            sum += Double(part)
        }
        return sum.squareRoot()
    }

    /// For a policy: makes the pending update current, records it (`staleness` for an update of
    /// one gradient), evaluates when due, and ends the run at a limit, the target or divergence.
    /// At a limit, the last point's result is waited for, so that a diverged last point fails
    /// the run as it would inline.
    func completeUpdate(examplesApplied: Int, staleness: Int?) {
        let limitReached = reachesLimit(examplesApplied: examplesApplied)
        store.commit()
        recorder.noise?.finishStep()
        recorder.recordUpdate(examplesApplied: examplesApplied, staleness: staleness)
        evaluate(force: limitReached)
        collectEvaluations(wait: limitReached)
        if finished == nil, limitReached { finish(.completed) }
        if finished == nil { checkpointIfDue() }
    }

    /// Evaluates the current parameters when due (or now, if `force`), and stops the run if the
    /// recorder says so.
    func evaluate(force: Bool) {
        recorder.bytesMoved = bytesMoved
        if let (status, error) = recorder.evaluate(version: store.version, params: UnsafeBufferPointer(store.current.floats), force: force) {
            finish(status, error)
        }
    }

    /// Writes the metrics points whose background evaluation is done (with `wait`, all of them),
    /// and stops the run if one of them says so.
    func collectEvaluations(wait: Bool) {
        if let (status, error) = recorder.collect(wait: wait) { finish(status, error) }
    }

    // MARK: The end

    func wrapUp() -> RunSummary {
        let (status, error) = finished ?? (.failed, "stopped without a reason")
        if let error { status == .failed ? log.error(error) : log.info(error) }
        if recorder.trainingStarted && !recorder.hasEvaluated(store.version) && status != .failed { evaluate(force: true) }
        stopWorkers(reason: status == .completed ? "training completed" : (error ?? status.rawValue),
                    wait: status == .interrupted ? 0.5 : 3)
        recorder.finishEvaluation()
        if status != .completed, !(error ?? "").hasPrefix("training diverged") { checkpointAtEnd() }
        zap?.stop()
        var summary = recorder.summary(status: status, error: error, version: store.version, rejected: rejected,
                                       members: members, bytesMoved: bytesMoved, onlineLambdaMax: onlineLambdaMax)
        if let zap { summary.deniedHandshakes = zap.denied }
        var usage = rusage()
        if getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage) == 0 { summary.peakRssBytes = Int(usage.ru_maxrss) * 1024 }
        do {
            try runDirectory.writeParams(ParamsFile(model: job.model, step: store.version, shapes: model.shapes, values: store.values))
            try runDirectory.writeSummary(summary)
        } catch {
            log.error("cannot write the run directory: \(error)")
        }
        log.out("dsgd coordinator: \(status.rawValue) after \(store.version) steps, final loss \(summary.finalLoss.map { String(format: "%.6f", $0) } ?? "n/a")\(summary.finalTestAccuracy.map { String(format: ", test accuracy %.4f", $0) } ?? ""), \(String(format: "%.2f", summary.wallSeconds)) s; run directory \(runDirectory.path)")
        return summary
    }

    /// Sends STOP to every registered worker and waits up to `wait` seconds for their BYE; logs
    /// one line for each worker whose BYE did not come (the run's status is not changed by it).
    func stopWorkers(reason: String, wait: Double) {
        for k in 0..<job.workers where members.isRegistered(k) {
            try? send(.stop, to: k, payload: Array(reason.utf8))
        }
        let deadline = monotonicSeconds() + wait
        while monotonicSeconds() < deadline, !members.withoutBye.isEmpty {
            guard (try? poller.waitForInput(timeoutMs: 50)) == true else { continue }
            try? drainMessages(stopping: true)
        }
        for k in members.withoutBye {
            log.info("worker \(k) sent no BYE within \(wait) s after STOP (it may have exited already)")
        }
    }
}

/// A reason the coordinator could not run the job.
public struct CoordinatorError: Error, CustomStringConvertible {
    public let description: String
    init(_ d: String) { description = d }
}

extension JobConfig {
    /// "sync SGD", "async SGD (delay 3)", "ssp SGD (staleness 2)", ...: the mode and its options.
    var policyDescription: String {
        var options: [String] = []
        if backupWorkers > 0 { options.append("\(backupWorkers) backup workers") }
        if mode == .ssp { options.append("staleness bound \(staleness)") }
        if delay > 0 { options.append("delay \(delay)") }
        if lrStaleness != .none { options.append("lr / staleness") }
        if mode.takesLocalSteps { options.append("\(syncEvery) local steps per exchange") }
        if mode == .easgd { options.append("rho \(rho)") }
        return "\(mode.rawValue) SGD" + (options.isEmpty ? "" : " (\(options.joined(separator: ", ")))")
    }
}
