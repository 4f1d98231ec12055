import CSystemSupport
import Foundation

/// A child process started with posix_spawn: default signal handling, empty signal mask, the
/// same process group (so a terminal's Ctrl-C reaches it too), and optionally a pipe on stdout.
public final class ChildProcess {
    public let pid: pid_t
    /// A name for messages ("coordinator", "worker 2").
    public let name: String
    /// Read end of the child's standard output, if it was piped.
    public let stdoutReader: LineReader?
    /// The exit code once known (128 + signal if it was killed).
    public private(set) var exitCode: Int32?
    /// The processor time the child used (user and system, all its threads), once it has exited.
    public private(set) var cpuSeconds: Double?

    /// Starts `executable` with `arguments`, adding `environment` to this process's environment.
    /// With `pipeStdout` its standard output is readable through `stdoutReader`; with `stderrFile`
    /// its standard error goes to that file.
    public init(name: String, executable: String, arguments: [String], environment: [String: String] = [:],
                pipeStdout: Bool = false, stderrFile: String? = nil) throws {
        self.name = name
        var fds: [Int32] = [-1, -1]
        if pipeStdout {
            guard pipe(&fds) == 0 else { throw ChildProcessError("pipe: \(String(cString: strerror(errno)))") }
            _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
        }
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        let errFD = stderrFile.map { open($0, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644) } ?? -1
        let pid = dsgd_spawn(executable, argv, envp, fds[1], errFD)
        if pipeStdout { close(fds[1]) }
        if errFD >= 0 { close(errFD) }
        guard pid > 0 else {
            if pipeStdout { close(fds[0]) }
            throw ChildProcessError("cannot start \(executable): \(String(cString: strerror(-pid)))")
        }
        self.pid = pid
        stdoutReader = pipeStdout ? LineReader(fd: fds[0]) : nil
    }

    /// Sends `signal` unless the child is known to have exited.
    public func signal(_ signal: Int32) {
        if exitCode == nil { kill(pid, signal) }
    }

    /// The exit code if the child has exited, without blocking.
    @discardableResult
    public func poll() -> Int32? {
        if exitCode != nil { return exitCode }
        var status: Int32 = 0
        var usage = rusage()
        if wait4(pid, &status, WNOHANG, &usage) == pid { reaped(status, usage) }
        return exitCode
    }

    /// Records the exit status and processor time `wait4` reported.
    private func reaped(_ status: Int32, _ usage: rusage) {
        exitCode = dsgd_exit_code(status)
        func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
        cpuSeconds = seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }

    /// Waits up to `timeout` seconds for the child to exit; returns the exit code or nil.
    public func wait(timeout: Double) -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        while poll() == nil && Date() < deadline { usleep(10_000) }
        return exitCode
    }

    /// Waits for exit; if it has not exited after `grace` seconds sends SIGTERM, then SIGKILL after
    /// another `grace`. Always reaps the child.
    @discardableResult
    public func terminate(grace: Double = 3) -> Int32 {
        if let c = wait(timeout: 0) { return c }
        signal(SIGTERM)
        if let c = wait(timeout: grace) { return c }
        signal(SIGKILL)
        var status: Int32 = 0
        var usage = rusage()
        while wait4(pid, &status, 0, &usage) < 0 && errno == EINTR {}
        reaped(status, usage)
        return exitCode!
    }

    /// The path of the running executable (to start more of itself).
    public static var currentExecutable: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }
}

/// A process could not be started.
public struct ChildProcessError: Error, CustomStringConvertible {
    public let description: String
    init(_ d: String) { description = d }
}

/// Reads lines from a file descriptor without blocking longer than asked.
public final class LineReader {
    public let fd: Int32
    private var buffer: [UInt8] = []
    private var chunk = [UInt8](repeating: 0, count: 4096)
    /// True once the writer closed its end and every line was read.
    public private(set) var isClosed = false

    init(fd: Int32) { self.fd = fd }
    deinit { close(fd) }

    /// The next complete line, waiting up to `timeout` seconds for one; nil on timeout or at end.
    public func readLine(timeout: Double) -> String? {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            if let i = buffer.firstIndex(of: 10) {
                let line = String(decoding: buffer[..<i], as: UTF8.self)
                buffer.removeSubrange(...i)
                return line
            }
            if isClosed { return nil }
            let left = deadline.timeIntervalSinceNow
            if left <= 0 { return nil }
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let r = Glibc.poll(&p, 1, Int32(min(left, 1) * 1000) + 1)
            if r < 0 && errno != EINTR { isClosed = true; return nil }
            if r <= 0 { continue }
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n > 0 {
                buffer.append(contentsOf: chunk[0..<n])
            } else if n == 0 || errno != EINTR {
                isClosed = true
                if !buffer.isEmpty {
                    let line = String(decoding: buffer, as: UTF8.self)
                    buffer.removeAll()
                    return line
                }
                return nil
            }
        }
    }
}
