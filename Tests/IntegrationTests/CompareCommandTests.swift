import DSGDCluster
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import XCTest

/// `dsgd compare` on the committed fixture runs: golden tables byte for byte, the target columns
/// against values computed here from metrics.jsonl, optional summary fields, the SVG's structure,
/// and one-line errors.
final class CompareCommandTests: ClusterTestCase {
    let sync = ReportFixtures.run("sync"), async = ReportFixtures.run("async"), syncTarget = ReportFixtures.run("sync-target")

    func testMarkdownAndCSVTablesEqualTheGoldenFiles() throws {
        let md = try run(["compare", sync, async, "--target", "0.32", "--format", "markdown", "--no-plot"])
        XCTAssertEqual(md.code, 0, md.stderr)
        XCTAssertEqual(md.output, try ReportFixtures.expected("compare-target-0.32.md"))
        let csv = try run(["compare", sync, async, "--target", "0.32", "--format", "csv", "--no-plot"])
        XCTAssertEqual(csv.code, 0, csv.stderr)
        XCTAssertEqual(csv.output, try ReportFixtures.expected("compare-target-0.32.csv"))
        let text = try run(["compare", sync, async, syncTarget, "--no-plot"])
        XCTAssertEqual(text.code, 0, text.stderr)
        XCTAssertEqual(text.output, try ReportFixtures.expected("compare-own-targets.txt"))
    }

    /// Time, updates and examples to a target, for targets reached early, late, at the first
    /// point and never, against the first point of metrics.jsonl at or below the target found here.
    func testTargetColumnsEqualTheFirstMetricsPointAtOrBelowTheTarget() throws {
        let runs = [sync, async]
        let metrics = try runs.map(ReportFixtures.metrics)
        // Round targets, and targets equal to a logged loss (the boundary: "at or below").
        let exact = [metrics[0][4]["loss"]?.double, metrics[1][6]["loss"]?.double].compactMap { $0 }
        XCTAssertEqual(exact.count, 2)
        for target in [0.7, 0.5, 0.35, 0.32, 0.3, 0.295, 0.2] + exact {
            let r = try run(["compare"] + runs + ["--target", "\(target)", "--format", "json", "--no-plot"])
            XCTAssertEqual(r.code, 0, r.stderr)
            let rows = try JSON.array(Data(r.output.utf8))
            XCTAssertEqual(rows.count, 2)
            for (row, points) in zip(rows, metrics) {
                XCTAssertEqual(row["target"]?.double, target)
                let first = points.first { ($0["loss"]?.double ?? .infinity) <= target }
                if let first {
                    XCTAssertEqual(row["time_to_target"]?.double, first["time"]?.double, "target \(target)")
                    XCTAssertEqual(row["updates_to_target"]?.int, first["step"]?.int, "target \(target)")
                    XCTAssertEqual(row["examples_to_target"]?.int, first["examples"]?.int, "target \(target)")
                } else {
                    for key in ["time_to_target", "updates_to_target", "examples_to_target"] {
                        XCTAssertEqual(row[key], .null, "\(key) at unreached target \(target)")
                    }
                }
            }
        }
        // The fixtures themselves exercise each case: reached by both, by one only, by neither.
        let finals = metrics.map { $0.compactMap { $0["loss"]?.double }.min()! }
        XCTAssertTrue(finals.allSatisfy { $0 <= 0.32 } && finals.contains { $0 > 0.295 } && finals.contains { $0 <= 0.295 })
    }

    /// A run's own --target-loss: the time is its summary's time_to_target, updates and examples
    /// its first metrics point at or below the target.
    func testARunsOwnTargetUsesItsSummaryTimeToTarget() throws {
        let summary = try ReportFixtures.object(syncTarget + "/summary.json")
        let target = try XCTUnwrap(summary["target_loss"]?.double)
        let first = try XCTUnwrap(ReportFixtures.metrics(syncTarget).first { ($0["loss"]?.double ?? .infinity) <= target })
        let r = try run(["compare", syncTarget, sync, "--format", "json", "--no-plot"])
        XCTAssertEqual(r.code, 0, r.stderr)
        let rows = try JSON.array(Data(r.output.utf8))
        XCTAssertEqual(rows[0]["target"]?.double, target)
        XCTAssertEqual(rows[0]["time_to_target"]?.double, summary["time_to_target"]?.double)
        XCTAssertEqual(rows[0]["updates_to_target"]?.int, first["step"]?.int)
        XCTAssertEqual(rows[0]["examples_to_target"]?.int, first["examples"]?.int)
        XCTAssertEqual(rows[1]["target"], .null)
        XCTAssertEqual(rows[1]["time_to_target"], .null)
        XCTAssertEqual(rows[0]["updates_per_second"]?.double,
                       Double(try XCTUnwrap(summary["steps"]?.int)) / (try XCTUnwrap(summary["wall_seconds"]?.double)))
    }

    /// Fields other commands are adding to summary.json win over config.json's job when present.
    func testSummaryFieldsAddedLaterAreReadAndOverrideTheConfig() throws {
        let dir = try ReportFixtures.copy("sync", into: scratch, as: "newer")
        let url = URL(fileURLWithPath: dir + "/summary.json")
        let added = """
            {"setup_seconds": 1.25, "bytes_moved": 123456789, "model": "mlp", "dataset": "digits",
             "learning_rate": 0.05, "batch": 16, "seed": 7, "worker_minibatches": [24, 24],
            """
        let original = try String(contentsOf: url, encoding: .utf8)
        try (added + original.drop { $0 != "{" }.dropFirst()).write(to: url, atomically: true, encoding: .utf8)

        let csv = try run(["compare", dir, "--format", "csv", "--no-plot"])
        XCTAssertEqual(csv.code, 0, csv.stderr)
        let lines = csv.stdout
        let header = lines[0].split(separator: ",").map(String.init)
        let row = lines[1].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        let cell = Dictionary(uniqueKeysWithValues: zip(header, row))
        XCTAssertEqual(cell["setup_seconds"], "1.25")
        XCTAssertEqual(cell["bytes_moved"], "123456789")
        XCTAssertEqual(cell["model"], "mlp")
        XCTAssertEqual(cell["dataset"], "digits")
        XCTAssertEqual(cell["learning_rate"], "0.05")
        XCTAssertEqual(cell["batch"], "16")
        XCTAssertEqual(cell["seed"], "7")

        let text = try run(["compare", dir, "--no-plot"])
        XCTAssertEqual(text.stdout[0], "run: model mlp, data digits, lr 0.05, lr scaling none, batch 16, seed 7")
        let head = try XCTUnwrap(text.stdout.first { $0.hasPrefix("run ") })
        let values = try XCTUnwrap(text.stdout.last)
        XCTAssertTrue(head.contains("setup s") && head.contains("bytes moved"), head)
        XCTAssertTrue(values.contains("1.25") && values.hasSuffix("123 MB"), values)

        let json = try run(["compare", dir, "--format", "json", "--no-plot"])
        let rows = try JSON.array(Data(json.output.utf8))
        XCTAssertEqual(rows[0]["worker_minibatches"]?.ints, [24, 24])
    }

    /// Runs that differ in a setting get a warning line and a column for it.
    func testDifferingSettingsAreFlagged() throws {
        let dir = try ReportFixtures.copy("async", into: scratch, as: "async-lr")
        let url = URL(fileURLWithPath: dir + "/config.json")
        let text = try String(contentsOf: url, encoding: .utf8).replacingOccurrences(of: "\"learning_rate\" : 0.5", with: "\"learning_rate\" : 0.25")
        try text.write(to: url, atomically: true, encoding: .utf8)
        let r = try run(["compare", sync, dir, "--no-plot"])
        XCTAssertEqual(r.code, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains { $0.hasPrefix("warning: the runs differ in lr") }, r.output)
        let head = try XCTUnwrap(r.stdout.first { $0.hasPrefix("run ") })
        XCTAssertTrue(head.contains(" lr "), head)
        XCTAssertTrue(r.stdout.last!.contains("0.25"), r.output)
    }

    /// Runs with one base name are told apart by their parent directories.
    func testRunsSharingABaseNameGetTheirParentsInTheirNames() throws {
        try FileManager.default.createDirectory(at: scratch.appendingPathComponent("a"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: scratch.appendingPathComponent("b"), withIntermediateDirectories: true)
        let a = try ReportFixtures.copy("sync", into: scratch, as: "a/sync")
        let b = try ReportFixtures.copy("async", into: scratch, as: "b/sync")
        let r = try run(["compare", a, b, async, "--format", "csv", "--no-plot"])
        XCTAssertEqual(r.code, 0, r.stderr)
        XCTAssertEqual(r.stdout.dropFirst().map { String($0.prefix { $0 != "," }) }, ["a/sync", "b/sync", "async"])
    }

    // MARK: - The plot

    func testPlotIsWellFormedSVGWithOnePathPerRunPerPanelAndALegend() throws {
        let runs = [sync, async, syncTarget]
        let names = ["sync", "async", "sync-target"]
        let svg = path("plot.svg")
        let r = try run(["compare"] + runs + ["--plot", svg])
        XCTAssertEqual(r.code, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("wrote \(svg)"), r.stderr)

        let doc = try XMLDocument(contentsOf: URL(fileURLWithPath: svg), options: [])
        let root = try XCTUnwrap(doc.rootElement())
        XCTAssertEqual(root.name, "svg")
        let panels = root.descendants("g", class: "panel")
        XCTAssertEqual(panels.compactMap { $0.attr("data-x") }, ["time", "examples", "epochs"])
        let metrics = try runs.map(ReportFixtures.metrics)
        for panel in panels {
            let series = panel.descendants("path", class: "series")
            XCTAssertEqual(series.compactMap { $0.attr("data-run") }, names)
            for (s, points) in zip(series, metrics) {
                // One vertex per metrics point with a loss, drawn as one unbroken line.
                let d = s.attr("d") ?? ""
                XCTAssertEqual(d.filter { $0 == "M" }.count, 1)
                XCTAssertEqual(d.filter { $0 == "L" }.count, points.filter { $0["loss"]?.double != nil }.count - 1)
                // Along every x quantity the line runs left to right.
                let xs = d.split(whereSeparator: { $0 == "M" || $0 == "L" }).map { Double($0.split(separator: " ")[0])! }
                XCTAssertEqual(xs, xs.sorted())
            }
            let texts = panel.descendants("text").compactMap(\.stringValue)
            XCTAssertTrue(texts.contains(["time": "training time (s)", "examples": "examples applied", "epochs": "epochs"][panel.attr("data-x") ?? ""] ?? "?"), "\(texts)")
        }
        let legend = root.descendants("g", class: "legend").flatMap { $0.descendants("text") }.compactMap(\.stringValue)
        XCTAssertEqual(legend.count, names.count)
        for name in names { XCTAssertTrue(legend.contains { $0.hasPrefix(name + "(") || $0 == name }, "legend \(legend) lacks \(name)") }
        let labels = root.descendants("text", class: "axis-label").compactMap(\.stringValue)
        XCTAssertTrue(labels.contains("training loss (log scale)"), "\(labels)")
        XCTAssertEqual(labels.filter { $0 == "training time (s)" || $0 == "examples applied" || $0 == "epochs" }.count, 3)
    }

    /// The y axis: log ticks are powers of ten or 1-2-5 / 1..9 steps, --linear-y says so, and
    /// --optimum plots the gap.
    func testYAxisLabelsAndTicksFollowTheFlags() throws {
        func yTicks(_ svg: String) throws -> (label: String, ticks: [String]) {
            let root = try XCTUnwrap(XMLDocument(contentsOf: URL(fileURLWithPath: svg), options: []).rootElement())
            let label = root.descendants("text", class: "axis-label").first { $0.attr("transform") != nil }?.stringValue ?? ""
            let firstPanel = try XCTUnwrap(root.descendants("g", class: "panel").first)
            let ticks = firstPanel.descendants("g", class: "tick-labels").flatMap { $0.descendants("text") }
                .filter { $0.attr("text-anchor") == "end" }.compactMap(\.stringValue)
            return (label, ticks)
        }
        XCTAssertEqual(try run(["compare", sync, async, "--plot", path("log.svg")]).code, 0)
        let log = try yTicks(path("log.svg"))
        XCTAssertEqual(log.label, "training loss (log scale)")
        XCTAssertEqual(log.ticks, ["0.3", "0.4", "0.5", "0.6", "0.7"])  // losses from 0.293 to 0.693

        XCTAssertEqual(try run(["compare", sync, async, "--plot", path("linear.svg"), "--linear-y"]).code, 0)
        let linear = try yTicks(path("linear.svg"))
        XCTAssertEqual(linear.label, "training loss")
        XCTAssertEqual(linear.ticks, ["0.2", "0.3", "0.4", "0.5", "0.6", "0.7"])

        let gap = try run(["compare", sync, async, "--plot", path("gap.svg"), "--optimum", "0.29"])
        XCTAssertEqual(gap.code, 0, gap.stderr)
        let g = try yTicks(path("gap.svg"))
        XCTAssertEqual(g.label, "training loss − 0.29 (log scale)")
        XCTAssertEqual(g.ticks, ["0.005", "0.01", "0.02", "0.05", "0.1", "0.2"])  // gaps from 0.0031 to 0.403
    }

    func testPNGBesideTheSVGWhenAConverterIsInstalled() throws {
        let probe = try run(["compare", sync, "--plot", path("probe.svg"), "--format", "csv"])
        XCTAssertEqual(probe.code, 0)
        // A converter counts as working when it turns the probe plot into a PNG by itself, with
        // the arguments dsgd gives it (a `convert` on PATH need not be ImageMagick's).
        func works(_ arguments: [String], _ png: String) -> Bool {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            p.arguments = arguments
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            guard (try? p.run()) != nil else { return false }
            p.waitUntilExit()
            return p.terminationStatus == 0 && FileManager.default.contents(atPath: png)?.prefix(4) == Data([0x89, 0x50, 0x4E, 0x47])
        }
        let installed = ["rsvg-convert", "convert"].filter { tool in
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/bin/sh")
            p.arguments = ["-c", "command -v \(tool) >/dev/null"]
            try? p.run()
            p.waitUntilExit()
            return p.terminationStatus == 0
        }
        let working = installed.filter { tool in
            let png = path("probe-\(tool).png")
            return works(tool == "rsvg-convert"
                ? ["rsvg-convert", "--background-color", "white", "--output", png, path("probe.svg")]
                : ["convert", "-background", "white", "-density", "96", path("probe.svg"), png], png)
        }
        let r = try run(["compare", sync, async, "--plot", path("both.svg"), "--png"])
        guard !working.isEmpty else {
            XCTAssertNotEqual(r.code, 0)
            XCTAssertNil(FileManager.default.contents(atPath: path("both.png")))
            XCTAssertNotNil(FileManager.default.contents(atPath: path("both.svg")))
            let expected = installed.isEmpty ? "no SVG converter on PATH" : "could not convert"
            XCTAssertTrue(r.errorLines.last?.contains(expected) == true, r.stderr)
            throw XCTSkip("no working rsvg-convert or convert on PATH (installed: \(installed)): the PNG was not made (apt-get install librsvg2-bin)")
        }
        XCTAssertEqual(r.code, 0, r.stderr)
        let png = try XCTUnwrap(FileManager.default.contents(atPath: path("both.png")))
        XCTAssertEqual(Array(png.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
    }

    // MARK: - Errors

    func assertOneLineError(_ args: [String], mentions: String..., file: StaticString = #filePath, line: UInt = #line) throws {
        let r = try run(args)
        XCTAssertNotEqual(r.code, 0, "dsgd \(args.joined(separator: " ")) succeeded", file: file, line: line)
        XCTAssertEqual(r.errorLines.count, 1, r.stderr, file: file, line: line)
        for m in mentions { XCTAssertTrue(r.stderr.contains(m), "stderr \(r.stderr) lacks \(m)", file: file, line: line) }
    }

    func testErrorsAreOneLineNamingTheProblem() throws {
        try assertOneLineError(["compare"], mentions: "no runs given")
        try assertOneLineError(["compare", scratch.path, "--no-plot"], mentions: "\(scratch.path) is not a run directory")
        try assertOneLineError(["compare", sync, path("missing"), "--no-plot"], mentions: "\(path("missing")): no such run directory")

        let bad = try ReportFixtures.copy("sync", into: scratch, as: "bad")
        var lines = try String(contentsOfFile: bad + "/metrics.jsonl", encoding: .utf8).split(separator: "\n").map(String.init)
        lines[2] = String(lines[2].dropLast(10))
        try (lines.joined(separator: "\n") + "\n").write(toFile: bad + "/metrics.jsonl", atomically: true, encoding: .utf8)
        try assertOneLineError(["compare", sync, bad, "--no-plot"], mentions: "\(bad)/metrics.jsonl:3: not a JSON object")

        lines = try String(contentsOfFile: sync + "/metrics.jsonl", encoding: .utf8).split(separator: "\n").map(String.init)
        lines[4] = lines[4].replacingOccurrences(of: "\"loss\":", with: "\"lost\":")
        try (lines.joined(separator: "\n") + "\n").write(toFile: bad + "/metrics.jsonl", atomically: true, encoding: .utf8)
        try assertOneLineError(["compare", bad, "--no-plot"], mentions: "\(bad)/metrics.jsonl:5: no \"loss\"")

        try "{\"mode\": ".write(toFile: bad + "/summary.json", atomically: true, encoding: .utf8)
        try assertOneLineError(["compare", bad, "--no-plot"], mentions: "\(bad)/summary.json: not a JSON object")
        try assertOneLineError(["compare", sync, "--png", "--no-plot"], mentions: "--png")
    }
}

extension XMLElement {
    /// The value of attribute `name`. (`attribute(forName:)` finds nothing in a document with a
    /// default namespace on Linux, so this looks through `attributes`.)
    func attr(_ name: String) -> String? { attributes?.first { $0.name == name }?.stringValue }

    /// Every element below this one named `name` (and, when given, with class `cls`), in document order.
    func descendants(_ name: String, class cls: String? = nil) -> [XMLElement] {
        (children ?? []).compactMap { $0 as? XMLElement }.flatMap { child -> [XMLElement] in
            let matches = (child.localName ?? child.name) == name && (cls == nil || child.attr("class") == cls)
            return (matches ? [child] : []) + child.descendants(name, class: cls)
        }
    }
}
