import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import XCTest

/// The report directory every `dsgd experiment` writes, checked the same way for each.
extension ClusterTestCase {
    /// report.md holds the command and, verbatim, the table printed on standard output; results.csv
    /// has a header and `csvRows` rows of as many cells; the SVG parses as XML with an `svg` root.
    func checkReport(_ out: String, svg: String, stdout: [String], csvRows: Int, file: StaticString = #filePath, line: UInt = #line) throws {
        let report = try String(contentsOfFile: out + "/report.md", encoding: .utf8)
        XCTAssertTrue(report.contains("Command: `dsgd experiment "), "report.md names no command", file: file, line: line)
        let table = stdout.filter { $0.hasPrefix("|") }
        XCTAssertGreaterThan(table.count, 2, "no table on stdout", file: file, line: line)
        XCTAssertEqual(table.count, stdout.filter { !$0.isEmpty }.count, "stdout has more than the table", file: file, line: line)
        let lines = report.components(separatedBy: "\n")
        let start = try XCTUnwrap(lines.firstIndex(of: table[0]), "report.md lacks the table's header", file: file, line: line)
        XCTAssertEqual(Array(lines[start..<min(start + table.count, lines.count)]), table, file: file, line: line)

        let csv = try String(contentsOfFile: out + "/results.csv", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(csv.count, 1 + csvRows, file: file, line: line)
        let columns = csv.first.map { $0.split(separator: ",", omittingEmptySubsequences: false).count }
        for row in csv { XCTAssertEqual(row.split(separator: ",", omittingEmptySubsequences: false).count, columns, String(row), file: file, line: line) }

        let doc = try XMLDocument(contentsOf: URL(fileURLWithPath: out + "/" + svg), options: [])
        XCTAssertEqual(doc.rootElement()?.localName ?? doc.rootElement()?.name, "svg", file: file, line: line)
    }
}
