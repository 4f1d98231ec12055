import DSGDCore
import ZeroMQ

extension Coordinator {
    // MARK: Receiving

    /// Handles every message queued on the socket. When `stopping`, only BYE matters and late
    /// gradients are dropped quietly.
    func drainMessages(stopping: Bool = false) throws {
        while finished == nil || stopping {
            let n = try socket.receiveMultipart(into: frames, dontWait: true)
            if n == 0 { return }
            do {
                guard n >= 2 else { continue }  // a ROUTER always prepends the routing-id frame
                let h = try MessageHeader.decode(frames: n - 1, header: frames[1].bytes, payload: n > 2 ? frames[2].bytes : nil)
                if stopping {
                    if h.type == .bye, let k = workerIndex(h) { byeReceived[k] = true }
                    continue
                }
                try handle(h)
            } catch let e as ProtocolError {
                reject(e)
            }
        }
    }

    /// The worker index of a message from a registered worker whose routing id matches.
    func workerIndex(_ h: MessageHeader) -> Int? {
        let k = Int(h.workerID)
        guard k < job.workers, let rid = routingIDs[k], sameBytes(rid, frames[0].bytes) else { return nil }
        return k
    }

    func handle(_ h: MessageHeader) throws {
        switch h.type {
        case .hello:
            try handleHello(h)
        case .gradient:
            try handleGradient(h, from: try registeredWorker(h))
        case .stats:
            try handleStats(h, from: try registeredWorker(h))
        case .curvature:
            try handleCurvature(h, from: try registeredWorker(h))
        case .bye:
            let k = try registeredWorker(h)
            byeReceived[k] = true
            finish(.failed, "worker \(k) left before training ended")
        default:
            throw ProtocolError.unexpectedType(h.type)
        }
    }

    /// The index of the registered worker that sent `h`, or the reason it is not one.
    func registeredWorker(_ h: MessageHeader) throws(ProtocolError) -> Int {
        guard Int(h.workerID) < job.workers else { throw .unknownWorker(h.workerID) }
        guard routingIDs[Int(h.workerID)] != nil else { throw .notRegistered(h.workerID) }
        guard let k = workerIndex(h) else { throw .workerIDMismatch(claimed: h.workerID) }
        return k
    }

    func handleHello(_ h: MessageHeader) throws {
        let k = Int(h.workerID)
        guard k < job.workers else { throw ProtocolError.unknownWorker(h.workerID) }
        let rid = Array(frames[0].bytes)
        if let existing = routingIDs[k], existing != rid {
            throw ProtocolError.workerIDMismatch(claimed: h.workerID)
        }
        // One connection is one worker.
        if routingIDs.indices.contains(where: { $0 != k && routingIDs[$0] == rid }) {
            throw ProtocolError.routingIDInUse(claimed: h.workerID)
        }
        if routingIDs[k] == nil {
            routingIDs[k] = rid
            log.info("worker \(k) registered (\(job.workers - missingCount)/\(job.workers))")
        }
        try send(.welcome, to: k, payload: Array(welcome))
    }

    /// One GRADIENT part from worker `k`: checked, held without a copy, and averaged as soon as
    /// every worker's part with the same index is in (sync), or applied once the worker's last
    /// part is in (async).
    func handleGradient(_ h: MessageHeader, from k: Int) throws {
        // Exactly one gradient answers each PARAMS, computed on the version that PARAMS carried.
        guard outstanding[k] else { throw ProtocolError.noOutstandingParams(worker: h.workerID, step: h.step) }
        guard h.step == UInt64(sentVersion[k]) else {
            throw ProtocolError.unexpectedStep(worker: h.workerID, got: h.step, expected: UInt64(sentVersion[k]))
        }
        // Parts arrive in order, each `gradientChunk` floats (the last may be shorter).
        let j = partsReceived[k]
        let range = partRange(j)
        guard Int(h.count) == range.lowerBound else {
            throw ProtocolError.unexpectedPart(worker: h.workerID, offset: h.count, expected: range.lowerBound)
        }
        guard frames[2].count == 4 * range.count else {
            throw ProtocolError.wrongPayloadSize(type: .gradient, got: frames[2].count, expected: 4 * range.count)
        }
        let last = j == parts - 1
        guard (h.flags & Wire.lastPartFlag != 0) == last else { throw ProtocolError.wrongLastFlag(worker: h.workerID, offset: h.count) }
        gradientSlots[k][j].take(from: frames[2])
        partsReceived[k] = j + 1
        if last { outstanding[k] = false }
        switch job.mode {
        case .sync:
            try aggregateReadyParts()
        case .async:
            guard last else { return }
            let staleness = version - Int(h.step)
            partsReceived[k] = 0
            guard beginUpdate() else { return }
            for part in 0..<parts {
                aggregator.setGradient(0, gradientSlots[k][part].bytes.baseAddress!)
                let ok = applyPart(part, gradients: 1, from: "worker \(k)")
                gradientSlots[k][part].clear()
                guard ok else { return }
            }
            endUpdate()
            windowStaleness = (windowStaleness.sum + staleness, windowStaleness.count + 1, max(windowStaleness.max, staleness))
            totalStaleness = (totalStaleness.sum + staleness, totalStaleness.count + 1, max(totalStaleness.max, staleness))
            batchesDone[k] += 1
            didUpdate(examplesApplied: job.batch)
            if finished == nil { try releaseWorker(k) }
        }
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

    /// The elements of GRADIENT part `j`.
    func partRange(_ j: Int) -> Range<Int> {
        let lo = j * job.gradientChunk
        return lo ..< min(parameterCount, lo + job.gradientChunk)
    }

    /// Sync: averages (in worker-id order) every part that all workers have sent and, unless this
    /// update ends the run, sends that part of the new parameters to every worker at once, so the
    /// parameters flow out while later gradient parts are still flowing in. Once the last part is
    /// done the new parameters become current and every worker has them.
    func aggregateReadyParts() throws {
        while partsAggregated < parts, partsReceived.allSatisfy({ $0 > partsAggregated }) {
            let j = partsAggregated
            if j == 0 {
                guard beginUpdate() else { return }
                pipelined = !reachesLimit(examplesApplied: job.workers * job.batch)
                if pipelined { try prepareRelease() }
            }
            for k in 0..<job.workers { aggregator.setGradient(k, gradientSlots[k][j].bytes.baseAddress!) }
            let ok = applyPart(j, gradients: job.workers, from: "the workers")
            for k in 0..<job.workers { gradientSlots[k][j].clear() }
            guard ok else { return }
            if pipelined { try broadcastPart(j, of: next!, version: version + 1) }
            partsAggregated = j + 1
        }
        guard partsAggregated == parts else { return }
        partsAggregated = 0
        for k in 0..<job.workers { partsReceived[k] = 0 }
        endUpdate()
        didUpdate(examplesApplied: job.workers * job.batch)
        if pipelined {
            let now = monotonicSeconds()
            for k in 0..<job.workers {
                outstanding[k] = true
                sentVersion[k] = version
                sentAt[k] = now
            }
        }
    }

    /// Sync, before the first PARAMS part of a round: counts the batch every worker just used and
    /// sends a new SHARD to those whose shard is used up (it must precede the PARAMS parts).
    func prepareRelease() throws {
        for k in 0..<job.workers {
            batchesDone[k] += 1
            try sendShardIfUsedUp(k)
        }
    }

    /// Picks the buffer the next parameters are written to (one libzmq is not reading).
    func beginUpdate() -> Bool {
        next = pool.acquire(excluding: current)
        return true
    }

    /// Writes part `j` of the next parameters; false (and the run fails) on NaN/Inf.
    func applyPart(_ j: Int, gradients: Int, from who: String) -> Bool {
        guard aggregator.apply(count: gradients, range: partRange(j), optimizer: optimizer,
                               params: current.floats.baseAddress!, out: next!.floats.baseAddress!) else {
            finish(.failed, "training diverged: a non-finite gradient (NaN or infinity) from \(who) at step \(version) (try a smaller --lr)")
            return false
        }
        return true
    }

    /// Makes the fully written next parameters current.
    func endUpdate() {
        current = next!
        next = nil
    }

    /// Sends worker `k` a new shard if it has used up its current one, then the current parameters.
    func releaseWorker(_ k: Int) throws {
        try sendShardIfUsedUp(k)
        try sendParams(to: k)
    }

    func sendShardIfUsedUp(_ k: Int) throws {
        guard batchesDone[k] == job.batchesPerShard else { return }
        batchesDone[k] = 0
        shardEpoch[k] += 1
        try sendShard(to: k)
    }

    // MARK: Rejecting

    /// Counts, logs (the first 20, then every 1000th) and answers a bad message; never throws.
    func reject(_ error: ProtocolError) {
        rejected += 1
        if rejected <= 20 || rejected % 1000 == 0 {
            log.error("rejected message #\(rejected) from peer \(hex(frames[0].bytes)): \(error)")
        }
        let text = Array("\(error)".utf8)
        let h = MessageHeader(type: .error, workerID: 0, payloadLength: UInt32(text.count))
        h.encode(into: header)
        do {
            try socket.send(bytes: frames[0].bytes, more: true)
            try socket.send(bytes: UnsafeRawBufferPointer(header), more: true)
            try text.withUnsafeBytes { try socket.send(bytes: $0, more: false) }
        } catch {
            // The peer may be gone (EHOSTUNREACH): nothing more to do for it.
        }
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

    /// Sends the routing id of worker `k`, then whatever `body` sends; maps a vanished peer to an error.
    func sendRouted(to k: Int, _ body: () throws -> Void) throws {
        do {
            try routingIDs[k]!.withUnsafeBytes { try socket.send(bytes: $0, more: true) }
            try body()
        } catch let e as ZMQError where e.code == EHOSTUNREACH {
            throw CoordinatorError("worker \(k) is unreachable (disconnected)")
        }
    }

    func sendShard(to k: Int) throws {
        let epoch = shardEpoch[k]
        if permutationEpoch != epoch {
            sharding.fillPermutation(epoch: epoch, into: &permutation)
            // With a held-out set the permutation is of positions in the training index list.
            if let train = trainIndices {
                for i in permutation.indices { permutation[i] = train[Int(permutation[i])] }
            }
            permutationEpoch = epoch
        }
        let size = sharding.shardSize
        let h = MessageHeader(type: .shard, workerID: UInt32(k), count: UInt32(size), step: UInt64(epoch),
                              payloadLength: UInt32(4 * size))
        h.encode(into: header)
        try sendRouted(to: k) {
            try socket.send(bytes: UnsafeRawBufferPointer(header), more: true)
            try permutation.withUnsafeBytes { all in
                try socket.send(bytes: UnsafeRawBufferPointer(rebasing: all[(4 * k * size)..<(4 * (k + 1) * size)]), more: false)
            }
        }
    }

    /// Sends the current parameters to worker `k` in parts, without copying them.
    func sendParams(to k: Int) throws {
        for j in 0..<parts {
            try current.wrap(range: partRange(j), into: paramsMessage)
            try sendParamsPart(j, version: version, to: k)
        }
        outstanding[k] = true
        sentVersion[k] = version
        sentAt[k] = monotonicSeconds()
    }

    /// Sends part `j` of `buffer` (the parameters of `version`) to every worker; libzmq shares one
    /// frame among all of them (no copy).
    func broadcastPart(_ j: Int, of buffer: ZeroCopyBuffer, version: Int) throws {
        try buffer.wrap(range: partRange(j), into: paramsMessage)
        for k in 0..<job.workers { try sendParamsPart(j, version: version, to: k) }
    }

    /// Sends `paramsMessage` (part `j`, shared, not consumed) as a PARAMS message to worker `k`.
    func sendParamsPart(_ j: Int, version: Int, to k: Int) throws {
        let range = partRange(j)
        let h = MessageHeader(type: .params, workerID: UInt32(k), count: UInt32(range.lowerBound), step: UInt64(version),
                              payloadLength: UInt32(4 * range.count), flags: j == parts - 1 ? Wire.lastPartFlag : 0)
        h.encode(into: header)
        try sendMessage.share(paramsMessage)
        try sendRouted(to: k) {
            try socket.send(bytes: UnsafeRawBufferPointer(header), more: true)
            try socket.send(sendMessage, more: false)
        }
    }
}

func sameBytes(_ a: [UInt8], _ b: UnsafeRawBufferPointer) -> Bool {
    a.count == b.count && a.withUnsafeBytes { (a.count == 0 || memcmp($0.baseAddress!, b.baseAddress!, a.count) == 0) }
}

func hex(_ bytes: UnsafeRawBufferPointer) -> String {
    bytes.prefix(16).map { String(format: "%02x", $0) }.joined() + (bytes.count > 16 ? "..." : "")
}

#if canImport(Glibc)
import Glibc
#endif
import Foundation
