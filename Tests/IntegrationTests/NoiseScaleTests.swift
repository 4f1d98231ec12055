import DSGDCluster
import DSGDCore
import Foundation
import XCTest

/// `--noise-scale`: the coordinator's two-batch estimate of B_simple, checked against the same
/// estimator computed here in float64 from a replay of the run's gradients (`SyncReplay`).
///
/// Per step t, with the N worker gradients g_k (B examples each) and b_s = B, b_l = N B:
/// |g_s|^2 = (1/N) sum_k |g_k|^2, |g_l|^2 = |(1/N) sum_k g_k|^2,
/// G2_t = (b_l |g_l|^2 - b_s |g_s|^2) / (b_l - b_s), S_t = (|g_s|^2 - |g_l|^2) / (1/b_s - 1/b_l)
/// (README, "Gradient noise scale"); a metrics point's `noise_gradient_square` and `noise_trace`
/// are the means of G2_t and S_t over the steps since the previous point and its `noise_scale`
/// is sum S_t / sum G2_t over them; summary.json's `noise_scale` is that over every step. Tolerance 1e-3 relative:
/// the coordinator sums float32 squares in blocks of 512 elements into float64; the estimates
/// differ between neighbouring windows by far more, which the test checks too.
final class NoiseScaleTests: ClusterTestCase {
    func testEveryPointsNoiseScaleIsTheTwoBatchEstimateOfItsWindow() throws {
        let examples = 240, features = 6, batch = 4, seed: UInt64 = 5, lr: Float = 0.3, n = 3, steps = 30, every = 5
        let out = path("noise")
        let r = try run(["run", "--workers", "\(n)", "--model", "logistic", "--examples", "\(examples)", "--features", "\(features)",
                         "--batch", "\(batch)", "--lr", "\(lr)", "--steps", "\(steps)", "--seed", "\(seed)",
                         "--eval-every", "\(every)", "--noise-scale", "--quiet", "--out", out])
        XCTAssertEqual(r.code, 0, r.stderr)

        let data = try DatasetSpec(name: "synthetic-logistic", examples: examples, features: features, seed: seed).materialize()
        let replay = SyncReplay(model: LogisticRegression(dimension: features), data: data, workers: n, batch: batch,
                                seed: seed, learningRate: lr)
        let versions = replay.run(steps: steps)
        let small = Double(batch), big = Double(n * batch)
        var perStep: [(gradient: Double, trace: Double)] = []
        for t in 0..<steps {
            let g = replay.gradients(at: versions[t], step: t).map { $0.map(Double.init) }
            let gs = g.map { v in v.reduce(0) { $0 + $1 * $1 } }.reduce(0, +) / Double(n)
            let mean = (0..<g[0].count).map { i in g.reduce(0) { $0 + $1[i] } / Double(n) }
            let gl = mean.reduce(0) { $0 + $1 * $1 }
            perStep.append(((big * gl - small * gs) / (big - small), (gs - gl) / (1 / small - 1 / big)))
        }
        func estimate(_ range: Range<Int>) -> Double? {
            let s = perStep[range].reduce((0.0, 0.0)) { ($0.0 + $1.gradient, $0.1 + $1.trace) }
            return s.0 > 0 ? s.1 / s.0 : nil
        }

        let rows = try metrics(out)
        XCTAssertEqual(rows.map(\.step), Array(stride(from: 0, through: steps, by: every)))
        XCTAssertNil(rows[0].noiseScale, "no step before the first point")
        var checked = 0
        for (previous, row) in zip(rows, rows.dropFirst()) {
            let window = perStep[previous.step ..< row.step], count = Double(window.count)
            let meanGradient = window.reduce(0) { $0 + $1.gradient } / count, meanTrace = window.reduce(0) { $0 + $1.trace } / count
            XCTAssertEqual(try XCTUnwrap(row.noiseGradientSquare), meanGradient, accuracy: 1e-3 * abs(meanGradient), "noise_gradient_square at step \(row.step)")
            XCTAssertEqual(try XCTUnwrap(row.noiseTrace), meanTrace, accuracy: 1e-3 * abs(meanTrace), "noise_trace at step \(row.step)")
            let expected = estimate(previous.step ..< row.step)
            guard let e = expected else {
                XCTAssertNil(row.noiseScale, "step \(row.step): no positive |G|^2 estimate, no noise_scale")
                continue
            }
            let got = try XCTUnwrap(row.noiseScale, "noise_scale at step \(row.step)")
            XCTAssertEqual(got, e, accuracy: 1e-3 * abs(e), "noise_scale at step \(row.step)")
            checked += 1
        }
        XCTAssertGreaterThanOrEqual(checked, 4, "most windows have an estimate")
        // The test's power: windows differ by far more than the tolerance.
        let windows = zip(rows, rows.dropFirst()).compactMap { estimate($0.step ..< $1.step) }
        let spread = (windows.max() ?? 0) / (windows.min() ?? 1)
        XCTAssertGreaterThan(spread, 1.1, "the windows' estimates differ: \(windows)")
        let total = try XCTUnwrap(estimate(0..<steps))
        XCTAssertEqual(try XCTUnwrap(summary(out).noiseScale), total, accuracy: 1e-3 * total, "the whole run's estimate")
    }

    /// The flag is refused where the estimator has no two batch sizes to compare.
    func testNoiseScaleNeedsSyncWithTwoOrMoreWorkers() throws {
        for args in [["--workers", "1"], ["--workers", "2", "--mode", "async"], ["--workers", "3", "--backup-workers", "1"]] {
            let r = try run(["run", "--noise-scale", "--steps", "5", "--quiet", "--out", path("refused")] + args)
            XCTAssertNotEqual(r.code, 0, "\(args)")
            XCTAssertTrue(r.stderr.contains("--noise-scale needs --mode sync with 2 or more workers"), "\(args): \(r.stderr)")
        }
    }
}
