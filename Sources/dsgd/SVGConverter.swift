import Foundation

/// Turns an SVG file into a PNG with a converter on PATH: `rsvg-convert` (librsvg), else
/// ImageMagick's `convert`.
enum SVGConverter {
    /// The converters found on PATH (`command -v`), in the order they are tried.
    static func available() -> [String] {
        ["rsvg-convert", "convert"].filter { shell("command -v \($0)") == 0 }
    }

    /// Writes `png` from `svg` on a white background with the first installed converter that
    /// succeeds.
    /// - Throws: `CleanFailure` when no converter is installed or every installed one fails.
    static func convert(svg: String, png: String) throws {
        let tools = available()
        if tools.isEmpty {
            throw CleanFailure("no SVG converter on PATH for --png (install rsvg-convert: apt-get install librsvg2-bin, or ImageMagick); wrote \(svg) only")
        }
        var failures: [String] = []
        for tool in tools {
            let arguments = tool == "rsvg-convert"
                ? ["rsvg-convert", "--background-color", "white", "--output", png, svg]
                : ["convert", "-background", "white", "-density", "96", svg, png]
            let status = run(arguments)
            if status == 0 { return }
            failures.append("\(tool) exited \(status)")
        }
        throw CleanFailure("could not convert \(svg) to \(png) (\(failures.joined(separator: ", "))); wrote \(svg) only (apt-get install librsvg2-bin gives a working rsvg-convert)")
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
