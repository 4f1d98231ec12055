#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Line-oriented logging to standard error, each line prefixed with the process's role
/// ("coordinator", "worker 2"); progress and readiness lines go to standard output instead.
public struct Log: Sendable {
    public let role: String
    public init(role: String) { self.role = role }

    /// A diagnostic line on standard error.
    public func info(_ message: String) { writeLine("dsgd \(role): \(message)", to: 2) }

    /// An error line on standard error.
    public func error(_ message: String) { writeLine("dsgd \(role): error: \(message)", to: 2) }

    /// A line on standard output, flushed at once (progress and readiness lines are read by others).
    public func out(_ message: String) { writeLine(message, to: 1) }
}

/// Monotonic seconds (CLOCK_MONOTONIC), for timeouts and durations.
public func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

/// Writes `line` and a newline to file descriptor `fd` in one write (unbuffered, retried on EINTR).
public func writeLine(_ line: String, to fd: Int32) {
    var bytes = Array(line.utf8)
    bytes.append(10)
    _ = writeAll(bytes, to: fd)
}

/// Writes all of `bytes` to file descriptor `fd` (retried on EINTR and short writes); false if
/// the descriptor refused them (e.g. a closed pipe).
@discardableResult
public func writeAll(_ bytes: [UInt8], to fd: Int32) -> Bool {
    var offset = 0
    while offset < bytes.count {
        let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
        if n > 0 { offset += n } else if n < 0 && errno == EINTR { continue } else { return false }
    }
    return true
}
