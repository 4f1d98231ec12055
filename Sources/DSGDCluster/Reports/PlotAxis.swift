import Foundation

/// One axis of a plot: its range, where its ticks go and what they say.
///
/// Linear axes step by 1, 2 or 5 times a power of ten. Log axes put ticks on powers of ten
/// (every k-th decade when there are many) when four or more fall inside, else on 1-2-5 times
/// them when four or more of those do, else on 1..9 times them, and fall back to linear 1-2-5 steps when even
/// those leave fewer than three ticks. Labels that would overlap are left off by `labelled`.
public struct PlotAxis: Sendable {
    /// How values map to positions.
    public enum Scale: Sendable { case linear, log }

    public let scale: Scale
    /// The values at the two ends of the axis.
    public let lower: Double
    public let upper: Double
    /// Tick values, ascending, all within `lower...upper`.
    public let ticks: [Double]
    /// How much each tick's label matters (lower is kept first when labels collide): powers of ten
    /// and round linear steps 0, then 5s, then the rest.
    let priorities: [Int]
    /// Format labels with k/M/G suffixes (counts of examples).
    public let siSuffixes: Bool

    /// An axis covering `values` (non-finite ones ignored; on a log axis, non-positive ones too),
    /// aiming at about `targetTicks` ticks. `fromZero` starts a linear axis at 0 when the values
    /// are non-negative.
    public init(covering values: [Double], scale: Scale, targetTicks: Int = 5, fromZero: Bool = false, siSuffixes: Bool = false) {
        self.scale = scale
        self.siSuffixes = siSuffixes
        let usable = values.filter { $0.isFinite && (scale == .linear || $0 > 0) }
        var lo = usable.min() ?? (scale == .log ? 0.1 : 0)
        var hi = usable.max() ?? (scale == .log ? 1 : 1)
        if scale == .linear {
            if fromZero && lo >= 0 { lo = 0 }
            if hi - lo <= abs(hi) * 1e-9 { let d = max(abs(hi) * 0.1, 1e-9); lo -= d; hi += d; if fromZero && lo < 0 && hi > 0 { lo = 0 } }
            (lower, upper, ticks, priorities) = Self.linearTicks(lo, hi, target: targetTicks)
        } else {
            if hi / lo < 1.0001 { lo /= 1.1; hi *= 1.1 }
            (lower, upper, ticks, priorities) = Self.logTicks(lo, hi, target: targetTicks)
        }
    }

    /// Where `value` falls along the axis: 0 at `lower`, 1 at `upper` (nil for a non-positive
    /// value on a log axis).
    public func fraction(_ value: Double) -> Double? {
        switch scale {
        case .linear: return (value - lower) / (upper - lower)
        case .log:
            guard value > 0 else { return nil }
            return (log10(value) - log10(lower)) / (log10(upper) - log10(lower))
        }
    }

    /// The text of the tick at `value`.
    public func label(_ value: Double) -> String { Self.format(value, si: siSuffixes) }

    /// The ticks that get a label, for an axis `length` long where a label at a tick needs
    /// `room(label)` of length (its width or height plus a gap): the most important labels first,
    /// each kept only when it clears every label already kept.
    public func labelled(length: Double, room: (String) -> Double) -> [Double] {
        var kept: [(at: Double, half: Double)] = []
        for i in ticks.indices.sorted(by: { (priorities[$0], $0) < (priorities[$1], $1) }) {
            guard let f = fraction(ticks[i]) else { continue }
            let at = f * length, half = room(label(ticks[i])) / 2
            if kept.allSatisfy({ abs($0.at - at) >= $0.half + half }) { kept.append((at, half)) }
        }
        return ticks.filter { t in kept.contains { abs($0.at - (fraction(t) ?? -1) * length) < 1e-9 } }
    }

    // MARK: - Tick choice

    /// 1, 2 or 5 times a power of ten, the nearest such step to `raw` from above.
    static func niceStep(_ raw: Double) -> Double {
        let p = pow(10, floor(log10(raw)))
        for m in [1.0, 2, 5, 10] where m * p >= raw * 0.999_999 { return m * p }
        return 10 * p
    }

    static func linearTicks(_ lo: Double, _ hi: Double, target: Int) -> (Double, Double, [Double], [Int]) {
        let step = niceStep((hi - lo) / Double(max(target, 2)))
        let first = (lo / step).rounded(.down), last = (hi / step).rounded(.up)
        var ticks: [Double] = [], priorities: [Int] = []
        var k = first
        while k <= last + 0.5 {
            let v = Self.clean(k * step)
            ticks.append(v)
            priorities.append(k.truncatingRemainder(dividingBy: 2) == 0 ? 0 : 1)
            k += 1
        }
        return (ticks.first!, ticks.last!, ticks, priorities)
    }

    static func logTicks(_ lo: Double, _ hi: Double, target: Int) -> (Double, Double, [Double], [Int]) {
        // The axis spans the data with 4% of its (log) span to spare at each end; ticks fall inside.
        let pad = pow(10, 0.04 * (log10(hi) - log10(lo)))
        let lower = lo / pad, upper = hi * pad
        let e0 = Int(floor(log10(lower))), e1 = Int(ceil(log10(upper)))
        // Powers of ten, every k-th decade so that about `target` or fewer remain, when at least
        // four fall inside (three decades or more).
        let k = max(1, Int((Double(e1 - e0) / Double(max(target + 1, 3))).rounded(.up)))
        let powers = stride(from: e0 - e0 % k, through: e1, by: k).map { Self.clean(pow(10, Double($0))) }
            .filter { $0 >= lower && $0 <= upper }
        if powers.count >= 4 { return (lower, upper, powers, Array(repeating: 0, count: powers.count)) }
        for set: [Double] in [[1, 2, 5], [1, 2, 3, 4, 5, 6, 7, 8, 9]] {
            let inside = (e0...e1).flatMap { e in
                set.map { (value: Self.clean($0 * pow(10, Double(e))), priority: $0 == 1 ? 0 : $0 == 5 ? 1 : 2) }
            }.filter { $0.value >= lower && $0.value <= upper }
            if inside.count >= (set.count == 3 ? 4 : 3) {
                return (lower, upper, inside.map(\.value), inside.map(\.priority))
            }
        }
        // Too narrow for even 1..9 steps: linear 1-2-5 ticks (the scale is all but linear there).
        return linearTicks(lo, hi, target: target)
    }

    /// `x` with floating-point noise from step arithmetic removed (0.30000000000000004 -> 0.3).
    static func clean(_ x: Double) -> Double {
        x == 0 ? 0 : Double(String(format: "%.12g", x)) ?? x
    }

    /// A tick label: "0", "0.25", "1e-5", "3e+07", or with `si` "20k", "1.5M".
    static func format(_ v: Double, si: Bool) -> String {
        if v == 0 { return "0" }
        let a = abs(v)
        if si && a >= 1000 {
            for (scale, suffix) in [(1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")] where a >= scale * 0.999_999 {
                return String(format: "%.6g", v / scale) + suffix
            }
        }
        if a < 1e-3 || a >= 1e6 {
            let e = floor(log10(a) + 1e-9)
            let m = String(format: "%.6g", v / pow(10, e))
            return "\(m)e\(Int(e))"
        }
        return String(format: "%.10g", v)
    }
}
