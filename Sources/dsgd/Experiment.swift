import ArgumentParser

extension DSGD {
    /// `dsgd experiment`: scripted experiments that launch many local clusters and write a report
    /// directory (report.md with the table and the command, results.csv, results.json, one SVG
    /// plot, and the run directories under runs/).
    struct Experiment: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Scripted experiments: many local clusters, one report directory.",
            discussion: """
                Each experiment prints its table (Markdown) on standard output and progress lines on \
                standard error, and writes report.md, results.csv, results.json, an SVG plot and the \
                run directories (runs/) to --out (default experiments/<name>-<UTC time>). --quick is \
                the short form CI runs.
                """,
            subcommands: [ExperimentStaleness.self, ExperimentRedundancy.self, ExperimentNoiseScale.self, ExperimentSyncVsAsync.self, ExperimentScaling.self, ExperimentCompression.self])
    }
}
