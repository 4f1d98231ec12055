import DSGDCore
import Foundation

/// What one evaluation of a parameter snapshot found.
struct EvaluationResult {
    /// The training-set loss.
    var loss: Double
    /// With held-out data: accuracy on the training set (classifiers), loss and accuracy on the
    /// held-out set.
    var trainAccuracy: Double?
    var testLoss: Double?
    var testAccuracy: Double?

    /// Evaluates `params` on `train` (and `test`) with `model`.
    init(model: any Model, params: UnsafeBufferPointer<Float>, train: Dataset, test: Dataset?) {
        loss = model.loss(parameters: params, data: train)
        if let test {
            trainAccuracy = model.accuracy(parameters: params, data: train)
            testLoss = model.loss(parameters: params, data: test)
            testAccuracy = model.accuracy(parameters: params, data: test)
        }
    }
}

/// Evaluates snapshots of the parameters on a thread of its own, so that the coordinator's loop
/// keeps aggregating while the loss of a large data set is computed.
///
/// A ring of `depth` snapshot buffers: `submit` copies the parameters into the next free one and
/// wakes the evaluation thread; `next` hands back the oldest finished result and frees its buffer.
/// Results come back in the order submitted. The coordinator's thread alone calls `submit` and
/// `next`; the evaluation thread reads a buffer only between its submission and its result, when
/// the coordinator does not touch it. No allocation after `init`.
final class BackgroundEvaluator: @unchecked Sendable {
    /// Snapshot buffers.
    let depth: Int
    private let count: Int
    private let model: any Model
    private let train: Dataset
    private let test: Dataset?
    private let buffers: [UnsafeMutableBufferPointer<Float>]
    private var results: [EvaluationResult?]
    private let condition = NSCondition()
    /// Snapshots submitted, evaluated and taken back (submitted >= evaluated >= taken, and
    /// submitted - taken <= depth). Guarded by `condition`.
    private var submitted = 0
    private var evaluated = 0
    private var taken = 0
    private var stopping = false
    private let stopped = DispatchSemaphore(value: 0)

    /// An evaluator of `parameterCount` parameters with `model` (an instance of its own: models may
    /// keep scratch space) on `train` and `test`, holding up to `depth` snapshots.
    init(model: any Model, parameterCount: Int, train: Dataset, test: Dataset?, depth: Int = 2) {
        self.depth = max(depth, 1)
        count = parameterCount
        self.model = model
        self.train = train
        self.test = test
        buffers = (0..<self.depth).map { _ in
            let b = UnsafeMutableBufferPointer<Float>.allocate(capacity: max(parameterCount, 1))
            b.initialize(repeating: 0)
            return b
        }
        results = Array(repeating: nil, count: self.depth)
        let thread = Thread { [self] in loop() }
        thread.name = "dsgd-evaluator"
        thread.start()
    }

    deinit {
        for b in buffers { b.deallocate() }
    }

    /// Snapshots submitted and not yet taken back.
    var inFlight: Int {
        condition.lock()
        defer { condition.unlock() }
        return submitted - taken
    }

    /// Whether a snapshot can be submitted now (a buffer is free).
    var hasFreeBuffer: Bool { inFlight < depth }

    /// Copies `params` into a free buffer and queues it for evaluation. Precondition: a buffer is
    /// free (`hasFreeBuffer`; take a result with `next` first).
    func submit(_ params: UnsafeBufferPointer<Float>) {
        condition.lock()
        let slot = submitted % depth
        precondition(submitted - taken < depth, "no free snapshot buffer")
        condition.unlock()
        // The evaluation thread does not read this buffer until `submitted` moves past it.
        buffers[slot].baseAddress!.update(from: params.baseAddress!, count: min(count, params.count))
        condition.lock()
        submitted += 1
        condition.signal()
        condition.unlock()
    }

    /// The oldest result not yet taken: nil when nothing is in flight, or when it is not finished
    /// and `wait` is false; with `wait`, blocks until it is.
    func next(wait: Bool) -> EvaluationResult? {
        condition.lock()
        defer { condition.unlock() }
        guard taken < submitted else { return nil }
        while evaluated == taken {
            if !wait { return nil }
            condition.wait()
        }
        let slot = taken % depth
        let r = results[slot]
        results[slot] = nil
        taken += 1
        return r
    }

    /// Stops the evaluation thread once it has finished what was submitted, and waits for it.
    func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        condition.unlock()
        stopped.wait()
    }

    /// The evaluation thread: evaluates each submitted snapshot in order.
    private func loop() {
        while true {
            condition.lock()
            while evaluated == submitted && !stopping { condition.wait() }
            if evaluated == submitted {
                condition.unlock()
                break
            }
            let slot = evaluated % depth
            condition.unlock()
            let result = EvaluationResult(model: model, params: UnsafeBufferPointer(buffers[slot]), train: train, test: test)
            condition.lock()
            results[slot] = result
            evaluated += 1
            condition.broadcast()
            condition.unlock()
        }
        stopped.signal()
    }
}
