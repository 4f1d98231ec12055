import Foundation
import ZeroMQ

/// Who the workers are and what each one owes: routing ids and registration (one connection is
/// one worker, and a worker id belongs to the connection that registered it first), the
/// parameters each was sent and not yet answered, its place in its shard, and its BYE.
///
/// Indexed by worker id `0 ..< count`.
final class Membership {
    let count: Int
    private(set) var routingIDs: [[UInt8]?]
    /// PARAMS sent and the gradient not yet received.
    var outstanding: [Bool]
    /// The version the last PARAMS carried, and when it went out.
    var sentVersion: [Int]
    var sentAt: [Double]
    /// Minibatches the worker has used from its current shard, that shard's epoch, and the
    /// minibatches the shard holds.
    var batchesDone: [Int]
    var shardEpoch: [Int]
    var shardBatches: [Int]
    /// A shard other than the worker's slice of its epoch's permutation (sync, after a worker's
    /// death: the rest of its own shard and its share of the dead worker's), or nil.
    var shardOverride: [[UInt32]?]
    /// Minibatches the worker has computed in the whole run (applied or dropped).
    var minibatches: [Int]
    var byeReceived: [Bool]
    /// Bytes of PARAMS sent to the worker and of GRADIENT received from it (headers and payloads).
    var bytesSent: [Int]
    var bytesReceived: [Int]
    /// READY received: the worker has built its data set.
    var ready: [Bool]
    /// Declared dead (silent past `--worker-timeout` in a job that may go on without it): never
    /// sent anything again, and its messages are rejected.
    private(set) var dead: [Bool]

    /// `count` workers, each with shards of `batchesPerShard` minibatches.
    init(count: Int, batchesPerShard: Int) {
        self.count = count
        shardBatches = Array(repeating: batchesPerShard, count: count)
        shardOverride = Array(repeating: nil, count: count)
        routingIDs = Array(repeating: nil, count: count)
        outstanding = Array(repeating: false, count: count)
        sentVersion = Array(repeating: 0, count: count)
        sentAt = Array(repeating: 0, count: count)
        batchesDone = Array(repeating: 0, count: count)
        shardEpoch = Array(repeating: 0, count: count)
        minibatches = Array(repeating: 0, count: count)
        byeReceived = Array(repeating: false, count: count)
        bytesSent = Array(repeating: 0, count: count)
        bytesReceived = Array(repeating: 0, count: count)
        ready = Array(repeating: false, count: count)
        dead = Array(repeating: false, count: count)
    }

    /// Workers not declared dead.
    var liveCount: Int { dead.lazy.filter { !$0 }.count }
    /// Workers not declared dead and READY, in the order of their ids.
    var liveAndReady: [Int] { (0..<count).filter { !dead[$0] && ready[$0] } }
    /// The workers declared dead, in the order of their ids.
    var deadWorkers: [Int] { (0..<count).filter { dead[$0] } }

    /// Declares worker `k` dead: nothing is owed to or from it any more.
    func declareDead(_ k: Int) {
        dead[k] = true
        outstanding[k] = false
    }

    /// Whether worker `k` has been declared dead.
    func isDead(_ k: Int) -> Bool { k >= 0 && k < count && dead[k] }

    /// Worker `k`, declared dead, registers again from `routingID` (a restarted process): it is
    /// live again, owes nothing, has not said READY, and starts its shard from the beginning.
    func rejoin(_ k: Int, routingID: UnsafeRawBufferPointer) {
        routingIDs[k] = Array(routingID)
        dead[k] = false
        ready[k] = false
        outstanding[k] = false
        byeReceived[k] = false
        batchesDone[k] = 0
    }

    /// Workers that have not registered yet.
    var missing: [Int] { routingIDs.indices.filter { routingIDs[$0] == nil } }
    var registeredCount: Int { count - missing.count }
    var allRegistered: Bool { routingIDs.allSatisfy { $0 != nil } }
    /// Registered workers that have not said READY yet.
    var notReady: [Int] { (0..<count).filter { !ready[$0] } }
    func isRegistered(_ k: Int) -> Bool { routingIDs[k] != nil }

    /// Registers worker `k` from the connection `routingID`; true the first time. Throws when the
    /// id is not part of the job, belongs to another connection, or the connection already
    /// registered as another worker.
    func register(_ k: Int, routingID: UnsafeRawBufferPointer) throws(ProtocolError) -> Bool {
        guard k < count else { throw .unknownWorker(UInt32(k)) }
        if let existing = routingIDs[k] {
            guard sameBytes(existing, routingID) else { throw .idTaken(UInt32(k)) }
            return false
        }
        if routingIDs.contains(where: { $0.map { sameBytes($0, routingID) } ?? false }) {
            throw .routingIDInUse(claimed: UInt32(k))
        }
        routingIDs[k] = Array(routingID)
        return true
    }

    /// The worker id a HELLO asking for any id gets: the one this connection registered as, or
    /// the lowest id not registered yet.
    func assignableID(routingID: UnsafeRawBufferPointer) throws(ProtocolError) -> Int {
        if let k = routingIDs.firstIndex(where: { $0.map { sameBytes($0, routingID) } ?? false }) { return k }
        guard let k = routingIDs.firstIndex(where: { $0 == nil }) else { throw .noFreeWorkerID(workers: count) }
        return k
    }

    /// The worker that sent `h` from `routingID`, if it is registered from that connection.
    func index(of h: MessageHeader, routingID: UnsafeRawBufferPointer) -> Int? {
        let k = Int(h.workerID)
        guard k < count, let rid = routingIDs[k], sameBytes(rid, routingID) else { return nil }
        return k
    }

    /// The registered worker that sent `h`, or why it is not one.
    func registeredWorker(_ h: MessageHeader, routingID: UnsafeRawBufferPointer) throws(ProtocolError) -> Int {
        guard Int(h.workerID) < count else { throw .unknownWorker(h.workerID) }
        guard routingIDs[Int(h.workerID)] != nil else { throw .notRegistered(h.workerID) }
        guard let k = index(of: h, routingID: routingID) else { throw .workerIDMismatch(claimed: h.workerID) }
        guard !dead[k] else { throw .deadWorker(h.workerID) }
        return k
    }

    /// Records PARAMS of `version` sent to worker `k` at `time`.
    func markSent(_ k: Int, version: Int, at time: Double) {
        outstanding[k] = true
        sentVersion[k] = version
        sentAt[k] = time
    }

    /// The first worker whose PARAMS have gone unanswered for more than `timeout` seconds.
    func overdue(now: Double, timeout: Double) -> Int? {
        (0..<count).first { outstanding[$0] && now - sentAt[$0] > timeout }
    }

    /// Registered workers whose BYE has not come.
    var withoutBye: [Int] { (0..<count).filter { routingIDs[$0] != nil && !byeReceived[$0] } }
}

/// Whether the bytes of `a` equal `b`.
func sameBytes(_ a: [UInt8], _ b: UnsafeRawBufferPointer) -> Bool {
    a.count == b.count && a.withUnsafeBytes { (a.count == 0 || memcmp($0.baseAddress!, b.baseAddress!, a.count) == 0) }
}

/// The first 16 bytes of `bytes` in hex, for logs.
func hex(_ bytes: UnsafeRawBufferPointer) -> String {
    bytes.prefix(16).map { String(format: "%02x", $0) }.joined() + (bytes.count > 16 ? "..." : "")
}
