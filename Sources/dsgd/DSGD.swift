import ArgumentParser
import DSGDCluster
import DSGDKernels
import Foundation

/// The `dsgd` command.
@main
struct DSGD: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dsgd",
        abstract: "Distributed stochastic gradient descent over ZeroMQ.",
        discussion: """
            `dsgd run` starts a local cluster (one coordinator, N workers) and trains; with no flags \
            it runs a 4-worker synchronous demo on synthetic data. `dsgd coordinator` and \
            `dsgd worker` run the two roles by hand, on one machine or several.
            """,
        version: Versions.dsgd,
        subcommands: [Run.self, CoordinatorCommand.self, WorkerCommand.self, DatasetCommand.self, Bench.self, Analyze.self, Compare.self, ExportCommand.self, Experiment.self, Keygen.self],
        defaultSubcommand: Run.self)

    /// Parses, runs, and turns every error into one line on stderr and a non-zero exit.
    static func main() {
        TerminationSignal.install()
        // The kernel variant (AVX-512, AVX2 or portable, from CPUID) is chosen once; a DSGD_KERNEL
        // that names an unknown variant or one this CPU cannot run is refused here, in one line.
        if case .failure(let problem) = KernelVariant.selection {
            writeLine("dsgd: error: \(problem)", to: 2)
            Foundation.exit(1)
        }
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let exit as ExitCode {
            Foundation.exit(exit.rawValue)
        } catch {
            let code = exitCode(for: error)
            if code == .success || code.rawValue == 0 {
                self.exit(withError: error)  // --help, --version
            }
            let text = message(for: error).split(separator: "\n").first.map(String.init) ?? "\(error)"
            writeLine("dsgd: error: \(text)", to: 2)
            Foundation.exit(code.rawValue == 0 ? 1 : code.rawValue)
        }
    }
}
