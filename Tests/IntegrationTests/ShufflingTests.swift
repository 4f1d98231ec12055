import DSGDCluster
import DSGDCore
import Foundation
import XCTest

/// The per-epoch shuffle, seen from the workers' side: three scripted sync workers record every
/// SHARD the coordinator sends them over four epochs, and the test holds them against
/// `DocumentedShuffle` (PROTOCOL.md §6.1/§6.3 written again in the test, not DSGDCore's
/// `Sharding`): worker k's shard of epoch e is entries `[k S, (k+1) S)` of the epoch's
/// Fisher–Yates permutation, every example is used exactly once per epoch except the
/// `examples mod N` left over, and the permutation changes from epoch to epoch.
final class ShufflingTests: ClusterTestCase {
    func testShardsAreTheDocumentedPermutationAndCoverEveryExampleOncePerEpoch() throws {
        let n = 3, examples = 50, batch = 4, epochs = 4, seed: UInt64 = 11
        let shardSize = examples / n, leftover = examples % n
        XCTAssertGreaterThan(leftover, 0, "the set leaves examples over, so the leftover rule is exercised")
        let out = path("shuffle")
        let (coordinator, endpoint) = try startCoordinator(
            ["--workers", "\(n)", "--mode", "sync", "--model", "logistic", "--examples", "\(examples)", "--features", "3",
             "--batch", "\(batch)", "--epochs", "\(epochs)", "--seed", "\(seed)"], out: out)
        let workers = try (0..<n).map { try ScriptedWorker(id: $0, connect: endpoint) }
        for w in workers { try w.register() }

        // Sync rounds until STOP: every worker answers every parameter vector.
        var rounds = 0
        roundLoop: while true {
            for w in workers {
                guard case .params = try w.next() else {
                    XCTAssertTrue(w === workers[0], "STOP reaches every worker at the same round")
                    break roundLoop
                }
                try w.send(try w.computeGradient())
            }
            rounds += 1
        }
        for w in workers.dropFirst() { XCTAssertEqual(try w.next(), .stop("training completed")) }
        for w in workers { try w.bye() }
        XCTAssertEqual(coordinator.wait(timeout: 30), 0)
        XCTAssertEqual(rounds, epochs * (shardSize / batch), "the epochs limit counts whole shards of minibatches")

        let train = Array(0..<examples)
        var permutations: [[Int]] = []
        for e in 0..<epochs {
            let p = DocumentedShuffle.permutation(count: examples, seed: seed, tag: DocumentedShuffle.epochTag(e))
            permutations.append(p)
            var seen: [UInt32] = []
            for w in workers {
                XCTAssertEqual(w.shards.map(\.epoch), Array(0..<epochs), "worker \(w.id): one SHARD per epoch, in order")
                guard e < w.shards.count else { continue }
                let shard = w.shards[e].indices
                XCTAssertEqual(shard, DocumentedShuffle.shard(epoch: e, worker: w.id, workers: n, train: train, seed: seed),
                               "worker \(w.id), epoch \(e): the documented slice of the documented permutation")
                seen += shard
            }
            // Exactly once per epoch across the workers; the left-over examples are the
            // permutation's last `examples mod N` entries.
            XCTAssertEqual(seen.count, n * shardSize)
            XCTAssertEqual(Set(seen).count, seen.count, "epoch \(e): no example in two shards or twice in one")
            let sittingOut = Set(0..<examples).subtracting(seen.map(Int.init))
            XCTAssertEqual(sittingOut, Set(p.suffix(leftover)), "epoch \(e): the examples left over")
        }
        // The test's power: the permutation changes every epoch, and the last position is swapped
        // in some epoch (a shuffle that never swaps it would leave example n-1 sitting out forever).
        XCTAssertEqual(Set(permutations).count, epochs, "a different permutation every epoch")
        XCTAssertTrue(permutations.contains { $0.last != examples - 1 })
        let used = Set(workers.flatMap { $0.shards.flatMap(\.indices) })
        XCTAssertEqual(used, Set((0..<examples).map(UInt32.init)), "over the epochs every example was trained on")
    }
}
