import ArgumentParser
import DSGDCluster
import DSGDCore
import Foundation

extension DSGD {
    /// `dsgd coordinator`: the parameter server, by hand.
    struct CoordinatorCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "coordinator",
            abstract: "Bind, wait for the workers, and train (start the workers with `dsgd worker`).",
            discussion: "Prints 'dsgd coordinator: listening on ENDPOINT' on stdout once bound.")

        @OptionGroup var training: TrainingOptions

        @Option(help: "Endpoint to bind: tcp://HOST:PORT (PORT 0: any free port, printed once bound) or ipc:///path.")
        var bind: String = defaultBindEndpoint

        @Option(help: "Run directory (default: runs/<UTC time>-<mode>-<pid>).")
        var out: String?

        @Flag(help: "Replace a run already in --out (without it, a directory holding a run is refused).")
        var overwrite = false

        @Flag(help: "Allow --bind on an address other than loopback: dsgd's transport is neither authenticated nor encrypted.")
        var insecure = false

        @Option(help: "CURVE: the coordinator's key file (coordinator.key of `dsgd keygen`); needs --allowed-workers. Every worker must then connect with its own key.")
        var curveKey: String?

        @Option(help: "CURVE: the allowed-workers file of `dsgd keygen` (one `ID PUBLICKEY` line a worker): a worker id can be claimed only with its key.")
        var allowedWorkers: String?

        @Option(help: "Continue the run in RUN_DIR from its newest valid checkpoint (the job is RUN_DIR/config.json's; give no training flags).")
        var resume: String?

        @Option(help: .hidden)
        var jobJSON: String?

        /// `--bind`, or `DSGD_BIND` when the flag is not given.
        var bindEndpoint: String {
            if !commandLineHas("--bind"), let b = try? clusterEnvironment().bind { return b }
            return bind
        }

        func validate() throws {
            if resume != nil {
                if out != nil || overwrite || jobJSON != nil { throw ValidationError("--resume RUN_DIR continues that run in place: give no --out or --overwrite with it") }
                if training.job != TrainingOptions.defaults.job {
                    throw ValidationError("--resume RUN_DIR continues the job of RUN_DIR/config.json: give no training flags with it")
                }
            }
            guard (curveKey == nil) == (allowedWorkers == nil) else {
                throw ValidationError("--curve-key and --allowed-workers go together (CURVE needs both)")
            }
            try validateEndpoint(bindEndpoint, insecure: insecure || curveKey != nil)
        }

        func run() throws {
            TerminationSignal.followLauncher()
            if jobJSON == nil, curveKey == nil { warnIfExposed(bindEndpoint) }
            if let resume { return try runResumed(resume) }
            var given = try jobJSON.map { try JobConfig.fromJSON(Data($0.utf8)) } ?? training.job
            if jobJSON == nil, !commandLineHas("--workers"), let n = try clusterEnvironment().workers {
                given.workers = n  // DSGD_WORKERS, or SLURM_NTASKS - 1
            }
            if let problem = given.problems().first { throw ValidationError(problem) }
            let job = try TrainingOptions.resolvingAutoLearningRate(given)
            if jobJSON == nil, let note = job.learningRateNote { writeLine("dsgd: \(note)", to: 2) }
            let directory: RunDirectory
            do { directory = try RunDirectory.createNew(path: out ?? RunDirectory.defaultPath(mode: job.mode), overwrite: overwrite) } catch {
                throw CleanFailure("coordinator: \(error)")
            }
            let coordinator: Coordinator
            do {
                coordinator = try Coordinator(job: job, bind: bindEndpoint, runDirectory: directory, security: try security(workers: job.workers))
            } catch {
                throw CleanFailure("coordinator: \(error)")
            }
            try Self.finish(coordinator.run())
        }

        /// `--resume RUN_DIR`: the job of its config.json, from its newest valid checkpoint (each
        /// newer one that is corrupt, truncated or of another job is named with the reason).
        func runResumed(_ path: String) throws {
            let directory: RunDirectory
            let job: JobConfig
            do {
                let probe = try RunDirectory(path: path)
                job = try probe.readConfig().job
                directory = try RunDirectory.openForResume(path: path)
            } catch {
                throw CleanFailure("coordinator: \(error)")
            }
            let files = CheckpointFiles(run: directory.url, keep: job.keepCheckpoints)
            let parameterCount = job.makeModel().parameterCount
            let (found, skipped) = files.newestValid { c in
                if let problem = c.problem(for: job, parameterCount: parameterCount) { throw CheckpointError(problem) }
            }
            for (name, reason) in skipped { writeLine("dsgd coordinator: skipping checkpoint \(name): \(reason)", to: 2) }
            guard let checkpoint = found else {
                throw CleanFailure("coordinator: --resume \(path): no valid checkpoint in \(files.directory.path)\(skipped.isEmpty ? "" : " (\(skipped.count) unusable)")")
            }
            writeLine("dsgd coordinator: resuming \(path) from step \(checkpoint.state.step)", to: 2)
            let coordinator: Coordinator
            do {
                try directory.keepMetrics(throughStep: checkpoint.state.step)
                coordinator = try Coordinator(job: job, bind: bindEndpoint, runDirectory: directory, security: try security(workers: job.workers),
                                              resume: checkpoint)
            } catch {
                throw CleanFailure("coordinator: \(error)")
            }
            try Self.finish(coordinator.run())
        }

        /// CURVE settings from --curve-key and --allowed-workers, if given.
        func security(workers: Int) throws -> CoordinatorSecurity? {
            guard let curveKey, let allowedWorkers else { return nil }
            try requireCurve()
            return CoordinatorSecurity(keys: try KeyFiles.readKeyPair(curveKey),
                                       allowedWorkers: try KeyFiles.readAllowedWorkers(allowedWorkers, workers: workers))
        }

        /// The exit of a run that ended with `summary`: 0, 130 when interrupted, 1 when failed.
        static func finish(_ summary: RunSummary) throws {
            switch summary.status {
            case .completed: return
            case .interrupted: throw ExitCode(130)
            case .failed: throw ExitCode.failure
            }
        }
    }
}

/// Whether `flag` was given on this process's command line (as `--flag V` or `--flag=V`): the
/// environment fills in only what the command line leaves out.
func commandLineHas(_ flag: String) -> Bool {
    CommandLine.arguments.dropFirst().contains { $0 == flag || $0.hasPrefix(flag + "=") }
}

/// `ClusterEnvironment` of this process, errors as one line.
func clusterEnvironment() throws -> ClusterEnvironment {
    do { return try ClusterEnvironment.resolve(ProcessInfo.processInfo.environment) } catch { throw ValidationError("\(error)") }
}

/// An error whose text is the whole message (no type name).
struct CleanFailure: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
