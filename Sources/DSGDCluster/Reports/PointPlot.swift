import Foundation

/// A single-panel plot of y against x for a few series, written as a standalone SVG by hand: the
/// picture of a scripted experiment (`dsgd experiment ...`), e.g. a measured quantity as markers
/// (with a range bar per point) beside a theoretical curve as a line.
///
/// The SVG has one `<g class="series" data-name="...">` per series, holding a `<path class="line">`
/// for a series with a line, and one `<circle>` per point (and a `<path class="range">` of its
/// bars) for a series with markers, and one `<g class="legend">` with a `<text>` per series. Axes
/// come from `PlotAxis` (linear or log).
public struct PointPlot: Sendable, SVGWriting {
    /// How a series is drawn.
    public enum Style: Sendable {
        case line, markers, lineAndMarkers

        var hasLine: Bool { self != .markers }
        var hasMarkers: Bool { self != .line }
    }

    /// One point; `low` and `high` (both or neither) draw a vertical range bar around `y`.
    public struct Point: Sendable {
        public var x: Double
        public var y: Double
        public var low: Double?
        public var high: Double?

        public init(x: Double, y: Double, low: Double? = nil, high: Double? = nil) {
            self.x = x
            self.y = y
            self.low = low
            self.high = high
        }
    }

    /// One series: its legend text, style, colour (an index into `LossPlot.palette`), whether its
    /// line is dashed and whether its markers are rings (so that a filled marker of another series
    /// at the same point stays visible).
    public struct Series: Sendable {
        public var name: String
        public var style: Style
        public var colour: Int
        public var dashed: Bool
        public var hollow: Bool
        public var points: [Point]

        public init(name: String, style: Style, colour: Int, dashed: Bool = false, hollow: Bool = false, points: [Point]) {
            self.name = name
            self.style = style
            self.colour = colour
            self.dashed = dashed
            self.hollow = hollow
            self.points = points
        }
    }

    public var title: String
    /// Lines under the title, separated by "\n".
    public var subtitle: String
    public var xLabel: String
    public var yLabel: String
    public var xScale: PlotAxis.Scale
    public var yScale: PlotAxis.Scale
    /// About how many ticks the x axis gets (e.g. the number of integer steps, for ticks at integers).
    public var xTicks: Int
    public var series: [Series]

    public init(title: String, subtitle: String = "", xLabel: String, yLabel: String,
                xScale: PlotAxis.Scale = .linear, yScale: PlotAxis.Scale = .linear, xTicks: Int = 8, series: [Series]) {
        self.xTicks = xTicks
        self.title = title
        self.subtitle = subtitle
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.xScale = xScale
        self.yScale = yScale
        self.series = series
    }

    // MARK: - Layout (pixels)

    static let width = 860.0, plotHeight = 420.0
    static let left = 92.0, right = 24.0
    static let tickFont = 13.0, labelFont = 14.0, titleFont = 19.0

    /// The SVG document.
    public func svg() -> String {
        let w = Self.width
        var body: [String] = []
        body.append(text(title, x: w / 2, y: 30, size: Self.titleFont, anchor: "middle", extra: "font-weight=\"600\""))
        var top = 42.0
        // The subtitle, one line per "\n".
        for (i, line) in subtitle.split(separator: "\n").enumerated() {
            body.append(text(String(line), x: w / 2, y: 56 + 19 * Double(i), size: Self.labelFont, anchor: "middle", extra: "fill=\"#555\""))
            top = 64 + 19 * Double(i)
        }
        let (legend, legendBottom) = self.legend(top: top + 8)
        body.append(legend)

        let x0 = Self.left, x1 = w - Self.right
        let y0 = legendBottom + 18, y1 = y0 + Self.plotHeight
        let xs = series.flatMap { $0.points.map(\.x) }
        let ys = series.flatMap { $0.points.flatMap { [$0.y, $0.low, $0.high].compactMap { $0 } } }
        let xAxis = PlotAxis(covering: xs, scale: xScale, targetTicks: xTicks, siSuffixes: true)
        let yAxis = PlotAxis(covering: ys, scale: yScale, targetTicks: 6, fromZero: yScale == .linear, siSuffixes: true)
        func px(_ v: Double) -> Double? { xAxis.fraction(v).map { x0 + $0 * (x1 - x0) } }
        func py(_ v: Double) -> Double? { yAxis.fraction(v).map { y1 - $0 * (y1 - y0) } }

        // Grid, frame, ticks and their labels.
        var grid: [String] = [], marks: [String] = []
        for t in yAxis.ticks { if let y = py(t) { grid.append("M\(f(x0)) \(f(y))H\(f(x1))"); marks.append("M\(f(x0 - 5)) \(f(y))H\(f(x0))") } }
        for t in xAxis.ticks { if let x = px(t) { grid.append("M\(f(x)) \(f(y0))V\(f(y1))"); marks.append("M\(f(x)) \(f(y1))V\(f(y1 + 5))") } }
        body.append("<path class=\"grid\" d=\"\(grid.joined())\" stroke=\"#e6e6e6\" stroke-width=\"1\" fill=\"none\"/>")
        body.append("<rect class=\"frame\" x=\"\(f(x0))\" y=\"\(f(y0))\" width=\"\(f(x1 - x0))\" height=\"\(f(y1 - y0))\" fill=\"none\" stroke=\"#888\" stroke-width=\"1\"/>")
        body.append("<path class=\"ticks\" d=\"\(marks.joined())\" stroke=\"#888\" stroke-width=\"1\"/>")
        body.append("<g class=\"tick-labels\" font-size=\"\(Int(Self.tickFont))\" fill=\"#333\">")
        for t in yAxis.labelled(length: y1 - y0, room: { _ in Self.tickFont + 4 }) {
            if let y = py(t) { body.append(text(yAxis.label(t), x: x0 - 9, y: y + Self.tickFont * 0.35, size: nil, anchor: "end")) }
        }
        for t in xAxis.labelled(length: x1 - x0, room: { LossPlot.textWidth($0, size: Self.tickFont) + 14 }) {
            if let x = px(t) { body.append(text(xAxis.label(t), x: x, y: y1 + 21, size: nil, anchor: "middle")) }
        }
        body.append("</g>")
        body.append(text(xLabel, x: (x0 + x1) / 2, y: y1 + 48, size: Self.labelFont, anchor: "middle", extra: "class=\"axis-label\""))
        let cx = 22.0, cy = (y0 + y1) / 2
        body.append(text(yLabel, x: cx, y: cy, size: Self.labelFont, anchor: "middle",
                         extra: "class=\"axis-label\" transform=\"rotate(-90 \(f(cx)) \(f(cy)))\""))

        // The series, lines first so that markers sit on top; markers at the frame are drawn whole.
        body.append("<clipPath id=\"plot-area\"><rect x=\"\(f(x0 - 10))\" y=\"\(f(y0 - 10))\" width=\"\(f(x1 - x0 + 20))\" height=\"\(f(y1 - y0 + 20))\"/></clipPath>")
        let order = series.indices.filter { !series[$0].style.hasMarkers } + series.indices.filter { series[$0].style.hasMarkers }
        for i in order {
            let s = series[i]
            let colour = LossPlot.palette[s.colour % LossPlot.palette.count]
            var out = ["<g class=\"series\" data-name=\"\(escape(s.name))\" clip-path=\"url(#plot-area)\">"]
            if s.style.hasLine {
                var d = "", pen = false
                for p in s.points {
                    guard let x = px(p.x), let y = py(p.y) else { pen = false; continue }
                    d += "\(pen ? "L" : "M")\(f(x)) \(f(y))"
                    pen = true
                }
                let dash = s.dashed ? " stroke-dasharray=\"7 5\"" : ""
                out.append("<path class=\"line\" d=\"\(d)\" fill=\"none\" stroke=\"\(colour)\" stroke-width=\"2\"\(dash) stroke-linejoin=\"round\"/>")
            }
            if s.style.hasMarkers {
                var bars = ""
                var dots: [String] = []
                for p in s.points {
                    guard let x = px(p.x), let y = py(p.y) else { continue }
                    if let lo = p.low.flatMap(py), let hi = p.high.flatMap(py) {
                        bars += "M\(f(x)) \(f(lo))V\(f(hi))M\(f(x - 5)) \(f(lo))H\(f(x + 5))M\(f(x - 5)) \(f(hi))H\(f(x + 5))"
                    }
                    dots.append("<circle cx=\"\(f(x))\" cy=\"\(f(y))\" r=\"\(s.hollow ? "7" : "4.5")\"/>")
                }
                if !bars.isEmpty { out.append("<path class=\"range\" d=\"\(bars)\" stroke=\"\(colour)\" stroke-width=\"1.5\" fill=\"none\"/>") }
                let paint = s.hollow ? "fill=\"none\" stroke=\"\(colour)\" stroke-width=\"2\"" : "fill=\"\(colour)\" stroke=\"#ffffff\" stroke-width=\"1\""
                out.append("<g class=\"markers\" \(paint)>\(dots.joined())</g>")
            }
            out.append("</g>")
            body.append(out.joined(separator: "\n"))
        }

        let height = y1 + 66
        return svgDocument(width: w, height: height, body: body)
    }

    /// The legend, centred and wrapped into rows, a line or a marker before each name; returns its
    /// SVG and its bottom edge.
    func legend(top: Double) -> (String, Double) {
        let size = Self.labelFont, swatch = 28.0, gap = 8.0, spacing = 26.0
        let widths = series.map { swatch + gap + LossPlot.textWidth($0.name, size: size) }
        var rows: [[Int]] = [[]]
        let available = Self.width - 40
        for i in series.indices {
            let used = rows[rows.count - 1].reduce(0) { $0 + widths[$1] + spacing }
            if !rows[rows.count - 1].isEmpty && used + widths[i] > available { rows.append([]) }
            rows[rows.count - 1].append(i)
        }
        var out = ["<g class=\"legend\" font-size=\"\(Int(size))\">"]
        for (r, row) in rows.enumerated() {
            let total = row.reduce(0) { $0 + widths[$1] } + spacing * Double(max(row.count - 1, 0))
            var x = (Self.width - total) / 2
            let y = top + 10 + Double(r) * 24
            for i in row {
                let s = series[i]
                let colour = LossPlot.palette[s.colour % LossPlot.palette.count]
                out.append("<g class=\"legend-item\">")
                if s.style.hasLine {
                    let dash = s.dashed ? " stroke-dasharray=\"7 5\"" : ""
                    out.append("<line x1=\"\(f(x))\" y1=\"\(f(y))\" x2=\"\(f(x + swatch))\" y2=\"\(f(y))\" stroke=\"\(colour)\" stroke-width=\"2\"\(dash)/>")
                }
                if s.style.hasMarkers {
                    let paint = s.hollow ? "r=\"7\" fill=\"none\" stroke=\"\(colour)\" stroke-width=\"2\"" : "r=\"4.5\" fill=\"\(colour)\""
                    out.append("<circle cx=\"\(f(x + swatch / 2))\" cy=\"\(f(y))\" \(paint)/>")
                }
                out.append("<text x=\"\(f(x + swatch + gap))\" y=\"\(f(y + size * 0.35))\">\(escape(s.name))</text>")
                out.append("</g>")
                x += widths[i] + spacing
            }
        }
        out.append("</g>")
        return (out.joined(separator: "\n"), top + Double(rows.count) * 24)
    }

}
