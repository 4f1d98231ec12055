import CZeroMQ

/// The socket types dsgd uses.
public enum ZMQSocketType: Sendable {
    case router, dealer, pair, rep

    var raw: Int32 {
        switch self {
        case .router: return ZMQ_ROUTER
        case .dealer: return ZMQ_DEALER
        case .pair: return ZMQ_PAIR
        case .rep: return ZMQ_REP
        }
    }
}

/// A ZeroMQ socket. Not thread-safe: use it from one thread only.
///
/// Linger is set to `lingerMs` at creation, so closing never blocks longer than that on a dead peer.
public final class ZMQSocket {
    let handle: UnsafeMutableRawPointer
    private let context: ZMQContext  // keeps the context alive while the socket exists
    private var closed = false

    /// Creates a socket of `type` in `context` with a bounded linger.
    public init(_ context: ZMQContext, _ type: ZMQSocketType, lingerMs: Int32 = 0) throws {
        guard let h = zmq_socket(context.handle, type.raw) else { throw ZMQError.last("zmq_socket") }
        handle = h
        self.context = context
        try set(ZMQ_LINGER, lingerMs, "ZMQ_LINGER")
    }

    deinit { close() }

    /// Closes the socket (idempotent).
    public func close() {
        guard !closed else { return }
        closed = true
        zmq_close(handle)
    }

    // MARK: Options

    func set(_ option: Int32, text: String, _ name: String) throws {
        let bytes = Array(text.utf8)
        guard bytes.withUnsafeBytes({ zmq_setsockopt(handle, option, $0.baseAddress, $0.count) }) == 0 else {
            throw ZMQError.last("setsockopt \(name)")
        }
    }

    func set(_ option: Int32, _ value: Int32, _ name: String) throws {
        var v = value
        guard zmq_setsockopt(handle, option, &v, MemoryLayout<Int32>.size) == 0 else {
            throw ZMQError.last("setsockopt \(name)")
        }
    }

    /// Sets the routing id other peers see (DEALER side of a ROUTER/DEALER pair).
    public func setRoutingID(_ id: [UInt8]) throws {
        guard id.withUnsafeBytes({ zmq_setsockopt(handle, ZMQ_ROUTING_ID, $0.baseAddress, $0.count) }) == 0 else {
            throw ZMQError.last("setsockopt ZMQ_ROUTING_ID")
        }
    }

    /// `ZMQ_ROUTER_MANDATORY`: sending to an unknown peer fails with `EHOSTUNREACH` instead of vanishing.
    public func setRouterMandatory(_ on: Bool) throws { try set(ZMQ_ROUTER_MANDATORY, on ? 1 : 0, "ZMQ_ROUTER_MANDATORY") }

    /// `ZMQ_ROUTER_HANDOVER`: a new peer with a known routing id takes over the old connection.
    public func setRouterHandover(_ on: Bool) throws { try set(ZMQ_ROUTER_HANDOVER, on ? 1 : 0, "ZMQ_ROUTER_HANDOVER") }

    /// Send and receive high-water marks, in messages.
    public func setHighWaterMarks(send: Int32, receive: Int32) throws {
        try set(ZMQ_SNDHWM, send, "ZMQ_SNDHWM")
        try set(ZMQ_RCVHWM, receive, "ZMQ_RCVHWM")
    }

    /// `ZMQ_RECONNECT_IVL` and `ZMQ_RECONNECT_IVL_MAX`: after a lost connection libzmq retries
    /// after `initialMs`, doubling the wait each time up to `maximumMs`.
    public func setReconnectBackoff(initialMs: Int32, maximumMs: Int32) throws {
        try set(ZMQ_RECONNECT_IVL, initialMs, "ZMQ_RECONNECT_IVL")
        try set(ZMQ_RECONNECT_IVL_MAX, maximumMs, "ZMQ_RECONNECT_IVL_MAX")
    }

    /// `ZMQ_SNDTIMEO`: a blocking send gives up with `EAGAIN` after this many milliseconds (−1:
    /// waits for ever).
    public func setSendTimeout(ms: Int32) throws { try set(ZMQ_SNDTIMEO, ms, "ZMQ_SNDTIMEO") }

    /// Largest accepted inbound message in bytes (−1: no limit); larger ones drop the connection.
    public func setMaxMessageSize(_ bytes: Int64) throws {
        var v = bytes
        guard zmq_setsockopt(handle, ZMQ_MAXMSGSIZE, &v, MemoryLayout<Int64>.size) == 0 else {
            throw ZMQError.last("setsockopt ZMQ_MAXMSGSIZE")
        }
    }

    /// Kernel socket buffer sizes in bytes (tcp/ipc); 0 keeps the OS default.
    public func setKernelBuffers(send: Int32, receive: Int32) throws {
        try set(ZMQ_SNDBUF, send, "ZMQ_SNDBUF")
        try set(ZMQ_RCVBUF, receive, "ZMQ_RCVBUF")
    }

    /// ZMTP heartbeats (milliseconds): interval, and how long without traffic drops the connection.
    public func setHeartbeat(intervalMs: Int32, timeoutMs: Int32) throws {
        try set(ZMQ_HEARTBEAT_IVL, intervalMs, "ZMQ_HEARTBEAT_IVL")
        try set(ZMQ_HEARTBEAT_TIMEOUT, timeoutMs, "ZMQ_HEARTBEAT_TIMEOUT")
    }

    /// Binds to `endpoint` and returns the endpoint actually bound (port 0 resolved).
    @discardableResult
    public func bind(_ endpoint: String) throws -> String {
        guard zmq_bind(handle, endpoint) == 0 else { throw ZMQError.last("bind \(endpoint)") }
        var buf = [CChar](repeating: 0, count: 512)
        var len = buf.count
        guard zmq_getsockopt(handle, ZMQ_LAST_ENDPOINT, &buf, &len) == 0 else {
            throw ZMQError.last("getsockopt ZMQ_LAST_ENDPOINT")
        }
        return String(decoding: buf.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Connects to `endpoint` (asynchronous: succeeds before the peer exists).
    public func connect(_ endpoint: String) throws {
        guard zmq_connect(handle, endpoint) == 0 else { throw ZMQError.last("connect \(endpoint)") }
    }

    // MARK: Sending

    /// Sends `bytes` as one frame (copied), with `more` set when further frames follow.
    public func send(bytes: UnsafeRawBufferPointer, more: Bool) throws {
        while true {
            let rc = zmq_send(handle, bytes.baseAddress, bytes.count, more ? ZMQ_SNDMORE : 0)
            if rc >= 0 { return }
            let e = ZMQError.last("zmq_send")
            if !e.isInterrupted { throw e }
        }
    }

    /// Sends `bytes` as one frame (copied) without blocking: false when the message cannot be
    /// queued now (`EAGAIN`: the peer's high-water mark is reached), and nothing was sent.
    public func trySend(bytes: UnsafeRawBufferPointer, more: Bool) throws -> Bool {
        while true {
            let rc = zmq_send(handle, bytes.baseAddress, bytes.count, (more ? ZMQ_SNDMORE : 0) | ZMQ_DONTWAIT)
            if rc >= 0 { return true }
            let e = ZMQError.last("zmq_send")
            if e.isAgain { return false }
            if !e.isInterrupted { throw e }
        }
    }

    /// Sends `message` as one frame; on success the message becomes empty (libzmq owns the content).
    public func send(_ message: ZMQMessage, more: Bool) throws {
        while true {
            let rc = zmq_msg_send(message.msg, handle, more ? ZMQ_SNDMORE : 0)
            if rc >= 0 { return }
            let e = ZMQError.last("zmq_msg_send")
            if !e.isInterrupted { throw e }
        }
    }

    // MARK: Receiving

    /// Receives one frame into `message`, blocking unless `dontWait`. Returns false when
    /// `dontWait` is set and nothing is queued. Retries on `EINTR` only if `retryInterrupted`.
    public func receive(into message: ZMQMessage, dontWait: Bool = false) throws -> Bool {
        while true {
            let rc = zmq_msg_recv(message.msg, handle, dontWait ? ZMQ_DONTWAIT : 0)
            if rc >= 0 { return true }
            let e = ZMQError.last("zmq_msg_recv")
            if e.isAgain && dontWait { return false }
            if !e.isInterrupted { throw e }
        }
    }

    /// Receives a whole multipart message into `frames` (reused). Frames beyond `frames.count`
    /// are received into the last slot and discarded; the return value is the real frame count.
    /// Returns 0 when `dontWait` is set and nothing is queued.
    public func receiveMultipart(into frames: [ZMQMessage], dontWait: Bool = false) throws -> Int {
        precondition(!frames.isEmpty)
        guard try receive(into: frames[0], dontWait: dontWait) else { return 0 }
        var n = 1
        var last = frames[0]
        while last.hasMore {
            let slot = frames[min(n, frames.count - 1)]
            // Multipart messages arrive whole: the remaining frames are already queued.
            _ = try receive(into: slot)
            last = slot
            n += 1
        }
        return n
    }
}
