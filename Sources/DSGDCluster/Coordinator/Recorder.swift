import DSGDCore
import Foundation

/// What the coordinator writes down about a run: the clocks, the evaluation cadence and the
/// metrics points, the progress line, and the summary.
///
/// Clocks: `setup` runs from the coordinator's start to the start of training (registration,
/// data, normalization, curvature); the *training clock* runs from there and stops while the
/// coordinator's loop is held up by evaluation (inline: the whole evaluation; background: the
/// snapshot copy, and waits for a result when every snapshot buffer is busy or the run ends), so
/// `time` in metrics.jsonl, `time_to_target`, round times and `examples_per_second` count
/// training alone. `wall_seconds` is training plus those pauses.
final class Recorder {
    let job: JobConfig
    let model: any Model
    let runDirectory: RunDirectory
    let log: Log
    /// The training examples and the held-out ones, as the coordinator evaluates them (replaced by
    /// normalized copies once `--normalize` is fitted).
    var trainData: Dataset
    var testData: Dataset?

    private let created = monotonicSeconds()
    private(set) var trainingStart = 0.0
    private var evaluationSeconds = 0.0
    /// A resumed run: training and evaluation seconds of the run up to its checkpoint.
    private var priorTraining = 0.0
    private var priorEvaluation = 0.0
    private var lastUpdateClock = 0.0
    private(set) var roundTimes: [Double] = []

    /// Examples whose gradients were applied, and gradients dropped (backup workers).
    private(set) var examples = 0
    private(set) var dropped = 0
    private var windowDropped = 0
    private var windowStaleness = (sum: 0, count: 0, max: 0)
    private var totalStaleness = (sum: 0, count: 0, max: 0)
    /// SSP: the largest lead of a released worker over the slowest (clock - min clock).
    private var windowLead = 0
    private(set) var leadMax = 0
    /// Workers declared dead, and workers that rejoined, in the order they did.
    private(set) var deadWorkers: [Int] = []
    private(set) var rejoinedWorkers: [Int] = []

    private var lastEvaluatedVersion = -1
    private(set) var lastLoss = Double.nan
    private var lastTestLoss: Double?
    private var lastTestAccuracy: Double?
    private var lastTrainAccuracy: Double?
    /// The training loss at step 0, the reference of the divergence rule.
    private var initialLoss: Double?
    private(set) var timeToTarget: Double?
    /// The version and examples of the first point at or below the target.
    private(set) var reachedTarget: (step: Int, examples: Int)?
    /// `--evaluation background`: the evaluation thread, and the points it is evaluating (a ring
    /// of its depth: the point as of the snapshot, and whether its progress line is forced).
    private var evaluator: BackgroundEvaluator?
    private var waiting: [(point: MetricsPoint, forced: Bool)] = []
    private var waitingHead = 0
    private var waitingCount = 0
    /// `--noise-scale`: the gradient noise scale estimator (sync only).
    let noise: NoiseScaleMeter?
    /// The coordinator's bytes of PARAMS and GRADIENT so far (set before each evaluation).
    var bytesMoved = 0
    private var lastProgressPrint = -1.0
    /// (training clock, examples) at recent progress lines, for the windowed rate.
    private var rateSamples: [(clock: Double, examples: Int, version: Int)] = []

    init(job: JobConfig, model: any Model, runDirectory: RunDirectory, log: Log, trainData: Dataset, testData: Dataset?) {
        self.job = job
        self.model = model
        self.runDirectory = runDirectory
        self.log = log
        self.trainData = trainData
        self.testData = testData
        noise = job.noiseScale ? NoiseScaleMeter(workers: job.workers, batch: job.batch) : nil
        roundTimes.reserveCapacity(min(job.steps ?? 100_000, 100_000))
        rateSamples.reserveCapacity(64)
    }

    var trainingStarted: Bool { trainingStart > 0 }

    /// Seconds of training so far: since training started, less the time spent evaluating.
    var clock: Double { priorTraining + (trainingStarted ? monotonicSeconds() - trainingStart - evaluationSeconds : 0) }

    /// Starts the training clock (set-up ends here) and, with `--evaluation background`, the
    /// evaluation thread (on the data as normalized by now).
    func startTraining() {
        if job.evaluation == .background {
            let e = BackgroundEvaluator(model: job.makeModel(), parameterCount: model.parameterCount, train: trainData, test: testData)
            waiting = Array(repeating: (MetricsPoint(step: 0, time: 0, examples: 0, epoch: 0, loss: .nan), false), count: e.depth)
            evaluator = e
        }
        trainingStart = monotonicSeconds()
        lastUpdateClock = priorTraining
    }

    // MARK: Updates

    /// Records an applied update of `examplesApplied` examples; `staleness` for an async-style
    /// update (the version it was applied to minus the one it was computed on).
    func recordUpdate(examplesApplied: Int, staleness: Int?) {
        let now = clock
        if job.mode == .sync, roundTimes.count < roundTimes.capacity { roundTimes.append(now - lastUpdateClock) }
        lastUpdateClock = now
        examples += examplesApplied
        if let s = staleness {
            windowStaleness = (windowStaleness.sum + s, windowStaleness.count + 1, max(windowStaleness.max, s))
            totalStaleness = (totalStaleness.sum + s, totalStaleness.count + 1, max(totalStaleness.max, s))
        }
    }

    /// Records a gradient dropped unapplied (backup workers: it came after the first N - b).
    func recordDropped() {
        dropped += 1
        windowDropped += 1
    }

    /// Records that worker `k` was declared dead (`--min-workers`).
    func recordDeath(_ k: Int) {
        deadWorkers.append(k)
    }

    /// Records that worker `k` rejoined after it was declared dead.
    func recordRejoin(_ k: Int) {
        rejoinedWorkers.append(k)
    }

    /// SSP: records that a worker was released `lead` clocks ahead of the slowest worker.
    func recordLead(_ lead: Int) {
        windowLead = max(windowLead, lead)
        leadMax = max(leadMax, lead)
    }

    // MARK: Evaluation

    /// The evaluation interval in updates.
    var every: Int { job.resolvedEvalEvery }

    /// Evaluates `params` (version `version`) every `every` updates, or now if `force`.
    ///
    /// `--evaluation inline`: computes the point now with the training clock stopped, writes it
    /// and prints progress. `background`: copies the parameters into a snapshot for the evaluation
    /// thread (waiting, off the clock, for the oldest result first when every snapshot buffer is
    /// busy) and returns at once; `collect` writes the point later. The point's `time`,
    /// `examples`, `epoch` and window statistics are those of the moment of the snapshot.
    ///
    /// Returns why the run must stop (from this point inline, or from an earlier point taken back
    /// while waiting), or nil. See `record` for the reasons.
    func evaluate(version: Int, params: UnsafeBufferPointer<Float>, force: Bool) -> (RunStatus, String?)? {
        guard version != lastEvaluatedVersion, force || version % every == 0 else { return nil }
        lastEvaluatedVersion = version
        let point = newPoint(version: version)
        let started = monotonicSeconds()
        defer { evaluationSeconds += monotonicSeconds() - started }
        guard let evaluator else {
            let result = EvaluationResult(model: model, params: params, train: trainData, test: testData)
            return record(point, result, force: force)
        }
        var stop: (RunStatus, String?)?
        while !evaluator.hasFreeBuffer {
            if let recorded = takeResult(from: evaluator, wait: true), stop == nil, let s = recorded { stop = s }
        }
        evaluator.submit(params)
        waiting[(waitingHead + waitingCount) % waiting.count] = (point, force)
        waitingCount += 1
        return stop
    }

    /// `--evaluation background`: writes the points whose results are back (with `wait`, every
    /// point submitted, waiting off the training clock). Returns the first reason to stop among
    /// them, or nil.
    func collect(wait: Bool) -> (RunStatus, String?)? {
        guard let evaluator, waitingCount > 0 else { return nil }
        let started = wait ? monotonicSeconds() : 0
        defer { if wait { evaluationSeconds += monotonicSeconds() - started } }
        var stop: (RunStatus, String?)?
        while let recorded = takeResult(from: evaluator, wait: wait) {
            if stop == nil, let s = recorded { stop = s }
        }
        return stop
    }

    /// Writes every outstanding point and stops the evaluation thread (the end of a run).
    func finishEvaluation() {
        _ = collect(wait: true)
        evaluator?.stop()
        evaluator = nil
    }

    /// Takes the oldest result back from `evaluator` and records its point: `.some(reason)` when a
    /// point was recorded (`reason` nil if the run may go on), nil when none was ready.
    private func takeResult(from evaluator: BackgroundEvaluator, wait: Bool) -> (RunStatus, String?)?? {
        guard waitingCount > 0, let result = evaluator.next(wait: wait) else { return nil }
        let (point, forced) = waiting[waitingHead]
        waitingHead = (waitingHead + 1) % waiting.count
        waitingCount -= 1
        return .some(record(point, result, force: forced))
    }

    /// A metrics point for `version` as of now, without its loss: training clock, examples,
    /// epoch, and the window statistics since the previous point (which start anew).
    private func newPoint(version: Int) -> MetricsPoint {
        var point = MetricsPoint(step: version, time: clock, examples: examples,
                                 epoch: Double(examples) / Double(max(job.examplesPerEpoch, 1)), loss: .nan)
        if job.mode.appliesGradientsAlone {
            point.stalenessMean = windowStaleness.count > 0 ? Double(windowStaleness.sum) / Double(windowStaleness.count) : 0
            point.stalenessMax = windowStaleness.max
            windowStaleness = (0, 0, 0)
        }
        if job.mode == .ssp {
            point.leadMax = windowLead
            windowLead = 0
        }
        if job.backupWorkers > 0 || job.maxStaleness != nil || job.maxGradientNorm != nil {
            point.dropped = windowDropped
            windowDropped = 0
        }
        if job.minWorkers != nil { point.deadWorkers = deadWorkers.count }
        point.bytesMoved = bytesMoved
        if let noise {
            let w = noise.takeWindow()
            point.noiseScale = w.noiseScale
            point.noiseGradientSquare = w.gradientSquare
            point.noiseTrace = w.trace
        }
        return point
    }

    /// Completes `point` with `result`, writes it to metrics.jsonl and prints progress. Returns
    /// why the run must stop (target reached, or divergence: a non-finite loss, or one above
    /// max(1e6 x the initial loss, 1e6), see `divergenceThreshold`), or nil.
    private func record(_ partial: MetricsPoint, _ result: EvaluationResult, force: Bool) -> (RunStatus, String?)? {
        var point = partial
        let loss = result.loss
        point.loss = loss
        lastLoss = loss
        if testData != nil {
            lastTrainAccuracy = result.trainAccuracy
            lastTestLoss = result.testLoss
            lastTestAccuracy = result.testAccuracy
        }
        point.trainAccuracy = lastTrainAccuracy
        point.testLoss = lastTestLoss
        point.testAccuracy = lastTestAccuracy
        do { try runDirectory.appendMetrics(point.jsonLine) } catch { log.error("cannot write metrics.jsonl: \(error)") }
        printProgress(point, version: point.step, force: force)
        let version = point.step
        if !loss.isFinite {
            return (.failed, "training diverged: the training loss is \(loss) at step \(version) (try a smaller --lr)")
        }
        if let initial = initialLoss {
            if loss > Self.divergenceThreshold(initialLoss: initial) {
                let g = { (x: Double) in String(format: "%.6g", x) }
                return (.failed, "training diverged: the training loss grew from \(g(initial)) to \(g(loss)) by step \(version) (try a smaller --lr)")
            }
        } else {
            initialLoss = loss
        }
        if let target = job.targetLoss, loss <= target, timeToTarget == nil {
            timeToTarget = point.time
            reachedTarget = (version, point.examples)
            return (.completed, nil)
        }
        return nil
    }

    /// Whether `version` has been evaluated (or submitted for evaluation).
    func hasEvaluated(_ version: Int) -> Bool { lastEvaluatedVersion == version }

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

    // MARK: Progress

    /// One progress line (at most ten a second unless `force`): step (of the total when a limit
    /// is known), epoch, loss, examples/s over the last few seconds, elapsed training time, ETA.
    private func printProgress(_ p: MetricsPoint, version: Int, force: Bool) {
        let now = monotonicSeconds()
        guard force || now - lastProgressPrint >= 0.1 else { return }
        lastProgressPrint = now
        rateSamples.append((p.time, p.examples, version))
        // The window: the oldest sample no more than 3 s of training older than this one.
        let start = rateSamples.firstIndex { p.time - $0.clock <= 3 } ?? rateSamples.count - 1
        if start > 32 { rateSamples.removeFirst(start - 1) }
        let first = rateSamples[min(start, rateSamples.count - 1)]
        let span = p.time - first.clock
        let rate = span > 0 ? Double(p.examples - first.examples) / span : (p.time > 0 ? Double(p.examples) / p.time : 0)
        let updateRate = span > 0 ? Double(version - first.version) / span : (p.time > 0 ? Double(version) / p.time : 0)
        let total = job.steps.map { "/\($0)" } ?? ""
        var line = "step \(p.step)\(total)  epoch \(String(format: "%.2f", p.epoch))  loss \(String(format: "%.6f", p.loss))  \(Int(rate)) examples/s"
        if let a = p.testAccuracy { line += "  test acc \(String(format: "%.4f", a))" }
        if let m = p.stalenessMean, let x = p.stalenessMax { line += "  staleness \(String(format: "%.2f", m)) (max \(x))" }
        line += "  elapsed \(duration(p.time))"
        if let eta = eta(version: version, examples: p.examples, updateRate: updateRate, exampleRate: rate) {
            line += "  ETA \(duration(eta))"
        }
        log.out(line)
    }

    /// Seconds left until `--steps` or `--epochs` at the current rates, whichever comes first.
    private func eta(version: Int, examples: Int, updateRate: Double, exampleRate: Double) -> Double? {
        var left: [Double] = []
        if let s = job.steps, updateRate > 0 { left.append(Double(max(0, s - version)) / updateRate) }
        if let e = job.epochs, exampleRate > 0 {
            left.append(max(0, e * Double(job.examplesPerEpoch) - Double(examples)) / exampleRate)
        }
        return left.min()
    }

    private func duration(_ s: Double) -> String {
        s < 60 ? String(format: "%.1fs", s) : s < 3600 ? String(format: "%dm%02ds", Int(s) / 60, Int(s) % 60)
            : String(format: "%dh%02dm", Int(s) / 3600, Int(s) % 3600 / 60)
    }

    // MARK: Checkpoints

    /// The running totals, for a checkpoint (every submitted evaluation must have been collected).
    var state: RecorderState {
        RecorderState(
            examples: examples, dropped: dropped, stalenessSum: totalStaleness.sum, stalenessCount: totalStaleness.count,
            stalenessMax: totalStaleness.max, leadMax: leadMax, deadWorkers: deadWorkers, rejoinedWorkers: rejoinedWorkers,
            lastEvaluatedVersion: lastEvaluatedVersion, lastLoss: lastLoss.isFinite ? lastLoss : nil,
            lastTestLoss: lastTestLoss, lastTestAccuracy: lastTestAccuracy, lastTrainAccuracy: lastTrainAccuracy,
            initialLoss: initialLoss, timeToTarget: timeToTarget, stepsToTarget: reachedTarget?.step,
            examplesToTarget: reachedTarget?.examples, trainingSeconds: clock,
            evaluationSeconds: priorEvaluation + evaluationSeconds)
    }

    /// Continues from a checkpoint's totals (before `startTraining`): counts, the last evaluation
    /// (so its version is not evaluated again) and the clocks go on from there.
    func restore(_ r: RecorderState) {
        examples = r.examples
        dropped = r.dropped
        totalStaleness = (r.stalenessSum, r.stalenessCount, r.stalenessMax)
        leadMax = r.leadMax
        deadWorkers = r.deadWorkers
        rejoinedWorkers = r.rejoinedWorkers
        lastEvaluatedVersion = r.lastEvaluatedVersion
        lastLoss = r.lastLoss ?? .nan
        lastTestLoss = r.lastTestLoss
        lastTestAccuracy = r.lastTestAccuracy
        lastTrainAccuracy = r.lastTrainAccuracy
        initialLoss = r.initialLoss
        timeToTarget = r.timeToTarget
        if let step = r.stepsToTarget, let examples = r.examplesToTarget { reachedTarget = (step, examples) }
        priorTraining = r.trainingSeconds
        priorEvaluation = r.evaluationSeconds
    }

    // MARK: Summary

    /// The summary of a run that ended with `status` after `version` updates.
    func summary(status: RunStatus, error: String?, version: Int, rejected: Int, members: Membership,
                 bytesMoved: Int, onlineLambdaMax: Double?) -> RunSummary {
        let training = clock
        let wall = priorTraining + priorEvaluation + (trainingStarted ? monotonicSeconds() - trainingStart : 0)
        let setupEnd = trainingStarted ? trainingStart : monotonicSeconds()
        var s = RunSummary(
            mode: job.mode, workers: job.workers, status: status,
            finalLoss: lastLoss.isFinite ? lastLoss : nil, steps: version, examples: examples,
            epochs: Double(examples) / Double(max(job.examplesPerEpoch, 1)), wallSeconds: wall,
            examplesPerSecond: training > 0 ? Double(examples) / training : 0, targetLoss: job.targetLoss,
            timeToTarget: timeToTarget, error: error, rejectedMessages: rejected)
        s.stepsToTarget = reachedTarget?.step
        s.examplesToTarget = reachedTarget?.examples
        s.evaluation = job.evaluation.rawValue
        s.noiseScale = noise?.total
        s.setupSeconds = setupEnd - created
        s.trainingSeconds = training
        s.evaluationSeconds = priorEvaluation + evaluationSeconds
        s.model = job.model.rawValue
        s.dataset = job.dataset.name
        s.learningRate = Double(job.learningRate)
        s.effectiveLearningRate = Double(job.effectiveLearningRate)
        s.lrScaling = job.lrScaling.rawValue
        s.batch = job.batch
        s.seed = job.seed
        s.momentum = Double(job.momentum)
        s.workerMinibatches = members.minibatches
        s.bytesMoved = bytesMoved
        s.workerBytesSent = members.bytesSent
        s.workerBytesReceived = members.bytesReceived
        if job.compress != .f32 { s.compress = job.compress.description }
        if job.compressParams != .f32 { s.compressParams = job.compressParams.description }
        if testData != nil {
            s.finalTestLoss = lastTestLoss.flatMap { $0.isFinite ? $0 : nil }
            s.finalTestAccuracy = lastTestAccuracy
            s.finalTrainAccuracy = lastTrainAccuracy
        }
        if job.mode == .sync, !roundTimes.isEmpty {
            // The first rounds include connection warm-up; skip up to 5 of them.
            let sorted = roundTimes.dropFirst(min(5, roundTimes.count - 1)).sorted()
            s.roundMsMedian = sorted[sorted.count / 2] * 1e3
            s.roundMsP90 = sorted[min(sorted.count - 1, sorted.count * 9 / 10)] * 1e3
        }
        s.onlineLambdaMax = onlineLambdaMax
        if job.mode.appliesGradientsAlone {
            s.stalenessMean = totalStaleness.count > 0 ? Double(totalStaleness.sum) / Double(totalStaleness.count) : 0
            s.stalenessMax = totalStaleness.max
            if job.lrStaleness != .none { s.lrStaleness = job.lrStaleness.rawValue }
            if job.delay > 0 { s.delay = job.delay }
        }
        if job.mode == .ssp {
            s.staleness = job.staleness
            s.sspLeadMax = leadMax
        }
        if job.backupWorkers > 0 {
            s.backupWorkers = job.backupWorkers
            s.droppedGradients = dropped
        }
        if let m = job.minWorkers {
            s.minWorkers = m
            s.deadWorkers = deadWorkers
            s.rejoinedWorkers = rejoinedWorkers
        }
        if let m = job.maxStaleness {
            s.maxStaleness = m
            s.droppedGradients = dropped
        }
        if let g = job.maxGradientNorm {
            s.maxGradientNorm = g
            s.droppedGradients = dropped
        }
        return s
    }
}
