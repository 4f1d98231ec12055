import ArgumentParser
import DSGDCluster
import Foundation

/// One finished cluster run of an experiment: where it is and what it wrote.
struct ExperimentRun {
    /// The run directory.
    let path: String
    /// The launcher's exit code (1 for a run that diverged, 130 if interrupted).
    let exitCode: Int32
    /// summary.json.
    let summary: RunSummary
    /// summary.json, config.json and metrics.jsonl as the reports read them.
    let record: RunRecord

    /// The training loss at step 0 (the first point of metrics.jsonl).
    var initialLoss: Double? { record.metrics.first?.loss }
}

/// Runs the local clusters of a scripted experiment one after another, in-process through
/// `Launcher` as `dsgd run` does, each into `<report>/runs/<name>` with no progress lines. The
/// coordinator's and workers' standard error goes to that run's `stderr.log` instead of the
/// terminal, so that the experiment's own progress lines stay readable.
struct ExperimentRuns {
    /// The directory holding the run directories.
    let root: String
    /// Runs started so far.
    private(set) var count = 0
    /// When the first run started (monotonic seconds).
    private let start = monotonicSeconds()

    init(root: String) { self.root = root }

    /// Seconds since this runner was made.
    var elapsed: Double { monotonicSeconds() - start }

    /// Runs `job` to the end into `root/name` and reads back what it wrote. A run that fails (a
    /// diverged one, say) is returned like any other; its summary says so.
    /// - Throws: `CleanFailure` for a job with a configuration problem or a run that wrote no
    ///   summary; `ExitCode(130)` once SIGINT or SIGTERM has arrived.
    mutating func run(_ job: JobConfig, name: String) throws -> ExperimentRun {
        if TerminationSignal.received != nil { throw ExitCode(130) }
        if let problem = job.problems().first { throw CleanFailure("experiment run \(name): \(problem)") }
        let path = root + "/" + name
        _ = try RunDirectory(path: path)
        var options = Launcher.Options(job: job, runDirectory: path)
        options.quiet = true
        count += 1
        let code = Self.withStandardError(to: path + "/stderr.log") { Launcher(options: options).run() }
        if code == 130 || TerminationSignal.received != nil { throw ExitCode(130) }
        let summary: RunSummary
        do { summary = try RunDirectory(path: path).readSummary() } catch {
            throw CleanFailure("experiment run \(path) wrote no summary.json (exit \(code)); see its stderr.log")
        }
        let record: RunRecord
        do { record = try RunRecord(path: path) } catch { throw CleanFailure("\(error)") }
        return ExperimentRun(path: path, exitCode: code, summary: summary, record: record)
    }

    /// Runs `body` with file descriptor 2 pointing at `file` (created or truncated), so that the
    /// child processes it starts inherit it; restores the original standard error afterwards.
    static func withStandardError<T>(to file: String, _ body: () -> T) -> T {
        let log = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard log >= 0 else { return body() }
        let saved = fcntl(2, F_DUPFD_CLOEXEC, 0)
        guard saved >= 0 else { close(log); return body() }
        dup2(log, 2)
        close(log)
        defer {
            dup2(saved, 2)
            close(saved)
        }
        return body()
    }
}

/// A progress line of experiment `name` on standard error.
func experimentProgress(_ name: String, _ message: String) {
    writeLine("dsgd experiment \(name): \(message)", to: 2)
}
