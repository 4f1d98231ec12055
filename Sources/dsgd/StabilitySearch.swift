import Foundation

/// The largest stable learning rate of some training set-up, found by bracketing and bisection in
/// log scale, knowing nothing of any theory: from a starting rate, double until a rate is unstable
/// (or halve until one is stable), then bisect the bracket `[stable, unstable]` at its geometric
/// midpoint until `unstable / stable <= 1 + precision`. It assumes stability is monotone in the
/// rate (every rate below a stable one is stable).
struct StabilitySearch {
    /// Every rate tried, in order, and whether it was stable.
    private(set) var probes: [(rate: Double, stable: Bool)] = []
    /// The largest rate found stable, and the smallest found unstable (nil if none was within
    /// `maxProbes`).
    private(set) var largestStable: Double?
    private(set) var smallestUnstable: Double?

    /// Searches from `start` until the bracket is within `precision` (relative) or `maxProbes` rates
    /// were tried. `probe(rate, index)` runs the set-up at `rate` (the `index`-th rate tried, from
    /// 0) and says whether it was stable.
    init(start: Double, precision: Double, maxProbes: Int = 40, probe: (Double, Int) throws -> Bool) throws {
        func tryRate(_ r: Double) throws -> Bool {
            let stable = try probe(r, probes.count)
            probes.append((r, stable))
            if stable { largestStable = max(largestStable ?? r, r) } else { smallestUnstable = min(smallestUnstable ?? r, r) }
            return stable
        }
        // Bracket.
        var r = start
        if try tryRate(r) {
            while smallestUnstable == nil, probes.count < maxProbes { r *= 2; _ = try tryRate(r) }
        } else {
            while largestStable == nil, probes.count < maxProbes { r /= 2; _ = try tryRate(r) }
        }
        // Bisect.
        while let lo = largestStable, let hi = smallestUnstable, hi / lo > 1 + precision, probes.count < maxProbes {
            _ = try tryRate((lo * hi).squareRoot())
        }
    }

    /// `smallestUnstable / largestStable - 1`: how tight the bracket is (nil without both ends).
    var bracketWidth: Double? {
        guard let lo = largestStable, let hi = smallestUnstable else { return nil }
        return hi / lo - 1
    }
}
