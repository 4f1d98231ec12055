import CZeroMQ

/// Waits for readability on a fixed set of sockets with `zmq_poll`; the item array is reused.
public final class ZMQPoller {
    private var items: [zmq_pollitem_t]

    public init(_ sockets: [ZMQSocket]) {
        items = sockets.map { zmq_pollitem_t(socket: $0.handle, fd: 0, events: Int16(ZMQ_POLLIN), revents: 0) }
    }

    /// Waits up to `timeoutMs` (−1: forever) for input. Returns false on timeout or on a signal
    /// (EINTR), so callers can check their stop flag; throws other errors.
    public func waitForInput(timeoutMs: Int) throws -> Bool {
        let n = items.withUnsafeMutableBufferPointer { zmq_poll($0.baseAddress, Int32($0.count), timeoutMs) }
        if n < 0 {
            let e = ZMQError.last("zmq_poll")
            if e.isInterrupted { return false }
            throw e
        }
        return n > 0
    }

    /// Whether socket `index` had input at the last wait.
    public func isReadable(_ index: Int) -> Bool { items[index].revents & Int16(ZMQ_POLLIN) != 0 }
}
