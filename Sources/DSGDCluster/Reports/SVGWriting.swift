import Foundation

/// The SVG text both plots (`LossPlot`, `PointPlot`) write: the document around their body,
/// `<text>` elements, coordinates with one decimal, and escaped strings.
protocol SVGWriting {}

extension SVGWriting {
    /// A whole SVG document of `width` x `height` on a white background, holding `body`.
    func svgDocument(width: Double, height: Double, body: [String]) -> String {
        """
        <?xml version="1.0" encoding="UTF-8"?>
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" viewBox="0 0 \(Int(width)) \(Int(height))" font-family="\(LossPlot.font)">
        <rect width="100%" height="100%" fill="#ffffff"/>
        \(body.joined(separator: "\n"))
        </svg>

        """
    }

    func text(_ s: String, x: Double, y: Double, size: Double?, anchor: String, extra: String = "") -> String {
        let sizeAttribute = size.map { " font-size=\"\(Int($0))\"" } ?? ""
        let extraAttribute = extra.isEmpty ? "" : " " + extra
        return "<text x=\"\(f(x))\" y=\"\(f(y))\"\(sizeAttribute) text-anchor=\"\(anchor)\"\(extraAttribute)>\(escape(s))</text>"
    }

    func f(_ x: Double) -> String { String(format: "%.1f", x) }

    func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
