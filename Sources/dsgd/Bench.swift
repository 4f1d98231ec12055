import ArgumentParser
import DSGDCluster
import DSGDKernels

extension DSGD {
    /// `dsgd bench`: benchmarks that print machine-readable results.
    struct Bench: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Benchmarks (JSON output).",
            subcommands: [BenchRound.self, BenchAggregate.self, BenchCore.self, BenchCodec.self])
    }
}

/// `"kernel":"…","cpu":"…"`: the kernel variant in use and the CPU, for every benchmark line.
var benchMachineFields: String { "\"kernel\":\"\(Kernels.active.name)\",\"cpu\":\(CompareTable.jsonQuoted(Kernels.cpuModel))" }
