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

    /// A diagnostic line on standard error (and in the log file, if one is open).
    public func info(_ message: String) { Self.diagnostic("dsgd \(role): \(message)") }

    /// An error line on standard error (and in the log file, if one is open).
    public func error(_ message: String) { Self.diagnostic("dsgd \(role): error: \(message)") }

    /// The file every diagnostic line of this process is copied to (`dsgd worker --log`), or -1.
    nonisolated(unsafe) private static var file: Int32 = -1

    /// Copies this process's diagnostic lines to `path` from now on (created, or appended to).
    /// - Throws: `RunDirectoryError` when the file cannot be opened.
    public static func copyDiagnostics(to path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw RunDirectoryError("cannot open the log file \(path): \(String(cString: strerror(errno)))") }
        file = fd
    }

    private static func diagnostic(_ line: String) {
        writeLine(line, to: 2)
        if file >= 0 { writeLine(line, to: file) }
    }

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
