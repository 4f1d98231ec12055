import DSGDCore
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import XCTest

/// `dsgd experiment staleness --quick` and `dsgd experiment redundancy --quick` end to end, with
/// the real binary: the shape each one states (read from results.json), the report directory's
/// files (report.md, results.csv, the SVG parsed as XML, the run directories), and the table on
/// standard output against report.md's.
final class ExperimentTests: ClusterTestCase {
    // MARK: - results.json, as the tests read it

    struct StalenessResults: Decodable {
        struct Search: Decodable {
            var predicted: Double
            var largestStable: Double?
            var smallestUnstable: Double?
            var probes: [Probe]
        }

        struct Probe: Decodable {
            var rate: Double
            var stable: Bool
            var run: String
        }

        struct Row: Decodable {
            var tau: Int
            var bound: Double
            var plain: Search
            var inverse: Search
        }

        var lambdaMax: Double
        var precision: Double
        var rows: [Row]
    }

    struct RedundancyResults: Decodable {
        struct Outcome: Decodable {
            var seed: Int
            var run: String
            var reached: Bool
            var steps: Int
            var examples: Int
        }

        struct Method: Decodable {
            var batch: Int
            var outcomes: [Outcome]
            var medianExamples: Double?
        }

        struct Row: Decodable {
            var k: Int
            var setExamples: Int
            var gd: Method
            var sgd: Method
        }

        var rows: [Row]
    }

    func decode<T: Decodable>(_ type: T.Type, _ file: String) throws -> T {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(type, from: Data(contentsOf: URL(fileURLWithPath: file)))
    }

    // MARK: - Staleness

    /// The largest stable rate of delayed full-batch GD lies within 10% of
    /// `2 sin(pi / (2 (2 tau + 1))) / lambda_max` for tau = 1..4, and with `--lr-staleness inverse`
    /// within 10% of tau times that; lambda_max is the top eigenvalue of the float64 Hessian of
    /// lecun-2d computed here by power iteration, independently of `Curvature`.
    func testStalenessQuickFindsTheDelayedRecurrenceBound() throws {
        let out = path("staleness")
        let r = try run(["experiment", "staleness", "--quick", "--out", out], timeout: 240)
        XCTAssertEqual(r.code, 0, r.stderr)
        let results = try decode(StalenessResults.self, out + "/results.json")

        let lambda = try lecun2DLambdaMax(examples: 100, seed: 1)
        XCTAssertEqual(results.lambdaMax, lambda, accuracy: 1e-6 * lambda)
        XCTAssertEqual(results.rows.map(\.tau), [0, 1, 2, 3, 4])
        for row in results.rows {
            let bound = 2 * sin(Double.pi / Double(2 * (2 * row.tau + 1))) / lambda
            XCTAssertEqual(row.bound, bound, accuracy: 1e-6 * bound, "tau \(row.tau)")
            XCTAssertEqual(row.inverse.predicted, Double(max(row.tau, 1)) * bound, accuracy: 1e-6 * bound, "tau \(row.tau)")
            for (name, search) in [("plain", row.plain), ("inverse", row.inverse)] {
                let lo = try XCTUnwrap(search.largestStable, "tau \(row.tau) \(name): no stable rate")
                let hi = try XCTUnwrap(search.smallestUnstable, "tau \(row.tau) \(name): no unstable rate")
                XCTAssertLessThan(lo, hi)
                XCTAssertLessThanOrEqual(hi / lo, 1 + results.precision + 1e-6, "tau \(row.tau) \(name): bracket [\(lo), \(hi)]")
                // The bracket's ends are runs that were stable and unstable.
                XCTAssertTrue(search.probes.contains { $0.stable && abs($0.rate - lo) <= 1e-6 * lo })
                XCTAssertTrue(search.probes.contains { !$0.stable && abs($0.rate - hi) <= 1e-6 * hi })
                for p in search.probes {
                    XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/" + p.run + "/summary.json"), p.run)
                }
                if (1...4).contains(row.tau) {
                    XCTAssertEqual(lo / search.predicted, 1, accuracy: 0.1, "tau \(row.tau) \(name): largest stable \(lo), predicted \(search.predicted)")
                }
            }
        }

        try checkReport(out, svg: "staleness.svg", stdout: r.stdout, csvRows: 2 * results.rows.count)
        let root = try XCTUnwrap(XMLDocument(contentsOf: URL(fileURLWithPath: out + "/staleness.svg"), options: []).rootElement())
        let series = root.descendants("g", class: "series")
        XCTAssertEqual(series.count, 4)
        XCTAssertEqual(series.filter { !$0.descendants("circle").isEmpty }.map { $0.descendants("circle").count }, [5, 5])
    }

    /// lambda_max of `--model linear` on lecun-2d: the top eigenvalue of `(1/n) sum x~ x~^T` over
    /// the inputs extended by 1, by power iteration in float64.
    func lecun2DLambdaMax(examples: Int, seed: UInt64) throws -> Double {
        let d = try DatasetSpec(name: "lecun-2d", examples: examples, features: 2, seed: seed).materialize()
        var h = [[Double]](repeating: [0, 0, 0], count: 3)
        for i in 0..<d.examples {
            let x = [Double(d.features[2 * i]), Double(d.features[2 * i + 1]), 1]
            for a in 0..<3 { for b in 0..<3 { h[a][b] += x[a] * x[b] / Double(d.examples) } }
        }
        var v = [1.0, 1.0, 1.0], lambda = 0.0
        for _ in 0..<2000 {
            let w = (0..<3).map { a in (0..<3).reduce(0.0) { $0 + h[a][$1] * v[$1] } }
            lambda = w.map { $0 * $0 }.reduce(0, +).squareRoot()
            v = w.map { $0 / lambda }
        }
        return lambda
    }

    // MARK: - Redundancy

    /// On a data set replicated k times, full-batch GD needs more than 8x the examples to reach
    /// the target at k = 16 than at k = 1 (each step costs k times more), SGD less than 2x; every
    /// GD run takes the same number of steps at every k for a seed, and examples = steps x batch.
    func testRedundancyQuickGrowsForGDAndNotForSGD() throws {
        let out = path("redundancy")
        let r = try run(["experiment", "redundancy", "--quick", "--out", out], timeout: 180)
        XCTAssertEqual(r.code, 0, r.stderr)
        let results = try decode(RedundancyResults.self, out + "/results.json")
        XCTAssertEqual(results.rows.map(\.k), [1, 2, 4, 8, 16])
        for row in results.rows {
            XCTAssertEqual(row.gd.batch, row.setExamples)
            for o in row.gd.outcomes + row.sgd.outcomes {
                XCTAssertTrue(o.reached, "k \(row.k) \(o.run): target not reached")
                XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/" + o.run + "/summary.json"), o.run)
            }
            for o in row.gd.outcomes { XCTAssertEqual(o.examples, o.steps * row.gd.batch, o.run) }
            for o in row.sgd.outcomes { XCTAssertEqual(o.examples, o.steps * row.sgd.batch, o.run) }
        }
        let first = try XCTUnwrap(results.rows.first), last = try XCTUnwrap(results.rows.last)
        // Replication changes neither the loss nor the gradient: GD takes the same steps at every k.
        for row in results.rows {
            XCTAssertEqual(row.gd.outcomes.map(\.steps), first.gd.outcomes.map(\.steps), "k \(row.k)")
        }
        let gd = try XCTUnwrap(last.gd.medianExamples) / XCTUnwrap(first.gd.medianExamples)
        let sgd = try XCTUnwrap(last.sgd.medianExamples) / XCTUnwrap(first.sgd.medianExamples)
        XCTAssertGreaterThan(gd, 8, "GD's examples to target grew \(gd)x from k=1 to k=16")
        XCTAssertLessThan(sgd, 2, "SGD's examples to target grew \(sgd)x from k=1 to k=16")

        try checkReport(out, svg: "redundancy.svg", stdout: r.stdout, csvRows: results.rows.count * (first.gd.outcomes.count + first.sgd.outcomes.count))
        let root = try XCTUnwrap(XMLDocument(contentsOf: URL(fileURLWithPath: out + "/redundancy.svg"), options: []).rootElement())
        XCTAssertEqual(root.descendants("g", class: "series").map { $0.descendants("circle").count }, [5, 5])
    }
}
