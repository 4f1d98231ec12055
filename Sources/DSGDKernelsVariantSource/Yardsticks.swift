/// What one core of this machine can do at most, measured with this variant's instructions (for
/// `dsgd bench core`, which reports the kernels' speed as fractions of these).
enum Yardsticks {
    /// The sum of `count` floats, read with this variant's vector loads into four independent
    /// accumulators (enough to keep the loads, not the additions, the limit).
    static func readSum(_ p: UnsafePointer<Float>, _ count: Int) -> Float {
        let w = laneCount
        var s0 = Vector(), s1 = Vector(), s2 = Vector(), s3 = Vector()
        var i = 0
        while i + 4 * w <= count {
            s0 += loadVector(p + i)
            s1 += loadVector(p + i + w)
            s2 += loadVector(p + i + 2 * w)
            s3 += loadVector(p + i + 3 * w)
            i += 4 * w
        }
        var s = ((s0 + s1) + (s2 + s3)).sum()
        while i < count {
            s += p[i]
            i += 1
        }
        return s
    }

    /// `iterations` rounds of `acc = acc * x + y` on twelve independent vector accumulators held in
    /// registers (twelve chains cover the latency of two multiply-add units: 4 cycles x 2 = 8 in
    /// flight). Counts two floating-point operations per lane per multiply-add.
    static func peakLoop(_ iterations: Int, _ x: Float, _ y: Float) -> (value: Float, flops: Double) {
        let xv = Vector(repeating: x), yv = Vector(repeating: y)
        var a0 = Vector(repeating: 1), a1 = Vector(repeating: 2), a2 = Vector(repeating: 3), a3 = Vector(repeating: 4)
        var a4 = Vector(repeating: 5), a5 = Vector(repeating: 6), a6 = Vector(repeating: 7), a7 = Vector(repeating: 8)
        var a8 = Vector(repeating: 9), a9 = Vector(repeating: 10), a10 = Vector(repeating: 11), a11 = Vector(repeating: 12)
        for _ in 0..<iterations {
            a0 = yv.madd(a0, xv); a1 = yv.madd(a1, xv); a2 = yv.madd(a2, xv); a3 = yv.madd(a3, xv)
            a4 = yv.madd(a4, xv); a5 = yv.madd(a5, xv); a6 = yv.madd(a6, xv); a7 = yv.madd(a7, xv)
            a8 = yv.madd(a8, xv); a9 = yv.madd(a9, xv); a10 = yv.madd(a10, xv); a11 = yv.madd(a11, xv)
        }
        let total = ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7)) + ((a8 + a9) + (a10 + a11))
        return (total.sum(), Double(iterations) * 12 * Double(laneCount) * 2)
    }
}
