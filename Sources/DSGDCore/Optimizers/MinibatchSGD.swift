/// Plain minibatch SGD in one process, following the same data order a one-worker cluster uses:
/// the epoch permutation from `Sharding`, consecutive batches of `batch`, the last partial batch
/// dropped. The reference that cluster runs are checked against.
public struct MinibatchSGD {
    public let model: any Model
    public let data: Dataset
    public let optimizer: SGD
    public let batch: Int
    public let seed: UInt64

    public init(model: any Model, data: Dataset, optimizer: SGD, batch: Int, seed: UInt64) {
        self.model = model
        self.data = data
        self.optimizer = optimizer
        self.batch = batch
        self.seed = seed
    }

    /// Runs `steps` updates from `parameters` and returns the final parameters.
    public func train(from parameters: [Float], steps: Int) -> [Float] {
        let sharding = Sharding(examples: data.examples, workers: 1, seed: seed)
        let perEpoch = sharding.shardSize / batch
        var w = parameters
        var velocity = [Float](repeating: 0, count: w.count)
        var gradient = [Float](repeating: 0, count: w.count)
        var order: [UInt32] = []
        for step in 0..<steps {
            let epoch = step / perEpoch, k = step % perEpoch
            if k == 0 { order = Array(sharding.shard(worker: 0, epoch: epoch)) }
            order.withUnsafeBufferPointer { o in
                let b = UnsafeBufferPointer(rebasing: o[k * batch ..< (k + 1) * batch])
                w.withUnsafeBufferPointer { p in
                    gradient.withUnsafeMutableBufferPointer { g in
                        _ = model.lossAndGradient(parameters: p, data: data, batch: b, gradient: g)
                    }
                }
            }
            let n = w.count
            w.withUnsafeMutableBufferPointer { p in
                velocity.withUnsafeMutableBufferPointer { v in
                    gradient.withUnsafeBufferPointer { g in
                        optimizer.step(params: p.baseAddress!, gradient: g.baseAddress!, scale: 1,
                                       velocity: v.baseAddress!, out: p.baseAddress!, count: n)
                    }
                }
            }
        }
        return w
    }
}
