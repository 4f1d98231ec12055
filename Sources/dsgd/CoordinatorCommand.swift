import ArgumentParser
import DSGDCluster
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

        @Option(help: .hidden)
        var jobJSON: String?

        func validate() throws {
            guard (curveKey == nil) == (allowedWorkers == nil) else {
                throw ValidationError("--curve-key and --allowed-workers go together (CURVE needs both)")
            }
            try validateEndpoint(bind, insecure: insecure || curveKey != nil)
        }

        func run() throws {
            TerminationSignal.followLauncher()
            if jobJSON == nil, curveKey == nil { warnIfExposed(bind) }
            let given = try jobJSON.map { try JobConfig.fromJSON(Data($0.utf8)) } ?? training.job
            if let problem = given.problems().first { throw ValidationError(problem) }
            let job = try TrainingOptions.resolvingAutoLearningRate(given)
            if jobJSON == nil, let note = job.learningRateNote { writeLine("dsgd: \(note)", to: 2) }
            let directory: RunDirectory
            do { directory = try RunDirectory.createNew(path: out ?? RunDirectory.defaultPath(mode: job.mode), overwrite: overwrite) } catch {
                throw CleanFailure("coordinator: \(error)")
            }
            let coordinator: Coordinator
            do {
                var security: CoordinatorSecurity?
                if let curveKey, let allowedWorkers {
                    try requireCurve()
                    security = CoordinatorSecurity(keys: try KeyFiles.readKeyPair(curveKey),
                                                   allowedWorkers: try KeyFiles.readAllowedWorkers(allowedWorkers, workers: job.workers))
                }
                coordinator = try Coordinator(job: job, bind: bind, runDirectory: directory, security: security)
            } catch {
                throw CleanFailure("coordinator: \(error)")
            }
            let summary = coordinator.run()
            switch summary.status {
            case .completed: return
            case .interrupted: throw ExitCode(130)
            case .failed: throw ExitCode.failure
            }
        }
    }
}

/// An error whose text is the whole message (no type name).
struct CleanFailure: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
