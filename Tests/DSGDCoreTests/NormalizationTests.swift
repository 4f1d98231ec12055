import DSGDCore
import Foundation
import XCTest

/// Input normalization: statistics that add up across shards, standardization and whitening, and
/// the lecture's claim on real data (breast-cancer: condition number ~1e12 raw, ~1e5 standardized).
final class NormalizationTests: XCTestCase {

    func testStatisticsOfDisjointPartsAddUpToTheWhole() throws {
        let data = try DatasetSpec(name: "quadratic", examples: 500, features: 4, seed: 2).materialize()
        let whole = FeatureStatistics(of: data)
        let parts = FeatureStatistics(of: data, indices: Array(0..<123)) + FeatureStatistics(of: data, indices: Array(123..<500))
        XCTAssertEqual(parts.count, whole.count)
        for (a, b) in zip(parts.sums, whole.sums) { XCTAssertEqual(a, b, accuracy: 1e-9 * max(1, abs(b))) }
        for (a, b) in zip(parts.products, whole.products) { XCTAssertEqual(a, b, accuracy: 1e-9 * max(1, abs(b))) }
    }

    func testStandardizeGivesZeroMeanAndUnitVariance() throws {
        let data = try DatasetSpec(name: "breast-cancer", examples: 1, features: 1, seed: 1).materialize()
        let z = Normalizer(.standardize, statistics: FeatureStatistics(of: data)).apply(to: data)
        let s = FeatureStatistics(of: z)
        let c = s.covariance
        for a in 0..<z.dimension {
            XCTAssertEqual(s.mean[a], 0, accuracy: 1e-6, "mean of feature \(a)")
            XCTAssertEqual(c[a * z.dimension + a], 1, accuracy: 1e-5, "variance of feature \(a)")
        }
        XCTAssertEqual(z.targets, data.targets)
    }

    func testWhiteningGivesIdentityCovariance() throws {
        let data = try DatasetSpec(name: "quadratic", examples: 4000, features: 5, seed: 7, condition: 1000).materialize()
        let w = Normalizer(.whiten, statistics: FeatureStatistics(of: data)).apply(to: data)
        let c = FeatureStatistics(of: w).covariance
        for a in 0..<5 {
            for b in 0..<5 { XCTAssertEqual(c[a * 5 + b], a == b ? 1 : 0, accuracy: 1e-4, "covariance[\(a)][\(b)]") }
        }
    }

    /// numpy (Fixtures/breast_cancer_curvature.py, "standardized") against dsgd's exact Hessian of
    /// linear regression on the standardized inputs (with the bias column).
    func testBreastCancerConditionNumberDropsFromOrder1e12ToOrder1e5() throws {
        let fixtureURL = repositoryRoot.appendingPathComponent("Tests/DSGDCoreTests/Fixtures/breast_cancer_curvature.json")
        let fixture = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: fixtureURL)) as? [String: Any])
        let expected = try XCTUnwrap(fixture["standardized"] as? [String: Double])
        let raw = try DatasetSpec(name: "breast-cancer", examples: 1, features: 1, seed: 1).materialize()
        let model = LinearRegression(dimension: raw.dimension)
        func condition(_ data: Dataset) throws -> (Double, Double, Double) {
            let h = try XCTUnwrap(Curvature.exactHessian(model: model, parameters: model.initialParameters(), data: data))
            let values = Eigen.symmetricEigenvalues(h, n: model.parameterCount)
            return (values.max()!, values.min()!, values.max()! / values.min()!)
        }
        let (_, _, rawCondition) = try condition(raw)
        XCTAssertGreaterThan(rawCondition, 1e12)
        XCTAssertLessThan(rawCondition, 1e13)
        let standardized = Normalizer(.standardize, statistics: FeatureStatistics(of: raw)).apply(to: raw)
        let (lmax, lmin, c) = try condition(standardized)
        XCTAssertEqual(lmax, expected["lambda_max"]!, accuracy: 1e-8 * expected["lambda_max"]!)
        XCTAssertEqual(lmin, expected["lambda_min"]!, accuracy: 1e-6 * expected["lambda_min"]!)
        XCTAssertEqual(c, expected["condition"]!, accuracy: 1e-6 * expected["condition"]!)
        XCTAssertGreaterThan(c, 1e4)
        XCTAssertLessThan(c, 1e6)
        // Correlation remains: whitening removes it and leaves a perfectly conditioned problem.
        let whitened = Normalizer(.whiten, statistics: FeatureStatistics(of: raw)).apply(to: raw)
        XCTAssertEqual(try condition(whitened).2, 1, accuracy: 1e-3)
    }
}
