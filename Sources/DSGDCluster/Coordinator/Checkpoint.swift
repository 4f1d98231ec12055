import Foundation

/// What a checkpoint holds besides the parameters: enough to continue a run where it stood.
///
/// The data order has no generator state of its own: epoch e's permutation is a pure function of
/// `seed` and e (PROTOCOL.md §6.3), so each worker's place in the data is its shard's epoch and the
/// minibatches it has used of it. A sync run resumed from here computes exactly what the run
/// would have computed next, so it reaches the same parameters bit for bit.
public struct CheckpointState: Codable, Equatable, Sendable {
    /// The version of the parameters (updates applied).
    public var step: Int
    public var parameterCount: Int
    /// Whether the momentum buffer follows the parameters in the file.
    public var hasVelocity: Bool
    /// What the checkpoint must match on resume.
    public var mode: TrainingMode
    public var workers: Int
    public var seed: UInt64
    /// The learning rate in force (`--lr auto` resolves it before training), and the online
    /// estimate of lambda_max, if one was made.
    public var learningRate: Float
    public var onlineLambdaMax: Double?
    /// Each worker's shard epoch and the minibatches it has used of that shard (the next one it
    /// computes is that index), and the minibatches it computed in the whole run.
    public var shardEpochs: [Int]
    public var batchesDone: [Int]
    public var minibatches: [Int]
    public var bytesMoved: Int
    public var recorder: RecorderState
}

/// The recorder's running totals at a checkpoint: counts, the last evaluation, the clocks.
public struct RecorderState: Codable, Equatable, Sendable {
    public var examples: Int
    public var dropped: Int
    public var stalenessSum: Int
    public var stalenessCount: Int
    public var stalenessMax: Int
    public var leadMax: Int
    public var deadWorkers: [Int]
    public var rejoinedWorkers: [Int]
    public var lastEvaluatedVersion: Int
    /// Nil for a loss that was never evaluated or not finite (JSON has no NaN).
    public var lastLoss: Double?
    public var lastTestLoss: Double?
    public var lastTestAccuracy: Double?
    public var lastTrainAccuracy: Double?
    public var initialLoss: Double?
    public var timeToTarget: Double?
    public var stepsToTarget: Int?
    public var examplesToTarget: Int?
    /// Seconds on the training clock and spent evaluating, up to the checkpoint.
    public var trainingSeconds: Double
    public var evaluationSeconds: Double
}

/// A checkpoint: its state, the parameters and (with momentum) the velocity.
///
/// File layout (little-endian): the 8 bytes `DSGDCKP1`; u32 length L of the state; L bytes of the
/// state as JSON; u64 count P; P f32 parameters; P f32 velocities if `hasVelocity`; u32 CRC-32C of
/// every byte before it. A file that is shorter or longer than that, or whose checksum differs, is
/// refused with the reason.
public struct Checkpoint: Equatable, Sendable {
    public var state: CheckpointState
    public var parameters: [Float]
    public var velocity: [Float]?

    public init(state: CheckpointState, parameters: [Float], velocity: [Float]?) {
        self.state = state
        self.parameters = parameters
        self.velocity = velocity
    }

    static let magic = Array("DSGDCKP1".utf8)

    /// The file's bytes.
    public func encoded() throws -> [UInt8] {
        let json = try JSONCoding.encoder().encode(state)
        var out: [UInt8] = []
        out.reserveCapacity(8 + 4 + json.count + 8 + 4 * parameters.count * (velocity == nil ? 1 : 2) + 4)
        out += Self.magic
        appendLE(UInt32(json.count), to: &out)
        out += json
        appendLE(UInt64(parameters.count), to: &out)
        for v in [parameters] + (velocity.map { [$0] } ?? []) {
            v.withUnsafeBytes { out += $0 }  // f32 in memory is little-endian on every platform dsgd runs on
        }
        appendLE(CRC32C.checksum(out), to: &out)
        return out
    }

    /// Reads a checkpoint back, or says what is wrong with the bytes.
    public static func decode(_ bytes: [UInt8]) throws(CheckpointError) -> Checkpoint {
        guard bytes.count >= 8 + 4 + 8 + 4 else { throw .init("truncated (\(bytes.count) bytes)") }
        guard Array(bytes[0..<8]) == magic else { throw .init("not a dsgd checkpoint (no DSGDCKP1 header)") }
        let body = bytes.count - 4
        guard readLE(UInt32.self, bytes, at: body) == CRC32C.checksum(bytes[0..<body]) else {
            throw .init("checksum mismatch (corrupt or truncated)")
        }
        let length = Int(readLE(UInt32.self, bytes, at: 8))
        guard 12 + length + 8 <= body else { throw .init("truncated state") }
        let state: CheckpointState
        do { state = try JSONCoding.decoder().decode(CheckpointState.self, from: Data(bytes[12..<(12 + length)])) } catch {
            throw .init("unreadable state: \(error)")
        }
        let count = Int(readLE(UInt64.self, bytes, at: 12 + length))
        let start = 12 + length + 8, arrays = state.hasVelocity ? 2 : 1
        guard count == state.parameterCount, start + 4 * count * arrays == body else {
            throw .init("\(body - start) bytes of arrays for \(count) parameters (\(state.parameterCount) expected)")
        }
        func floats(at offset: Int) -> [Float] {
            [Float](unsafeUninitializedCapacity: count) { buffer, n in
                bytes.withUnsafeBytes { raw in
                    UnsafeMutableRawBufferPointer(buffer).copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[offset ..< offset + 4 * count]))
                }
                n = count
            }
        }
        return Checkpoint(state: state, parameters: floats(at: start),
                          velocity: state.hasVelocity ? floats(at: start + 4 * count) : nil)
    }
}

extension Checkpoint {
    /// Why this checkpoint cannot continue `job` (whose model has `parameterCount` parameters),
    /// or nil: another model size, mode, worker count or seed, a momentum buffer where the job
    /// has none (or none where it has), or worker positions that do not fit the job.
    public func problem(for job: JobConfig, parameterCount: Int) -> String? {
        let s = state
        if s.parameterCount != parameterCount { return "the checkpoint has \(s.parameterCount) parameters, the job's model \(parameterCount)" }
        if s.mode != job.mode || s.workers != job.workers || s.seed != job.seed {
            return "the checkpoint is of --mode \(s.mode.rawValue) with \(s.workers) workers and --seed \(s.seed), the job of --mode \(job.mode.rawValue) with \(job.workers) and --seed \(job.seed)"
        }
        if (velocity != nil) != (job.momentum != 0) { return "the checkpoint's momentum buffer does not match the job's --momentum \(job.momentum)" }
        if s.shardEpochs.count != job.workers || s.batchesDone.count != job.workers || s.minibatches.count != job.workers {
            return "the checkpoint's worker positions are not for \(job.workers) workers"
        }
        if s.batchesDone.contains(where: { $0 < 0 || $0 > job.batchesPerShard }) || s.shardEpochs.contains(where: { $0 < 0 }) {
            return "the checkpoint's worker positions are out of range"
        }
        return nil
    }
}

/// Why a checkpoint cannot be used.
public struct CheckpointError: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}

private func appendLE<T: FixedWidthInteger>(_ value: T, to out: inout [UInt8]) {
    withUnsafeBytes(of: value.littleEndian) { out += $0 }
}

private func readLE<T: FixedWidthInteger>(_: T.Type, _ bytes: [UInt8], at offset: Int) -> T {
    var v: T = 0
    withUnsafeMutableBytes(of: &v) { $0.copyBytes(from: bytes[offset ..< offset + MemoryLayout<T>.size]) }
    return T(littleEndian: v)
}
