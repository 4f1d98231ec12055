import ArgumentParser
import DSGDCluster
import DSGDCore

extension DSGD {
    /// `dsgd dataset`: the data sets dsgd knows.
    struct DatasetCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "dataset",
            abstract: "List and export data sets.",
            subcommands: [List.self, Export.self])

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
                discussion: "Any data set `dsgd run` can train on, with the same flags (--data, --examples, --features, --condition, --classes, --replicate, --seed).")

            @Argument(help: "Data set name (the same as --data).")
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
                let set = try data.load(name: which, seed: seed, allowFiles: false)
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
    }
}
