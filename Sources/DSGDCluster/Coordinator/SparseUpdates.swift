/// `ParameterStore.applySparse`'s memory: per part, for each of the last `kept` versions, the
/// ascending union of the entries the sparse update that made it visited (none remembered for a
/// version whose update of the part was dense). Lists grow to the largest union seen, then stay.
final class SparseUpdates {
    /// Versions remembered per part: more than the store's buffers can lag behind `current`
    /// (three buffers in its pool: two versions), so that one that is two or three versions
    /// behind catches up entry by entry.
    static let kept = 4

    /// Per part and slot (`part * kept + version % kept`): the list, its room and size, and the
    /// version it belongs to (-1: none).
    private var lists: [UnsafeMutablePointer<UInt32>]
    private var rooms: [Int]
    private var counts: [Int]
    private var versions: [Int]
    private let headStorage: UnsafeMutablePointer<Int>
    private let listStorage: UnsafeMutablePointer<UnsafeBufferPointer<UInt32>>
    private let valueStorage: UnsafeMutablePointer<UnsafeBufferPointer<Float>>
    /// The sums at the entries of the last merge (grown like the lists).
    private var sums: UnsafeMutablePointer<Float>
    private var sumsRoom = 1
    private let maxGradients: Int

    init(parts: Int, maxGradients: Int) {
        let slots = parts * Self.kept
        lists = (0..<slots).map { _ in .allocate(capacity: 1) }
        rooms = Array(repeating: 1, count: slots)
        counts = Array(repeating: 0, count: slots)
        versions = Array(repeating: -1, count: slots)
        self.maxGradients = max(maxGradients, 1)
        headStorage = .allocate(capacity: self.maxGradients)
        listStorage = .allocate(capacity: self.maxGradients)
        listStorage.initialize(repeating: UnsafeBufferPointer(start: nil, count: 0), count: self.maxGradients)
        valueStorage = .allocate(capacity: self.maxGradients)
        valueStorage.initialize(repeating: UnsafeBufferPointer(start: nil, count: 0), count: self.maxGradients)
        sums = .allocate(capacity: 1)
    }

    deinit {
        for l in lists { l.deallocate() }
        headStorage.deallocate()
        listStorage.deallocate()
        valueStorage.deallocate()
        sums.deallocate()
    }

    private func slot(_ j: Int, _ version: Int) -> Int { j * Self.kept + version % Self.kept }

    /// Makes part `j`'s list for `version` the ascending union of the `n` lists `entries(0..<n)`
    /// (each read once), the entries of the update that makes `version`; returns it, with the sums
    /// of the lists' `values(0..<n)` at its entries (`mergeAscending`; valid until the next merge).
    /// Replaces what the slot held (version `version - kept`).
    func merge(part j: Int, _ n: Int, _ entries: (Int) -> UnsafeBufferPointer<UInt32>, _ values: (Int) -> UnsafeBufferPointer<Float>,
               version: Int) -> (union: UnsafeBufferPointer<UInt32>, sums: UnsafePointer<Float>) {
        precondition(n <= maxGradients && version >= 0)
        var room = 0
        for i in 0..<n {
            listStorage[i] = entries(i)
            valueStorage[i] = values(i)
            precondition(valueStorage[i].count == listStorage[i].count, "a value for every entry")
            room += listStorage[i].count
        }
        let s = slot(j, version)
        reserve(slot: s, room: room)
        if room > sumsRoom {
            sums.deallocate()
            sums = .allocate(capacity: room)
            sumsRoom = room
        }
        counts[s] = mergeAscending(UnsafeBufferPointer(start: listStorage, count: n), values: UnsafeBufferPointer(start: valueStorage, count: n),
                                   heads: headStorage, into: lists[s], sums: sums)
        versions[s] = version
        return (UnsafeBufferPointer(start: lists[s], count: counts[s]), UnsafePointer(sums))
    }

    /// Makes list `s` hold at least `room` entries (forgetting what it held).
    private func reserve(slot s: Int, room: Int) {
        guard room > rooms[s] else { return }
        lists[s].deallocate()
        lists[s] = .allocate(capacity: room)
        rooms[s] = room
        versions[s] = -1
    }

    /// The update of part `j` that makes `version` is dense.
    func forget(part j: Int, version: Int) {
        guard version >= 0 else { return }
        versions[slot(j, version)] = -1
    }

    /// Nothing remembered for any version (the parameters were replaced).
    func forgetAll() {
        for s in versions.indices { versions[s] = -1 }
    }

    /// Part `j`'s entries for `version`, if the update of the part that made it was sparse and
    /// is still remembered.
    func candidates(part j: Int, version: Int) -> UnsafeBufferPointer<UInt32>? {
        guard version >= 0 else { return nil }
        let s = slot(j, version)
        return versions[s] == version ? UnsafeBufferPointer(start: lists[s], count: counts[s]) : nil
    }
}
