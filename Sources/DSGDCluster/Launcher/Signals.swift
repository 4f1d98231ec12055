import CSystemSupport
import Synchronization

/// Process-wide record of a termination request (SIGINT, SIGTERM, SIGHUP).
///
/// The handler only stores the signal number; long-running loops poll `TerminationSignal.received`
/// (blocking libzmq calls return EINTR, so they notice within one poll interval).
public enum TerminationSignal {
    private static let signal = Atomic<Int32>(0)

    /// Installs the handler, unblocks the signals (a parent may have blocked them) and ignores
    /// SIGPIPE. Also tunes malloc for the large message buffers libzmq allocates.
    public static func install() {
        dsgd_tune_malloc_for_large_messages()
        dsgd_unblock_termination_signals()
        dsgd_install_termination_handler { sig in TerminationSignal.signal.store(sig, ordering: .relaxed) }
    }

    /// The signal received so far, or nil.
    public static var received: Int32? {
        let s = signal.load(ordering: .relaxed)
        return s == 0 ? nil : s
    }

    /// Environment variable the launcher sets in its children: the launcher's pid.
    public static let parentEnvironmentKey = "DSGD_LAUNCHER_PID"

    /// In a child of `dsgd run`: ask for SIGTERM when the launcher dies, and exit at once if it
    /// already has, so no orphan is ever left behind.
    public static func followLauncher() {
        guard let value = getenv(parentEnvironmentKey), let pid = Int32(String(cString: value)) else { return }
        _ = dsgd_set_parent_death_signal(SIGTERM)
        if getppid() != pid { exit(143) }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
