import CZeroMQ

/// A ZeroMQ context: owns the I/O threads. Close every socket before the context goes away
/// (`zmq_ctx_term` waits for them; every dsgd socket sets a bounded linger).
public final class ZMQContext {
    let handle: UnsafeMutableRawPointer

    /// Creates a context with `ioThreads` libzmq I/O threads.
    public init(ioThreads: Int32 = 1) throws {
        guard let h = zmq_ctx_new() else { throw ZMQError.last("zmq_ctx_new") }
        handle = h
        if ioThreads != 1 { zmq_ctx_set(h, ZMQ_IO_THREADS, ioThreads) }
    }

    deinit {
        while zmq_ctx_term(handle) != 0 && zmq_errno() == EINTR {}
    }

    /// The libzmq version as "major.minor.patch".
    public static var version: String {
        var major: Int32 = 0, minor: Int32 = 0, patch: Int32 = 0
        zmq_version(&major, &minor, &patch)
        return "\(major).\(minor).\(patch)"
    }
}
