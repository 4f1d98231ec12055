import ArgumentParser
import DSGDCluster
import Foundation

extension DSGD {
    /// `dsgd worker`: one worker, by hand.
    struct WorkerCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "worker",
            abstract: "Connect to a coordinator and compute gradients until it says stop.")

        @Option(help: "Coordinator endpoint, e.g. tcp://10.0.0.5:5555 or ipc:///tmp/dsgd.ipc.")
        var connect: String

        @Option(parsing: .unconditional, help: "This worker's id, 0 ..< workers (unique in the job).")
        var id: Int

        @Option(parsing: .unconditional, help: "Give up if no coordinator answers within this many seconds.")
        var connectTimeout: Double = 10

        @Option(parsing: .unconditional, help: "Give up if the coordinator is silent this long during training (seconds).")
        var idleTimeout: Double = 120

        @Option(help: "Also write this worker's diagnostic lines to FILE (appended; `dsgd run` gives each worker RUN_DIR/worker-ID.log).")
        var log: String?

        @Option(help: "CURVE: this worker's key file (worker-ID.key of `dsgd keygen`); needs --coordinator-key.")
        var curveKey: String?

        @Option(help: "CURVE: the coordinator's public key file (coordinator.pub of `dsgd keygen`).")
        var coordinatorKey: String?

        func validate() throws {
            guard id >= 0 else { throw ValidationError("--id must be 0 or more (got \(id))") }
            guard connectTimeout > 0 else { throw ValidationError("--connect-timeout must be positive") }
            guard idleTimeout > 0 else { throw ValidationError("--idle-timeout must be positive") }
            guard connect.hasPrefix("tcp://") || connect.hasPrefix("ipc://") else {
                throw ValidationError("--connect '\(connect)' must start with tcp:// or ipc://")
            }
            guard (curveKey == nil) == (coordinatorKey == nil) else {
                throw ValidationError("--curve-key and --coordinator-key go together (CURVE needs both)")
            }
        }

        func run() throws {
            TerminationSignal.followLauncher()
            if let log {
                do { try Log.copyDiagnostics(to: log) } catch { throw CleanFailure("worker \(id): \(error)") }
            }
            var options = Worker.Options(id: id, connect: connect, connectTimeout: connectTimeout, idleTimeout: idleTimeout)
            if let curveKey, let coordinatorKey {
                try requireCurve()
                do {
                    options.curve = (try KeyFiles.readPublicKey(coordinatorKey), try KeyFiles.readKeyPair(curveKey))
                } catch { throw CleanFailure("worker \(id): \(error)") }
            }
            let worker = try Worker(options: options)
            let code: Int32
            do {
                code = try worker.run()
            } catch {
                throw CleanFailure("worker \(id): \(error)")
            }
            if code != 0 { throw ExitCode(code) }
        }
    }
}
