import CZeroMQ
#if canImport(Glibc)
import Glibc
#endif

/// An error reported by libzmq, carrying its errno and `zmq_strerror` text.
public struct ZMQError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The errno value libzmq reported.
    public let code: Int32
    /// What was being done when it failed (e.g. "bind tcp://127.0.0.1:0").
    public let operation: String

    public init(code: Int32, operation: String) {
        self.code = code
        self.operation = operation
    }

    /// The error for the calling thread's current `zmq_errno()`.
    public static func last(_ operation: String) -> ZMQError {
        ZMQError(code: zmq_errno(), operation: operation)
    }

    /// libzmq's own text for `code`.
    public var message: String { String(cString: zmq_strerror(code)) }

    public var description: String { "\(operation): \(message)" }

    /// The call was interrupted by a signal (`EINTR`).
    public var isInterrupted: Bool { code == EINTR }
    /// A non-blocking call found nothing to do (`EAGAIN`).
    public var isAgain: Bool { code == EAGAIN }
}
