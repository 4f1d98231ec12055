import CZeroMQ
import Synchronization

/// A fixed-size float32 buffer that can be sent without a copy, whole or in ranges.
///
/// While libzmq holds any frame pointing into it (from `wrap` until libzmq releases that frame),
/// the buffer must not be written: check `isInFlight` first. libzmq calls the release function on
/// one of its I/O threads, so the count of frames in flight is atomic; each frame also holds a
/// strong reference, so the memory outlives every frame that points into it.
public final class ZeroCopyBuffer {
    /// The floats. Write only while `isInFlight` is false.
    public let floats: UnsafeMutableBufferPointer<Float>
    private let framesInFlight = Atomic<Int>(0)

    /// Allocates `count` floats, zero-filled.
    public init(count: Int) {
        floats = .allocate(capacity: max(count, 1))
        floats.initialize(repeating: 0)
    }

    deinit { floats.deallocate() }

    /// Whether libzmq may still be reading the buffer.
    public var isInFlight: Bool { framesInFlight.load(ordering: .acquiring) != 0 }

    /// The bytes of the first `count` floats.
    public func bytes(count: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: floats.baseAddress, count: count * MemoryLayout<Float>.stride)
    }

    /// Points `message` at the first `count` floats without copying.
    public func wrap(count: Int, into message: ZMQMessage) throws {
        try wrap(range: 0..<count, into: message)
    }

    /// Points `message` at the floats of `range` without copying; the buffer stays in flight until
    /// libzmq releases every frame made this way.
    public func wrap(range: Range<Int>, into message: ZMQMessage) throws {
        precondition(range.lowerBound >= 0 && range.upperBound <= floats.count)
        try wrap(byteOffset: range.lowerBound * MemoryLayout<Float>.stride, byteCount: range.count * MemoryLayout<Float>.stride, into: message)
    }

    /// Points `message` at `byteCount` bytes from `byteOffset` (an encoded vector written into the
    /// buffer's storage) without copying; in flight as with `wrap(range:into:)`.
    public func wrap(byteOffset: Int, byteCount: Int, into message: ZMQMessage) throws {
        precondition(byteOffset >= 0 && byteCount >= 0 && byteOffset + byteCount <= floats.count * MemoryLayout<Float>.stride)
        zmq_msg_close(message.msg)
        framesInFlight.add(1, ordering: .acquiringAndReleasing)
        let hint = Unmanaged.passRetained(self).toOpaque()  // released by the free function
        let rc = zmq_msg_init_data(
            message.msg, UnsafeMutableRawPointer(floats.baseAddress!) + byteOffset, byteCount,
            { _, hint in
                Unmanaged<ZeroCopyBuffer>.fromOpaque(hint!).takeRetainedValue().markReleased()
            }, hint)
        if rc != 0 {
            Unmanaged<ZeroCopyBuffer>.fromOpaque(hint).release()
            framesInFlight.subtract(1, ordering: .acquiringAndReleasing)
            zmq_msg_init(message.msg)
            throw ZMQError.last("zmq_msg_init_data")
        }
    }

    fileprivate func markReleased() { framesInFlight.subtract(1, ordering: .acquiringAndReleasing) }
}

/// A few `ZeroCopyBuffer`s: hands out one that libzmq has released, the most recently handed out
/// first (its lines are the likeliest to be in cache still), growing only if every buffer is
/// still in flight (which a protocol with one outstanding message per peer avoids).
public final class ZeroCopyBufferPool {
    private var buffers: [ZeroCopyBuffer]
    private let count: Int
    /// Indices into `buffers`, the most recently handed out first.
    private var order: [Int]

    /// A pool of `initial` buffers of `count` floats each.
    public init(count: Int, initial: Int = 2) {
        self.count = count
        buffers = (0..<max(initial, 1)).map { _ in ZeroCopyBuffer(count: count) }
        order = Array(buffers.indices)
        order.reserveCapacity(buffers.count + 4)
    }

    /// Number of buffers the pool holds (grows only when all were in flight).
    public var size: Int { buffers.count }

    /// A buffer that is not in flight, other than `excluding` (identity): of those, the one handed
    /// out last.
    public func acquire(excluding: ZeroCopyBuffer? = nil) -> ZeroCopyBuffer {
        for position in order.indices {
            let i = order[position], b = buffers[i]
            if !b.isInFlight && b !== excluding {
                // To the front, the others keeping their order (no allocation: a rotation in place).
                var p = position
                while p > 0 {
                    order[p] = order[p - 1]
                    p -= 1
                }
                order[0] = i
                return b
            }
        }
        let b = ZeroCopyBuffer(count: count)
        buffers.append(b)
        order.insert(buffers.count - 1, at: 0)
        return b
    }
}
