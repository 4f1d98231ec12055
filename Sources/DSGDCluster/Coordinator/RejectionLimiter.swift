/// What the coordinator does with a rejected message: whether to log it, whether to answer it
/// with an ERROR, and whether its peer has just used up its budget.
///
/// Every rejected message is counted. A peer (routing id) gets `budget` rejected messages; past
/// that it is muted: its messages are dropped without a log line or an answer (a ROUTER cannot
/// close one peer's connection, but a muted peer costs one receive and one lookup a message). ERROR
/// answers are limited to `repliesPerSecond` in all (a token bucket), and are sent without
/// blocking anyway, so a peer that never reads cannot stall the coordinator. At most
/// `trackedPeers` peers are tracked; beyond that the table starts again (a flood of new
/// connections then gets answers at the bucket's rate only).
struct RejectionLimiter {
    /// Rejected messages a peer may send before it is muted.
    let budget: Int
    let repliesPerSecond: Double
    let trackedPeers: Int
    private var perPeer: [[UInt8]: Int] = [:]
    private var tokens: Double
    private var lastRefill: Double?
    /// Messages rejected in all, and peers muted.
    private(set) var rejected = 0
    private(set) var mutedPeers = 0

    init(budget: Int = 100, repliesPerSecond: Double = 200, trackedPeers: Int = 4096) {
        self.budget = budget
        self.repliesPerSecond = repliesPerSecond
        self.trackedPeers = trackedPeers
        tokens = repliesPerSecond
    }

    /// The decision for one rejected message from `peer`.
    struct Decision: Equatable {
        var log: Bool
        var reply: Bool
        /// This message used up the peer's budget (log one line saying so).
        var mutedNow: Bool
    }

    /// Counts a rejected message from `peer` (at `now`, monotonic seconds) and decides.
    mutating func reject(peer: [UInt8], now: Double = monotonicSeconds()) -> Decision {
        rejected += 1
        if perPeer.count >= trackedPeers && perPeer[peer] == nil { perPeer.removeAll(keepingCapacity: true) }
        let n = (perPeer[peer] ?? 0) + 1
        perPeer[peer] = n
        if n > budget + 1 { return Decision(log: false, reply: false, mutedNow: false) }
        if n == budget + 1 {
            mutedPeers += 1
            return Decision(log: false, reply: false, mutedNow: true)
        }
        tokens = min(repliesPerSecond, tokens + max(0, now - (lastRefill ?? now)) * repliesPerSecond)
        lastRefill = max(now, lastRefill ?? now)
        let reply = tokens >= 1
        if reply { tokens -= 1 }
        return Decision(log: rejected <= 20 || rejected % 1000 == 0, reply: reply, mutedNow: false)
    }

    /// Whether `peer` is muted.
    func isMuted(_ peer: [UInt8]) -> Bool { (perPeer[peer] ?? 0) > budget }
}
