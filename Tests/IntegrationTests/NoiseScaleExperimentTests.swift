import DSGDCluster
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import XCTest

/// `dsgd experiment noise-scale --quick` end to end: the table's numbers follow from the run
/// directories (each batch's best rate, its steps and examples to the target, the noise sums
/// recomputed here from metrics.jsonl, the pooled B_simple and the fit redone here), and the shape
/// the experiment states: a larger batch needs fewer steps but more examples, with the fitted
/// knee B_crit inside the batch range and within a factor of 3 of the B_simple measured in
/// training.
extension ExperimentTests {
    struct NoiseScaleResults: Decodable {
        struct Sums: Decodable {
            var trace: Double
            var gradientSquare: Double
            var steps: Int
        }

        struct Outcome: Decodable {
            var rateFactor: Double
            var run: String
            var reached: Bool
            var steps: Int
            var examples: Int
            var nearTarget: Sums?
        }

        struct Row: Decodable {
            var batch: Int
            var outcomes: [Outcome]
        }

        struct Fit: Decodable {
            var stepsMin: Double
            var criticalBatch: Double
        }

        var examples: Int
        var workers: Int
        var optimum: Double
        var excess: Double
        var target: Double
        var rows: [Row]
        var fit: Fit?
        var measuredNoiseScale: Double?
    }

    func testNoiseScaleQuickShowsTheKneeNearTheMeasuredNoiseScale() throws {
        let out = path("noise-scale")
        let r = try run(["experiment", "noise-scale", "--quick", "--out", out], timeout: 300)
        XCTAssertEqual(r.code, 0, r.stderr)
        let results = try decode(NoiseScaleResults.self, out + "/results.json")
        XCTAssertEqual(results.rows.map(\.batch), [2, 16, 128, 512])
        XCTAssertEqual(results.target, results.optimum * (1 + results.excess), accuracy: 1e-12 * results.target)
        let ceiling = results.optimum * (1 + 2 * results.excess)

        var best: [(batch: Int, steps: Int, examples: Int, sums: NoiseScaleResults.Sums?)] = []
        for row in results.rows {
            XCTAssertEqual(row.outcomes.map(\.rateFactor), [1, 0.25, 0.0625], "batch \(row.batch)")
            let reached = row.outcomes.filter(\.reached)
            let b = try XCTUnwrap(reached.min { $0.steps < $1.steps }, "batch \(row.batch): no rate reached the target")
            // The run directory says the same, and the noise sums follow from its metrics.jsonl.
            let dir = out + "/" + b.run
            let s = try summary(dir)
            XCTAssertEqual(s.stepsToTarget, b.steps, b.run)
            XCTAssertEqual(s.examplesToTarget, b.steps * row.batch, b.run)
            XCTAssertEqual(s.batch, row.batch / results.workers, b.run)
            let sums = try nearTargetSums(dir, upTo: b.steps, ceiling: ceiling)
            XCTAssertEqual(sums?.steps, b.nearTarget?.steps, b.run)
            if let got = b.nearTarget, let expected = sums {
                XCTAssertEqual(got.trace, expected.trace, accuracy: 1e-12 * abs(expected.trace), b.run)
                XCTAssertEqual(got.gradientSquare, expected.gradientSquare, accuracy: 1e-12 * abs(expected.gradientSquare), b.run)
            }
            best.append((row.batch, b.steps, b.examples, sums))
        }

        // The pooled B_simple (batches B <= n/16) and the weighted least-squares fit, redone here.
        let pooled = best.filter { $0.batch * 16 <= results.examples }.compactMap(\.sums)
        let trace = pooled.reduce(0) { $0 + $1.trace }, gradient = pooled.reduce(0) { $0 + $1.gradientSquare }
        let measured = try XCTUnwrap(results.measuredNoiseScale)
        XCTAssertEqual(measured, trace / gradient, accuracy: 1e-9 * measured)
        var sw = 0.0, sx = 0.0, sxx = 0.0, sy = 0.0, sxy = 0.0
        for p in best {
            let x = 1 / Double(p.batch), y = Double(p.steps), w = 1 / (y * y)
            sw += w; sx += w * x; sxx += w * x * x; sy += w * y; sxy += w * x * y
        }
        let a = (sxx * sy - sx * sxy) / (sw * sxx - sx * sx), c = (sw * sxy - sx * sy) / (sw * sxx - sx * sx)
        let fit = try XCTUnwrap(results.fit)
        XCTAssertEqual(fit.stepsMin, a, accuracy: 1e-9 * a)
        XCTAssertEqual(fit.criticalBatch, c / a, accuracy: 1e-9 * c / a)

        // The shape: fewer steps and more examples at larger batches, a knee inside the range near
        // the measured noise scale.
        let first = try XCTUnwrap(best.first), last = try XCTUnwrap(best.last)
        XCTAssertGreaterThan(Double(first.steps) / Double(last.steps), 4, "steps to target: \(best.map(\.steps))")
        XCTAssertGreaterThan(Double(last.examples) / Double(first.examples), 4, "examples to target: \(best.map(\.examples))")
        XCTAssertGreaterThan(fit.criticalBatch, Double(first.batch))
        XCTAssertLessThan(fit.criticalBatch, Double(last.batch))
        let ratio = fit.criticalBatch / measured
        XCTAssertTrue(ratio > 1.0 / 3 && ratio < 3, "B_crit \(fit.criticalBatch) against B_simple \(measured)")
        print("ExperimentTests: noise-scale quick: steps \(best.map(\.steps)), B_crit \(fit.criticalBatch), B_simple \(measured)")

        try checkReport(out, svg: "noise-scale.svg", stdout: r.stdout, csvRows: results.rows.count * 3)
        let root = try XCTUnwrap(XMLDocument(contentsOf: URL(fileURLWithPath: out + "/noise-scale.svg"), options: []).rootElement())
        let series = root.descendants("g", class: "series")
        let steps = series.filter { $0.attr("data-name")?.hasPrefix("steps to the target") == true }
        XCTAssertEqual(steps.map { $0.descendants("circle").count }, [4], "one marker per batch")
        XCTAssertTrue(series.contains { $0.attr("data-name")?.hasPrefix("B_simple measured") == true })
    }

    /// The sums of `noise_trace` and `noise_gradient_square` over the steps up to `steps` whose
    /// preceding point (the parameters the step's gradients were computed on, with an
    /// evaluation every step) had a loss of at most `ceiling`; nil when no step qualifies.
    func nearTargetSums(_ dir: String, upTo steps: Int, ceiling: Double) throws -> NoiseScaleResults.Sums? {
        let rows = try metrics(dir)
        var s = NoiseScaleResults.Sums(trace: 0, gradientSquare: 0, steps: 0)
        for (before, m) in zip(rows, rows.dropFirst()) where m.step <= steps && m.step == before.step + 1 {
            guard let l = before.loss, l <= ceiling else { continue }
            s.trace += try XCTUnwrap(m.noiseTrace, "\(dir) step \(m.step)")
            s.gradientSquare += try XCTUnwrap(m.noiseGradientSquare, "\(dir) step \(m.step)")
            s.steps += 1
        }
        return s.steps > 0 ? s : nil
    }
}
