@testable import DSGDCluster
import XCTest

/// `RejectionLimiter`: every rejection is counted; a peer is muted (no log, no answer) after its
/// budget, with exactly one "muted now"; answers are limited by a token bucket of
/// `repliesPerSecond`; other peers keep their own budgets.
final class RejectionLimiterTests: XCTestCase {
    func testAPeerIsMutedAfterItsBudgetAndOthersAreNot() {
        var l = RejectionLimiter(budget: 5, repliesPerSecond: 1000, trackedPeers: 16)
        let a: [UInt8] = [0, 1], b: [UInt8] = [0, 2]
        let decisions = (0..<9).map { _ in l.reject(peer: a, now: 0) }
        XCTAssertEqual(decisions.prefix(5).map(\.reply), [true, true, true, true, true])
        XCTAssertEqual(decisions.map(\.mutedNow), [false, false, false, false, false, true, false, false, false])
        XCTAssertTrue(decisions.suffix(4).allSatisfy { !$0.reply && !$0.log })
        XCTAssertTrue(l.isMuted(a))
        XCTAssertFalse(l.isMuted(b))
        XCTAssertTrue(l.reject(peer: b, now: 0).reply, "another peer has its own budget")
        XCTAssertEqual(l.rejected, 10)
        XCTAssertEqual(l.mutedPeers, 1)
    }

    func testAnswersAreLimitedPerSecond() {
        var l = RejectionLimiter(budget: 1_000_000, repliesPerSecond: 10, trackedPeers: 16)
        let p: [UInt8] = [7]
        let burst = (0..<25).map { _ in l.reject(peer: p, now: 100) }.filter(\.reply).count
        XCTAssertEqual(burst, 10, "a full bucket answers 10, then none in the same instant")
        let later = (0..<25).map { _ in l.reject(peer: p, now: 100.5) }.filter(\.reply).count
        XCTAssertEqual(later, 5, "half a second refills 5")
    }

    func testLoggingIsSparse() {
        var l = RejectionLimiter(budget: 1_000_000, repliesPerSecond: 10, trackedPeers: 4)
        // Many peers (a new routing id each): the table is reset when full, nothing grows without bound.
        let logged = (0..<3000).map { i in l.reject(peer: [UInt8(i % 256), UInt8(i / 256)], now: 0) }.filter(\.log).count
        XCTAssertEqual(logged, 20 + 3, "the first 20, then #1000, #2000 and #3000")
    }
}
