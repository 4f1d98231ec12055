import ArgumentParser
import DSGDCluster
import Foundation

extension DSGD {
    /// `dsgd export`: a run's metrics in formats other tools read.
    struct ExportCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "export",
            abstract: "Export run metrics as CSV or TensorBoard event files.",
            subcommands: [CSV.self, TensorBoard.self])

        struct CSV: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "metrics.jsonl as CSV: step, time, examples, epoch, loss, then the other keys sorted.",
                discussion: "Values are copied as written in metrics.jsonl; absent and null values are empty cells.")

            @Argument(help: "Run directory.")
            var runDirectory: String

            @Option(help: "Output CSV file, or - for standard output.")
            var out: String = "-"

            func run() throws {
                let record: RunRecord
                do { record = try RunRecord(path: runDirectory) } catch { throw CleanFailure("\(error)") }
                let csv = record.metricsCSV()
                if out == "-" {
                    guard writeAll(Array(csv.utf8), to: 1) else { throw CleanFailure("cannot write to standard output") }
                    return
                }
                do {
                    try Data(csv.utf8).write(to: URL(fileURLWithPath: out), options: .atomic)
                } catch {
                    throw CleanFailure("cannot write \(out): \(error.localizedDescription)")
                }
                writeLine("wrote \(record.metrics.count) points of \(record.name) to \(out)", to: 2)
            }
        }

        struct TensorBoard: ParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "tensorboard",
                abstract: "One TensorBoard event file per run, in OUT/<run name>/, so TensorBoard overlays the runs.",
                discussion: """
                    Scalars loss, test_loss, test_accuracy, train_accuracy, staleness_mean, staleness_max, \
                    examples and epoch (where a point has them), at step = the point's step and wall time = \
                    the run's start + its time. An earlier export of the same run in OUT is replaced. \
                    View with: tensorboard --logdir OUT
                    """)

            @Argument(help: "Run directories.")
            var runs: [String] = []

            @Option(help: "Directory for the event files (one subdirectory per run).")
            var out: String = "tensorboard"

            func validate() throws {
                if runs.isEmpty { throw ValidationError("no runs given: dsgd export tensorboard RUN_DIR... [--out DIR]") }
            }

            func run() throws {
                var records: [RunRecord] = []
                for path in runs {
                    do { records.append(try RunRecord(path: path)) } catch { throw CleanFailure("\(error)") }
                }
                let host = ProcessInfo.processInfo.hostName
                for (record, name) in zip(records, RunRecord.uniqueNames(records)) {
                    let dir = URL(fileURLWithPath: out, isDirectory: true).appendingPathComponent(name, isDirectory: true)
                    let shown = "\(out)/\(name)"
                    do {
                        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
                        for old in try FileManager.default.contentsOfDirectory(atPath: dir.path) where old.hasPrefix("events.out.tfevents.") {
                            try FileManager.default.removeItem(at: dir.appendingPathComponent(old))
                        }
                        let start = record.startTime ?? Date().timeIntervalSince1970
                        let file = TensorBoardWriter.fileName(wallTime: start, host: host)
                        try record.tensorBoardFile(start: start).write(to: dir.appendingPathComponent(file))
                        writeLine("wrote \(shown)/\(file) (\(record.metrics.count) points)", to: 1)
                    } catch {
                        throw CleanFailure("cannot write \(shown): \(error.localizedDescription)")
                    }
                }
                writeLine("view: tensorboard --logdir \(out)", to: 1)
            }
        }
    }
}
