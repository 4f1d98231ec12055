import DSGDCore
import DSGDEmbeddedData
import Foundation
import XCTest

/// The data sets of `DatasetSpec.names` beyond the two synthetic ones: their statistics match what
/// they promise, each is a function of its spec alone, and the real ones equal the files in data/.
final class DatasetRegistryTests: XCTestCase {
    // MARK: lecun-2d

    func testLeCun2DClassMeansAndVariancesMatchThePaper() throws {
        // 10000 points per class: the standard error of a class mean is sqrt(0.036 / 10000) ~ 0.0019
        // per coordinate, and of a class variance 0.036 sqrt(2 / 10000) ~ 0.00051; the tolerances
        // below are about 5 standard errors.
        let data = try DatasetSpec(name: "lecun-2d", examples: 20000, features: 32, seed: 3).materialize()
        XCTAssertEqual(data.dimension, 2, "lecun-2d has two features whatever `features` says")
        for (label, sign) in [(Float(1), 1.0), (Float(-1), -1.0)] {
            let rows = (0..<data.examples).filter { data.targets[$0] == label }
            XCTAssertEqual(rows.count, 10000, "half the points in each class")
            for (j, m) in [0.4, 0.8].enumerated() {
                let v = rows.map { Double(data.features[2 * $0 + j]) }
                let mean = v.reduce(0, +) / Double(v.count)
                let variance = v.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(v.count - 1)
                XCTAssertEqual(mean, sign * m, accuracy: 0.01, "class \(label) mean, coordinate \(j)")
                XCTAssertEqual(variance, 0.036, accuracy: 0.0025, "class \(label) variance, coordinate \(j)")
            }
        }
        XCTAssertEqual(Array(data.targets.prefix(4)), [1, -1, 1, -1], "classes alternate, +1 first")
    }

    func testLeCun2DSecondMomentEigenvalues() throws {
        // E[x x^T] = m m^T + 0.036 I with |m|^2 = 0.8: eigenvalues 0.836 and 0.036.
        // At P = 100 the largest is estimated to about 4% (one standard error) and is held to 15%.
        // The smallest is the spread of 100 points across m, whose relative standard error is
        // sqrt(2 / 99) ~ 14%: a 15% band would be one standard error, so each of 40 independent
        // 100-point sets is held to 45% (about 3 standard errors; the worst of these seeds is 41%
        // off), and their average (standard error ~ 2.2%) to 8%. At P = 20000 both are held to 3%
        // (standard errors about 0.3% and 1%).
        var bigSum = 0.0, smallSum = 0.0
        let seeds: ClosedRange<UInt64> = 1...40
        for seed in seeds {
            let (big, small) = try secondMomentEigenvalues2D(DatasetSpec(name: "lecun-2d", examples: 100, features: 2, seed: seed))
            XCTAssertEqual(big, 0.836, accuracy: 0.15 * 0.836, "seed \(seed)")
            XCTAssertEqual(small, 0.036, accuracy: 0.45 * 0.036, "seed \(seed)")
            bigSum += big
            smallSum += small
        }
        XCTAssertEqual(bigSum / Double(seeds.count), 0.836, accuracy: 0.03 * 0.836)
        XCTAssertEqual(smallSum / Double(seeds.count), 0.036, accuracy: 0.08 * 0.036)
        let (big, small) = try secondMomentEigenvalues2D(DatasetSpec(name: "lecun-2d", examples: 20000, features: 2, seed: 1))
        XCTAssertEqual(big, 0.836, accuracy: 0.03 * 0.836)
        XCTAssertEqual(small, 0.036, accuracy: 0.03 * 0.036)
    }

    /// The eigenvalues of (1/P) sum x x^T for a 2-feature data set, in closed form, largest first.
    private func secondMomentEigenvalues2D(_ spec: DatasetSpec) throws -> (Double, Double) {
        let data = try spec.materialize()
        var a = 0.0, b = 0.0, c = 0.0
        for i in 0..<data.examples {
            let x0 = Double(data.features[2 * i]), x1 = Double(data.features[2 * i + 1])
            a += x0 * x0
            b += x0 * x1
            c += x1 * x1
        }
        let p = Double(data.examples)
        a /= p; b /= p; c /= p
        let mid = (a + c) / 2, radius = (((a - c) / 2) * ((a - c) / 2) + b * b).squareRoot()
        return (mid + radius, mid - radius)
    }

    // MARK: quadratic

    func testQuadraticSecondMomentHasTheRequestedCondition() throws {
        // d = 5, 40000 rows: each eigenvalue is estimated to about sqrt(2 / 40000) ~ 0.7%.
        for condition in [100.0, 1000.0] {
            var spec = DatasetSpec(name: "quadratic", examples: 40000, features: 5, seed: 7)
            spec.condition = condition
            let data = try spec.materialize()
            let d = data.dimension
            var m = [Double](repeating: 0, count: d * d)
            for i in 0..<data.examples {
                for r in 0..<d {
                    let xr = Double(data.features[i * d + r])
                    for s in 0..<d { m[r * d + s] += xr * Double(data.features[i * d + s]) }
                }
            }
            for k in m.indices { m[k] /= Double(data.examples) }
            let eigenvalues = jacobiEigenvalues(m, d).sorted(by: >)
            let measured = eigenvalues.first! / eigenvalues.last!
            XCTAssertEqual(measured, condition, accuracy: 0.2 * condition, "eigenvalues \(eigenvalues)")
            for (k, lambda) in eigenvalues.enumerated() {
                let expected = pow(condition, -Double(k) / Double(d - 1))
                XCTAssertEqual(lambda, expected, accuracy: 0.05 * expected, "eigenvalue \(k) of \(eigenvalues)")
            }
        }
    }

    func testQuadraticTargetsAreALinearFunctionOfTheInputs() throws {
        // y = w*.x + N(0, 0.01^2) with |w*| = 1: least squares on 2000 rows recovers a unit
        // vector and leaves residuals of standard deviation about 0.01.
        let data = try DatasetSpec(name: "quadratic", examples: 2000, features: 3, seed: 2, condition: 10).materialize()
        let d = 3
        var a = [Double](repeating: 0, count: d * d), rhs = [Double](repeating: 0, count: d)
        for i in 0..<data.examples {
            for r in 0..<d {
                let xr = Double(data.features[i * d + r])
                rhs[r] += xr * Double(data.targets[i])
                for s in 0..<d { a[r * d + s] += xr * Double(data.features[i * d + s]) }
            }
        }
        let w = solve(a, rhs, d)
        XCTAssertEqual(w.reduce(0) { $0 + $1 * $1 }.squareRoot(), 1, accuracy: 0.01)
        var sse = 0.0
        for i in 0..<data.examples {
            var z = 0.0
            for r in 0..<d { z += w[r] * Double(data.features[i * d + r]) }
            sse += (Double(data.targets[i]) - z) * (Double(data.targets[i]) - z)
        }
        XCTAssertEqual((sse / Double(data.examples)).squareRoot(), 0.01, accuracy: 0.001)
    }

    /// Eigenvalues of the symmetric d x d row-major matrix `a`, by cyclic Jacobi rotations.
    private func jacobiEigenvalues(_ a: [Double], _ d: Int) -> [Double] {
        var a = a
        for _ in 0..<100 {
            var off = 0.0
            for p in 0..<d { for q in 0..<d where p != q { off += a[p * d + q] * a[p * d + q] } }
            if off < 1e-24 { break }
            for p in 0..<(d - 1) {
                for q in (p + 1)..<d where a[p * d + q] != 0 {
                    // The rotation in the (p, q) plane that zeroes a[p][q].
                    let theta = (a[q * d + q] - a[p * d + p]) / (2 * a[p * d + q])
                    let t = (theta >= 0 ? 1.0 : -1.0) / (abs(theta) + (theta * theta + 1).squareRoot())
                    let c = 1 / (t * t + 1).squareRoot(), s = t * c
                    for k in 0..<d {  // columns p and q
                        let akp = a[k * d + p], akq = a[k * d + q]
                        a[k * d + p] = c * akp - s * akq
                        a[k * d + q] = s * akp + c * akq
                    }
                    for k in 0..<d {  // rows p and q
                        let apk = a[p * d + k], aqk = a[q * d + k]
                        a[p * d + k] = c * apk - s * aqk
                        a[q * d + k] = s * apk + c * aqk
                    }
                }
            }
        }
        return (0..<d).map { a[$0 * d + $0] }
    }

    /// Solves the d x d system `a x = b` by Gaussian elimination with partial pivoting.
    private func solve(_ a: [Double], _ b: [Double], _ d: Int) -> [Double] {
        var a = a, b = b
        for k in 0..<d {
            let pivot = (k..<d).max { abs(a[$0 * d + k]) < abs(a[$1 * d + k]) }!
            for j in 0..<d { a.swapAt(k * d + j, pivot * d + j) }
            b.swapAt(k, pivot)
            for r in (k + 1)..<d {
                let f = a[r * d + k] / a[k * d + k]
                for j in k..<d { a[r * d + j] -= f * a[k * d + j] }
                b[r] -= f * b[k]
            }
        }
        var x = [Double](repeating: 0, count: d)
        for k in stride(from: d - 1, through: 0, by: -1) {
            var s = b[k]
            for j in (k + 1)..<d { s -= a[k * d + j] * x[j] }
            x[k] = s / a[k * d + k]
        }
        return x
    }

    // MARK: blobs

    func testBlobsHaveBalancedClassIndicesAndUnitSpread() throws {
        let small = try DatasetSpec(name: "blobs", examples: 100, features: 4, seed: 1).materialize()
        XCTAssertEqual(small.targets, (0..<100).map { Float($0 % 3) }, "row i is class i mod 3 (the default)")
        XCTAssertEqual((0..<3).map { k in small.targets.filter { $0 == Float(k) }.count }, [34, 33, 33])

        // 3000 rows per class: each class's per-coordinate variance is 1 to about 2.6%.
        var spec = DatasetSpec(name: "blobs", examples: 15000, features: 3, seed: 4)
        spec.classes = 5
        let data = try spec.materialize()
        XCTAssertEqual(Set(data.targets), Set((0..<5).map(Float.init)))
        var centres: [[Double]] = []
        for k in 0..<5 {
            let rows = (0..<data.examples).filter { data.targets[$0] == Float(k) }
            XCTAssertEqual(rows.count, 3000)
            var centre: [Double] = []
            for j in 0..<3 {
                let v = rows.map { Double(data.features[3 * $0 + j]) }
                let mean = v.reduce(0, +) / Double(v.count)
                let variance = v.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(v.count - 1)
                XCTAssertEqual(variance, 1, accuracy: 0.12, "class \(k), coordinate \(j)")
                centre.append(mean)
            }
            centres.append(centre)
        }
        // Centres are N(0, 4 I): their coordinates spread well beyond the unit within-class spread.
        let all = centres.flatMap { $0 }
        XCTAssertGreaterThan(all.map { $0 * $0 }.reduce(0, +) / Double(all.count), 0.5)
    }

    // MARK: replicate

    func testReplicateRepeatsTheBaseSetExactly() throws {
        for name in DatasetSpec.names {
            let base = DatasetSpec(name: name, examples: 50, features: 3, seed: 9)
            var spec = base
            spec.replicate = 3
            let one = try base.materialize(), three = try spec.materialize()
            XCTAssertEqual(three.examples, 3 * one.examples, name)
            XCTAssertEqual(three.examples, spec.totalExamples, name)
            XCTAssertEqual(three.dimension, spec.dimension, name)
            XCTAssertEqual(three.features, one.features + one.features + one.features, name)
            XCTAssertEqual(three.targets, one.targets + one.targets + one.targets, name)
        }
    }

    // MARK: the real data sets

    func testEmbeddedDataSetsEqualTheFilesBitForBit() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        for (name, file, examples, features) in [("breast-cancer", "breast_cancer.csv", 569, 30), ("digits", "digits.csv", 1797, 64)] {
            let path = root.appendingPathComponent("data").appendingPathComponent(file).path
            let fromFile = try CSVLoader.load(path: path)
            // examples, features and seed are ignored.
            let spec = DatasetSpec(name: name, examples: 8192, features: 32, seed: 77)
            let embedded = try spec.materialize()
            XCTAssertEqual(embedded.examples, examples, name)
            XCTAssertEqual(embedded.dimension, features, name)
            XCTAssertEqual(spec.totalExamples, examples, name)
            XCTAssertEqual(spec.dimension, features, name)
            XCTAssertEqual(embedded.examples, fromFile.examples, name)
            XCTAssertEqual(embedded.dimension, fromFile.dimension, name)
            XCTAssertEqual(embedded.features.map(\.bitPattern), fromFile.features.map(\.bitPattern), name)
            XCTAssertEqual(embedded.targets.map(\.bitPattern), fromFile.targets.map(\.bitPattern), name)
            let other = try DatasetSpec(name: name, examples: 1, features: 1, seed: 1).materialize()
            XCTAssertEqual(other.features, embedded.features, "\(name) ignores examples, features and seed")
        }
        // The generated source is not stale: it holds each file's text (minus the final newline).
        let text = try String(contentsOf: root.appendingPathComponent("data/digits.csv"), encoding: .utf8)
        XCTAssertEqual(EmbeddedData.digits + "\n", text, "rerun scripts/embed-data.py")
        let bc = try String(contentsOf: root.appendingPathComponent("data/breast_cancer.csv"), encoding: .utf8)
        XCTAssertEqual(EmbeddedData.breastCancer + "\n", bc, "rerun scripts/embed-data.py")
    }

    // MARK: every data set

    func testSyntheticDataSetsAreDeterministicPerSeed() throws {
        for name in ["synthetic-logistic", "synthetic-linear", "lecun-2d", "quadratic", "blobs"] {
            let spec = DatasetSpec(name: name, examples: 200, features: 4, seed: 11)
            let a = try spec.materialize(), b = try spec.materialize()
            XCTAssertEqual(a.features.map(\.bitPattern), b.features.map(\.bitPattern), name)
            XCTAssertEqual(a.targets.map(\.bitPattern), b.targets.map(\.bitPattern), name)
            var other = spec
            other.seed = 12
            XCTAssertNotEqual(try other.materialize().features, a.features, name)
        }
    }

    func testSpecDecodesOldJSONWithDefaultsAndRoundTrips() throws {
        let old = #"{"name": "blobs", "examples": 10, "features": 2, "seed": 3}"#
        let spec = try JSONDecoder().decode(DatasetSpec.self, from: Data(old.utf8))
        XCTAssertEqual(spec, DatasetSpec(name: "blobs", examples: 10, features: 2, seed: 3))
        XCTAssertEqual(spec.condition, 100)
        XCTAssertEqual(spec.classes, 3)
        XCTAssertEqual(spec.replicate, 1)
        let full = DatasetSpec(name: "quadratic", examples: 5, features: 2, seed: 1, condition: 1e4, classes: 7, replicate: 2)
        XCTAssertEqual(try JSONDecoder().decode(DatasetSpec.self, from: JSONEncoder().encode(full)), full)
    }

    func testBadOptionsAreNamed() {
        func problem(_ spec: DatasetSpec) -> String? { spec.problems().first }
        XCTAssertEqual(problem(DatasetSpec(name: "quadratic", examples: 10, features: 2, seed: 1, condition: 0.5)),
                       "--condition must be a finite number >= 1 (got 0.5)")
        XCTAssertEqual(problem(DatasetSpec(name: "blobs", examples: 10, features: 2, seed: 1, classes: 0)),
                       "--classes must be at least 1 (got 0)")
        XCTAssertEqual(problem(DatasetSpec(name: "digits", examples: 10, features: 2, seed: 1, replicate: 0)),
                       "--replicate must be at least 1 (got 0)")
        XCTAssertEqual(problem(DatasetSpec(name: "lecun-2d", examples: 0, features: 2, seed: 1)),
                       "--examples must be at least 1 (got 0)")
        XCTAssertNil(problem(DatasetSpec(name: "lecun-2d", examples: 10, features: 0, seed: 1)), "lecun-2d ignores features")
        XCTAssertNil(problem(DatasetSpec(name: "breast-cancer", examples: 0, features: 0, seed: 1)), "real sets ignore sizes")
        XCTAssertTrue(problem(DatasetSpec(name: "mnist", examples: 10, features: 2, seed: 1))!.contains("unknown data set 'mnist'"))
        XCTAssertThrowsError(try DatasetSpec(name: "blobs", examples: 10, features: 2, seed: 1, classes: 0).materialize()) {
            XCTAssertEqual("\($0)", "--classes must be at least 1 (got 0)")
        }
    }
}
