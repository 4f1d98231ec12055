import ArgumentParser
import DSGDCluster
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

        func validate() throws {
            try validateEndpoint(bind)
        }

        func run() throws {
            let job = try training.resolvedJob()
            var options = Launcher.Options(job: job, runDirectory: out ?? RunDirectory.defaultPath(mode: job.mode))
            options.bind = bind
            options.quiet = quiet
            options.overwrite = overwrite
            let code = Launcher(options: options).run()
            if code != 0 { throw ExitCode(code) }
        }
    }
}

/// The endpoint `dsgd run` and `dsgd coordinator` bind unless told otherwise: loopback, any free
/// port (the coordinator prints the one it got: `dsgd coordinator: listening on EP`).
let defaultBindEndpoint = "tcp://127.0.0.1:0"

/// Rejects endpoints libzmq would not accept for binding, with a clear message.
func validateEndpoint(_ endpoint: String) throws {
    guard endpoint.hasPrefix("tcp://") || endpoint.hasPrefix("ipc://") else {
        throw ValidationError("endpoint '\(endpoint)' must start with tcp:// or ipc://")
    }
}
