import DSGDCore
import Foundation
import ZeroMQ

/// A worker: connects a DEALER to the coordinator, registers, and answers every PARAMS with the
/// gradient of its next minibatch until the coordinator says STOP.
///
/// The gradient is computed straight from the received parameter frame and sent from a
/// zero-copy buffer: no allocation per minibatch in steady state.
public final class Worker {
    /// What a worker needs to know before it has heard from the coordinator.
    public struct Options: Sendable {
        public var id: Int
        public var connect: String
        /// Give up if the coordinator does not answer the first HELLO within this many seconds.
        public var connectTimeout: Double
        /// Give up if the coordinator is silent this long during training (seconds).
        public var idleTimeout: Double
        /// CURVE: the coordinator's public key and this worker's key pair (nil: plain TCP/IPC).
        public var curve: (coordinatorKey: String, keys: CurveKeyPair)?

        /// An `id` that asks the coordinator for the lowest free worker id.
        public static let assigned = -1

        public init(id: Int, connect: String, connectTimeout: Double = 10, idleTimeout: Double = 120) {
            self.id = id
            self.connect = connect
            self.connectTimeout = connectTimeout
            self.idleTimeout = idleTimeout
        }
    }

    let options: Options
    /// This worker's id: `options.id`, or the one the coordinator assigns in its WELCOME when
    /// that is `Options.assigned`.
    var id: Int
    var log: Log
    let context: ZMQContext
    let socket: ZMQSocket
    let poller: ZMQPoller
    let frames = [ZMQMessage(), ZMQMessage(), ZMQMessage()]
    let header = UnsafeMutableRawBufferPointer.allocate(byteCount: Wire.headerSize, alignment: 8)
    let gradientMessage = ZMQMessage()

    var job: JobConfig?
    var model: (any Model)?
    var data: Dataset?
    var gradients: ZeroCopyBufferPool?
    var shard: [UInt32] = []
    var cursor = 0
    /// Next minibatch of the shard for CURVATURE requests (separate from training's `cursor`, so
    /// the curvature phase does not change the training order).
    var curvatureCursor = 0
    /// Parameters assembled from PARAMS parts (used when they come in more than one part).
    var parameters: UnsafeMutableBufferPointer<Float>?
    var parametersFilled = 0
    var parametersStep: UInt64 = 0
    /// The version whose every part `parameters` holds (`--compress-params sparse`), -1 before any.
    var heldVersion = -1
    /// Minibatches computed.
    public internal(set) var steps = 0
    /// `--mode local` and `easgd`: the worker's own parameters and a gradient buffer (P each), and
    /// whether `easgd` has started its own parameters from a centre yet.
    var localParameters: UnsafeMutableBufferPointer<Float>?
    var scratch: UnsafeMutableBufferPointer<Float>?
    var localStarted = false
    /// `--compress` other than none: buffers the encoded parts are sent from, the scratch of the
    /// encoder, and with `topk` or `sign` the error feedback residual.
    var encoded: ZeroCopyBufferPool?
    var encodeScratch: UnsafeMutableBufferPointer<Float>?
    var errorFeedback: ErrorFeedback?
    /// A data file being fetched from the coordinator (`Worker+DataFile.swift`).
    var fetching: FileFetch?

    public init(options: Options) throws {
        self.options = options
        id = options.id
        log = Log(role: options.id == Options.assigned ? "worker" : "worker \(options.id)")
        context = try ZMQContext()
        socket = try ZMQSocket(context, .dealer, lingerMs: 200)
        // A routing id of this process's own (not the worker id alone: libzmq would silently
        // ignore a second connection with the same routing id, where the coordinator can refuse
        // a duplicate worker id in words).
        let name = options.id == Options.assigned ? "a" : "w\(options.id)"
        try socket.setRoutingID(Array("\(name).\(getpid()).\(UInt32.random(in: 0 ... .max))".utf8))
        // A lost coordinator is retried after 100 ms, then 200, 400, ... up to 5 s; the worker
        // gives up after --connect-timeout (never answered) or --idle-timeout (went silent).
        try socket.setReconnectBackoff(initialMs: 100, maximumMs: 5000)
        poller = ZMQPoller([socket])
        if let curve = options.curve { try socket.setCurveClient(serverKey: curve.coordinatorKey, keys: curve.keys) }
    }

    deinit {
        header.deallocate()
        parameters?.deallocate()
        localParameters?.deallocate()
        scratch?.deallocate()
        encodeScratch?.deallocate()
    }

    /// Runs until STOP (returns 0), a signal (130/143) or an error (throws).
    public func run() throws -> Int32 {
        try socket.connect(options.connect)
        try sendBare(.hello)
        var deadline = monotonicSeconds() + options.connectTimeout
        while true {
            if let s = TerminationSignal.received { return 128 + s }
            if try poller.waitForInput(timeoutMs: 100) {
                while let n = try receiveOne() {
                    if n == -1 { return 0 }  // STOP handled
                }
                deadline = monotonicSeconds() + options.idleTimeout
            } else if monotonicSeconds() > deadline {
                if job == nil {
                    throw WorkerError("no answer from a coordinator at \(options.connect) within \(options.connectTimeout) s")
                }
                throw WorkerError("the coordinator at \(options.connect) has been silent for \(options.idleTimeout) s")
            }
        }
    }

    /// Receives and handles one message if one is queued: nil when none is, -1 after STOP, 1 otherwise.
    func receiveOne() throws -> Int? {
        let n = try socket.receiveMultipart(into: frames, dontWait: true)
        if n == 0 { return nil }
        let h: MessageHeader
        do {
            h = try MessageHeader.decode(frames: n, header: frames[0].bytes, payload: n > 1 ? frames[1].bytes : nil)
        } catch {
            throw WorkerError("malformed message from the coordinator: \(error)")
        }
        switch h.type {
        case .welcome:
            if id == Options.assigned {
                id = Int(h.workerID)
                log = Log(role: "worker \(id)")
                log.info("the coordinator assigned this worker id \(id)")
            }
            try handleWelcome()
        case .shard: try handleShard(h)
        case .stats: try handleStats(h)
        case .normalize: try handleNormalize()
        case .params: try handleParams(h)
        case .curvature: try handleCurvature(h)
        case .file: try handleFile(h)
        case .stop:
            log.info("coordinator says stop: \(String(decoding: frames[1].bytes, as: UTF8.self)) (\(steps) minibatches computed)")
            try sendBare(.bye)
            return -1
        case .error:
            throw WorkerError("the coordinator rejected a message: \(String(decoding: frames[1].bytes, as: UTF8.self))")
        default:
            throw WorkerError("unexpected \(h.type) message from the coordinator")
        }
        return 1
    }

    func handleWelcome() throws {
        guard job == nil, fetching == nil else { return }
        try fetchOrBuild(try JobConfig.fromJSON(Data(frames[1].bytes)))
    }

    /// Builds the job's data set (from the cached copy of a data file this worker has no copy
    /// of) and model, and says READY.
    func finishWelcome(_ j: JobConfig) throws {
        let m = j.makeModel()
        data = try Self.locallyReadable(j.dataset).materialize()
        job = j
        model = m
        gradients = ZeroCopyBufferPool(count: m.parameterCount, initial: 2)
        let assembled = UnsafeMutableBufferPointer<Float>.allocate(capacity: m.parameterCount)
        assembled.initialize(repeating: 0)
        parameters = assembled
        if j.mode.takesLocalSteps {
            localParameters = .allocate(capacity: m.parameterCount)
            localParameters!.initialize(repeating: 0)
            scratch = .allocate(capacity: m.parameterCount)
            scratch!.initialize(repeating: 0)
        }
        if j.compress != .f32 {
            let c = j.gradientChunk, p = m.parameterCount
            let bytes = stride(from: 0, to: p, by: c).reduce(0) { $0 + j.compress.payloadBytes(count: min(c, p - $1)) }
            encoded = ZeroCopyBufferPool(count: (bytes + 3) / 4, initial: 2)
            encodeScratch = .allocate(capacity: min(c, p))
            encodeScratch!.initialize(repeating: 0)
            if j.compress.isSparse, j.errorFeedback { errorFeedback = ErrorFeedback(count: p) }
        }
        shard.reserveCapacity(j.shardSize)
        try sendBare(.ready, count: UInt32(data!.examples))
    }

    func handleShard(_ h: MessageHeader) throws {
        guard let data else { throw WorkerError("SHARD before WELCOME") }
        let count = Int(h.count)
        guard frames[1].count == 4 * count else { throw WorkerError("SHARD payload has \(frames[1].count) bytes for \(count) indices") }
        shard.removeAll(keepingCapacity: true)
        for i in 0..<count {
            let v = frames[1].bytes.u32(i)
            guard Int(v) < data.examples else { throw WorkerError("SHARD index \(v) is out of range (\(data.examples) examples)") }
            shard.append(v)
        }
        cursor = 0
        curvatureCursor = 0
    }

    /// STATS: answers with the feature statistics (count, sums, products; f64) of the indices asked.
    func handleStats(_ h: MessageHeader) throws {
        guard let data else { throw WorkerError("STATS before WELCOME") }
        let count = Int(h.count)
        guard frames[1].count == 4 * count else { throw WorkerError("STATS payload has \(frames[1].count) bytes for \(count) indices") }
        var indices = [Int]()
        indices.reserveCapacity(count)
        for i in 0..<count {
            let v = frames[1].bytes.u32(i)
            guard Int(v) < data.examples else { throw WorkerError("STATS index \(v) is out of range (\(data.examples) examples)") }
            indices.append(Int(v))
        }
        let stats = FeatureStatistics(of: data, indices: indices)
        var payload = [UInt8]()
        payload.reserveCapacity(8 * (1 + stats.sums.count + stats.products.count))
        for x in [Double(stats.count)] + stats.sums + stats.products {
            payload.appendLittleEndian(x)
        }
        let out = MessageHeader(type: .stats, workerID: UInt32(id), count: UInt32(count), payloadLength: UInt32(payload.count))
        out.encode(into: header)
        try socket.send(bytes: UnsafeRawBufferPointer(header), more: true)
        try payload.withUnsafeBytes { try socket.send(bytes: $0, more: false) }
    }

    /// NORMALIZE: replaces the data set with its normalized copy (f64 mean (d), then matrix (d*d)).
    func handleNormalize() throws {
        guard let job, let current = data else { throw WorkerError("NORMALIZE before WELCOME") }
        let d = current.dimension
        guard frames[1].count == 8 * (d + d * d) else {
            throw WorkerError("NORMALIZE payload has \(frames[1].count) bytes, expected \(8 * (d + d * d)) for \(d) features")
        }
        let bytes = frames[1].bytes
        let values = (0..<(d + d * d)).map { bytes.f64($0) }
        let normalizer = Normalizer(kind: job.normalize, mean: Array(values[..<d]), matrix: Array(values[d...]))
        data = normalizer.apply(to: current)
    }

    /// CURVATURE: the difference quotient `(grad E_B(w + a u) - grad E_B(w)) / a` of the next
    /// `--batch` examples of the shard (wrapping around), `w` and `u`'s direction from the payload
    /// (f32 `[parameters, direction]`), `a` from the header's value. Analysis, not the training
    /// loop: this allocates.
    func handleCurvature(_ h: MessageHeader) throws {
        guard let job, let model, let data else { throw WorkerError("CURVATURE before WELCOME") }
        let p = model.parameterCount
        guard Int(h.count) == p, frames[1].count == 8 * p else {
            throw WorkerError("CURVATURE for \(h.count) parameters with \(frames[1].count) bytes, expected \(p) and \(8 * p)")
        }
        guard shard.count >= job.batch else { throw WorkerError("CURVATURE before a SHARD of at least \(job.batch) examples") }
        guard h.value.isFinite, h.value > 0 else { throw WorkerError("CURVATURE with perturbation \(h.value), expected a positive number") }
        let bytes = frames[1].bytes
        let parameters = (0..<p).map { bytes.f32($0) }, direction = (p..<(2 * p)).map { bytes.f32($0) }
        if curvatureCursor + job.batch > shard.count { curvatureCursor = 0 }
        let batch = Array(shard[curvatureCursor ..< curvatureCursor + job.batch])
        curvatureCursor += job.batch
        let quotient = OnlineCurvature.differenceQuotient(model: model, parameters: parameters, data: data, batch: batch,
                                                          direction: direction, perturbation: h.value)
        let out = MessageHeader(type: .curvature, workerID: UInt32(id), count: UInt32(p), step: h.step,
                                payloadLength: UInt32(4 * p))
        out.encode(into: header)
        try socket.send(bytes: UnsafeRawBufferPointer(header), more: true)
        try quotient.withUnsafeBytes { try socket.send(bytes: $0, more: false) }
    }

    /// One PARAMS part. A single float32 part covering everything is used in place (no copy);
    /// several parts, or encoded ones (`--compress-params`), are assembled into `parameters` first.
    /// With `--compress-params sparse` the parameters are always kept there: a part may carry only
    /// the entries that changed since the version held. The last part triggers the gradient.
    func handleParams(_ h: MessageHeader) throws {
        guard let job, let model, let parameters else { throw WorkerError("PARAMS before WELCOME") }
        let p = model.parameterCount
        let sparse = job.compressParams == .changes
        let codec: GradientCodec = sparse ? (h.codecID == GradientCodec.changes.id ? .changes : .f32) : job.compressParams
        guard h.codecID == codec.id else {
            throw WorkerError("PARAMS part of encoding \(h.codecID), but the job's --compress-params is \(job.compressParams) (encoding \(job.compressParams.id))")
        }
        let offset = Int(h.count)
        let width = codec == .changes ? 8 : codec.payloadBytes(count: 1)
        let length = codec == .changes ? min(job.gradientChunk, p - offset) : frames[1].count / width
        guard offset == parametersFilled, frames[1].count % width == 0, offset + length <= p, length >= 0 else {
            throw WorkerError("PARAMS part at element \(offset) with \(frames[1].count) bytes does not continue the \(parametersFilled) values received of \(p)")
        }
        guard offset == 0 || h.step == parametersStep else { throw WorkerError("PARAMS parts of different steps") }
        if codec == .changes, offset == 0, heldVersion != Int(h.step) - 1 {
            throw WorkerError("PARAMS of version \(h.step) as changes, but this worker holds version \(heldVersion)")
        }
        let last = offset + length == p
        guard (h.flags & Wire.lastPartFlag != 0) == last else { throw WorkerError("PARAMS part at element \(offset) has a wrong last-part flag") }
        parametersStep = h.step
        if codec != .f32 {
            do { try codec.decode(frames[1].bytes, count: length, into: parameters.baseAddress! + offset) } catch {
                throw WorkerError("PARAMS part at element \(offset): \(error)")
            }
        } else {
            let source = frames[1].bytes.baseAddress!.assumingMemoryBound(to: Float.self)
            if offset == 0 && last && !sparse {
                try computeGradient(parameters: UnsafeBufferPointer(start: source, count: p), step: h.step, job: job, model: model)
                return
            }
            (parameters.baseAddress! + offset).update(from: source, count: length)
        }
        parametersFilled = last ? 0 : offset + length
        if last {
            heldVersion = Int(h.step)
            try computeGradient(parameters: UnsafeBufferPointer(parameters), step: h.step, job: job, model: model)
        }
    }

    /// Computes the answer to `parameters` (the gradient of the next minibatch; with `--mode local`
    /// the sum of H local steps' gradients, with `easgd` the elastic difference, see
    /// Worker+LocalSteps.swift) and sends it in parts straight from a zero-copy buffer, so the
    /// coordinator can average the first parts while the later ones are still on the wire.
    func computeGradient(parameters params: UnsafeBufferPointer<Float>, step: UInt64, job: JobConfig, model: any Model) throws {
        guard let data, let gradients else { throw WorkerError("PARAMS before WELCOME") }
        let p = model.parameterCount
        guard cursor + job.examplesPerGradient <= shard.count else { throw WorkerError("PARAMS but the shard is used up (no new SHARD came)") }
        let buffer = gradients.acquire()
        let out = UnsafeMutableBufferPointer(rebasing: buffer.floats[0..<p])
        let loss: Double
        switch job.mode {
        case .local: loss = localSteps(from: params, job: job, model: model, data: data, into: out)
        case .easgd: loss = elasticSteps(centre: params, job: job, model: model, data: data, into: out)
        case .sync, .async, .ssp: loss = minibatchGradient(at: params, job: job, model: model, data: data, into: out)
        }
        let codec = job.compress
        let target = codec == .f32 ? buffer : encoded!.acquire()
        var lo = 0, offset = 0
        while lo < p {
            let hi = min(p, lo + job.gradientChunk)
            let size = codec.payloadBytes(count: hi - lo)
            if codec == .f32 {
                try buffer.wrap(range: lo..<hi, into: gradientMessage)
            } else {
                // With error feedback, the residual is added first and what the encoding leaves out is kept.
                codec.encode(out.baseAddress! + lo, range: lo..<hi, feedback: errorFeedback, into: UnsafeMutableRawPointer(target.floats.baseAddress!) + offset,
                             scratch: encodeScratch!.baseAddress!)
                try target.wrap(byteOffset: offset, byteCount: size, into: gradientMessage)
            }
            let out = MessageHeader(type: .gradient, workerID: UInt32(id), count: UInt32(lo), step: step,
                                    payloadLength: UInt32(size), value: Float(loss), flags: Wire.flags(last: hi == p, codec: codec))
            out.encode(into: header)
            try socket.send(bytes: UnsafeRawBufferPointer(header), more: true)
            try socket.send(gradientMessage, more: false)
            lo = hi
            offset += size
        }
    }

    /// Sends a message without payload (HELLO, READY, BYE).
    func sendBare(_ type: MessageType, count: UInt32 = 0) throws {
        MessageHeader(type: type, workerID: id == Options.assigned ? Wire.anyWorker : UInt32(id), count: count).encode(into: header)
        try socket.send(bytes: UnsafeRawBufferPointer(header), more: false)
    }
}

/// A reason a worker gave up.
public struct WorkerError: Error, CustomStringConvertible {
    public let description: String
    init(_ d: String) { description = d }
}
