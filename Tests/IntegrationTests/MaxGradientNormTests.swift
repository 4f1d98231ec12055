import DSGDCluster
import DSGDCore
import Foundation
import XCTest

/// `--max-gradient-norm g` (async): a gradient whose L2 norm is above g, or that holds a NaN, is
/// dropped and counted, never applied, and its sender gets the current parameters; the run goes
/// on (without the limit a NaN gradient fails the run). One scripted worker sends its true
/// gradient, then the same scaled by 1e4 (norm above g), then one with a NaN, then its true
/// gradient again: the final parameters are those of the two true gradients alone, bit for bit.
final class MaxGradientNormTests: ClusterTestCase {
    func testAbsurdAndNonFiniteGradientsAreDroppedAndTheRunGoesOn() throws {
        let features = 5, examples = 40, batch = 4, seed: UInt64 = 4, lr: Float = 0.3
        let out = path("max-gradient-norm")
        let (coordinator, endpoint) = try startCoordinator(
            ["--workers", "1", "--mode", "async", "--model", "logistic", "--examples", "\(examples)", "--features", "\(features)",
             "--batch", "\(batch)", "--lr", "\(lr)", "--steps", "2", "--seed", "\(seed)", "--eval-every", "1",
             "--max-gradient-norm", "10"], out: out)
        let w = try ScriptedWorker(id: 0, connect: endpoint)
        try w.register()
        XCTAssertEqual(try w.expectParams(), 0)
        var sgd = ReferenceSGD(parameters: LogisticRegression(dimension: features).initialParameters(), learningRate: lr)
        let first = try w.computeGradient()
        let norm = first.values.reduce(0) { $0 + Double($1) * Double($1) }.squareRoot()
        XCTAssertLessThan(norm, 10, "the true gradient is within the limit")
        try w.send(first)
        sgd.apply([first.values])
        XCTAssertEqual(try w.expectParams(), 1)
        var huge = try w.computeGradient()
        huge.values = huge.values.map { $0 * 1e4 }
        XCTAssertGreaterThan(norm * 1e4, 1000, "the scaled one is far above it")
        try w.send(huge)
        XCTAssertEqual(try w.expectParams(), 1, "dropped: the worker gets version 1 again")
        var poisoned = try w.computeGradient()
        poisoned.values[0] = .nan
        try w.send(poisoned)
        XCTAssertEqual(try w.expectParams(), 1, "dropped again, and the run goes on")
        let last = try w.computeGradient()
        try w.send(last)
        sgd.apply([last.values])
        XCTAssertEqual(try w.next(), .stop("training completed"))
        try w.bye()
        XCTAssertEqual(coordinator.wait(timeout: 30), 0)
        assertBitIdentical(try params(out).values, sgd.parameters, "only the true gradients were applied")
        let s = try summary(out)
        XCTAssertEqual(s.droppedGradients, 2)
        XCTAssertEqual(s.maxGradientNorm, 10)
        XCTAssertEqual(s.status, .completed)
    }
}
