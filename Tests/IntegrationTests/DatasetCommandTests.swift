import DSGDCore
import Foundation
import XCTest

/// `dsgd dataset`: the exported CSV reads back as exactly the data set every worker builds.
final class DatasetCommandTests: ClusterTestCase {
    func testExportRoundTripsBitExact() throws {
        let out = path("logistic.csv")
        let r = try run(["dataset", "export", "synthetic-logistic", "--examples", "300", "--features", "7", "--seed", "4", "--out", out])
        XCTAssertEqual(r.code, 0, r.stderr)
        let read = try CSVLoader.load(path: out)
        let built = try DatasetSpec(name: "synthetic-logistic", examples: 300, features: 7, seed: 4).materialize()
        XCTAssertEqual(read.examples, 300)
        XCTAssertEqual(read.dimension, 7)
        XCTAssertEqual(read.features, built.features)
        XCTAssertEqual(read.targets, built.targets)
    }

    func testListAndUnknownName() throws {
        let list = try run(["dataset", "list"])
        XCTAssertEqual(list.code, 0)
        XCTAssertEqual(list.stdout, DatasetSpec.names)
        let bad = try run(["dataset", "export", "nope", "--out", path("x.csv")])
        XCTAssertNotEqual(bad.code, 0)
        XCTAssertTrue(bad.stderr.contains("unknown data set 'nope'"), bad.stderr)
    }
}
