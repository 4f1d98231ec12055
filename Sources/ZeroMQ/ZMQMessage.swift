import CZeroMQ

/// One ZeroMQ message frame with a stable address, reusable across receives.
///
/// Receiving into the same `ZMQMessage` again releases the previous content; no Swift allocation
/// happens per receive. The bytes stay valid until the next receive, `move`, or `deinit`.
public final class ZMQMessage {
    let msg: UnsafeMutablePointer<zmq_msg_t>

    public init() {
        msg = .allocate(capacity: 1)
        zmq_msg_init(msg)
    }

    deinit {
        zmq_msg_close(msg)
        msg.deallocate()
    }

    /// Number of bytes in the frame.
    public var count: Int { zmq_msg_size(msg) }

    /// The frame's bytes (valid until the message is received into, moved or released).
    public var bytes: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: zmq_msg_data(msg), count: zmq_msg_size(msg))
    }

    /// Whether more frames of the same multipart message follow this one.
    public var hasMore: Bool { zmq_msg_more(msg) != 0 }

    /// Moves the content of `other` into this message (no copy); `other` becomes empty.
    public func take(from other: ZMQMessage) {
        zmq_msg_move(msg, other.msg)
    }

    /// Releases the content and leaves an empty frame.
    public func clear() {
        zmq_msg_close(msg)
        zmq_msg_init(msg)
    }

    /// Replaces the content with a copy of `bytes`.
    public func set(copying bytes: UnsafeRawBufferPointer) throws {
        zmq_msg_close(msg)
        guard zmq_msg_init_size(msg, bytes.count) == 0 else { throw ZMQError.last("zmq_msg_init_size") }
        if bytes.count > 0 { zmq_msg_data(msg).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count) }
    }

    /// Makes this message share `other`'s content (libzmq reference counting; no copy of large data).
    public func share(_ other: ZMQMessage) throws {
        guard zmq_msg_copy(msg, other.msg) == 0 else { throw ZMQError.last("zmq_msg_copy") }
    }
}
