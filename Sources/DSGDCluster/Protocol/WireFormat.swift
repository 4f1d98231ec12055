/// dsgd's wire protocol, version 3 (see docs/PROTOCOL.md).
///
/// Every message is a 32-byte little-endian header frame, followed by one payload frame for the
/// types that carry one. On the coordinator's ROUTER socket a routing-id frame comes first.
public enum Wire {
    /// The protocol version this build speaks.
    public static let version: UInt8 = 3
    /// The four bytes every header starts with: ASCII "DSGD".
    public static let magic: UInt32 = 0x4447_5344  // "DSGD" read little-endian
    /// Size of the header frame in bytes.
    public static let headerSize = 32
    /// GRADIENT `flags` bit: this part is the last of the gradient.
    public static let lastPartFlag: UInt16 = 1
    /// The worker id of a HELLO that asks the coordinator to assign the lowest free id (which
    /// its WELCOME's `worker_id` then carries).
    public static let anyWorker: UInt32 = 0xFFFF_FFFF
    /// Bytes of a data file a FILE answer carries (fewer only at the file's end).
    public static let fileChunk = 1 << 20
    /// PARAMS and GRADIENT `flags` bits 1-3: the encoding of the payload (`GradientCodec.id`;
    /// 0 = float32). Version 3 added them.
    public static let codecMask: UInt16 = 0x0E

    /// The flags of a PARAMS or GRADIENT part encoded with `codec`.
    public static func flags(last: Bool, codec: GradientCodec) -> UInt16 {
        (last ? lastPartFlag : 0) | UInt16(codec.id) << 1
    }
}

/// The message types of protocol version 3 (version 2 added READY; version 3 encoded payloads).
public enum MessageType: UInt8, CaseIterable, Sendable {
    /// worker -> coordinator: "I am worker `workerID`". No payload.
    case hello = 1
    /// coordinator -> worker: the job (UTF-8 JSON of `JobConfig`).
    case welcome = 2
    /// coordinator -> worker: the example indices of one epoch (`step` = epoch, `count` = number of u32).
    case shard = 3
    /// coordinator -> worker: parameters (`step` = model version, `count` = number of f32).
    case params = 4
    /// worker -> coordinator: one part of a minibatch gradient (`step` = version it was computed
    /// on, `count` = index of the part's first element, `flags` bit 0 = last part, `value` =
    /// minibatch loss), payload f32. A gradient of P floats is sent as consecutive parts of
    /// `gradient_chunk` floats (the last may be shorter), so the coordinator can average part j
    /// of every worker while part j+1 is still on the wire.
    case gradient = 5
    /// coordinator -> worker: training is over (payload: UTF-8 reason).
    case stop = 6
    /// worker -> coordinator: acknowledges STOP before exiting. No payload.
    case bye = 7
    /// coordinator -> peer: the last message was rejected (payload: UTF-8 explanation).
    case error = 8
    /// coordinator -> worker: compute feature statistics of these example indices (`count` =
    /// number of u32 indices, payload u32 LE). worker -> coordinator: the answer (`count` =
    /// examples covered), payload f64 LE `[count, sums (d), products (d*d, row-major)]`.
    /// Only when the job's `normalize` is not `none`, before the first SHARD.
    case stats = 9
    /// coordinator -> worker: the fitted normalizer, payload f64 LE `[mean (d), matrix (d*d,
    /// row-major)]`; the worker replaces its data set with the normalized one.
    case normalize = 10
    /// coordinator -> worker: compute the difference quotient of your next curvature minibatch,
    /// payload f32 `[parameters (P), direction (P)]` (`count` = P, `step` = presentation,
    /// `value` = perturbation length a). worker -> coordinator: the answer
    /// `(grad E_B(w + a u) - grad E_B(w)) / a`, `u = direction / |direction|`, payload f32 (P)
    /// (`count` = P, `step` = the presentation asked about, `value` = 0).
    /// Only when the job's `online_curvature` > 0, after the first SHARD and before the first PARAMS.
    case curvature = 11
    /// worker -> coordinator, in answer to WELCOME once the worker has built its data set: "I am
    /// ready to train" (`count` = the rows it materialised, M). No payload. The coordinator starts
    /// training (and its training clock) only when every worker is ready.
    case ready = 12
    /// worker -> coordinator: send me `Wire.fileChunk` bytes of the job's data file from byte `step`
    /// (`count` 0: the data file, 1: an IDX job's labels file); empty payload. coordinator ->
    /// worker: those bytes (`count` and `step` as asked; fewer than `Wire.fileChunk` only at the file's end).
    /// For a worker that has no copy of the job's data file (`--data FILE`).
    case file = 13

    /// Whether a message of this type has a payload frame after the header.
    public var hasPayload: Bool {
        switch self {
        case .hello, .bye, .ready: return false
        default: return true
        }
    }
}

/// The fixed 32-byte header.
///
/// | offset | size | field |
/// |---|---|---|
/// | 0 | 4 | magic "DSGD" |
/// | 4 | 1 | protocol version (3) |
/// | 5 | 1 | message type |
/// | 6 | 2 | flags (PARAMS, GRADIENT: bit 0 last part, bits 1-3 encoding; otherwise 0) |
/// | 8 | 4 | worker id (u32) |
/// | 12 | 4 | count (u32) |
/// | 16 | 8 | step (u64) |
/// | 24 | 4 | payload length in bytes (u32) |
/// | 28 | 4 | value (f32) |
public struct MessageHeader: Equatable, Sendable {
    public var type: MessageType
    public var flags: UInt16 = 0
    public var workerID: UInt32
    public var count: UInt32 = 0
    public var step: UInt64 = 0
    public var payloadLength: UInt32 = 0
    public var value: Float = 0

    public init(type: MessageType, workerID: UInt32, count: UInt32 = 0, step: UInt64 = 0,
                payloadLength: UInt32 = 0, value: Float = 0, flags: UInt16 = 0) {
        self.type = type
        self.workerID = workerID
        self.count = count
        self.step = step
        self.payloadLength = payloadLength
        self.value = value
        self.flags = flags
    }

    /// The encoding number of a PARAMS or GRADIENT payload (flags bits 1-3).
    public var codecID: UInt8 { UInt8((flags & Wire.codecMask) >> 1) }

    /// Writes the header into `buffer` (at least 32 bytes).
    public func encode(into buffer: UnsafeMutableRawBufferPointer) {
        precondition(buffer.count >= Wire.headerSize)
        buffer.storeBytes(of: Wire.magic.littleEndian, toByteOffset: 0, as: UInt32.self)
        buffer.storeBytes(of: Wire.version, toByteOffset: 4, as: UInt8.self)
        buffer.storeBytes(of: type.rawValue, toByteOffset: 5, as: UInt8.self)
        buffer.storeBytes(of: flags.littleEndian, toByteOffset: 6, as: UInt16.self)
        buffer.storeBytes(of: workerID.littleEndian, toByteOffset: 8, as: UInt32.self)
        buffer.storeBytes(of: count.littleEndian, toByteOffset: 12, as: UInt32.self)
        buffer.storeBytes(of: step.littleEndian, toByteOffset: 16, as: UInt64.self)
        buffer.storeBytes(of: payloadLength.littleEndian, toByteOffset: 24, as: UInt32.self)
        buffer.storeBytes(of: value.bitPattern.littleEndian, toByteOffset: 28, as: UInt32.self)
    }

    /// The header as a new 32-byte array (tests and one-off use; allocates).
    public var bytes: [UInt8] {
        var b = [UInt8](repeating: 0, count: Wire.headerSize)
        b.withUnsafeMutableBytes { encode(into: $0) }
        return b
    }

    /// Parses a header frame, checking size, magic, version and type.
    public static func decode(_ frame: UnsafeRawBufferPointer) throws(ProtocolError) -> MessageHeader {
        guard frame.count == Wire.headerSize else { throw .badHeaderSize(frame.count) }
        let magic = UInt32(littleEndian: frame.loadUnaligned(fromByteOffset: 0, as: UInt32.self))
        guard magic == Wire.magic else { throw .badMagic(magic) }
        let version = frame.load(fromByteOffset: 4, as: UInt8.self)
        guard version == Wire.version else { throw .unsupportedVersion(version) }
        let rawType = frame.load(fromByteOffset: 5, as: UInt8.self)
        guard let type = MessageType(rawValue: rawType) else { throw .unknownType(rawType) }
        return MessageHeader(
            type: type,
            workerID: UInt32(littleEndian: frame.loadUnaligned(fromByteOffset: 8, as: UInt32.self)),
            count: UInt32(littleEndian: frame.loadUnaligned(fromByteOffset: 12, as: UInt32.self)),
            step: UInt64(littleEndian: frame.loadUnaligned(fromByteOffset: 16, as: UInt64.self)),
            payloadLength: UInt32(littleEndian: frame.loadUnaligned(fromByteOffset: 24, as: UInt32.self)),
            value: Float(bitPattern: UInt32(littleEndian: frame.loadUnaligned(fromByteOffset: 28, as: UInt32.self))),
            flags: UInt16(littleEndian: frame.loadUnaligned(fromByteOffset: 6, as: UInt16.self)))
    }

    /// Parses a whole message: `frames` holds the header frame and, if present, the payload frame
    /// (no routing id). Checks the frame count against the type and the declared payload length
    /// against the payload frame.
    public static func decode(frames: Int, header: UnsafeRawBufferPointer, payload: UnsafeRawBufferPointer?)
        throws(ProtocolError) -> MessageHeader
    {
        let h = try decode(header)
        let expected = h.type.hasPayload ? 2 : 1
        guard frames == expected else { throw .wrongFrameCount(type: h.type, got: frames, expected: expected) }
        let actual = h.type.hasPayload ? (payload?.count ?? 0) : 0
        guard Int(h.payloadLength) == actual else { throw .lengthMismatch(declared: Int(h.payloadLength), actual: actual) }
        return h
    }
}

/// Why a message was rejected. Every case names what was wrong, for the log and the ERROR reply.
public enum ProtocolError: Error, Equatable, CustomStringConvertible, Sendable {
    case badHeaderSize(Int)
    case badMagic(UInt32)
    case unsupportedVersion(UInt8)
    case unknownType(UInt8)
    case wrongFrameCount(type: MessageType, got: Int, expected: Int)
    case lengthMismatch(declared: Int, actual: Int)
    case wrongPayloadSize(type: MessageType, got: Int, expected: Int)
    case unexpectedType(MessageType)
    case unknownWorker(UInt32)
    case notRegistered(UInt32)
    case workerIDMismatch(claimed: UInt32)
    case routingIDInUse(claimed: UInt32)
    case unexpectedStep(worker: UInt32, got: UInt64, expected: UInt64)
    case unexpectedPart(worker: UInt32, offset: UInt32, expected: Int)
    case wrongLastFlag(worker: UInt32, offset: UInt32)
    case noOutstandingParams(worker: UInt32, step: UInt64)
    case wrongStatsCount(worker: UInt32, got: Double, expected: Int)
    case unexpectedPresentation(worker: UInt32, got: UInt64, expected: UInt64)
    case wrongExampleCount(worker: UInt32, got: UInt32, expected: Int)
    case deadWorker(UInt32)
    case keyOfAnotherWorker(claimed: UInt32, keyOf: String?)
    case idTaken(UInt32)
    case noFreeWorkerID(workers: Int)
    case wrongEncoding(worker: UInt32, got: UInt8, expected: GradientCodec)
    case undecodable(worker: UInt32, reason: String)

    public var description: String {
        switch self {
        case .badHeaderSize(let n): return "header frame has \(n) bytes, expected \(Wire.headerSize)"
        case .badMagic(let m): return "bad magic 0x\(String(m, radix: 16)), expected \"DSGD\""
        case .unsupportedVersion(let v): return "protocol version \(v) is not supported (this build speaks \(Wire.version))"
        case .unknownType(let t): return "unknown message type \(t)"
        case .wrongFrameCount(let t, let got, let expected): return "\(t) message has \(got) frames, expected \(expected)"
        case .lengthMismatch(let d, let a): return "header declares a \(d)-byte payload but the payload frame has \(a) bytes"
        case .wrongPayloadSize(let t, let got, let expected): return "\(t) payload has \(got) bytes, expected \(expected)"
        case .unexpectedType(let t): return "message type \(t) is not accepted here"
        case .unknownWorker(let w): return "worker id \(w) is not part of this job"
        case .notRegistered(let w): return "worker \(w) has not registered (send HELLO first)"
        case .workerIDMismatch(let w): return "header claims worker \(w), which registered from another connection"
        case .routingIDInUse(let w): return "this connection already registered as another worker, not as worker \(w)"
        case .unexpectedStep(let w, let got, let expected):
            return "worker \(w) sent a gradient for step \(got) but was last sent the parameters of step \(expected)"
        case .unexpectedPart(let w, let o, let e):
            return "worker \(w) sent a gradient part starting at element \(o), expected the part starting at \(e)"
        case .wrongLastFlag(let w, let o):
            return "worker \(w) sent a gradient part starting at element \(o) whose last-part flag is wrong"
        case .noOutstandingParams(let w, let s):
            return "worker \(w) sent a gradient for step \(s) but has no parameters outstanding (one gradient per PARAMS)"
        case .wrongStatsCount(let w, let got, let expected):
            return "worker \(w) sent statistics of \(got) examples, but was asked about \(expected)"
        case .unexpectedPresentation(let w, let got, let expected):
            return "worker \(w) sent a difference quotient for presentation \(got) but was asked about presentation \(expected)"
        case .wrongExampleCount(let w, let got, let expected):
            return "worker \(w) built \(got) examples, but the job's data set has \(expected) (a different dsgd build or data?)"
        case .keyOfAnotherWorker(let w, let owner):
            return "HELLO claims worker \(w), but this connection's CURVE key is \(owner.map { "worker \($0)'s" } ?? "no worker's")"
        case .idTaken(let w):
            return "worker id \(w) is already taken by another connection (are two workers started with id \(w)?)"
        case .noFreeWorkerID(let n):
            return "no worker id is free: all \(n) workers of this job have registered"
        case .wrongEncoding(let w, let got, let expected):
            return "worker \(w) sent a gradient part of encoding \(got), but the job's --compress is \(expected) (encoding \(expected.id))"
        case .undecodable(let w, let reason):
            return "worker \(w) sent a gradient part that does not decode: \(reason)"
        case .deadWorker(let w):
            return "worker \(w) was declared dead (silent past --worker-timeout); the run goes on without it"
        }
    }
}
