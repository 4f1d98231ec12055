import XCTest

/// Asserts that `actual` and `expected` hold the same float32 bit patterns, element for element;
/// on failure names the first differing element and how many differ (not two long arrays).
/// Returns whether they are identical, so a caller can stop at the first divergence.
@discardableResult
func assertBitIdentical(_ actual: [Float], _ expected: [Float], _ what: @autoclosure () -> String,
                        file: StaticString = #filePath, line: UInt = #line) -> Bool {
    guard actual.count == expected.count else {
        XCTFail("\(what()): \(actual.count) values, expected \(expected.count)", file: file, line: line)
        return false
    }
    let differing = actual.indices.filter { actual[$0].bitPattern != expected[$0].bitPattern }
    guard let first = differing.first else { return true }
    XCTFail("\(what()): \(differing.count) of \(actual.count) values differ; first at \(first): \(actual[first]) "
            + "(0x\(String(actual[first].bitPattern, radix: 16))), expected \(expected[first]) (0x\(String(expected[first].bitPattern, radix: 16)))",
            file: file, line: line)
    return false
}
