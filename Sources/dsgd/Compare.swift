import ArgumentParser
import DSGDCluster
import Foundation

extension DSGD {
    /// `dsgd compare`: runs side by side, as a table and a picture.
    struct Compare: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Compare run directories: a table of their outcomes and a plot of their training loss.",
            discussion: """
                One row per run: mode, workers, updates, examples, wall and set-up seconds, final loss, \
                time / updates / examples to a target loss, updates/s, staleness (async) and bytes moved. \
                Settings every run shares (model, data, lr, batch, seed) are printed above the table; \
                ones that differ get a column. The plot (SVG, and PNG with --png) shows the training \
                loss against training time, examples and epochs, one colour per run.
                """)

        enum Format: String, ExpressibleByArgument, CaseIterable {
            case text, markdown, csv, json
        }

        @Argument(help: "Run directories (written by dsgd run or dsgd coordinator).")
        var runs: [String] = []

        @Option(help: "Target training loss: time, updates and examples until the first evaluation at or below it (default: each run's own --target-loss).")
        var target: Double?

        @Option(help: "Table format: text, markdown, csv or json.")
        var format: Format = .text

        @Option(help: "Plot file (SVG).")
        var plot: String = "compare.svg"

        @Flag(help: "Write no plot.")
        var noPlot = false

        @Flag(help: "Also write the plot as PNG beside the SVG (needs rsvg-convert or ImageMagick's convert).")
        var png = false

        @Flag(help: "Linear y axis (default: log scale).")
        var linearY = false

        @Option(help: "Plot the gap loss - X to a known optimum X instead of the loss.")
        var optimum: Double?

        func validate() throws {
            if runs.isEmpty { throw ValidationError("no runs given: dsgd compare RUN_DIR...") }
            if let t = target, !t.isFinite { throw ValidationError("--target must be a finite number") }
            if let o = optimum, !o.isFinite { throw ValidationError("--optimum must be a finite number") }
            if png && noPlot { throw ValidationError("--png needs the plot: drop --no-plot") }
        }

        func run() throws {
            var records: [RunRecord] = []
            for path in runs {
                do { records.append(try RunRecord(path: path)) } catch { throw CleanFailure("\(error)") }
            }
            for (i, name) in RunRecord.uniqueNames(records).enumerated() { records[i].name = name }
            let table = CompareTable(runs: records, target: target)
            let rendered: String
            switch format {
            case .text: rendered = table.text()
            case .markdown: rendered = table.markdown()
            case .csv: rendered = table.csv()
            case .json: rendered = table.json()
            }
            guard writeAll(Array(rendered.utf8), to: 1) else { throw CleanFailure("cannot write to standard output") }
            if noPlot { return }

            let lossPlot = LossPlot(runs: records, names: records.map(\.name), optimum: optimum, logY: !linearY,
                                    subtitle: table.sharedSettings)
            do {
                try Data(lossPlot.svg().utf8).write(to: URL(fileURLWithPath: plot), options: .atomic)
            } catch {
                throw CleanFailure("cannot write the plot \(plot): \(error.localizedDescription)")
            }
            writeLine("dsgd compare: wrote \(plot)", to: 2)
            if lossPlot.droppedPoints > 0 {
                let why = optimum != nil && !linearY ? "no loss, or a gap at or below 0 on the log scale" : "no loss"
                writeLine("dsgd compare: left \(lossPlot.droppedPoints) points out of the plot (\(why))", to: 2)
            }
            if png {
                let pngPath = (plot.hasSuffix(".svg") ? String(plot.dropLast(4)) : plot) + ".png"
                try SVGConverter.convert(svg: plot, png: pngPath)
                writeLine("dsgd compare: wrote \(pngPath)", to: 2)
            }
        }
    }
}
