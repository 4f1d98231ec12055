import DSGDCore
import Foundation

/// The coordinator's update written again from docs/PROTOCOL.md §7 as a plain scalar loop (not
/// DSGDCluster's `Aggregator` nor DSGDCore's `SGD`): for each element, the gradients are summed
/// in the order given (worker-id order: `((g0 + g1) + g2) + ...`, float32), scaled by
/// `1 / Float(N)`, and applied as `w - lr g`, or with momentum `v = m v + g; w - lr v`. Every
/// operation is one IEEE float32 operation in the documented order, so a correct coordinator
/// gives the same bits.
struct ReferenceSGD {
    var parameters: [Float]
    let learningRate: Float
    let momentum: Float
    private(set) var velocity: [Float]

    init(parameters: [Float], learningRate: Float, momentum: Float = 0) {
        self.parameters = parameters
        self.learningRate = learningRate
        self.momentum = momentum
        velocity = [Float](repeating: 0, count: parameters.count)
    }

    /// The documented float32 sum of `gradients` in the order given (no scaling).
    static func sum(_ gradients: [[Float]]) -> [Float] {
        (0..<gradients[0].count).map { i in
            var s = gradients[0][i]
            for g in gradients.dropFirst() { s += g[i] }
            return s
        }
    }

    /// One update with the mean of `gradients`, summed in the order given.
    mutating func apply(_ gradients: [[Float]]) {
        let s = Self.sum(gradients)
        let scale = 1 / Float(gradients.count)
        for i in parameters.indices {
            let g = scale * s[i]
            if momentum != 0 {
                velocity[i] = momentum * velocity[i] + g
                parameters[i] = parameters[i] - learningRate * velocity[i]
            } else {
                parameters[i] = parameters[i] - learningRate * g
            }
        }
    }
}

/// Synchronous SGD of `workers` workers replayed in one process: worker k's t-th minibatch is
/// entries `[j B, (j+1) B)`, j = t mod (S / B), of its shard of epoch t / (S / B), with the shards
/// from `DocumentedShuffle` (not DSGDCore's sharding); gradients from the model (DSGDCore, as
/// dsgd's workers compute them); the update from `ReferenceSGD`.
struct SyncReplay {
    let model: any Model
    let data: Dataset
    let workers: Int
    let batch: Int
    let seed: UInt64
    let learningRate: Float
    var momentum: Float = 0
    /// Training example indices (all examples unless some are held out).
    var train: [Int]

    init(model: any Model, data: Dataset, workers: Int, batch: Int, seed: UInt64, learningRate: Float,
         momentum: Float = 0, train: [Int]? = nil) {
        self.model = model
        self.data = data
        self.workers = workers
        self.batch = batch
        self.seed = seed
        self.learningRate = learningRate
        self.momentum = momentum
        self.train = train ?? Array(0..<data.examples)
    }

    /// Minibatches per shard.
    var batchesPerShard: Int { (train.count / workers) / batch }

    /// The indices of worker `k`'s minibatch at step `t`.
    func minibatch(worker k: Int, step t: Int) -> [UInt32] {
        let epoch = t / batchesPerShard, j = t % batchesPerShard
        let shard = DocumentedShuffle.shard(epoch: epoch, worker: k, workers: workers, train: train, seed: seed)
        return Array(shard[(j * batch) ..< ((j + 1) * batch)])
    }

    /// The workers' gradients at `parameters` for step `t`, in worker-id order.
    func gradients(at parameters: [Float], step t: Int) -> [[Float]] {
        (0..<workers).map { k in model.lossAndGradient(parameters: parameters, data: data, batch: minibatch(worker: k, step: t)).gradient }
    }

    /// The parameters of versions 0 ... `steps` (index = version), the gradients summed in worker-id
    /// order, or in `order` (a permutation of the worker ids: what a coordinator that sums in
    /// arrival order would compute if they arrived in that order).
    func run(steps: Int, order: [Int]? = nil) -> [[Float]] {
        var sgd = ReferenceSGD(parameters: model.initialParameters(), learningRate: learningRate, momentum: momentum)
        var versions = [sgd.parameters]
        for t in 0..<steps {
            let g = gradients(at: sgd.parameters, step: t)
            sgd.apply((order ?? Array(0..<workers)).map { g[$0] })
            versions.append(sgd.parameters)
        }
        return versions
    }
}

/// The logistic model's loss and accuracy in float64, written from README's definitions
/// (`E = (1/P) sum [log(1 + e^z) - y z]`, `z = w.x + b`; predicted class 1 iff sigmoid(z) > 0.5,
/// i.e. z > 0), over the given rows of a data set.
enum LogisticReference {
    static func logit(_ w: [Float], _ data: Dataset, row i: Int) -> Double {
        let d = data.dimension
        var z = Double(w[d])
        for j in 0..<d { z += Double(w[j]) * Double(data.features[i * d + j]) }
        return z
    }

    /// Mean loss over `rows`.
    static func loss(_ w: [Float], data: Dataset, rows: [Int]) -> Double {
        var total = 0.0
        for i in rows {
            let z = logit(w, data, row: i), y = Double(data.targets[i])
            total += max(z, 0) + log1p(exp(-abs(z))) - y * z
        }
        return total / Double(rows.count)
    }

    /// Fraction of `rows` classified correctly, and the fraction of rows with |z| < 1e-4 (where
    /// float32 and float64 logits could fall on different sides of 0): how far a float32
    /// evaluation's accuracy may differ.
    static func accuracy(_ w: [Float], data: Dataset, rows: [Int]) -> (accuracy: Double, slack: Double) {
        var correct = 0, ambiguous = 0
        for i in rows {
            let z = logit(w, data, row: i)
            if abs(z) < 1e-4 { ambiguous += 1 }
            if (z > 0) == (data.targets[i] > 0.5) { correct += 1 }
        }
        return (Double(correct) / Double(rows.count), Double(ambiguous) / Double(rows.count))
    }
}
