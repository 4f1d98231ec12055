import DSGDCore
import Foundation
import ZeroMQ

extension Coordinator {
    // MARK: Receiving

    /// Handles the messages queued on the socket, at most `drainLimit` of them, so that the loop
    /// that called it checks signals, timeouts and evaluations between batches even while a
    /// peer floods the socket. When `stopping`, only BYE matters and late gradients are dropped
    /// quietly.
    func drainMessages(stopping: Bool = false) throws {
        var handled = 0
        while finished == nil || stopping {
            if handled == Self.drainLimit { return }
            handled += 1
            let n = try socket.receiveMultipart(into: frames, dontWait: true)
            if n == 0 { return }
            do {
                guard n >= 2 else { continue }  // a ROUTER always prepends the routing-id frame
                let h = try MessageHeader.decode(frames: n - 1, header: frames[1].bytes, payload: n > 2 ? frames[2].bytes : nil)
                if stopping {
                    if h.type == .bye, let k = members.index(of: h, routingID: frames[0].bytes) { members.byeReceived[k] = true }
                    continue
                }
                try handle(h)
            } catch let e as ProtocolError {
                reject(e)
            }
        }
    }

    func handle(_ h: MessageHeader) throws {
        let rid = frames[0].bytes
        switch h.type {
        case .hello:
            var h = h
            // With CURVE the ZAP handler named the connection after its key's worker id.
            let owner = zap == nil ? nil : frames[1].property("User-Id")
            if h.workerID == Wire.anyWorker {
                // Rendezvous: the key's id with CURVE, else the lowest free one.
                h.workerID = UInt32(try owner.flatMap { Int($0) } ?? members.assignableID(routingID: rid))
            }
            if zap != nil {
                guard owner == String(h.workerID) else { throw ProtocolError.keyOfAnotherWorker(claimed: h.workerID, keyOf: owner) }
            }
            if members.isDead(Int(h.workerID)), !members.routingIDs.enumerated().contains(where: { k, id in
                k != Int(h.workerID) && id.map { sameBytes($0, rid) } == true
            }) {
                // A restarted worker takes its slot back (--min-workers); it gets the current
                // parameters once it is READY.
                members.rejoin(Int(h.workerID), routingID: rid)
                log.info("worker \(h.workerID) rejoined (\(members.liveCount) of \(job.workers) workers live)")
                recorder.recordRejoin(Int(h.workerID))
            } else if try members.register(Int(h.workerID), routingID: rid) {
                log.info("worker \(h.workerID) registered (\(members.registeredCount)/\(job.workers))")
            }
            try send(.welcome, to: Int(h.workerID), payload: Array(welcome))
        case .ready:
            let k = try members.registeredWorker(h, routingID: rid)
            guard !members.ready[k] else { throw ProtocolError.unexpectedType(.ready) }
            guard Int(h.count) == data.examples else {
                throw ProtocolError.wrongExampleCount(worker: h.workerID, got: h.count, expected: data.examples)
            }
            members.ready[k] = true
            // A worker that rejoined a running job: the policy says when it computes again.
            if recorder.trainingStarted, finished == nil { try policy.workerRejoined(k, self) }
        case .gradient:
            try handleGradient(h, from: try members.registeredWorker(h, routingID: rid))
        case .stats:
            try handleStats(h, from: try members.registeredWorker(h, routingID: rid))
        case .curvature:
            try handleCurvature(h, from: try members.registeredWorker(h, routingID: rid))
        case .file:
            try handleFileRequest(h, from: try members.registeredWorker(h, routingID: rid))
        case .bye:
            let k = try members.registeredWorker(h, routingID: rid)
            members.byeReceived[k] = true
            finish(.failed, "worker \(k) left before training ended")
        default:
            throw ProtocolError.unexpectedType(h.type)
        }
    }

    /// One GRADIENT part from worker `k`: it must answer the PARAMS the worker was sent (exactly
    /// one gradient per PARAMS, computed on the version they carried), and be the next part; it is
    /// held without a copy and handed to the policy. Its first part counts the minibatch the
    /// worker used.
    func handleGradient(_ h: MessageHeader, from k: Int) throws {
        guard members.outstanding[k] else { throw ProtocolError.noOutstandingParams(worker: h.workerID, step: h.step) }
        guard h.step == UInt64(members.sentVersion[k]) else {
            throw ProtocolError.unexpectedStep(worker: h.workerID, got: h.step, expected: UInt64(members.sentVersion[k]))
        }
        let payload = frames[2].count
        let (part, last) = try inbox.accept(h, from: k, frame: frames[2], range: store.partRange)
        bytesMoved += Wire.headerSize + payload
        members.bytesReceived[k] += Wire.headerSize + payload
        if part == 0 {
            // The worker has used this minibatch (sync may release it from part 0 on).
            members.batchesDone[k] += 1
            members.minibatches[k] += 1
        }
        if last { members.outstanding[k] = false }
        try policy.received(part: part, last: last, from: k, computedOn: Int(h.step), self)
    }

    /// A STATS answer from worker `k`: f64 `[count, sums (d), products (d*d)]` for the slice it
    /// was asked about. Accepted once per request; the size and count are checked.
    func handleStats(_ h: MessageHeader, from k: Int) throws {
        guard let requested = statsRequested[k], statsReceived[k] == nil else { throw ProtocolError.unexpectedType(.stats) }
        let d = data.dimension
        let expected = 8 * (1 + d + d * d)
        guard frames[2].count == expected else {
            throw ProtocolError.wrongPayloadSize(type: .stats, got: frames[2].count, expected: expected)
        }
        let bytes = frames[2].bytes
        let count = bytes.f64(0)
        guard count == Double(requested) else {
            throw ProtocolError.wrongStatsCount(worker: h.workerID, got: count, expected: requested)
        }
        var s = FeatureStatistics(dimension: d)
        s.count = requested
        for a in 0..<d { s.sums[a] = bytes.f64(1 + a) }
        for i in 0..<(d * d) { s.products[i] = bytes.f64(1 + d + i) }
        statsReceived[k] = s
    }

    /// A FILE request from worker `k` (registered, not yet READY): `Wire.fileChunk` bytes of the
    /// job's data file (`count` 0) or IDX labels file (1) from byte `step`, read from this
    /// coordinator's copy.
    func handleFileRequest(_ h: MessageHeader, from k: Int) throws {
        let spec = job.dataset
        guard spec.isFile, !members.ready[k], h.count <= 1, let path = h.count == 0 ? spec.name : spec.labelsFile else {
            throw ProtocolError.unexpectedType(.file)
        }
        let chunk: Data
        do {
            let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
            defer { try? handle.close() }
            try handle.seek(toOffset: h.step)
            chunk = try handle.read(upToCount: Wire.fileChunk) ?? Data()
        } catch {
            log.error("cannot send \(path) to worker \(k): \(error)")
            throw ProtocolError.unexpectedType(.file)
        }
        let out = MessageHeader(type: .file, workerID: UInt32(k), count: h.count, step: h.step, payloadLength: UInt32(chunk.count))
        out.encode(into: header)
        try sendRouted(to: k) {
            try socket.send(bytes: UnsafeRawBufferPointer(header), more: true)
            try chunk.withUnsafeBytes { try socket.send(bytes: $0, more: false) }
        }
    }

    // MARK: Rejecting

    /// Counts a bad message and, as `RejectionLimiter` decides, logs it (the first 20, then every
    /// 1000th), answers it with an ERROR (without blocking, at a bounded rate) and mutes a peer
    /// past its budget (one line). Never throws, never blocks.
    func reject(_ error: ProtocolError) {
        let peer = frames[0].bytes
        let d = limiter.reject(peer: Array(peer))
        if d.mutedNow {
            log.error("peer \(hex(peer)) sent \(limiter.budget + 1) rejected messages: its messages are dropped unanswered from now on")
        }
        if d.log { log.error("rejected message #\(rejected) from peer \(hex(peer)): \(error)") }
        guard d.reply else { return }
        let text = Array("\(error)".utf8)
        let h = MessageHeader(type: .error, workerID: 0, payloadLength: UInt32(text.count))
        h.encode(into: header)
        do {
            // The first frame decides: a peer whose queue is full gets nothing (no partial message).
            guard try socket.trySend(bytes: peer, more: true) else { return }
            try socket.send(bytes: UnsafeRawBufferPointer(header), more: true)
            try text.withUnsafeBytes { try socket.send(bytes: $0, more: false) }
        } catch {
            // The peer may be gone (EHOSTUNREACH): nothing more to do for it.
        }
    }

    // MARK: Releasing workers

    /// Sends worker `k` a new shard if it has used up its current one, then the current parameters.
    func release(_ k: Int) throws {
        try sendShardIfUsedUp(k)
        try sendParams(to: k)
    }

    /// Sends worker `k` a new shard if due, then `buffer` as the parameters of `version` (`--delay`).
    func release(_ k: Int, buffer: ZeroCopyBuffer, version: Int) throws {
        try sendShardIfUsedUp(k)
        try sendParams(buffer, version: version, to: k)
    }

    // MARK: Sending

    func send(_ type: MessageType, to k: Int, count: UInt32 = 0, payload: [UInt8]) throws {
        let h = MessageHeader(type: type, workerID: UInt32(k), count: count, payloadLength: UInt32(payload.count))
        h.encode(into: header)
        try sendRouted(to: k) {
            try socket.send(bytes: UnsafeRawBufferPointer(header), more: type.hasPayload)
            if type.hasPayload { try payload.withUnsafeBytes { try socket.send(bytes: $0, more: false) } }
        }
    }

    /// Sends the routing id of worker `k`, then whatever `body` sends; maps a vanished peer to an
    /// error, unless the run may go on without it (`--min-workers`): the message is then dropped
    /// (nothing of it was sent), and the worker, owing an answer it never gives, is declared dead
    /// once `--worker-timeout` has passed.
    func sendRouted(to k: Int, _ body: () throws -> Void) throws {
        do {
            try members.routingIDs[k]!.withUnsafeBytes { try socket.send(bytes: $0, more: true) }
            try body()
        } catch let e as ZMQError where e.code == EHOSTUNREACH {
            if members.liveCount - 1 >= job.minWorkers ?? job.workers { return }
            throw CoordinatorError("worker \(k) is unreachable (disconnected)")
        } catch let e as ZMQError where e.isAgain {
            throw CoordinatorError("worker \(k) is not reading its messages (a send waited \(Self.sendTimeoutMs) ms on its full queue)")
        }
    }

    /// Sends the current parameters to worker `k` in parts, without copying them.
    func sendParams(to k: Int) throws {
        try sendParams(store.current, version: store.version, to: k)
    }

    /// Sends `buffer` (the parameters of `version`) to worker `k` in parts, without copying it
    /// (`--compress-params`: encoded once, then without copying).
    func sendParams(_ buffer: ZeroCopyBuffer, version: Int, to k: Int) throws {
        for j in 0..<store.parts {
            let size = try wrapParamsPart(j, of: buffer, version: version)
            try sendParamsPart(j, version: version, size: size, to: k)
        }
        members.markSent(k, version: version, at: monotonicSeconds())
    }

    /// Sends part `j` of `buffer` (the parameters of `version`) to `workers`; libzmq shares one
    /// frame among all of them (no copy). With `--compress-params sparse`, a worker that holds
    /// `previous` (version - 1) gets only the entries that changed, when they are under half.
    func broadcastPart(_ j: Int, of buffer: ZeroCopyBuffer, version: Int, previous: ZeroCopyBuffer, to workers: [Int]) throws {
        var dense: Int?, changes: Int??
        for k in workers {
            if let pool = paramsChanges, members.sentVersion[k] == version - 1 {
                if changes == nil {
                    let range = store.partRange(j), target = pool.acquire()
                    let old = previous.floats.baseAddress! + range.lowerBound, new = buffer.floats.baseAddress! + range.lowerBound
                    let into = UnsafeMutableRawPointer(target.floats.baseAddress!)
                    // An update in place listed what it changed; after a sparse update into
                    // another buffer only its entries can differ.
                    let candidates = previous === store.current ? store.changeCandidates(part: j, version: version) : nil
                    let size = if let (entries, values) = store.inPlaceChanges(part: j) {
                        GradientCodec.encodeChanges(entries: entries, values: values, count: range.count, into: into)
                    } else if let candidates {
                        GradientCodec.encodeChanges(old: old, new: new, count: range.count, candidates: candidates, into: into)
                    } else {
                        GradientCodec.encodeChanges(old: old, new: new, count: range.count, into: into)
                    }
                    if let size { try target.wrap(byteOffset: 0, byteCount: size, into: changesMessage) }
                    changes = .some(size)
                }
                if let size = changes! {
                    try sendParamsPart(j, version: version, size: size, to: k, message: changesMessage, codec: .changes)
                    continue
                }
            }
            if dense == nil { dense = try wrapParamsPart(j, of: buffer, version: version) }
            try sendParamsPart(j, version: version, size: dense!, to: k)
        }
    }

    /// How parameters go when not as changes: float32 under `--compress-params sparse`.
    var denseParamsCodec: GradientCodec { job.compressParams == .changes ? .f32 : job.compressParams }

    /// Points `paramsMessage` at part `j` of `buffer` as it goes on the wire; returns its size.
    func wrapParamsPart(_ j: Int, of buffer: ZeroCopyBuffer, version: Int) throws -> Int {
        let range = store.partRange(j)
        if let paramsEncoder {
            return try paramsEncoder.wrap(part: j, range: range, of: buffer, version: version, into: paramsMessage)
        }
        try buffer.wrap(range: range, into: paramsMessage)
        return 4 * range.count
    }

    /// Sends `message` (part `j`, `size` bytes in `codec`, shared, not consumed; by default
    /// `paramsMessage` in the job's dense encoding) as a PARAMS message to worker `k`.
    func sendParamsPart(_ j: Int, version: Int, size: Int, to k: Int, message: ZMQMessage? = nil, codec: GradientCodec? = nil) throws {
        let range = store.partRange(j)
        let h = MessageHeader(type: .params, workerID: UInt32(k), count: UInt32(range.lowerBound), step: UInt64(version),
                              payloadLength: UInt32(size), flags: Wire.flags(last: j == store.parts - 1, codec: codec ?? denseParamsCodec))
        h.encode(into: header)
        try sendMessage.share(message ?? paramsMessage)
        try sendRouted(to: k) {
            try socket.send(bytes: UnsafeRawBufferPointer(header), more: true)
            try socket.send(sendMessage, more: false)
        }
        bytesMoved += Wire.headerSize + size
        members.bytesSent[k] += Wire.headerSize + size
    }
}

#if canImport(Glibc)
import Glibc
#endif
