import DSGDCluster
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
        XCTAssertEqual(list.stdout.dropFirst().map { String($0.split(separator: " ")[0]) }, DatasetSpec.names)
        XCTAssertEqual(list.stdout.first?.split(separator: " ").map(String.init), ["name", "examples", "features", "task"])
        // Shape and task: digits is 1797 x 64, ten classes; blobs follows --classes.
        let digits = try XCTUnwrap(list.stdout.first { $0.hasPrefix("digits ") }).split(separator: " ").map(String.init)
        XCTAssertEqual(Array(digits[1...3]), ["1797", "64", "10-class"])
        let blobs = try run(["dataset", "list", "--classes", "5", "--examples", "100", "--features", "3"])
        let row = try XCTUnwrap(blobs.stdout.first { $0.hasPrefix("blobs ") }).split(separator: " ").map(String.init)
        XCTAssertEqual(Array(row[1...3]), ["100*", "3*", "5-class"])
        let bad = try run(["dataset", "export", "nope", "--out", path("x.csv")])
        XCTAssertNotEqual(bad.code, 0)
        XCTAssertTrue(bad.stderr.contains("unknown data set 'nope'"), bad.stderr)
    }

    /// `export` writes any data set `run` trains on, with the same flags (`--classes`,
    /// `--condition`, `--replicate`; `--data` or the old positional name), and `--out -` writes to
    /// standard output.
    func testExportTakesEverySetOptionAndWritesToStandardOutput() throws {
        let spec = DatasetSpec(name: "blobs", examples: 40, features: 3, seed: 5, classes: 6, replicate: 2)
        let r = try run(["dataset", "export", "--data", "blobs", "--examples", "40", "--features", "3", "--seed", "5",
                         "--classes", "6", "--replicate", "2", "--out", "-"])
        XCTAssertEqual(r.code, 0, r.stderr)
        let file = path("stdout.csv")
        try (r.stdout.joined(separator: "\n") + "\n").write(toFile: file, atomically: true, encoding: .utf8)
        let read = try CSVLoader.load(path: file)
        let built = try spec.materialize()
        XCTAssertEqual(read.examples, 80)
        XCTAssertEqual(read.features, built.features)
        XCTAssertEqual(read.targets, built.targets)
        XCTAssertEqual(Set(read.targets).count, 6)
        XCTAssertFalse(FileManager.default.fileExists(atPath: scratch.appendingPathComponent("-").path), "no file named -")

        let quadratic = path("quadratic.csv")
        XCTAssertEqual(try run(["dataset", "export", "quadratic", "--condition", "1000", "--examples", "50", "--features", "4", "--out", quadratic]).code, 0)
        XCTAssertEqual(try CSVLoader.load(path: quadratic).features,
                       try DatasetSpec(name: "quadratic", examples: 50, features: 4, seed: 1, condition: 1000).materialize().features)

        let both = try run(["dataset", "export", "digits", "--data", "blobs", "--out", path("x.csv")])
        XCTAssertNotEqual(both.code, 0)
        XCTAssertTrue(both.stderr.contains("two data sets named"), both.stderr)
    }

    /// One spelling of the data set flag everywhere: `--data`, with `--dataset` kept as an alias.
    func testDataAndDatasetAreOneFlagEverywhere() throws {
        for flag in ["--data", "--dataset"] {
            let out = path("run\(flag)")
            let r = try run(["run", flag, "blobs", "--model", "softmax", "--examples", "64", "--features", "2", "--workers", "1",
                             "--steps", "2", "--quiet", "--out", out])
            XCTAssertEqual(r.code, 0, r.stderr)
            let job = try JSONCoding.decoder().decode(ConfigFile.self, from: Data(contentsOf: URL(fileURLWithPath: out + "/config.json"))).job
            XCTAssertEqual(job.dataset.name, "blobs")
            let a = try run(["analyze", "--model", "linear", flag, "lecun-2d", "--examples", "100", "--json"])
            XCTAssertEqual(a.code, 0, a.stderr)
            XCTAssertTrue(a.stdout.joined().contains("\"data\":\"lecun-2d\""), a.stdout.joined())
        }
    }
}
