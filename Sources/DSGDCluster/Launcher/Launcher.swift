import Foundation

/// `dsgd run`: starts one coordinator and N workers as separate processes of this same
/// executable, streams the coordinator's progress lines, forwards SIGINT/SIGTERM, and reaps every
/// child before returning (children also get SIGTERM from the kernel if the launcher dies).
public final class Launcher {
    public struct Options {
        public var job: JobConfig
        /// Where the coordinator binds (port 0 or an ipc:// path).
        public var bind: String = "tcp://127.0.0.1:0"
        /// The run directory.
        public var runDirectory: String
        /// Do not echo the coordinator's progress lines (benchmarks).
        public var quiet = false
        /// How long to wait for the coordinator's readiness line (seconds).
        public var startTimeout: Double = 60
        /// Replace a run already in `runDirectory` (`--overwrite`); without it such a directory is
        /// refused.
        public var overwrite = false
        /// Continue the run in `runDirectory` from its newest valid checkpoint (`--resume`); the
        /// job is then that run's (`job` is replaced by its config.json's).
        public var resume = false
        /// How long the coordinator has to exit once the launcher has passed it a SIGTERM (a
        /// failed worker, an interrupt) before it is killed (seconds): it checkpoints and writes
        /// its summary in that time, and one stuck in a computation never exits by itself.
        public var stopGrace: Double = 20

        public init(job: JobConfig, runDirectory: String) {
            self.job = job
            self.runDirectory = runDirectory
        }
    }

    var options: Options
    let log = Log(role: "run")
    /// The processor time (user and system, seconds) the coordinator and each worker used over
    /// their whole lives, once `run` has returned after reaping them (nil: not reaped).
    public private(set) var cpuSeconds: (coordinator: Double?, workers: [Double?]) = (nil, [])
    let executable = ChildProcess.currentExecutable

    public init(options: Options) { self.options = options }

    /// Runs the cluster to the end. Returns the exit code: 0 if the coordinator completed and every
    /// worker exited cleanly, 130 if interrupted, 1 otherwise.
    public func run() -> Int32 {
        do {
            if options.resume {
                options.job = try RunDirectory(path: options.runDirectory).readConfig().job
            } else {
                _ = try RunDirectory.createNew(path: options.runDirectory, overwrite: options.overwrite)
            }
        } catch {
            log.error("\(error)")
            return 1
        }
        let env = [TerminationSignal.parentEnvironmentKey: String(getpid())]
        let jobJSON: String
        do { jobJSON = String(decoding: try options.job.jsonData(), as: UTF8.self) } catch {
            log.error("cannot encode the job: \(error)")
            return 1
        }
        let coordinator: ChildProcess
        do {
            coordinator = try ChildProcess(
                name: "coordinator", executable: executable,
                arguments: (options.resume ? ["coordinator", "--resume", options.runDirectory]
                                           : ["coordinator", "--job-json", jobJSON, "--out", options.runDirectory])
                    + ["--bind", options.bind, "--insecure"],
                environment: env, pipeStdout: true)
        } catch {
            log.error("\(error)")
            return 1
        }
        var workers: [ChildProcess] = []
        var failure: String?
        var interrupted: Int32?

        // Wait for the readiness line, which names the endpoint actually bound.
        var endpoint: String?
        let deadline = Date().addingTimeInterval(options.startTimeout)
        while endpoint == nil {
            if let s = TerminationSignal.received { interrupted = s; break }
            if coordinator.poll() != nil {
                // The coordinator has already said why on stderr (e.g. it could not bind).
                while let line = coordinator.stdoutReader!.readLine(timeout: 0.2) { echo(line) }
                return 1
            }
            if Date() > deadline { failure = "the coordinator did not report ready within \(options.startTimeout) s"; break }
            guard let line = coordinator.stdoutReader!.readLine(timeout: 0.1) else { continue }
            if let r = line.range(of: "listening on ") { endpoint = String(line[r.upperBound...]) } else { echo(line) }
        }

        if let endpoint, failure == nil, interrupted == nil {
            for k in 0..<options.job.workers {
                do {
                    workers.append(try ChildProcess(
                        name: "worker \(k)", executable: executable,
                        arguments: ["worker", "--connect", endpoint, "--id", String(k),
                                    "--log", options.runDirectory + "/worker-\(k).log"], environment: env))
                } catch {
                    failure = "cannot start worker \(k): \(error)"
                    break
                }
            }
            if failure == nil {
                log.info("started \(workers.count) workers (\(options.job.mode) SGD) against \(endpoint); logs in \(options.runDirectory)")
            }
        }

        // Supervise until the coordinator exits.
        var forwarded: Date?   // when the coordinator was told to stop
        let tolerant = (options.job.minWorkers ?? options.job.workers) < options.job.workers
        var lost = Set<Int>()
        while coordinator.poll() == nil {
            if let s = TerminationSignal.received, forwarded == nil {
                interrupted = s
                forwarded = Date()
                coordinator.signal(s)
                workers.forEach { $0.signal(s) }
            }
            if failure != nil, forwarded == nil {
                forwarded = Date()
                coordinator.signal(SIGTERM)
            }
            if let since = forwarded, Date().timeIntervalSince(since) > options.stopGrace {
                // Still running: stuck (a computation that never returns, a signal ignored).
                let grace = String(format: "%g", options.stopGrace)
                log.error("the coordinator had not exited \(grace) s after being told to stop; killed it")
                // The run's end is then the launcher's to record (summary.json, status failed),
                // interrupted or not: the coordinator left none.
                if failure == nil { failure = "the coordinator did not stop within \(grace) s" }
                _ = coordinator.terminate(grace: 0)
                break
            }
            for (k, w) in workers.enumerated() where !lost.contains(k) && (w.poll() ?? 0) != 0 {
                // With --min-workers below --workers the coordinator decides: it declares the
                // worker dead once it is silent past --worker-timeout, or fails the run.
                if tolerant {
                    lost.insert(k)
                    log.error("\(Self.describe(exit: w.exitCode!, of: w.name)); the coordinator goes on without it while --min-workers \(options.job.minWorkers!) remain")
                } else if failure == nil, interrupted == nil {
                    failure = Self.describe(exit: w.exitCode!, of: w.name)
                }
            }
            if let line = coordinator.stdoutReader!.readLine(timeout: 0.1) { echo(line) }
        }
        while let line = coordinator.stdoutReader!.readLine(timeout: 0.5) { echo(line) }

        let coordinatorCode = coordinator.exitCode ?? 1
        // A coordinator that died (killed, or gone without its summary) is the cause, whatever
        // its workers do next. One that failed cleanly has said why in its own summary.
        let summaryWritten = FileManager.default.fileExists(atPath: options.runDirectory + "/summary.json")
        if failure == nil, interrupted == nil, coordinatorCode != 0, coordinatorCode != 130,
           coordinatorCode > 128 || !summaryWritten {
            failure = Self.describe(exit: coordinatorCode, of: "the coordinator")
        }
        // Workers leave on STOP; those still running after a grace period are stopped together.
        // Stopping them is cleanup: it never changes the run's status.
        let stopped = Self.reap(workers, grace: 5)
        cpuSeconds = (coordinator.cpuSeconds, workers.map(\.cpuSeconds))
        for (k, (w, byUs)) in zip(workers, stopped).enumerated() where !byUs && !lost.contains(k) {
            let code = w.exitCode ?? 0
            guard code != 0 else { continue }
            if failure == nil, interrupted == nil, coordinatorCode != 0 {
                failure = Self.describe(exit: code, of: w.name)
            } else if coordinatorCode == 0 {
                log.error("\(w.name) exited with code \(code) after the run ended (the run's status stands)")
            }
        }
        for (w, byUs) in zip(workers, stopped) where byUs {
            log.info("\(w.name) had not exited 5 s after the coordinator; stopped it")
        }
        if let failure {
            markFailed(failure)
            log.error("\(failure); run directory \(options.runDirectory)")
            return 1
        }
        if interrupted != nil {
            log.info("interrupted; run directory \(options.runDirectory)")
            return 130
        }
        if coordinatorCode != 0 {
            log.error("the coordinator exited with code \(coordinatorCode); run directory \(options.runDirectory)")
            return 1
        }
        let curvature = options.job.onlineCurvature > 0 ? ", curvature.jsonl" : ""
        log.info("done; logs in \(options.runDirectory) (metrics.jsonl, summary.json, params.json, config.json\(curvature))")
        return 0
    }

    /// "worker 2 exited with code 3", "the coordinator was killed by signal 9".
    static func describe(exit code: Int32, of who: String) -> String {
        code > 128 && code < 160 ? "\(who) was killed by signal \(code - 128)" : "\(who) exited with code \(code)"
    }

    /// Waits up to `grace` seconds for all of `children` to exit, then sends SIGTERM to every one
    /// still running, and SIGKILL 2 s later; reaps them all. Returns, per child, whether this had
    /// to stop it.
    static func reap(_ children: [ChildProcess], grace: Double) -> [Bool] {
        let deadline = Date().addingTimeInterval(grace)
        while children.contains(where: { $0.poll() == nil }) && Date() < deadline { usleep(10_000) }
        let stopped = children.map { $0.poll() == nil }
        for c in children where c.poll() == nil { c.signal(SIGTERM) }
        let killAt = Date().addingTimeInterval(2)
        while children.contains(where: { $0.poll() == nil }) && Date() < killAt { usleep(10_000) }
        for c in children where c.poll() == nil { _ = c.terminate(grace: 0) }
        return stopped
    }

    func echo(_ line: String) {
        if !options.quiet { log.out(line) }
    }

    /// Records a failure the coordinator could not see (a worker died) in summary.json, writing
    /// one from the job and the last metrics point if the coordinator left none (it was killed).
    func markFailed(_ reason: String) {
        guard let dir = try? RunDirectory(path: options.runDirectory) else { return }
        let job = options.job
        var summary = (try? dir.readSummary()) ?? RunSummary(
            mode: job.mode, workers: job.workers, status: .failed, finalLoss: nil, steps: 0, examples: 0, epochs: 0,
            wallSeconds: 0, examplesPerSecond: 0, targetLoss: job.targetLoss, timeToTarget: nil, error: nil, rejectedMessages: 0)
        if summary.steps == 0, let last = dir.lastMetricsPoint() {
            summary.steps = last.step
            summary.examples = last.examples
            summary.epochs = last.epoch
            summary.wallSeconds = last.time
            summary.finalLoss = last.loss.isFinite ? last.loss : nil
        }
        summary.status = .failed
        summary.error = reason
        try? dir.writeSummary(summary)
    }
}
