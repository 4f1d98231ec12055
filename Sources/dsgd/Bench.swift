import ArgumentParser
import DSGDKernels
import Foundation

extension DSGD {
    /// `dsgd bench`: benchmarks that print machine-readable results.
    struct Bench: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Benchmarks (JSON output).",
            subcommands: [BenchRound.self, BenchAggregate.self, BenchCore.self, BenchCodec.self])
    }
}

/// `s` as a JSON string literal (for the benchmarks' hand-written JSON lines).
func jsonString(_ s: String) -> String {
    var out = "\""
    for u in s.unicodeScalars {
        switch u {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case _ where u.value < 0x20: out += String(format: "\\u%04x", u.value)
        default: out.unicodeScalars.append(u)
        }
    }
    return out + "\""
}

/// `"kernel":"…","cpu":"…"`: the kernel variant in use and the CPU, for every benchmark line.
var benchMachineFields: String { "\"kernel\":\"\(Kernels.active.name)\",\"cpu\":\(jsonString(Kernels.cpuModel))" }
