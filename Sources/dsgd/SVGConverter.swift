import Foundation

/// Turns an SVG file into a PNG with whichever converter is on PATH: `rsvg-convert` (librsvg),
/// else ImageMagick's `convert`.
enum SVGConverter {
    /// The converter found on PATH (`command -v`), if any.
    static func available() -> String? {
        for tool in ["rsvg-convert", "convert"] where shell("command -v \(tool)") == 0 { return tool }
        return nil
    }

    /// Writes `png` from `svg` on a white background.
    /// - Throws: `CleanFailure` when no converter is installed or the converter fails.
    static func convert(svg: String, png: String) throws {
        guard let tool = available() else {
            throw CleanFailure("no SVG converter on PATH for --png (install rsvg-convert: apt-get install librsvg2-bin, or ImageMagick); wrote \(svg) only")
        }
        let arguments = tool == "rsvg-convert"
            ? ["rsvg-convert", "--background-color", "white", "--output", png, svg]
            : ["convert", "-background", "white", "-density", "96", svg, png]
        let status = run(arguments)
        if status != 0 { throw CleanFailure("\(tool) could not convert \(svg) to \(png) (exit \(status))") }
    }

    private static func shell(_ command: String) -> Int32 { run(["/bin/sh", "-c", command + " >/dev/null 2>&1"]) }

    private static func run(_ arguments: [String]) -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = arguments
        p.standardOutput = FileHandle.nullDevice
        do { try p.run() } catch { return 127 }
        p.waitUntilExit()
        return p.terminationStatus
    }
}
