/// `ParameterStore.applySparse`'s memory: per part, the ascending union of the entries the last
/// sparse update of that part visited and the version that update made (-1: the last update of
/// the part was dense, or none was sparse). Buffers grow to the largest union seen, then stay.
final class SparseUpdates {
    private var lists: [UnsafeMutablePointer<UInt32>]
    private var rooms: [Int]
    private var counts: [Int]
    private var versions: [Int]
    private let headStorage: UnsafeMutablePointer<Int>
    private let maxGradients: Int

    init(parts: Int, maxGradients: Int) {
        lists = (0..<parts).map { _ in .allocate(capacity: 1) }
        rooms = Array(repeating: 1, count: parts)
        counts = Array(repeating: 0, count: parts)
        versions = Array(repeating: -1, count: parts)
        self.maxGradients = max(maxGradients, 1)
        headStorage = .allocate(capacity: self.maxGradients)
    }

    deinit {
        for l in lists { l.deallocate() }
        headStorage.deallocate()
    }

    /// Makes part `j`'s list hold at least `room` entries (forgetting what it held).
    func reserve(part j: Int, room: Int) {
        guard room > rooms[j] else { return }
        lists[j].deallocate()
        lists[j] = .allocate(capacity: room)
        rooms[j] = room
        versions[j] = -1
    }

    /// Part `j`'s list, to be written.
    func list(_ j: Int) -> UnsafeMutablePointer<UInt32> { lists[j] }

    /// Room for the heads of a merge of `n` lists.
    func heads(_ n: Int) -> UnsafeMutablePointer<Int> {
        precondition(n <= maxGradients)
        return headStorage
    }

    /// Part `j`'s list now holds `count` entries, those of the update that made `version`.
    func record(part j: Int, count: Int, version: Int) {
        counts[j] = count
        versions[j] = version
    }

    /// The last update of part `j` was dense.
    func forget(part j: Int) { versions[j] = -1 }

    /// Part `j`'s entries, if its last update was sparse and made `version`.
    func candidates(part j: Int, version: Int) -> UnsafeBufferPointer<UInt32>? {
        versions[j] == version && version >= 0 ? UnsafeBufferPointer(start: lists[j], count: counts[j]) : nil
    }
}
