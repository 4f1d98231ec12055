import ArgumentParser
import DSGDCluster
import Foundation
import ZeroMQ

extension DSGD {
    /// `dsgd worker`: one worker, by hand.
    struct WorkerCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "worker",
            abstract: "Connect to a coordinator and compute gradients until it says stop.")

        @Option(help: "Coordinator endpoint, e.g. tcp://10.0.0.5:5555 or ipc:///tmp/dsgd.ipc (default: from the environment: DSGD_COORDINATOR, or the first host of SLURM_JOB_NODELIST; see README, \"Rendezvous from the environment\").")
        var connect: String?

        @Option(parsing: .unconditional, help: "This worker's id, 0 ..< workers (unique in the job) (default: from the environment: DSGD_RANK, DSGD_WORKER_ID, JOB_COMPLETION_INDEX, or SLURM_PROCID - 1; without any, the coordinator assigns the lowest free id).")
        var id: Int?

        @Option(parsing: .unconditional, help: "Give up if no coordinator answers within this many seconds; until then an address whose name does not resolve yet is retried (default 10, or DSGD_CONNECT_TIMEOUT).")
        var connectTimeout: Double?

        @Option(parsing: .unconditional, help: "Give up if the coordinator is silent this long during training (seconds).")
        var idleTimeout: Double = 120

        @Option(help: "Also write this worker's diagnostic lines to FILE (appended; `dsgd run` gives each worker RUN_DIR/worker-ID.log).")
        var log: String?

        @Option(help: "CURVE: this worker's key file (worker-ID.key of `dsgd keygen`); needs --coordinator-key.")
        var curveKey: String?

        @Option(help: "CURVE: the coordinator's public key file (coordinator.pub of `dsgd keygen`).")
        var coordinatorKey: String?

        /// Where the worker connects, its id and its connect timeout: flags first, then the
        /// environment (`ClusterEnvironment`).
        func rendezvous() throws -> (connect: String, id: Int, connectTimeout: Double) {
            let env: ClusterEnvironment
            do { env = try ClusterEnvironment.resolve(ProcessInfo.processInfo.environment) } catch {
                throw ValidationError("\(error)")
            }
            guard let endpoint = connect ?? env.coordinator else {
                throw ValidationError("no coordinator address: give --connect tcp://HOST:PORT, or set DSGD_COORDINATOR (under Slurm the first host of SLURM_JOB_NODELIST is used)")
            }
            // Without one, the coordinator assigns the lowest free id.
            let rank = id ?? env.rank ?? Worker.Options.assigned
            var timeout = connectTimeout ?? 10
            if connectTimeout == nil, let t = ProcessInfo.processInfo.environment["DSGD_CONNECT_TIMEOUT"] {
                guard let v = Double(t), v > 0 else { throw ValidationError("DSGD_CONNECT_TIMEOUT=\(t) is not a positive number of seconds") }
                timeout = v
            }
            return (endpoint, rank, timeout)
        }

        func validate() throws {
            let (connect, id, connectTimeout) = try rendezvous()
            guard id >= 0 || (id == Worker.Options.assigned && self.id == nil) else { throw ValidationError("--id must be 0 or more (got \(id))") }
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
            let (connect, id, connectTimeout) = try rendezvous()
            if let log {
                do { try Log.copyDiagnostics(to: log) } catch { throw CleanFailure("worker \(id): \(error)") }
            }
            if self.connect == nil || self.id == nil {
                writeLine("dsgd worker \(id): coordinator \(connect), worker id \(id) (from the environment)", to: 2)
            }
            // Pods and tasks start in any order: wait for the coordinator's name to resolve.
            let deadline = Date().addingTimeInterval(connectTimeout)
            if let host = Self.tcpHost(connect) {
                var pause = 0.1
                var said = false
                while !Self.resolves(host) {
                    if TerminationSignal.received != nil { throw ExitCode(130) }
                    guard Date().addingTimeInterval(pause) < deadline else {
                        throw CleanFailure("worker \(id): the coordinator's host name \(host) did not resolve within \(connectTimeout) s")
                    }
                    if !said { writeLine("dsgd worker \(id): waiting for \(host) to resolve", to: 2); said = true }
                    Thread.sleep(forTimeInterval: pause)
                    pause = min(pause * 2, 2)
                }
            }
            var options = Worker.Options(id: id, connect: connect, connectTimeout: max(0.1, deadline.timeIntervalSinceNow), idleTimeout: idleTimeout)
            if let curveKey, let coordinatorKey {
                try requireCurve()
                do {
                    options.curve = (try KeyFiles.readPublicKey(coordinatorKey), try KeyFiles.readKeyPair(curveKey))
                } catch { throw CleanFailure("worker \(id): \(error)") }
            }
            var code: Int32 = 0
            var pause = 0.1
            while true {
                let worker = try Worker(options: options)
                do {
                    code = try worker.run()
                    break
                } catch let error as ZMQError where "\(error)".hasPrefix("connect ") && Date() < deadline {
                    // A connect that throws (a libzmq that resolves names at connect time): retry.
                    writeLine("dsgd worker \(id): \(error); retrying", to: 2)
                    Thread.sleep(forTimeInterval: pause)
                    pause = min(pause * 2, 2)
                    options.connectTimeout = max(0.1, deadline.timeIntervalSinceNow)
                } catch {
                    throw CleanFailure("worker \(id): \(error)")
                }
            }
            if code != 0 { throw ExitCode(code) }
        }

        /// The host of a tcp:// endpoint (brackets of an IPv6 address removed), or nil.
        static func tcpHost(_ endpoint: String) -> String? {
            guard endpoint.hasPrefix("tcp://") else { return nil }
            var rest = String(endpoint.dropFirst("tcp://".count))
            if let semicolon = rest.firstIndex(of: ";") { rest = String(rest[rest.index(after: semicolon)...]) }  // source;dest
            guard let colon = rest.lastIndex(of: ":") else { return nil }
            let host = String(rest[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
            return host.isEmpty || host == "*" ? nil : host
        }

        /// Whether `host` resolves (getaddrinfo).
        static func resolves(_ host: String) -> Bool {
            var hints = addrinfo()
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
            var result: UnsafeMutablePointer<addrinfo>?
            let rc = getaddrinfo(host, nil, &hints, &result)
            if let result { freeaddrinfo(result) }
            return rc == 0
        }
    }
}
