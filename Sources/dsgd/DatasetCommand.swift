import ArgumentParser
import DSGDCluster
import DSGDCore
import Foundation

extension DSGD {
    /// `dsgd dataset`: the data sets dsgd knows.
    struct DatasetCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "dataset",
            abstract: "List and export data sets.",
            subcommands: [List.self, Export.self, Info.self])

        struct List: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "The built-in data sets: name, shape (examples x features) and task.",
                discussion: "A * marks a default that --examples / --features change (8192 x 32).")

            @OptionGroup var data: DataOptions

            func run() {
                var rows = [("name", "examples", "features", "task")]
                for name in DatasetSpec.names {
                    let s = data.spec(name: name, seed: 1)
                    let fixedRows = s.isEmbedded
                    let fixedColumns = fixedRows || name == "lecun-2d"
                    rows.append((name, "\(s.totalExamples)\(fixedRows ? "" : "*")", "\(s.dimension)\(fixedColumns ? "" : "*")", s.task))
                }
                let w0 = rows.map(\.0.count).max()!, w1 = rows.map(\.1.count).max()!, w2 = rows.map(\.2.count).max()!
                for r in rows {
                    writeLine(r.0.padding(toLength: w0 + 2, withPad: " ", startingAt: 0)
                        + String(repeating: " ", count: w1 - r.1.count) + r.1 + "  "
                        + String(repeating: " ", count: w2 - r.2.count) + r.2 + "  " + r.3, to: 1)
                }
            }
        }

        struct Export: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Write a data set as CSV (a header x0..x{d-1},label, one row per example).",
                discussion: "Any data set `dsgd run` can train on, with the same flags (--data, --examples, --features, --condition, --classes, --replicate, --seed), or a data file (CSV, LIBSVM, IDX; --format, --label-column, --labels): a file's label column is written last, named label.")

            @Argument(help: "Data set name or data file (the same as --data).")
            var name: String?

            @OptionGroup var data: DataOptions

            @Option(help: "Output CSV file, or - for standard output.")
            var out: String

            @Option(parsing: .unconditional, help: "Seed of a synthetic data set.")
            var seed: UInt64 = 1

            func validate() throws {
                switch (name, data.data) {
                case (nil, nil): throw ValidationError("name a data set: dsgd dataset export NAME --out FILE.csv (or --data NAME)")
                case (let a?, let b?) where a != b: throw ValidationError("two data sets named: '\(a)' and --data '\(b)'")
                default: break
                }
            }

            func run() throws {
                let which = name ?? data.data!
                let set = try data.load(name: which, seed: seed, allowFiles: true)
                if out == "-" {
                    guard writeAll(try CSVWriter.encode(set, naming: "<stdout>"), to: 1) else {
                        throw CleanFailure("cannot write to standard output")
                    }
                    return
                }
                try CSVWriter.write(set, to: out)
                writeLine("wrote \(set.examples) examples x \(set.dimension) features to \(out)", to: 1)
            }
        }

        struct Info: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Read a data file as the coordinator and a worker do, and report its shape, SHA-256, load time and memory.",
                discussion: "The scan is the coordinator's check (every line, the hash); the load is a worker's (the hash compared, then the parse into float32). Peak RSS is this process's; float32 bytes are (features + 1) x examples x 4.")

            @Argument(help: "The data file (CSV, LIBSVM, IDX).")
            var file: String

            @OptionGroup var data: DataOptions

            @Flag(help: "Print one JSON object.")
            var json = false

            func run() throws {
                try data.validateFileFlags(file)
                guard data.isFile(file) else { throw ValidationError("\(file) is not a data file") }
                let bytes = (try? FileManager.default.attributesOfItem(atPath: file)[.size] as? Int) ?? 0
                let t0 = Date()
                let spec = try data.resolveFile(file)
                let t1 = Date()
                let loaded: Dataset
                do { loaded = try DataFile.load(spec) } catch { throw CleanFailure("\(error)") }
                let t2 = Date()
                var usage = rusage()
                let rss = getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage) == 0 ? Int(usage.ru_maxrss) * 1024 : 0
                let scan = t1.timeIntervalSince(t0), load = t2.timeIntervalSince(t1)
                let floatBytes = (loaded.dimension + 1) * loaded.examples * 4
                let mb = Double(bytes) / 1e6
                let object: [String: Any] = [
                    "file": file, "format": spec.format!.rawValue, "bytes": bytes, "examples": loaded.examples,
                    "features": loaded.dimension, "classes": spec.classes, "sha256": spec.sha256 ?? "",
                    "scan_seconds": scan, "load_seconds": load,
                    "scan_mb_per_s": mb / max(scan, 1e-9), "load_mb_per_s": mb / max(load, 1e-9),
                    "float32_bytes": floatBytes, "peak_rss_bytes": rss,
                ]
                if json {
                    let out = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
                    writeLine(String(decoding: out, as: UTF8.self), to: 1)
                    return
                }
                writeLine("\(file): \(spec.format!.rawValue), \(loaded.examples) examples x \(loaded.dimension) features, \(spec.task)", to: 1)
                writeLine("sha256 \(spec.sha256 ?? "")", to: 1)
                writeLine(String(format: "scan (the coordinator's check) %.3f s, %.1f MB/s; load (a worker's: hash, then parse) %.3f s, %.1f MB/s", scan, mb / max(scan, 1e-9), load, mb / max(load, 1e-9)), to: 1)
                writeLine(String(format: "float32 data %.1f MB, peak RSS %.1f MB", Double(floatBytes) / 1e6, Double(rss) / 1e6), to: 1)
            }
        }
    }
}
