import ArgumentParser
import DSGDCluster
import DSGDCore
import Foundation

extension DSGD {
    /// `dsgd run`: a local cluster in one command.
    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Start a coordinator and N workers on this machine and train.",
            discussion: """
                Progress lines (step, epoch, training loss, examples/s) stream while training. \
                Ctrl-C stops every process and records status "interrupted". The run directory \
                holds config.json, metrics.jsonl, summary.json and params.json.
                """)

        @OptionGroup var training: TrainingOptions

        @Option(help: "Run directory (default: runs/<UTC time>-<mode>-<pid>).")
        var out: String?

        @Option(help: "Coordinator endpoint: tcp://HOST:PORT (PORT 0: any free port) or ipc:///path.")
        var bind: String = defaultBindEndpoint

        @Flag(help: "Do not print progress lines.")
        var quiet = false

        @Flag(help: "Replace a run already in --out (without it, a directory holding a run is refused).")
        var overwrite = false

        @Flag(help: "Allow --bind on an address other than loopback: dsgd's transport is neither authenticated nor encrypted.")
        var insecure = false

        @Option(help: "Continue the run in RUN_DIR from its newest valid checkpoint, with new workers (the job is RUN_DIR/config.json's; give no training flags).")
        var resume: String?

        @Option(help: "Seconds the coordinator has to exit once told to stop (a worker failed, or an interrupt) before it is killed.")
        var stopGrace: Double = 20

        @Option(help: "Run the job in FILE: a run directory's config.json, or its \"job\" object alone (the same schema), so any run can be replayed exactly. Training flags beside it are refused (edit the file instead); --out, --overwrite, --bind, --insecure, --quiet and --stop-grace apply.")
        var config: String?

        func validate() throws {
            try validateEndpoint(bind, insecure: insecure)
            guard stopGrace > 0, stopGrace.isFinite else { throw ValidationError("--stop-grace must be a positive number of seconds (got \(stopGrace))") }
            if let config {
                if resume != nil { throw ValidationError("--config FILE starts a new run and --resume RUN_DIR continues one: give one of them") }
                if training.job != TrainingOptions.defaults.job {
                    throw ValidationError("--config \(config) is the whole job: give no training flags with it (edit the file to change the job)")
                }
                _ = try Self.readJob(config)
            }
            if resume != nil {
                if out != nil || overwrite { throw ValidationError("--resume RUN_DIR continues that run in place: give no --out or --overwrite with it") }
                if training.job != TrainingOptions.defaults.job {
                    throw ValidationError("--resume RUN_DIR continues the job of RUN_DIR/config.json: give no training flags with it")
                }
            }
        }

        func run() throws {
            warnIfExposed(bind)
            let job: JobConfig
            if let config {
                job = try TrainingOptions.resolvingAutoLearningRate(try Self.readJob(config))
            } else {
                job = resume == nil ? try training.resolvedJob() : training.job
            }
            var options = Launcher.Options(job: job, runDirectory: resume ?? out ?? RunDirectory.defaultPath(mode: job.mode))
            options.bind = bind
            options.quiet = quiet
            options.overwrite = overwrite
            options.resume = resume != nil
            options.stopGrace = stopGrace
            let code = Launcher(options: options).run()
            if code != 0 { throw ExitCode(code) }
        }

        /// The job of `path`: a config.json (its "job"), or a job object alone; checked as the
        /// flags' job is (`JobConfig.problems()`). Errors are one line naming the file.
        static func readJob(_ path: String) throws -> JobConfig {
            let data: Data
            do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
                throw ValidationError("--config \(path): cannot read: \((error as NSError).localizedDescription)")
            }
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
            guard let object else { throw ValidationError("--config \(path): not a JSON object") }
            let job: JobConfig
            do {
                if object["job"] != nil {
                    job = try JSONCoding.decoder().decode(ConfigFile.self, from: data).job
                } else {
                    job = try JobConfig.fromJSON(data)
                }
            } catch let DecodingError.keyNotFound(key, context) {
                throw ValidationError("--config \(path): missing key \((context.codingPath + [key]).map(\.stringValue).map(snake).joined(separator: "."))")
            } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context), let DecodingError.dataCorrupted(context) {
                throw ValidationError("--config \(path): \(context.codingPath.map(\.stringValue).map(snake).joined(separator: ".")): \(context.debugDescription)")
            } catch {
                throw ValidationError("--config \(path): \(error)")
            }
            var checked = job
            if job.dataset.isFile {  // read and check the data file now, as for --data FILE
                let resolved: DatasetSpec
                do { resolved = try job.dataset.resolvingFile() } catch { throw ValidationError("\(error)") }
                if let named = job.dataset.sha256, named != resolved.sha256 {
                    throw ValidationError("--config \(path): data file \(job.dataset.name) is not the job's: its SHA-256 is \(resolved.sha256 ?? ""), the job's is \(named)")
                }
                checked.dataset = resolved
            }
            if let problem = checked.problems().first { throw ValidationError("--config \(path): \(problem)") }
            return checked
        }

        private static func snake(_ key: String) -> String {
            key.reduce(into: "") { s, c in if c.isUppercase { s += "_" + c.lowercased() } else { s.append(c) } }
        }
    }
}

/// The endpoint `dsgd run` and `dsgd coordinator` bind unless told otherwise: loopback, any free
/// port (the coordinator prints the one it got: `dsgd coordinator: listening on EP`).
let defaultBindEndpoint = "tcp://127.0.0.1:0"

/// Rejects endpoints libzmq would not accept for binding, with a clear message, and a TCP
/// address beyond loopback unless `insecure`: the transport has no authentication or encryption,
/// so anyone who reaches such a port could register as a worker.
func validateEndpoint(_ endpoint: String, insecure: Bool) throws {
    guard endpoint.hasPrefix("tcp://") || endpoint.hasPrefix("ipc://") else {
        throw ValidationError("endpoint '\(endpoint)' must start with tcp:// or ipc://")
    }
    if !insecure, !isLocalEndpoint(endpoint) {
        throw ValidationError("--bind \(endpoint) listens beyond this machine, and dsgd's transport is neither authenticated nor encrypted: anyone who reaches the port can register as a worker. Bind 127.0.0.1 (or an ipc:// path), or pass --insecure on a network you trust")
    }
}

/// Whether `endpoint` is reachable from this machine only: an ipc:// path, or TCP on a loopback
/// address (127.0.0.0/8, ::1; `localhost`, which libzmq does not bind, counts too).
func isLocalEndpoint(_ endpoint: String) -> Bool {
    guard endpoint.hasPrefix("tcp://") else { return true }
    var host = String(endpoint.dropFirst("tcp://".count))
    if let colon = host.lastIndex(of: ":") { host = String(host[..<colon]) }
    host = host.trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
    return host.hasPrefix("127.") || host == "::1" || host == "localhost"
}

/// One warning line on standard error when `endpoint` listens beyond this machine (`--insecure`).
func warnIfExposed(_ endpoint: String) {
    if !isLocalEndpoint(endpoint) {
        writeLine("dsgd: warning: \(endpoint) is reachable from other machines without authentication or encryption (--insecure): anyone who reaches it can register as a worker", to: 2)
    }
}
