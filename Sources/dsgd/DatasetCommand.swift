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
            static let configuration = CommandConfiguration(abstract: "Print the names of the built-in data sets.")
            func run() {
                for name in DatasetSpec.names { writeLine(name, to: 1) }
            }
        }

        struct Export: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Write a data set as CSV (a header x0..x{d-1},label, one row per example).")

            @Argument(help: "Data set name (see `dsgd dataset list`).")
            var name: String

            @Option(help: "Output CSV file.")
            var out: String

            @Option(parsing: .unconditional, help: "Examples of a synthetic data set.")
            var examples: Int = 8192

            @Option(parsing: .unconditional, help: "Features of a synthetic data set.")
            var features: Int = 32

            @Option(parsing: .unconditional, help: "Seed of a synthetic data set.")
            var seed: UInt64 = 1

            func run() throws {
                let data = try DatasetSpec(name: name, examples: examples, features: features, seed: seed).materialize()
                try CSVWriter.write(data, to: out)
                writeLine("wrote \(data.examples) examples x \(data.dimension) features to \(out)", to: 1)
            }
        }
    }
}
