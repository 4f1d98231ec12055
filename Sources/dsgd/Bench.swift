import ArgumentParser

extension DSGD {
    /// `dsgd bench`: benchmarks that print machine-readable results.
    struct Bench: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Benchmarks (JSON output).",
            subcommands: [BenchRound.self, BenchAggregate.self, BenchCore.self, BenchCodec.self])
    }
}
