import DSGDCore
import ZeroMQ

/// The parameters the coordinator holds, versioned: version `version` lives in `current`, which
/// libzmq may be reading for sends without a copy; an update is written into `pending` (a buffer
/// libzmq is not reading) part by part and becomes current with `commit()`. The optimizer state
/// (momentum) lives in the aggregator, which averages gradients and applies the step in one pass.
///
/// With `keepVersions > 0` the store also keeps copies of the last `keepVersions` versions, so a
/// worker can be sent an older one (`--delay`).
///
/// A sparse update (`applySparse`) does not copy the whole part from `current` into `pending`
/// first: the store knows which version each of its buffers holds, and `pending`, a few versions
/// behind, catches up by copying just the entries the updates since then changed.
///
/// An update may also be written into `current` itself (`beginUpdate(inPlace: true)`): a sparse
/// update of parameters in one part that libzmq is not reading. It then reads and writes each
/// entry once, where the two buffers took a catch-up copy, a read and a write in two 4 MB arrays
/// and a comparison of both to find what changed; it lists the entries it changed with their new
/// values (`inPlaceChanges`) and their old ones, which `values` puts back until `commit`.
///
/// No allocation per update in steady state (`--delay` copies P floats per update into a reused
/// buffer).
final class ParameterStore {
    /// Parameters P.
    let count: Int
    /// Floats per PARAMS/GRADIENT part, and the number of parts.
    let chunk: Int
    let parts: Int
    /// The version of `current`: the number of updates applied.
    private(set) var version = 0
    private(set) var current: ZeroCopyBuffer
    /// The update being written (between `beginUpdate` and `commit`).
    private(set) var pending: ZeroCopyBuffer?
    /// The optimizer every update applies (`rateScale` multiplies its learning rate).
    var optimizer: SGD
    /// A factor on the learning rate of the next applied parts (`--lr-staleness inverse`: 1/tau).
    var rateScale: Float = 1
    private let pool: ZeroCopyBufferPool
    private let aggregator: Aggregator
    /// `--delay`: copies of versions `version - keepVersions ... version`, version v in slot
    /// `v % (keepVersions + 1)`.
    private var history: [ZeroCopyBuffer] = []
    private let keepVersions: Int
    /// What `applySparse` remembers per part.
    private let sparse: SparseUpdates
    /// The pool's buffers seen so far, each with the version each of its parts held when it was
    /// last committed (-1: unknown; while a buffer is `pending`, its record is -1 until `commit`).
    private var records: [(buffer: ZeroCopyBuffer, versions: [Int])] = []
    /// `records`' index of `pending`.
    private var pendingRecord = 0
    /// Per part, the version `pending` held (-1: unknown), or `version + 1` once this update
    /// wrote the part.
    private var pendingHolds: [Int]
    /// Parts that sparse updates caught up entry by entry, not copied whole (for tests).
    private(set) var partsCaughtUp = 0
    /// Whether the pending update is written into `current` itself.
    var updatesInPlace: Bool { pending === current }
    /// What the pending in-place update changed.
    private var changes = ChangeList()

    /// A store of `initial` (version 0), averaging at most `maxGradients` gradients per update.
    init(initial: [Float], chunk: Int, maxGradients: Int, optimizer: SGD, keepVersions: Int = 0) {
        count = initial.count
        self.chunk = max(chunk, 1)
        parts = max(1, (count + self.chunk - 1) / self.chunk)
        self.optimizer = optimizer
        pool = ZeroCopyBufferPool(count: count, initial: 3)
        let first = pool.acquire()
        let n = count
        initial.withUnsafeBufferPointer { first.floats.baseAddress!.update(from: $0.baseAddress!, count: n) }
        current = first
        aggregator = Aggregator(parameterCount: count, maxGradients: maxGradients)
        self.keepVersions = keepVersions
        sparse = SparseUpdates(parts: parts, maxGradients: maxGradients)
        pendingHolds = Array(repeating: -1, count: parts)
        records = [(first, Array(repeating: 0, count: parts))]
        if keepVersions > 0 {
            history = (0...keepVersions).map { _ in ZeroCopyBuffer(count: n) }
            remember()
        }
    }

    /// The elements of part `j`.
    func partRange(_ j: Int) -> Range<Int> {
        let lo = j * chunk
        return lo ..< min(count, lo + chunk)
    }

    deinit {
        changes.deallocate()
    }

    /// Starts an update: picks the buffer it is written to, and takes over its record of the
    /// versions it holds (an update that is not committed leaves that record unknown). With
    /// `inPlace` (the caller will write it with `applySparse` alone), that buffer is `current`
    /// itself when the parameters are one part, no older version is kept and libzmq is not
    /// reading `current`; otherwise, and without `inPlace`, another buffer of the pool.
    func beginUpdate(inPlace: Bool = false) {
        // An in-place update begun and never committed: `current` gets its version back.
        if updatesInPlace { putBackOldValues(into: current.floats.baseAddress!) }
        changes.count = -1
        let b = inPlace && parts == 1 && keepVersions == 0 && !current.isInFlight ? current : pool.acquire(excluding: current)
        pending = b
        if let i = records.firstIndex(where: { $0.buffer === b }) {
            pendingRecord = i
        } else {
            records.append((b, Array(repeating: -1, count: parts)))
            pendingRecord = records.count - 1
        }
        for j in 0..<parts {
            pendingHolds[j] = records[pendingRecord].versions[j]
            records[pendingRecord].versions[j] = -1
        }
    }

    /// Sets gradient `index` (in summation order) of the next `apply` to a part's first float.
    func setGradient(_ index: Int, _ pointer: UnsafeRawPointer) {
        aggregator.setGradient(index, pointer)
    }

    /// Writes part `j` of the pending update from the mean of gradients `0..<gradients` (summed in
    /// index order, stored as `storage` says); false if that sum holds NaN or infinity (the run
    /// must end).
    func apply(part j: Int, gradients: Int, storage: GradientStorage = .float32) -> Bool {
        precondition(!updatesInPlace, "a dense update cannot be written in place")
        let sgd = step
        sparse.forget(part: j, version: version + 1)
        pendingHolds[j] = version + 1
        return aggregator.apply(count: gradients, range: partRange(j), optimizer: sgd,
                                params: current.floats.baseAddress!, out: pending!.floats.baseAddress!, storage: storage)
    }

    /// The step the next applied parts take: the optimizer at `rateScale` times its rate.
    private var step: SGD {
        var sgd = optimizer
        if rateScale != 1 { sgd.learningRate *= rateScale }
        return sgd
    }

    /// Whether `applySparse` writes what `apply` writes under the current step (plain SGD at a
    /// positive, finite rate; not EASGD's centre update, whose rate is negative).
    var takesSparseSteps: Bool { Aggregator.sparseStepIsExact(step) }

    /// Writes part `j` of the pending update like `apply`, from float32 gradients that are zero
    /// outside the entries `entries(i)` of gradient `i` (ascending, relative to the part's start;
    /// `--compress topk`), whose values there are `values(i)`, under plain SGD: `pending`'s part
    /// brought up to `current`'s (`catchUp`), then work on the union of the entries only (their
    /// sums taken in the merge that finds it), bit for bit what `apply` writes. Remembers that
    /// union: the only entries of the part that can differ between the new version and `current`
    /// (`changeCandidates`). Requires `takesSparseSteps`.
    func applySparse(part j: Int, gradients: Int, entries: (Int) -> UnsafeBufferPointer<UInt32>,
                     values: (Int) -> UnsafeBufferPointer<Float>) -> Bool {
        if updatesInPlace { return applySparseInPlace(part: j, gradients: gradients, entries: entries, values: values) }
        let caughtUp = catchUp(part: j)
        let (union, sums) = sparse.merge(part: j, gradients, entries, values, version: version + 1)
        pendingHolds[j] = version + 1
        return aggregator.applyAt(union, sums: sums, count: gradients, range: partRange(j), optimizer: step,
                                  params: current.floats.baseAddress!, out: pending!.floats.baseAddress!, copyingPart: !caughtUp)
    }

    /// `applySparse` into `current` (`updatesInPlace`): the same merge and step, with the changed
    /// entries listed as they are written; false, nothing written, on a NaN or infinite sum.
    private func applySparseInPlace(part j: Int, gradients: Int, entries: (Int) -> UnsafeBufferPointer<UInt32>,
                                    values: (Int) -> UnsafeBufferPointer<Float>) -> Bool {
        let (union, sums) = sparse.merge(part: j, gradients, entries, values, version: version + 1)
        changes.reserve(union.count)
        guard let n = aggregator.applyInPlace(union, sums: sums, count: gradients, range: partRange(j), optimizer: step,
                                              params: current.floats.baseAddress!, changed: changes.entries, newValues: changes.newValues,
                                              oldValues: changes.oldValues) else { return false }
        changes.count = n
        return true
    }

    /// The entries of part `j` that an in-place update changed (ascending, relative to the part's
    /// start) and their new values: what a worker holding the version before needs. Nil unless
    /// the pending update is in place and has written the part.
    func inPlaceChanges(part j: Int) -> (entries: UnsafeBufferPointer<UInt32>, values: UnsafeBufferPointer<Float>)? {
        guard updatesInPlace, j == 0, changes.count >= 0 else { return nil }
        return (UnsafeBufferPointer(start: changes.entries, count: changes.count), UnsafeBufferPointer(start: changes.newValues, count: changes.count))
    }

    /// Makes `pending`'s part `j` equal to `current`'s by copying only the entries the updates
    /// since the version it holds changed, when every one of those updates was sparse and is
    /// remembered; false (nothing copied) otherwise, when the whole part must be copied.
    private func catchUp(part j: Int) -> Bool {
        let held = pendingHolds[j]
        guard held >= 0 && held <= version else { return false }
        for v in stride(from: held + 1, through: version, by: 1) where sparse.candidates(part: j, version: v) == nil {
            return false
        }
        let lo = partRange(j).lowerBound
        let from = current.floats.baseAddress! + lo, to = pending!.floats.baseAddress! + lo
        for v in stride(from: held + 1, through: version, by: 1) {
            for e in sparse.candidates(part: j, version: v)! { to[Int(e)] = from[Int(e)] }
        }
        partsCaughtUp += 1
        return true
    }

    /// The entries of part `j` (ascending, relative to its start) outside which version `v` equals
    /// version `v - 1`, when the update that made `v` was sparse (`applySparse`); nil otherwise.
    func changeCandidates(part j: Int, version v: Int) -> UnsafeBufferPointer<UInt32>? {
        sparse.candidates(part: j, version: v)
    }

    /// Makes the pending update current: version + 1 (every part of it written).
    func commit() {
        for j in 0..<parts { records[pendingRecord].versions[j] = version + 1 }
        current = pending!
        pending = nil
        changes.count = -1
        version += 1
        if keepVersions > 0 { remember() }
    }

    /// The buffer holding version `max(0, v)`, at most `keepVersions` back (`--delay`).
    func buffer(ofVersion v: Int) -> ZeroCopyBuffer {
        let wanted = max(0, v)
        if wanted == version { return current }
        precondition(wanted < version && version - wanted <= keepVersions, "version \(wanted) is not kept (current \(version))")
        return history[wanted % (keepVersions + 1)]
    }

    /// The parameters of version `version`, copied (an in-place update not yet committed is left
    /// out: its entries' old values are put back in the copy).
    var values: [Float] {
        var copy = Array(current.floats.prefix(count))
        if updatesInPlace { copy.withUnsafeMutableBufferPointer { putBackOldValues(into: $0.baseAddress!) } }
        return copy
    }

    /// Writes the old values of the entries the pending in-place update changed into `p` (a copy
    /// of `current`, or `current` itself to undo the update).
    private func putBackOldValues(into p: UnsafeMutablePointer<Float>) {
        for w in 0..<max(changes.count, 0) { p[Int(changes.entries[w])] = changes.oldValues[w] }
    }

    /// The momentum buffer, copied (nil without momentum, where it is never read).
    var velocity: [Float]? { optimizer.momentum != 0 ? aggregator.velocityValues : nil }

    /// Continues from a checkpoint: `parameters` become version `version` (before any send), with
    /// `velocity` as the momentum. With `--delay`, every kept version is this one (the versions
    /// before it are not in the checkpoint).
    func restore(parameters: [Float], velocity: [Float]?, version: Int) {
        precondition(parameters.count == count && pending == nil)
        parameters.withUnsafeBufferPointer { current.floats.baseAddress!.update(from: $0.baseAddress!, count: count) }
        if let velocity { aggregator.restoreVelocity(velocity) }
        self.version = version
        sparse.forgetAll()
        for i in records.indices {
            for j in 0..<parts { records[i].versions[j] = records[i].buffer === current ? version : -1 }
        }
        for h in history { h.floats.baseAddress!.update(from: current.floats.baseAddress!, count: count) }
    }

    /// Copies the current version into its history slot (a new buffer if libzmq still reads the
    /// old one, which one outstanding message per worker makes rare).
    private func remember() {
        let slot = version % (keepVersions + 1)
        if history[slot].isInFlight { history[slot] = ZeroCopyBuffer(count: count) }
        history[slot].floats.baseAddress!.update(from: current.floats.baseAddress!, count: count)
    }
}

/// The entries an in-place update changed (relative to part 0's start), their new and old values,
/// and how many (-1: the part is not written yet), in three arrays grown together to the largest
/// union seen and freed with `deallocate`.
private struct ChangeList {
    private(set) var entries = UnsafeMutablePointer<UInt32>.allocate(capacity: 1)
    private(set) var newValues = UnsafeMutablePointer<Float>.allocate(capacity: 1)
    private(set) var oldValues = UnsafeMutablePointer<Float>.allocate(capacity: 1)
    private var room = 1
    var count = -1

    /// Makes room for `n` entries (forgetting what the list held when it grows).
    mutating func reserve(_ n: Int) {
        guard n > room else { return }
        deallocate()
        room = n
        entries = .allocate(capacity: n)
        newValues = .allocate(capacity: n)
        oldValues = .allocate(capacity: n)
    }

    func deallocate() {
        entries.deallocate()
        newValues.deallocate()
        oldValues.deallocate()
    }
}
