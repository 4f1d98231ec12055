import DSGDCore
import Foundation
import XCTest

/// The repository root: up from Tests/DSGDCoreTests/ (fixtures live under it).
let repositoryRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// A hand-built classification set: x ~ N(0, I) scaled by `scale`, labels uniform in 0..<K, all
/// drawn from SplitMix64 stream `stream` of `seed` (each test file uses a stream of its own).
func gaussianClassificationSet(examples n: Int, features d: Int, classes k: Int, seed: UInt64, scale: Double = 1,
                               stream: UInt64) -> Dataset {
    var rng = SplitMix64(seed: seed, stream: stream)
    var x = [Float](), y = [Float]()
    for _ in 0..<n {
        for _ in 0..<d { x.append(Float(scale * rng.nextGaussian())) }
        y.append(Float(rng.next() % UInt64(k)))
    }
    return Dataset(examples: n, dimension: d, features: x, targets: y)
}

/// `|a - b| / |b|` in the Euclidean norm, with `|b|` asserted non-trivial.
func relativeError(_ a: [Float], _ b: [Double], file: StaticString = #filePath, line: UInt = #line) -> Double {
    XCTAssertEqual(a.count, b.count, file: file, line: line)
    let diff = zip(a, b).map { (Double($0) - $1) * (Double($0) - $1) }.reduce(0, +).squareRoot()
    let norm = b.map { $0 * $0 }.reduce(0, +).squareRoot()
    XCTAssertGreaterThan(norm, 1e-3, "the reference must be non-trivial", file: file, line: line)
    return diff / norm
}

/// The batching contract of `Model.lossAndGradient` on a set of 300 examples: the full-set `loss`
/// equals the loss over all 300 as one batch, repeating a call gives identical results, and the
/// order of the indices only changes rounding.
func assertBatchingConsistent(_ model: any Model, data: Dataset, parameters p: [Float],
                              file: StaticString = #filePath, line: UInt = #line) {
    let small = model.lossAndGradient(parameters: p, data: data, batch: [0, 1, 2])
    let all = model.lossAndGradient(parameters: p, data: data, batch: (0..<UInt32(data.examples)).map { $0 })
    XCTAssertEqual(model.loss(parameters: p, data: data), all.loss, accuracy: 1e-5, file: file, line: line)
    let again = model.lossAndGradient(parameters: p, data: data, batch: [0, 1, 2])
    XCTAssertEqual(small.loss, again.loss, file: file, line: line)
    XCTAssertEqual(small.gradient, again.gradient, file: file, line: line)
    let reversed = model.lossAndGradient(parameters: p, data: data, batch: [2, 1, 0])
    XCTAssertEqual(small.loss, reversed.loss, accuracy: 1e-6, file: file, line: line)
    for (g, r) in zip(small.gradient, reversed.gradient) { XCTAssertEqual(g, r, accuracy: 1e-6, file: file, line: line) }
}

/// Central differences of `f` at `w` (float64, step h): the numeric gradient.
func finiteDifferences(_ w: [Double], h: Double = 1e-6, _ f: ([Double]) -> Double) -> [Double] {
    (0..<w.count).map { j in
        var plus = w, minus = w
        plus[j] += h
        minus[j] -= h
        return (f(plus) - f(minus)) / (2 * h)
    }
}

/// `|analytic - numeric| / |numeric| < relative` (Euclidean norms), with a non-trivial `numeric`.
func assertClose(_ analytic: [Float], _ numeric: [Double], relative: Double, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertLessThan(relativeError(analytic, numeric, file: file, line: line), relative, "relative error", file: file, line: line)
}
