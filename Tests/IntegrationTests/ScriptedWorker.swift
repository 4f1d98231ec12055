import DSGDCluster
import DSGDCore
import Foundation
import XCTest
import ZeroMQ

/// A DEALER that speaks dsgd's frames by hand, for feeding a live coordinator hostile or
/// out-of-protocol messages (and the transport under `ScriptedWorker`).
final class RawPeer {
    let context: ZMQContext
    let socket: ZMQSocket
    let poller: ZMQPoller
    /// The header and payload frames of the last message received.
    let reply = [ZMQMessage(), ZMQMessage(), ZMQMessage()]

    init(connect endpoint: String, routingID: String? = nil) throws {
        context = try ZMQContext()
        socket = try ZMQSocket(context, .dealer, lingerMs: 200)
        if let routingID { try socket.setRoutingID(Array(routingID.utf8)) }
        try socket.connect(endpoint)
        poller = ZMQPoller([socket])
    }

    /// Sends `frames` as one multipart message.
    func send(_ frames: [[UInt8]]) throws {
        for (i, f) in frames.enumerated() { try f.withUnsafeBytes { try socket.send(bytes: $0, more: i < frames.count - 1) } }
    }

    /// Waits up to `timeout` seconds for a two-frame message and returns its header.
    func receive(timeout: Double = 5, file: StaticString = #filePath, line: UInt = #line) throws -> MessageHeader {
        guard try poller.waitForInput(timeoutMs: Int(timeout * 1000)) else {
            XCTFail("no message within \(timeout) s", file: file, line: line)
            throw ScriptError("no message within \(timeout) s")
        }
        XCTAssertEqual(try socket.receiveMultipart(into: reply), 2, file: file, line: line)
        return try MessageHeader.decode(reply[0].bytes)
    }

    /// The payload of the last message received, as text (ERROR, STOP).
    var replyText: String { String(decoding: reply[1].bytes, as: UTF8.self) }

    /// The payload of the last message received, as little-endian u32 (SHARD).
    var replyIndices: [UInt32] {
        let b = reply[1].bytes
        return (0..<(b.count / 4)).map { UInt32(littleEndian: b.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self)) }
    }

    /// The payload of the last message received, as little-endian f32 (PARAMS).
    var replyFloats: [Float] {
        let b = reply[1].bytes
        return (0..<(b.count / 4)).map { Float(bitPattern: UInt32(littleEndian: b.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self))) }
    }

    func close() { socket.close() }
}

/// A failure of a scripted exchange (the test has already recorded why).
struct ScriptError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// A worker whose every move the test makes: it registers with HELLO, reads WELCOME (and builds
/// the job's model and data set with DSGDCore), records every SHARD, assembles PARAMS parts into
/// whole vectors, computes the gradient of its next minibatch when asked, and sends it, in
/// `gradient_chunk` parts, only when the test says so. Nothing happens behind the test's back, so
/// a test can fix the order in which gradients reach the coordinator.
final class ScriptedWorker {
    /// One SHARD as received: the epoch (`step` field) and the indices.
    struct Shard: Equatable {
        var epoch: Int
        var indices: [UInt32]
    }

    /// What `next()` returns: a complete parameter vector of version `step`, or STOP with its reason.
    enum Event: Equatable {
        case params(step: Int, values: [Float])
        case stop(String)
    }

    /// A computed minibatch gradient (not yet sent).
    struct Gradient {
        var step: Int
        var loss: Double
        var values: [Float]
        /// The example indices it was computed on.
        var batch: [UInt32]
    }

    let id: Int
    let peer: RawPeer
    private(set) var job: JobConfig!
    private(set) var model: (any Model)!
    private(set) var data: Dataset!
    /// Every SHARD received, in order.
    private(set) var shards: [Shard] = []
    /// Minibatches taken from the current shard.
    private var cursor = 0
    /// The last complete parameter vector and its version.
    private(set) var parameters: [Float] = []
    private(set) var parametersStep = -1

    /// Connects as worker `id` (routing id "w<id>", as dsgd's workers do).
    init(id: Int, connect endpoint: String) throws {
        self.id = id
        peer = try RawPeer(connect: endpoint, routingID: "w\(id)")
    }

    /// Sends HELLO and waits for WELCOME; builds the job's model and data set and says READY.
    func register(file: StaticString = #filePath, line: UInt = #line) throws {
        try peer.send([MessageHeader(type: .hello, workerID: UInt32(id)).bytes])
        let h = try peer.receive(timeout: 30, file: file, line: line)
        guard h.type == .welcome else { throw unexpected(h, "WELCOME", file: file, line: line) }
        job = try JobConfig.fromJSON(Data(peer.reply[1].bytes))
        model = job.makeModel()
        data = try job.dataset.materialize()
        try peer.send([MessageHeader(type: .ready, workerID: UInt32(id), count: UInt32(data.examples)).bytes])
    }

    /// Reads messages until a whole parameter vector (all its PARAMS parts) or STOP has arrived,
    /// recording every SHARD on the way. Any other message fails the test.
    func next(timeout: Double = 30, file: StaticString = #filePath, line: UInt = #line) throws -> Event {
        var assembled: [Float] = []
        var step = -1
        while true {
            let h = try peer.receive(timeout: timeout, file: file, line: line)
            switch h.type {
            case .shard:
                let indices = peer.replyIndices
                XCTAssertEqual(indices.count, Int(h.count), "SHARD count field", file: file, line: line)
                shards.append(Shard(epoch: Int(h.step), indices: indices))
                cursor = 0
            case .params:
                XCTAssertEqual(Int(h.count), assembled.count, "PARAMS parts are contiguous", file: file, line: line)
                if !assembled.isEmpty { XCTAssertEqual(Int(h.step), step, "PARAMS parts of one version", file: file, line: line) }
                step = Int(h.step)
                assembled += peer.replyFloats
                let last = h.flags & Wire.lastPartFlag != 0
                XCTAssertEqual(last, assembled.count == model.parameterCount, "last-part flag", file: file, line: line)
                if last {
                    parameters = assembled
                    parametersStep = step
                    return .params(step: step, values: assembled)
                }
            case .stop:
                XCTAssertTrue(assembled.isEmpty, "STOP in the middle of a parameter vector", file: file, line: line)
                return .stop(peer.replyText)
            default:
                throw unexpected(h, "SHARD, PARAMS or STOP", file: file, line: line)
            }
        }
    }

    /// Reads the next event and requires it to be a parameter vector; returns its version.
    @discardableResult
    func expectParams(file: StaticString = #filePath, line: UInt = #line) throws -> Int {
        let e = try next(file: file, line: line)
        guard case .params(let step, _) = e else {
            XCTFail("expected PARAMS, got \(e)", file: file, line: line)
            throw ScriptError("expected PARAMS, got \(e)")
        }
        return step
    }

    /// The current shard (the last SHARD received).
    var shard: Shard? { shards.last }

    /// The gradient of the next `batch` indices of the current shard at the last parameters
    /// received, computed with DSGDCore's model (as dsgd's worker does). Advances the cursor.
    func computeGradient(file: StaticString = #filePath, line: UInt = #line) throws -> Gradient {
        guard let shard, cursor + job.batch <= shard.indices.count else {
            XCTFail("worker \(id): no minibatch left in the shard", file: file, line: line)
            throw ScriptError("no minibatch left")
        }
        let batch = Array(shard.indices[cursor ..< cursor + job.batch])
        cursor += job.batch
        let (loss, g) = model.lossAndGradient(parameters: parameters, data: data, batch: batch)
        return Gradient(step: parametersStep, loss: loss, values: g, batch: batch)
    }

    /// Sends `gradient` as GRADIENT parts of `gradient_chunk` floats (the last one flagged).
    func send(_ gradient: Gradient) throws {
        let p = gradient.values.count, c = job.gradientChunk
        var lo = 0
        while lo < p {
            let hi = min(p, lo + c)
            let payload = gradient.values[lo..<hi].flatMap { x in withUnsafeBytes(of: x.bitPattern.littleEndian) { Array($0) } }
            let h = MessageHeader(type: .gradient, workerID: UInt32(id), count: UInt32(lo), step: UInt64(gradient.step),
                                  payloadLength: UInt32(payload.count), value: Float(gradient.loss),
                                  flags: hi == p ? Wire.lastPartFlag : 0)
            try peer.send([h.bytes, payload])
            lo = hi
        }
    }

    /// Answers STOP with BYE and closes the socket.
    func bye() throws {
        try peer.send([MessageHeader(type: .bye, workerID: UInt32(id)).bytes])
        peer.close()
    }

    private func unexpected(_ h: MessageHeader, _ wanted: String, file: StaticString, line: UInt) -> ScriptError {
        let text = h.type == .error || h.type == .stop ? ": \(peer.replyText)" : ""
        XCTFail("worker \(id): expected \(wanted), got \(h.type)\(text)", file: file, line: line)
        return ScriptError("unexpected \(h.type)")
    }
}
