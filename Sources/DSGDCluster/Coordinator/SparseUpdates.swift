/// `ParameterStore.applySparse`'s memory: per part, the ascending union of the entries the last
/// sparse update of that part visited and the version that update made (-1: the last update of
/// the part was dense, or none was sparse). Buffers grow to the largest union seen, then stay.
final class SparseUpdates {
    private var lists: [UnsafeMutablePointer<UInt32>]
    private var rooms: [Int]
    private var counts: [Int]
    private var versions: [Int]
    private let headStorage: UnsafeMutablePointer<Int>
    private let listStorage: UnsafeMutablePointer<UnsafeBufferPointer<UInt32>>
    private let maxGradients: Int

    init(parts: Int, maxGradients: Int) {
        lists = (0..<parts).map { _ in .allocate(capacity: 1) }
        rooms = Array(repeating: 1, count: parts)
        counts = Array(repeating: 0, count: parts)
        versions = Array(repeating: -1, count: parts)
        self.maxGradients = max(maxGradients, 1)
        headStorage = .allocate(capacity: self.maxGradients)
        listStorage = .allocate(capacity: self.maxGradients)
        listStorage.initialize(repeating: UnsafeBufferPointer(start: nil, count: 0), count: self.maxGradients)
    }

    deinit {
        for l in lists { l.deallocate() }
        headStorage.deallocate()
        listStorage.deallocate()
    }

    /// Makes part `j`'s list the ascending union of the `n` lists `entries(0..<n)` (each read
    /// once), remembered as the entries of the update that makes `version`; returns it.
    func merge(part j: Int, _ n: Int, _ entries: (Int) -> UnsafeBufferPointer<UInt32>, version: Int) -> UnsafeBufferPointer<UInt32> {
        precondition(n <= maxGradients)
        var room = 0
        for i in 0..<n {
            listStorage[i] = entries(i)
            room += listStorage[i].count
        }
        reserve(part: j, room: room)
        counts[j] = mergeAscending(UnsafeBufferPointer(start: listStorage, count: n), heads: headStorage, into: lists[j])
        versions[j] = version
        return UnsafeBufferPointer(start: lists[j], count: counts[j])
    }

    /// Makes part `j`'s list hold at least `room` entries (forgetting what it held).
    private func reserve(part j: Int, room: Int) {
        guard room > rooms[j] else { return }
        lists[j].deallocate()
        lists[j] = .allocate(capacity: room)
        rooms[j] = room
        versions[j] = -1
    }

    /// The last update of part `j` was dense.
    func forget(part j: Int) { versions[j] = -1 }

    /// Part `j`'s entries, if its last update was sparse and made `version`.
    func candidates(part j: Int, version: Int) -> UnsafeBufferPointer<UInt32>? {
        versions[j] == version && version >= 0 ? UnsafeBufferPointer(start: lists[j], count: counts[j]) : nil
    }
}
