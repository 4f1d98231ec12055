import DSGDCore
import Foundation
import XCTest

final class LoaderTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("dsgd-loader-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: dir)
    }

    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    /// The committed data sets: up from Tests/DSGDCoreTests/ to the repository root, then data/.
    static let dataDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("data")

    /// Asserts that `body` throws a `DataFileError` whose description is exactly `expected`.
    func assertError(_ expected: String, file: StaticString = #filePath, line: UInt = #line, _ body: () throws -> Any) {
        do {
            _ = try body()
            XCTFail("no error; expected \(expected)", file: file, line: line)
        } catch let error as DataFileError {
            XCTAssertEqual(error.description, expected, file: file, line: line)
        } catch {
            XCTFail("not a DataFileError: \(error)", file: file, line: line)
        }
    }

    // MARK: DataFileError

    func testErrorDescriptionLeavesOutMissingParts() {
        XCTAssertEqual(DataFileError(file: "digits.csv", line: 12, column: 5, message: "expected a number, found \"abc\"").description,
                       "digits.csv:12:5: expected a number, found \"abc\"")
        XCTAssertEqual(DataFileError(file: "a.csv", line: 3, message: "m").description, "a.csv:3: m")
        XCTAssertEqual(DataFileError(file: "a.idx", message: "byte 2: m").description, "a.idx: byte 2: m")
    }

    // MARK: CSV

    func testCSVWriterThenLoaderIsBitExact() throws {
        var rng = SplitMix64(seed: 7)
        var x: [Float] = [0.1, 1.0 / 3, -0.0, .leastNonzeroMagnitude, .greatestFiniteMagnitude, -.leastNormalMagnitude,
                          1e-5, 123_456_792, 16, .ulpOfOne, -2.5e-38, 0.07039]
        x += (0..<36).map { _ in Float(rng.nextGaussian()) * Float(pow(10, Double(rng.next() % 13) - 6)) }
        let y: [Float] = [0, 1, -1, 0.3, 7, 1e10, -0.0, 2, 3, 4, 5, 6]
        let data = Dataset(examples: 12, dimension: 4, features: x, targets: y)
        try CSVWriter.write(data, to: path("r.csv"), featureNames: ["a", "b b", "c", "d"], labelName: "y")
        let table = try CSVLoader.loadTable(path: path("r.csv"), label: .name("y"))
        XCTAssertEqual(table.data.examples, 12)
        XCTAssertEqual(table.data.dimension, 4)
        XCTAssertEqual(table.data.features.map(\.bitPattern), x.map(\.bitPattern))
        XCTAssertEqual(table.data.targets.map(\.bitPattern), y.map(\.bitPattern))
        XCTAssertEqual(table.featureNames, ["a", "b b", "c", "d"])
        XCTAssertEqual(table.labelName, "y")
    }

    func testCSVWriterDefaultHeaderAndShortestFloats() throws {
        let data = Dataset(examples: 2, dimension: 2, features: [0.1, 1, 1e-5, -0.0], targets: [1, 0])
        try CSVWriter.write(data, to: path("d.csv"))
        XCTAssertEqual(try String(contentsOfFile: path("d.csv"), encoding: .utf8),
                       "x0,x1,label\n0.1,1.0,1.0\n1e-05,-0.0,0.0\n")
    }

    func testCSVWriterRejectsWhatWouldNotReadBack() {
        let p = path("bad.csv")
        let nan = Dataset(examples: 2, dimension: 2, features: [1, 2, 3, .nan], targets: [0, 1])
        assertError("\(p):3:2: cannot write nan: CSV data must be finite") { try CSVWriter.write(nan, to: p) }
        let inf = Dataset(examples: 1, dimension: 1, features: [1], targets: [-.infinity])
        assertError("\(p):2:2: cannot write -inf: CSV data must be finite") { try CSVWriter.write(inf, to: p) }
        let ok = Dataset(examples: 1, dimension: 2, features: [1, 2], targets: [0])
        assertError("\(p): 1 feature names for 2 features") { try CSVWriter.write(ok, to: p, featureNames: ["a"]) }
        assertError("\(p): column name \"a,b\" would not read back (no commas, line breaks, or leading or trailing blanks)") {
            try CSVWriter.write(ok, to: p, featureNames: ["a,b", "c"])
        }
        assertError("\(p): the label name \"a\" is also a feature name") {
            try CSVWriter.write(ok, to: p, featureNames: ["a", "b"], labelName: "a")
        }
    }

    func testCSVLabelColumnByNameByIndexAndFromTheEnd() throws {
        let text = "a,b,c\n1,2,3\n4,5,6\n"
        let byName = try CSVLoader.loadTable(text: text, label: .name("b"))
        XCTAssertEqual(byName.data.features, [1, 3, 4, 6])
        XCTAssertEqual(byName.data.targets, [2, 5])
        XCTAssertEqual(byName.featureNames, ["a", "c"])
        XCTAssertEqual(byName.labelName, "b")
        let first = try CSVLoader.load(text: text, label: .index(0))
        XCTAssertEqual(first.features, [2, 3, 5, 6])
        XCTAssertEqual(first.targets, [1, 4])
        let last = try CSVLoader.load(text: text, label: .index(-1))
        XCTAssertEqual(last.features, [1, 2, 4, 5])
        XCTAssertEqual(last.targets, [3, 6])
        XCTAssertEqual(try CSVLoader.load(text: text, label: .index(-3)).targets, [1, 4])
        XCTAssertEqual(try CSVLoader.load(text: text, label: .index(2)).targets, [3, 6])
    }

    func testCSVAcceptsCRLFPaddingAndBlankLinesAtTheEnd() throws {
        let d = try CSVLoader.load(text: "\u{FEFF}a, label\r\n 1 ,\t2\r\n-3.5e2,4\r\n\r\n\n  \n")
        XCTAssertEqual(d.examples, 2)
        XCTAssertEqual(d.dimension, 1)
        XCTAssertEqual(d.features, [1, -350])
        XCTAssertEqual(d.targets, [2, 4])
        XCTAssertEqual(try CSVLoader.load(text: "a,label\n1,2").targets, [2], "no newline at the end")
    }

    func testCSVMalformedInputNamesFileLineAndField() {
        let cases: [(String, LabelColumn, String)] = [
            ("a,label\n1,2\n3\n", .name("label"), "t.csv:3:2: expected 2 fields, found 1"),
            ("a,label\n1,2,3\n", .name("label"), "t.csv:2:3: expected 2 fields, found 3"),
            ("a,b,label\n1,2,3\n4,,,6\n", .name("label"), "t.csv:3:4: expected 3 fields, found 4"),
            ("a,label\n1,abc\n", .name("label"), "t.csv:2:2: expected a number, found \"abc\""),
            ("a,label\n1,2\n3,\n", .name("label"), "t.csv:3:2: expected a number, found an empty field"),
            ("a,label\n1,2\n4,1_0\n", .name("label"), "t.csv:3:2: expected a number, found \"1_0\""),
            ("a,label\nnan,1\n", .name("label"), "t.csv:2:1: expected a finite number, found \"nan\""),
            ("a,label\n1,-inf\n", .name("label"), "t.csv:2:2: expected a finite number, found \"-inf\""),
            ("a,label\n1e39,1\n", .name("label"), "t.csv:2:1: expected a finite number, found \"1e39\""),
            ("a,label\n1,2\n\n3,4\n", .name("label"), "t.csv:3:1: empty line (expected 2 fields)"),
            ("a,b\n1,2\n", .name("label"), "t.csv:1: no column named \"label\" in the header (2 columns: a, b)"),
            ("c0,c1,c2,c3,c4,c5,c6\n1,2,3,4,5,6,7\n", .name("y"),
             "t.csv:1: no column named \"y\" in the header (7 columns: c0, c1, c2, ..., c5, c6)"),
            ("label,a,label\n1,2,3\n", .name("label"), "t.csv:1:3: column name \"label\" appears more than once (fields 1, 3)"),
            ("a,b\n1,2\n", .index(2), "t.csv:1: label column index 2 is out of range for 2 columns (0...1, or -2...-1 from the end)"),
            ("a,b\n1,2\n", .index(-3), "t.csv:1: label column index -3 is out of range for 2 columns (0...1, or -2...-1 from the end)"),
            ("", .name("label"), "t.csv:1: empty file (expected a header line)"),
            ("\n \r\n", .name("label"), "t.csv:1: empty file (expected a header line)"),
            ("\na,label\n1,2\n", .name("label"), "t.csv:1: the header line is empty"),
            ("a,label\n", .name("label"), "t.csv:2: no data rows after the header"),
            ("label\n1\n", .name("label"), "t.csv:1: no feature columns besides the label column \"label\""),
        ]
        for (text, label, expected) in cases {
            assertError(expected) { try CSVLoader.load(text: text, fileName: "t.csv", label: label) }
        }
    }

    func testCSVErrorCarriesLineAndColumnFields() {
        XCTAssertThrowsError(try CSVLoader.load(text: "a,label\n1,2\n3,x\n", fileName: "digits.csv")) {
            XCTAssertEqual($0 as? DataFileError,
                           DataFileError(file: "digits.csv", line: 3, column: 2, message: "expected a number, found \"x\""))
        }
    }

    func testCSVMissingFileIsAnError() {
        let p = path("missing.csv")
        assertError("\(p): cannot open: No such file or directory") { try CSVLoader.load(path: p) }
    }

    // MARK: LIBSVM

    func testLIBSVMFillsMissingFeaturesWithZeros() throws {
        let text = "1 1:0.5 3:-2 # a comment\n-1 2:4\n\n# only a comment\n+1\t4:1e-3\r\n0\n"
        let d = try LIBSVMLoader.load(text: text)
        XCTAssertEqual(d.examples, 4)
        XCTAssertEqual(d.dimension, 4)
        XCTAssertEqual(d.features, [0.5, 0, -2, 0, 0, 4, 0, 0, 0, 0, 0, 1e-3, 0, 0, 0, 0])
        XCTAssertEqual(d.targets, [1, -1, 1, 0])
        let wider = try LIBSVMLoader.load(text: text, features: 6)
        XCTAssertEqual(wider.dimension, 6)
        XCTAssertEqual(wider.features[0..<6], [0.5, 0, -2, 0, 0, 0])
        XCTAssertEqual(try LIBSVMLoader.load(text: text, features: 2).dimension, 4, "features is a minimum")
    }

    func testLIBSVMFromAFile() throws {
        try "2 10:1\n3 1:7\n".write(toFile: path("s.svm"), atomically: true, encoding: .utf8)
        let d = try LIBSVMLoader.load(path: path("s.svm"))
        XCTAssertEqual(d.dimension, 10)
        XCTAssertEqual(d.features[9], 1)
        XCTAssertEqual(d.features[10], 7)
        XCTAssertEqual(d.targets, [2, 3])
    }

    func testLIBSVMMalformedInputNamesFileLineAndToken() {
        let cases: [(String, String)] = [
            ("abc 1:2\n", "s.svm:1:1: expected a numeric label, found \"abc\""),
            ("1 1:2\nnan 1:2\n", "s.svm:2:1: expected a finite label, found \"nan\""),
            ("1 1:2 3\n", "s.svm:1:3: expected index:value, found \"3\""),
            ("1 :2\n", "s.svm:1:2: expected index:value, found \":2\""),
            ("1 2:\n", "s.svm:1:2: expected index:value, found \"2:\""),
            ("1 x:2\n", "s.svm:1:2: expected a positive integer index (at most 2147483647) before ':', found \"x:2\""),
            ("1 -1:2\n", "s.svm:1:2: expected a positive integer index (at most 2147483647) before ':', found \"-1:2\""),
            ("1 99999999999:2\n", "s.svm:1:2: expected a positive integer index (at most 2147483647) before ':', found \"99999999999:2\""),
            ("1 0:2\n", "s.svm:1:2: feature index 0 in \"0:2\" (indices start at 1)"),
            ("1 1:1\n\n1 3:1 2:1\n", "s.svm:3:3: feature index 2 is not greater than the previous index 3"),
            ("1 3:1 3:1\n", "s.svm:1:3: feature index 3 is not greater than the previous index 3"),
            ("1 2:abc\n", "s.svm:1:2: expected a number after \"2:\", found \"abc\""),
            ("1 1:1 2:inf\n", "s.svm:1:3: expected a finite number, found \"inf\""),
            ("1 2:1e39\n", "s.svm:1:2: expected a finite number, found \"1e39\""),
            ("", "s.svm: no examples (every line is blank or a comment)"),
            ("# header\n\n   \n", "s.svm: no examples (every line is blank or a comment)"),
        ]
        for (text, expected) in cases {
            assertError(expected) { try LIBSVMLoader.load(text: text, fileName: "s.svm") }
        }
    }

    // MARK: IDX

    func testIDXImagesAndLabelsRoundTrip() throws {
        let pixels: [Float] = [0, 1, 2, 255, 17, 128, 64, 3, 200, 100, 50, 25]
        try IDXLoader.write(pixels, shape: [3, 2, 2], type: .uint8, to: path("img.idx3-ubyte"))
        try IDXLoader.write([7, 0, 9], shape: [3], to: path("lab.idx1-ubyte"))
        // The exact bytes: magic 00 00 08 03, sizes 3, 2, 2 big-endian, then the pixels.
        let raw = [UInt8](try Data(contentsOf: dir.appendingPathComponent("img.idx3-ubyte")))
        XCTAssertEqual(raw, [0, 0, 8, 3, 0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0, 2] + pixels.map { UInt8($0) })

        let d = try IDXLoader.load(images: path("img.idx3-ubyte"), labels: path("lab.idx1-ubyte"), scale: 1)
        XCTAssertEqual(d.examples, 3)
        XCTAssertEqual(d.dimension, 4)
        XCTAssertEqual(d.features, pixels)
        XCTAssertEqual(d.targets, [7, 0, 9])
        let scaled = try IDXLoader.load(images: path("img.idx3-ubyte"), labels: path("lab.idx1-ubyte"))
        for (a, b) in zip(scaled.features, pixels) { XCTAssertEqual(a, b / 255, accuracy: 1e-7) }
        XCTAssertEqual(scaled.features[3], 1, accuracy: 1e-7)

        let flat = try IDXLoader.read(path: path("img.idx3-ubyte"))
        XCTAssertEqual(flat.type, .uint8)
        XCTAssertEqual(flat.shape, [3, 2, 2])
    }

    func testIDXEveryElementTypeRoundTrips() throws {
        let cases: [(IDXLoader.ElementType, [Float])] = [
            (.uint8, [0, 255, 3, 4]), (.int8, [-128, 127, -1, 0]), (.int16, [-32768, 32767, -300, 5]),
            (.int32, [-2_147_483_648, 16_777_216, -70000, 1]), (.float32, [0.1, -1e-30, 3e38, -0.0]),
            (.float64, [0.1, -1e-30, 3e38, 1.0 / 3]),
        ]
        for (type, values) in cases {
            try IDXLoader.write(values, shape: [2, 2], type: type, to: path("t.idx"))
            let t = try IDXLoader.read(path: path("t.idx"))
            XCTAssertEqual(t.type, type)
            XCTAssertEqual(t.shape, [2, 2])
            XCTAssertEqual(t.values.map(\.bitPattern), values.map(\.bitPattern), "\(type)")
            // 2 dimensions (n x d) are also an image set.
            try IDXLoader.write([1, 2], shape: [2], to: path("l.idx"))
            XCTAssertEqual(try IDXLoader.load(images: path("t.idx"), labels: path("l.idx"), scale: 1).features.map(\.bitPattern),
                           values.map(\.bitPattern))
        }
        assertError("\(path("t.idx")): value 256.0 at element 1 is not representable as unsigned byte") {
            try IDXLoader.write([0, 256], shape: [2], type: .uint8, to: path("t.idx"))
        }
        assertError("\(path("t.idx")): value 0.5 at element 0 is not representable as short") {
            try IDXLoader.write([0.5], shape: [1], type: .int16, to: path("t.idx"))
        }
        assertError("\(path("t.idx")): shape 2 x 2 holds 4 elements, got 3") {
            try IDXLoader.write([1, 2, 3], shape: [2, 2], to: path("t.idx"))
        }
    }

    func testIDXMalformedFilesNameTheFileAndTheByte() throws {
        let img = path("img.idx"), lab = path("lab.idx")
        func raw(_ bytes: [UInt8], _ p: String) throws { try Data(bytes).write(to: URL(fileURLWithPath: p)) }
        try IDXLoader.write([Float](repeating: 1, count: 12), shape: [3, 2, 2], to: img)
        try IDXLoader.write([1, 2, 3], shape: [3], to: lab)
        let good = [UInt8](try Data(contentsOf: URL(fileURLWithPath: img)))

        try raw(Array(good[0..<25]), img)
        assertError("\(img): byte 25: truncated: 3 x 2 x 2 unsigned bytes need 12 data bytes after the 16-byte header, the file has 9") {
            try IDXLoader.load(images: img, labels: lab)
        }
        try raw(Array(good[0..<10]), img)
        assertError("\(img): byte 10: truncated header: 3 dimension sizes need 16 bytes, the file has 10") {
            try IDXLoader.load(images: img, labels: lab)
        }
        try raw(good + [0], img)
        assertError("\(img): byte 28: 1 unexpected bytes after the data") { try IDXLoader.load(images: img, labels: lab) }
        try raw([0, 1] + good[2...], img)
        assertError("\(img): byte 0: bad magic 0x00 0x01: an IDX file starts with two zero bytes") {
            try IDXLoader.load(images: img, labels: lab)
        }
        try raw([0x1F, 0x8B, 8, 0, 0], img)
        assertError("\(img): byte 0: gzip-compressed (magic 0x1F 0x8B): decompress it first") {
            try IDXLoader.load(images: img, labels: lab)
        }
        try raw([0, 0, 0x07] + good[3...], img)
        assertError("\(img): byte 2: unknown element type 0x07 (known: 0x08 unsigned byte, 0x09 signed byte, 0x0B short, 0x0C int, 0x0D float, 0x0E double)") {
            try IDXLoader.load(images: img, labels: lab)
        }
        try raw([0, 0, 8], img)
        assertError("\(img): byte 0: too short for an IDX header (3 bytes, need at least 4)") {
            try IDXLoader.load(images: img, labels: lab)
        }
        try raw(good, img)
        try IDXLoader.write([1, 2], shape: [2], to: lab)
        assertError("\(lab): byte 4: 2 labels for 3 images in \(img)") { try IDXLoader.load(images: img, labels: lab) }
        try IDXLoader.write([1, 2, 3], shape: [3, 1], to: lab)
        assertError("\(lab): byte 3: labels need 1 dimension, found 2") { try IDXLoader.load(images: img, labels: lab) }
        try IDXLoader.write([1, 2, 3], shape: [3], to: lab)
        assertError("\(lab): byte 3: images need 3 dimensions (count, rows, columns) or 2 (count, features), found 1") {
            try IDXLoader.load(images: lab, labels: lab)
        }
        try IDXLoader.write([1, .nan], shape: [2], type: .float32, to: lab)
        assertError("\(lab): byte 12: element 1 is nan, not a finite number") { try IDXLoader.read(path: lab) }
    }

    // MARK: The committed data sets

    func testBreastCancerCSV() throws {
        let table = try CSVLoader.loadTable(path: Self.dataDirectory.appendingPathComponent("breast_cancer.csv").path)
        let d = table.data
        XCTAssertEqual(d.examples, 569)
        XCTAssertEqual(d.dimension, 30)
        XCTAssertEqual(table.featureNames.count, 30)
        XCTAssertEqual(table.featureNames.first, "mean_radius")
        XCTAssertEqual(table.featureNames.last, "worst_fractal_dimension")
        XCTAssertEqual(table.labelName, "label")
        XCTAssertTrue(d.targets.allSatisfy { $0 == 0 || $0 == 1 })
        // Counts, values and sum below were computed with Python's csv module from this file. The
        // bit patterns are the correctly rounded float32 of the decimal text (checked exactly with
        // fractions.Fraction); the sum adds every feature as a float32 widened to double, row by row.
        XCTAssertEqual(d.targets.filter { $0 == 0 }.count, 212)
        XCTAssertEqual(d.targets.filter { $0 == 1 }.count, 357)
        XCTAssertEqual(Array(d.targets[0..<2]), [0, 0])
        XCTAssertEqual(d.targets[568], 1)
        XCTAssertEqual(d.features[0 * 30 + 0].bitPattern, 0x418F_EB85)  // row 0 mean_radius "17.99"
        XCTAssertEqual(d.features[0 * 30 + 29].bitPattern, 0x3DF3_81D8)  // row 0 worst_fractal_dimension "0.1189"
        XCTAssertEqual(d.features[100 * 30 + 4].bitPattern, 0x3DC2_5072)  // row 100 mean_smoothness "0.09488"
        XCTAssertEqual(d.features[300 * 30 + 13].bitPattern, 0x4305_0000)  // row 300 area_error "133"
        XCTAssertEqual(d.features[568 * 30 + 1].bitPattern, 0x41C4_51EC)  // row 568 mean_texture "24.54"
        XCTAssertEqual(d.features[568 * 30 + 29].bitPattern, 0x3D90_28A2)  // row 568 worst_fractal_dimension "0.07039"
        var sum = 0.0
        for v in d.features { sum += Double(v) }
        XCTAssertEqual(sum, 1056474.4601555474)
    }

    func testDigitsCSV() throws {
        let table = try CSVLoader.loadTable(path: Self.dataDirectory.appendingPathComponent("digits.csv").path)
        let d = table.data
        XCTAssertEqual(d.examples, 1797)
        XCTAssertEqual(d.dimension, 64)
        XCTAssertEqual(table.featureNames, (0..<64).map { "px\($0)" })
        XCTAssertTrue(d.features.allSatisfy { $0 >= 0 && $0 <= 16 && $0 == $0.rounded() })
        // Class counts and values below were computed with Python's csv module from this file.
        var counts = [Int](repeating: 0, count: 10)
        for y in d.targets {
            XCTAssertTrue(y == y.rounded() && y >= 0 && y <= 9)
            counts[Int(y)] += 1
        }
        XCTAssertEqual(counts, [178, 182, 177, 183, 181, 182, 181, 179, 174, 180])
        XCTAssertEqual(Array(d.targets[0..<2]), [0, 1])
        XCTAssertEqual(d.targets[1796], 8)
        XCTAssertEqual(Array(d.features[2..<4]), [5, 13])  // row 0 px2, px3
        XCTAssertEqual(d.features[100 * 64 + 4], 13)  // row 100 px4
        XCTAssertEqual(d.features[1796 * 64 + 2], 10)  // row 1796 px2
        XCTAssertEqual(d.features.reduce(0.0) { $0 + Double($1) }, 561_718)
        XCTAssertEqual(d.targets.reduce(0.0) { $0 + Double($1) }, 8070)
    }
}
