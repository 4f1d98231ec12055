/// What one core of this machine can do at most, measured with this variant's instructions (for
/// `dsgd bench core`, which reports the kernels' speed as fractions of these).
enum Yardsticks {
    /// The sum of `count` floats, read with this variant's vector loads into four independent
    /// accumulators (enough to keep the loads, not the additions, the limit).
    static func readSum(_ p: UnsafePointer<Float>, _ count: Int) -> Float {
        readSumWithWork(p, count, 0).sum   // inlined: no rounds, the loads and sums alone
    }

    /// `readSum`'s stream with compute: the same loads and sums, plus, after every four vectors
    /// read, `rounds` rounds of eight multiply-adds `a_k = s_(k mod 4) + a_k / 2` on eight
    /// register accumulators fed by the sums (so that no round can be hoisted or dropped, and each
    /// waits for its loads, as a kernel's arithmetic waits for its rows). `dsgd bench core --only
    /// stream` times it from memory and in cache: how much of the plain read's bandwidth a
    /// sequential stream keeps as its compute per byte grows. Returns `readSum`'s sum and the sum
    /// of the accumulators' lanes (`((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7))`).
    @inline(__always)
    static func readSumWithWork(_ p: UnsafePointer<Float>, _ count: Int, _ rounds: Int) -> (sum: Float, work: Float) {
        let w = laneCount
        let half = Vector(repeating: 0.5)
        var s0 = Vector(), s1 = Vector(), s2 = Vector(), s3 = Vector()
        var a0 = Vector(), a1 = Vector(), a2 = Vector(), a3 = Vector()
        var a4 = Vector(), a5 = Vector(), a6 = Vector(), a7 = Vector()
        var i = 0
        while i + 4 * w <= count {
            s0 += loadVector(p + i)
            s1 += loadVector(p + i + w)
            s2 += loadVector(p + i + 2 * w)
            s3 += loadVector(p + i + 3 * w)
            var r = 0
            while r < rounds {
                a0 = s0.madd(a0, half); a1 = s1.madd(a1, half); a2 = s2.madd(a2, half); a3 = s3.madd(a3, half)
                a4 = s0.madd(a4, half); a5 = s1.madd(a5, half); a6 = s2.madd(a6, half); a7 = s3.madd(a7, half)
                r += 1
            }
            i += 4 * w
        }
        var s = ((s0 + s1) + (s2 + s3)).sum()
        while i < count {
            s += p[i]
            i += 1
        }
        return (s, (((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7))).sum())
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
