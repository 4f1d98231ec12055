import XCTest
import ZeroMQ

/// `ZeroCopyBufferPool` hands out the buffer it handed out last when libzmq has released it (its
/// lines are the likeliest still in cache), never one still in flight nor the one excluded, and
/// grows only when every buffer is in flight.
final class ZeroCopyBufferPoolTests: XCTestCase {
    func testMostRecentlyHandedOutReleasedBufferComesFirst() throws {
        let pool = ZeroCopyBufferPool(count: 16, initial: 3)
        let a = pool.acquire()
        XCTAssert(pool.acquire() === a, "released: the same buffer again")
        let b = pool.acquire(excluding: a)
        XCTAssert(b !== a)
        XCTAssert(pool.acquire() === b, "the last one handed out, not the next in line")
        XCTAssert(pool.acquire(excluding: b) === a, "then the one before it")

        // In flight while a frame points into it.
        let frameB = ZMQMessage(), frameA = ZMQMessage()
        try b.wrap(count: 16, into: frameB)
        XCTAssert(b.isInFlight)
        XCTAssert(pool.acquire() === a, "b is in flight")
        try a.wrap(count: 16, into: frameA)
        let c = pool.acquire()
        XCTAssert(c !== a && c !== b, "the third buffer, the others being in flight")
        XCTAssertEqual(pool.size, 3)
        XCTAssert(pool.acquire(excluding: c) !== c)
        XCTAssertEqual(pool.size, 4, "all three in flight or excluded: the pool grows")

        frameB.clear()
        XCTAssertFalse(b.isInFlight)
        let d = pool.acquire(excluding: c)
        XCTAssert(d !== b, "the buffer just grown, handed out after b")
        XCTAssert(pool.acquire(excluding: d) === c)
        frameA.clear()
        XCTAssertEqual(pool.size, 4)
    }
}
