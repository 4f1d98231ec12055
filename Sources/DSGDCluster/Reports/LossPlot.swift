import Foundation

/// The picture of `dsgd compare`: the training loss of several runs against training time (the
/// training clock of metrics.jsonl: evaluation pauses excluded), examples
/// and epochs, three panels side by side, one colour per run, written as a standalone SVG by hand.
///
/// The SVG has one `<g class="panel">` per x quantity, each with one `<path class="series">` per
/// run (in run order; `d` is empty when the run has no point to show), and one
/// `<g class="legend">` with a `<text>` per run.
public struct LossPlot: SVGWriting {
    /// What a panel's x axis measures.
    public enum XQuantity: String, CaseIterable, Sendable {
        case time, examples, epochs

        /// The axis label.
        public var label: String {
            switch self {
            case .time: return "training time (s)"
            case .examples: return "examples applied"
            case .epochs: return "epochs"
            }
        }

        /// The panel's title.
        public var title: String {
            switch self {
            case .time: return "against training time"
            case .examples: return "against examples"
            case .epochs: return "against epochs"
            }
        }
    }

    /// One run's curve: (time, examples, epoch, y) per evaluation point; nil y breaks the line.
    public struct Series: Sendable {
        public var name: String
        /// Shown after the name in the legend, in grey (e.g. "async, 4 workers").
        public var detail: String
        public var points: [(time: Double, examples: Double, epoch: Double, y: Double?)]
    }

    public var title: String
    public var subtitle: String
    public var yLabel: String
    public var logY: Bool
    public var series: [Series]
    /// Points left out because their value cannot be drawn (a null loss, or on a log axis a gap
    /// at or below zero).
    public private(set) var droppedPoints = 0

    /// Colours that stay distinct for most readers (Tableau 10), cycled past ten runs.
    public static let palette = ["#4e79a7", "#f28e2b", "#e15759", "#59a14f", "#b07aa1",
                                 "#76b7b2", "#edc948", "#ff9da7", "#9c755f", "#bab0ac"]

    /// The loss of `runs` (named `names`), or with `optimum` the gap loss − optimum.
    public init(runs: [RunRecord], names: [String], optimum: Double?, logY: Bool, subtitle: String = "") {
        self.logY = logY
        self.subtitle = subtitle
        title = "Training loss: " + (names.count <= 4 ? names.joined(separator: " vs ") : "\(names.count) runs")
        var y = "training loss"
        if let optimum { y += " − \(CompareTable.shortest(optimum))" }
        yLabel = y + (logY ? " (log scale)" : "")
        series = []
        for (run, name) in zip(runs, names) {
            var points: [(Double, Double, Double, Double?)] = []
            for m in run.metrics {
                var v = m.loss.map { $0 - (optimum ?? 0) }
                if let x = v, logY && x <= 0 { v = nil }
                if v == nil { droppedPoints += 1 }
                points.append((m.time, Double(m.examples), m.epoch, v))
            }
            let detail = [run.mode, run.workers.map { "\($0) worker\($0 == 1 ? "" : "s")" }].compactMap { $0 }.joined(separator: ", ")
            series.append(Series(name: name, detail: detail, points: points))
        }
    }

    // MARK: - Layout (pixels)

    static let width = 1320.0, margin = 16.0
    static let insetLeft = 70.0, insetRight = 20.0, plotHeight = 300.0
    static let tickFont = 13.0, labelFont = 14.0, titleFont = 20.0
    static let font = "DejaVu Sans, Helvetica, Arial, sans-serif"

    /// Estimated width of `text` at `size` (DejaVu Sans averages about 0.6 em a character).
    static func textWidth(_ text: String, size: Double) -> Double { Double(text.count) * size * 0.62 }

    /// The SVG document.
    public func svg() -> String {
        var body: [String] = []
        let w = Self.width
        body.append(text(title, x: w / 2, y: 34, size: Self.titleFont, anchor: "middle", extra: "font-weight=\"600\""))
        var top = 46.0
        if !subtitle.isEmpty {
            body.append(text(subtitle, x: w / 2, y: 62, size: Self.labelFont, anchor: "middle", extra: "fill=\"#555\""))
            top = 70
        }
        let (legend, legendBottom) = self.legend(top: top + 10)
        body.append(legend)

        let panelWidth = (w - 2 * Self.margin) / Double(XQuantity.allCases.count)
        let plotTop = legendBottom + 44
        let values = series.flatMap { $0.points.compactMap(\.y) }
        let yAxis = PlotAxis(covering: values, scale: logY ? .log : .linear, targetTicks: 6)
        for (i, q) in XQuantity.allCases.enumerated() {
            let left = Self.margin + Double(i) * panelWidth
            body.append(panel(q, left: left, width: panelWidth, top: plotTop, yAxis: yAxis, yTitle: i == 0))
        }
        let height = plotTop + Self.plotHeight + 62
        return svgDocument(width: w, height: height, body: body)
    }

    /// The legend, centred, wrapped into rows; returns its SVG and its bottom edge.
    func legend(top: Double) -> (String, Double) {
        let size = Self.labelFont, swatch = 26.0, gap = 8.0, spacing = 28.0
        let items = series.enumerated().map { i, s -> (width: Double, index: Int) in
            let label = s.name + (s.detail.isEmpty ? "" : "  (\(s.detail))")
            return (swatch + gap + Self.textWidth(label, size: size), i)
        }
        var rows: [[(width: Double, index: Int)]] = [[]]
        let available = Self.width - 2 * Self.margin
        for item in items {
            let used = rows[rows.count - 1].reduce(0) { $0 + $1.width + spacing }
            if !rows[rows.count - 1].isEmpty && used + item.width > available { rows.append([]) }
            rows[rows.count - 1].append(item)
        }
        var out = ["<g class=\"legend\" font-size=\"\(Int(size))\">"]
        for (r, row) in rows.enumerated() {
            let total = row.reduce(0) { $0 + $1.width } + spacing * Double(max(row.count - 1, 0))
            var x = (Self.width - total) / 2
            let y = top + 10 + Double(r) * 24
            for item in row {
                let s = series[item.index]
                let colour = Self.palette[item.index % Self.palette.count]
                out.append("<g class=\"legend-item\">")
                out.append("<line x1=\"\(f(x))\" y1=\"\(f(y))\" x2=\"\(f(x + swatch))\" y2=\"\(f(y))\" stroke=\"\(colour)\" stroke-width=\"3\" stroke-linecap=\"round\"/>")
                let detail = s.detail.isEmpty ? "" : "<tspan dx=\"8\" fill=\"#666\">(\(escape(s.detail)))</tspan>"
                out.append("<text x=\"\(f(x + swatch + gap))\" y=\"\(f(y + size * 0.35))\">\(escape(s.name))\(detail)</text>")
                out.append("</g>")
                x += item.width + spacing
            }
        }
        out.append("</g>")
        return (out.joined(separator: "\n"), top + Double(rows.count) * 24)
    }

    /// One panel: frame, grid, ticks, labels, one path (and markers) per run.
    func panel(_ q: XQuantity, left: Double, width: Double, top: Double, yAxis: PlotAxis, yTitle: Bool) -> String {
        let x0 = left + Self.insetLeft, x1 = left + width - Self.insetRight
        let y0 = top, y1 = top + Self.plotHeight
        let xs = series.flatMap { s in s.points.filter { $0.y != nil }.map { xValue($0, q) } }
        let xAxis = PlotAxis(covering: xs, scale: .linear, targetTicks: 5, fromZero: true, siSuffixes: q == .examples)
        func px(_ v: Double) -> Double { x0 + (xAxis.fraction(v) ?? 0) * (x1 - x0) }
        func py(_ v: Double) -> Double? { yAxis.fraction(v).map { y1 - $0 * (y1 - y0) } }

        var out = ["<g class=\"panel\" data-x=\"\(q.rawValue)\">"]
        let clip = "clip-\(q.rawValue)"
        out.append("<clipPath id=\"\(clip)\"><rect x=\"\(f(x0 - 4))\" y=\"\(f(y0 - 4))\" width=\"\(f(x1 - x0 + 8))\" height=\"\(f(y1 - y0 + 8))\"/></clipPath>")
        out.append(text(q.title, x: (x0 + x1) / 2, y: y0 - 14, size: 15, anchor: "middle", extra: "font-weight=\"600\""))
        // Grid and ticks.
        var grid: [String] = []
        for t in yAxis.ticks { if let y = py(t) { grid.append("M\(f(x0)) \(f(y))H\(f(x1))") } }
        for t in xAxis.ticks { grid.append("M\(f(px(t))) \(f(y0))V\(f(y1))") }
        out.append("<path class=\"grid\" d=\"\(grid.joined())\" stroke=\"#e6e6e6\" stroke-width=\"1\" fill=\"none\"/>")
        out.append("<rect class=\"frame\" x=\"\(f(x0))\" y=\"\(f(y0))\" width=\"\(f(x1 - x0))\" height=\"\(f(y1 - y0))\" fill=\"none\" stroke=\"#888\" stroke-width=\"1\"/>")
        var marks: [String] = []
        for t in yAxis.ticks { if let y = py(t) { marks.append("M\(f(x0 - 5)) \(f(y))H\(f(x0))") } }
        for t in xAxis.ticks { marks.append("M\(f(px(t))) \(f(y1))V\(f(y1 + 5))") }
        out.append("<path class=\"ticks\" d=\"\(marks.joined())\" stroke=\"#888\" stroke-width=\"1\"/>")
        out.append("<g class=\"tick-labels\" font-size=\"\(Int(Self.tickFont))\" fill=\"#333\">")
        for t in yAxis.labelled(length: y1 - y0, room: { _ in Self.tickFont + 4 }) {
            if let y = py(t) { out.append(text(yAxis.label(t), x: x0 - 9, y: y + Self.tickFont * 0.35, size: nil, anchor: "end")) }
        }
        for t in xAxis.labelled(length: x1 - x0, room: { Self.textWidth($0, size: Self.tickFont) + 14 }) {
            out.append(text(xAxis.label(t), x: px(t), y: y1 + 21, size: nil, anchor: "middle"))
        }
        out.append("</g>")
        out.append(text(q.label, x: (x0 + x1) / 2, y: y1 + 46, size: Self.labelFont, anchor: "middle", extra: "class=\"axis-label\""))
        if yTitle {
            let cx = left + 16, cy = (y0 + y1) / 2
            out.append(text(yLabel, x: cx, y: cy, size: Self.labelFont, anchor: "middle",
                            extra: "class=\"axis-label\" transform=\"rotate(-90 \(f(cx)) \(f(cy)))\""))
        }
        // The curves, drawn in run order (later runs on top).
        for (i, s) in series.enumerated() {
            let colour = Self.palette[i % Self.palette.count]
            var d = "", pen = false
            var dots: [String] = []
            for p in s.points {
                guard let v = p.y, let y = py(v) else { pen = false; continue }
                let x = px(xValue(p, q))
                d += "\(pen ? "L" : "M")\(f(x)) \(f(y))"
                pen = true
                dots.append("<circle cx=\"\(f(x))\" cy=\"\(f(y))\" r=\"3\"/>")
            }
            out.append("<path class=\"series\" data-run=\"\(escape(s.name))\" d=\"\(d)\" fill=\"none\" stroke=\"\(colour)\" stroke-width=\"2.2\" stroke-linejoin=\"round\" stroke-linecap=\"round\" clip-path=\"url(#\(clip))\"/>")
            if !dots.isEmpty && dots.count <= 60 {
                out.append("<g class=\"markers\" fill=\"\(colour)\" clip-path=\"url(#\(clip))\">\(dots.joined())</g>")
            }
        }
        out.append("</g>")
        return out.joined(separator: "\n")
    }

    func xValue(_ p: (time: Double, examples: Double, epoch: Double, y: Double?), _ q: XQuantity) -> Double {
        switch q {
        case .time: return p.time
        case .examples: return p.examples
        case .epochs: return p.epoch
        }
    }

}
