import DSGDCore
import XCTest

final class DataTests: XCTestCase {
    func testSplitMix64MatchesReferenceSequence() {
        // Reference outputs of Vigna's splitmix64.c seeded with 1234567.
        var g = SplitMix64(seed: 1_234_567)
        XCTAssertEqual(g.next(), 6_457_827_717_110_365_317)
        XCTAssertEqual(g.next(), 3_203_168_211_198_807_973)
        XCTAssertEqual(g.next(), 9_817_491_932_198_370_423)
    }

    func testGaussianMomentsAreStandard() {
        var g = SplitMix64(seed: 42)
        let n = 200_000
        var s = 0.0, s2 = 0.0
        for _ in 0..<n {
            let x = g.nextGaussian()
            s += x
            s2 += x * x
        }
        // Standard errors: mean 1/sqrt(n) ~ 0.0022, variance sqrt(2/n) ~ 0.0032.
        XCTAssertEqual(s / Double(n), 0, accuracy: 0.01)
        XCTAssertEqual(s2 / Double(n), 1, accuracy: 0.015)
    }

    func testSyntheticDataIsDeterministicPerSeed() throws {
        let spec = DatasetSpec(name: "synthetic-logistic", examples: 300, features: 6, seed: 5)
        let a = try spec.materialize(), b = try spec.materialize()
        XCTAssertEqual(a.features, b.features)
        XCTAssertEqual(a.targets, b.targets)
        var other = spec
        other.seed = 6
        XCTAssertNotEqual(try other.materialize().features, a.features)
        XCTAssertTrue(a.targets.allSatisfy { $0 == 0 || $0 == 1 })
        let positives = a.targets.reduce(0, +)
        XCTAssertGreaterThan(positives, 60)
        XCTAssertLessThan(positives, 240)
    }

    func testUnknownDatasetAndBadSizesAreErrors() {
        XCTAssertThrowsError(try DatasetSpec(name: "nope", examples: 10, features: 2, seed: 1).materialize()) {
            XCTAssertTrue("\($0)".contains("unknown data set 'nope'"))
        }
        XCTAssertThrowsError(try DatasetSpec(name: "synthetic-linear", examples: 0, features: 2, seed: 1).materialize())
    }

    func testShardsAreDisjointEqualAndReshuffledEachEpoch() {
        let s = Sharding(examples: 103, workers: 4, seed: 9)
        XCTAssertEqual(s.shardSize, 25)
        var seen = Set<UInt32>()
        for k in 0..<4 {
            let shard = s.shard(worker: k, epoch: 0)
            XCTAssertEqual(shard.count, 25)
            for i in shard { XCTAssertTrue(seen.insert(i).inserted, "index \(i) in two shards") }
        }
        XCTAssertEqual(seen.count, 100)
        XCTAssertTrue(seen.allSatisfy { $0 < 103 })
        XCTAssertEqual(Set(s.permutation(epoch: 3)), Set(0..<103), "a permutation of every example")
        XCTAssertNotEqual(s.permutation(epoch: 0), s.permutation(epoch: 1))
        XCTAssertEqual(s.permutation(epoch: 2), Sharding(examples: 103, workers: 4, seed: 9).permutation(epoch: 2))
    }
}
