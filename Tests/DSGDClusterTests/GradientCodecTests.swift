@testable import DSGDCluster
import DSGDCore
import XCTest

/// The wire encodings of `--compress`, against values worked out by hand and against plain
/// reference computations (sorting for top-k, float64 for the sign scale), and error feedback's
/// bookkeeping: what is sent plus what is kept equals what came in.
final class GradientCodecTests: XCTestCase {
    func encode(_ codec: GradientCodec, _ v: [Float]) -> [UInt8] {
        var out = [UInt8](repeating: 0xAA, count: codec.payloadBytes(count: v.count))
        var scratch = [Float](repeating: 0, count: max(v.count, 1))
        v.withUnsafeBufferPointer { vb in
            out.withUnsafeMutableBytes { o in scratch.withUnsafeMutableBufferPointer { codec.encode(vb, into: o.baseAddress!, scratch: $0.baseAddress!) } }
        }
        return out
    }

    func decode(_ codec: GradientCodec, _ bytes: [UInt8], count: Int) throws -> [Float] {
        var out = [Float](repeating: .nan, count: count)
        try bytes.withUnsafeBytes { b in try out.withUnsafeMutableBufferPointer { try codec.decode(b, count: count, into: $0.baseAddress!) } }
        return out
    }

    func testParsingAndSizes() throws {
        XCTAssertEqual(try GradientCodec(parsing: "none"), .f32)
        XCTAssertEqual(try GradientCodec(parsing: "topk:0.01"), .topk(0.01))
        for bad in ["topk:0", "topk:1.5", "topk:x", "int8", ""] {
            XCTAssertThrowsError(try GradientCodec(parsing: bad), bad)
        }
        XCTAssertEqual(GradientCodec.f32.payloadBytes(count: 10), 40)
        XCTAssertEqual(GradientCodec.bf16.payloadBytes(count: 10), 20)
        XCTAssertEqual(GradientCodec.topk(0.01).payloadBytes(count: 1000), 80, "k = 10: 10 indices and 10 values")
        XCTAssertEqual(GradientCodec.topk(0.01).payloadBytes(count: 10), 8, "at least one entry")
        XCTAssertEqual(GradientCodec.sign.payloadBytes(count: 17), 4 + 3)
        XCTAssertEqual(GradientCodec.sign.payloadBytes(count: 10), 4 + 2)
    }

    func testBF16RoundsToNearestEven() throws {
        let cases: [(UInt32, UInt16)] = [
            (0x3F80_0000, 0x3F80),  // 1
            (0x3F80_7FFF, 0x3F80),  // just below half: down
            (0x3F80_8000, 0x3F80),  // exactly half, 0x3F80 even: down
            (0x3F81_8000, 0x3F82),  // exactly half, 0x3F81 odd: up
            (0x3F80_8001, 0x3F81),  // above half: up
            (0xBF80_C000, 0xBF81),  // negative, above half
            (0x7F7F_FFFF, 0x7F80),  // the largest float rounds to infinity, as it must
            (0x0000_0001, 0x0000),  // the smallest subnormal: to zero
        ]
        for (bits, expected) in cases {
            XCTAssertEqual(GradientCodec.bfloat16(Float(bitPattern: bits)), expected, String(bits, radix: 16))
        }
        XCTAssertEqual(GradientCodec.bfloat16(.nan), 0x7FC0)
        let v: [Float] = [1, -2.5, 3.14159, 1e-20]
        let back = try decode(.bf16, encode(.bf16, v), count: 4)
        XCTAssertEqual(back.map(\.bitPattern), v.map { UInt32(GradientCodec.bfloat16($0)) << 16 })
    }

    /// The active kernel variant's bf16 loops against the one-value conversion, on random bit patterns
    /// (NaNs with every payload, infinities, subnormals, both zeros), with a tail past the last
    /// whole vector.
    func testBF16VectorsMatchTheScalarConversion() throws {
        var rng = SystemRandomNumberGenerator()
        let special: [UInt32] = [0x7FC0_0000, 0xFF80_0001, 0x7F80_0000, 0xFF80_0000, 0x0000_0000, 0x8000_0000, 0x7F7F_FFFF, 0x3F80_8000]
        let v = (0..<(16 * 40 + 5)).map { i in Float(bitPattern: i < special.count ? special[i] : UInt32.random(in: 0...UInt32.max, using: &rng)) }
        let bytes = encode(.bf16, v)
        for i in v.indices {
            let got = UInt16(bytes[2 * i]) | UInt16(bytes[2 * i + 1]) << 8
            XCTAssertEqual(got, GradientCodec.bfloat16(v[i]), "value \(i): \(String(v[i].bitPattern, radix: 16))")
        }
        let back = try decode(.bf16, bytes, count: v.count)
        for i in v.indices {
            XCTAssertEqual(back[i].bitPattern, UInt32(GradientCodec.bfloat16(v[i])) << 16, "value \(i)")
        }
    }

    /// Sparse parameters: the changed entries found 16 at a time are those a plain loop finds
    /// (bit changes count: -0 against 0, one NaN against another), tail included; over half
    /// changed gives nil; the payload applied to the old version gives the new one bit for bit.
    func testChangesAreTheEntriesWhoseBitsDiffer() {
        var rng = SystemRandomNumberGenerator()
        for n in [5, 16, 16 * 9 + 7] {
            for changedFraction in [0.0, 0.1, 0.45, 0.8] {
                // Zeros of both signs and NaNs on both sides: -0 against 0 is a change, a NaN
                // against the same NaN is not.
                func draw() -> Float { [Float(-0.0), 0, .nan, Float.random(in: -1...1, using: &rng)][Int.random(in: 0...3, using: &rng)] }
                let old = (0..<n).map { _ in draw() }
                var new = old
                for i in 0..<n where Double.random(in: 0..<1, using: &rng) < changedFraction { new[i] = draw() }
                if n > 3 { new[n - 1] = -new[n - 1] }  // the tail always has a change
                let expected = (0..<n).filter { old[$0].bitPattern != new[$0].bitPattern }
                var out = [UInt8](repeating: 0, count: 8 * n)
                let size = old.withUnsafeBufferPointer { o in new.withUnsafeBufferPointer { nw in out.withUnsafeMutableBytes {
                    GradientCodec.encodeChanges(old: o.baseAddress!, new: nw.baseAddress!, count: n, into: $0.baseAddress!)
                } } }
                // From candidates (the changed entries and some others, ascending): the same payload.
                let candidates = (0..<n).filter { expected.contains($0) || Bool.random(using: &rng) }.map(UInt32.init)
                var fromCandidates = [UInt8](repeating: 0, count: 8 * n)
                let candidateSize = old.withUnsafeBufferPointer { o in new.withUnsafeBufferPointer { nw in candidates.withUnsafeBufferPointer { c in
                    fromCandidates.withUnsafeMutableBytes {
                        GradientCodec.encodeChanges(old: o.baseAddress!, new: nw.baseAddress!, count: n, candidates: c, into: $0.baseAddress!)
                    } } } }
                XCTAssertEqual(candidateSize, size, "n \(n): from \(candidates.count) candidates")
                XCTAssertEqual(fromCandidates.prefix(size ?? 0), out.prefix(size ?? 0), "n \(n): from candidates")
                guard 2 * expected.count <= n else {
                    XCTAssertNil(size, "n \(n): \(expected.count) changed, over half")
                    continue
                }
                XCTAssertEqual(size, 8 * expected.count, "n \(n)")
                let indices = (0..<expected.count).map { w in out.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: 4 * w, as: UInt32.self)) } }
                XCTAssertEqual(indices.map(Int.init), expected, "n \(n)")
                var applied = old
                XCTAssertNoThrow(try out.withUnsafeBytes { b in try applied.withUnsafeMutableBufferPointer {
                    try GradientCodec.applyChanges(UnsafeRawBufferPointer(rebasing: b[0..<(size ?? 0)]), count: n, onto: $0.baseAddress!)
                } })
                XCTAssertEqual(applied.map(\.bitPattern), new.map(\.bitPattern), "n \(n)")
            }
        }
    }

    /// The integer conversions against Swift's Float16 on every binary16 bit pattern (decoding)
    /// and on a sweep of floats across the whole range, halfway cases included (encoding).
    func testFP16ConversionsMatchFloat16Everywhere() {
        for h in 0...UInt16.max where !Float16(bitPattern: h).isNaN {
            XCTAssertEqual(GradientCodec.float(binary16: h).bitPattern, Float(Float16(bitPattern: h)).bitPattern, String(h, radix: 16))
        }
        var bits: UInt32 = 0
        var mismatches = 0
        while bits < 0x7F80_0000 {
            for b in [bits, bits | 0x8000_0000, bits &+ 0x1000, bits &+ 0xFFF] {  // 0x1000: a halfway case of the 13 dropped bits
                let x = Float(bitPattern: b)
                if GradientCodec.binary16(x) != Float16(x).bitPattern { mismatches += 1 }
            }
            bits &+= 0x2000 &+ 7
        }
        XCTAssertEqual(mismatches, 0)
        XCTAssertEqual(GradientCodec.binary16(.infinity), 0x7C00)
        XCTAssertEqual(GradientCodec.binary16(.nan) & 0x7E00, 0x7E00, "a quiet NaN")
    }

    func testFP16MatchesFloat16Conversion() throws {
        let v: [Float] = [1, -2.5, 3.14159, 1e-6, 70000, -0.0]
        let back = try decode(.fp16, encode(.fp16, v), count: v.count)
        XCTAssertEqual(back.map(\.bitPattern), v.map { Float(Float16($0)).bitPattern })
        XCTAssertEqual(back[4], .infinity, "above 65504: infinite, and the coordinator fails the run on it")
    }

    /// Parts large enough for the sampled selection: the payload is the sorted reference's, whether
    /// the sample's candidates suffice (spread values) or not (every 64th value the largest, so the
    /// sample sees only those; or so many ties that over a third of the part reaches the sample's
    /// threshold) and the radix select runs instead. Ties go to the lower index on both paths,
    /// also when more values tie at the k-th magnitude than are taken and larger ones follow them.
    /// The values come from a fixed seed: with fresh random ones, a sample misjudges spread values
    /// too (about once in 2,000 parts of 40,000 at f = 0.05), and which path is taken is checked.
    func testSampledTopKMatchesTheSortedReference() throws {
        var rng = SplitMix64(seed: 20_261_202)
        for n in [8192, 40_000] {
            let spread = (0..<n).map { _ in Float.random(in: -1...1, using: &rng) * Float.random(in: 0...1, using: &rng) }
            let strided = (0..<n).map { i in i % 64 == 0 ? 100 + Float.random(in: 0...1, using: &rng) : Float.random(in: -1...1, using: &rng) }
            let ties = (0..<n).map { _ in Float(Int.random(in: -3...3, using: &rng)) * 0.25 }
            let mostlyTies = (0..<n).map { _ in Int.random(in: 0...9, using: &rng) < 7 ? (Bool.random(using: &rng) ? 0.5 : -0.5) : Float(0.25) }
            // More values tied at the k-th magnitude (±0.5, in the first half) than k leaves room
            // for, and larger ones after them (in the second half): the first ties are taken, the
            // rest give way to the larger values that come later.
            let tiesBeforeLarger = (0..<n).map { i -> Float in
                let r = Int.random(in: 0..<1000, using: &rng)
                if i < n / 2, r < 50 { return Bool.random(using: &rng) ? 0.5 : -0.5 }
                if i >= n / 2, r < 7 { return 0.9 + Float.random(in: 0...0.05, using: &rng) }
                return Float.random(in: -0.3...0.3, using: &rng)
            }
            for (name, v, f, sampled) in [("spread", spread, 0.01, true), ("spread", spread, 0.05, true), ("strided", strided, 0.05, false),
                                          ("ties", ties, 0.01, true), ("mostly ties", mostlyTies, 0.01, false),
                                          ("ties before larger", tiesBeforeLarger, 0.01, true)] {
                let codec = GradientCodec.topk(f), k = codec.kept(n)
                var scratch = [UInt32](repeating: 0, count: n)
                let candidates = v.withUnsafeBufferPointer { vb in scratch.withUnsafeMutableBufferPointer { GradientCodec.gatherCandidates(vb, k: k, scratch: $0.baseAddress!) } }
                XCTAssertEqual(candidates != nil, sampled, "\(name) n \(n) f \(f): the sampled path is \(sampled ? "" : "not ")taken")
                let chosen = Set(v.indices.sorted { (abs(v[$0]), -$0) > (abs(v[$1]), -$1) }.prefix(k))
                let expected = v.indices.map { chosen.contains($0) ? v[$0] : 0 }
                XCTAssertEqual(try decode(codec, encode(codec, v), count: n), expected, "\(name) n \(n) f \(f)")
            }
        }
    }

    /// Error feedback for top-k adds the gradient to the residual in the pass that gathers the
    /// candidates: the payload and the residual after it are, bit for bit, those of adding first,
    /// then encoding, then keeping; on the sampled path, its fallbacks (too many candidates: the
    /// addition is finished all the same) and parts too small to sample, including an odd tail.
    func testTopKErrorFeedbackInOnePassEqualsAddingFirst() {
        var rng = SystemRandomNumberGenerator()
        for n in [100, 8192, 40_000 + 7] {
            let spread = (0..<n).map { _ in Float.random(in: -1...1, using: &rng) * Float.random(in: 0...1, using: &rng) }
            let mostlyTies = (0..<n).map { _ in Int.random(in: 0...9, using: &rng) < 7 ? (Bool.random(using: &rng) ? 0.5 : -0.5) : Float(0.25) }
            let zeros = [Float](repeating: 0, count: n)
            for (name, g, start, f) in [("spread", spread, spread.map { $0 * 0.3 }, 0.01), ("mostly ties", mostlyTies, zeros, 0.01),
                                        ("spread", spread, zeros, 0.05)] {
                let codec = GradientCodec.topk(f)
                var outputs: [(payload: [UInt8], residual: [UInt32])] = []
                for fused in [false, true] {
                    let ef = ErrorFeedback(count: n)
                    start.withUnsafeBufferPointer { ef.residual.baseAddress!.update(from: $0.baseAddress!, count: n) }
                    var payload = [UInt8](repeating: 0, count: codec.payloadBytes(count: n))
                    var scratch = [Float](repeating: 0, count: n)
                    for _ in 0..<2 {  // twice: the second step starts from the residual the first kept
                        g.withUnsafeBufferPointer { gb in payload.withUnsafeMutableBytes { out in scratch.withUnsafeMutableBufferPointer { sc in
                            if fused {
                                ef.encode(gb.baseAddress!, range: 0..<n, codec: codec, into: out.baseAddress!, scratch: sc.baseAddress!)
                            } else {
                                let part = ef.accumulate(gb.baseAddress!, range: 0..<n)
                                codec.encode(UnsafeBufferPointer(start: part, count: n), into: out.baseAddress!, scratch: sc.baseAddress!)
                                ef.keep(sentAs: UnsafeRawBufferPointer(out), codec: codec, range: 0..<n)
                            }
                        } } }
                    }
                    outputs.append((payload, ef.residual.map(\.bitPattern)))
                }
                XCTAssertEqual(outputs[1].payload, outputs[0].payload, "\(name) n \(n) f \(f): payload")
                XCTAssertEqual(outputs[1].residual, outputs[0].residual, "\(name) n \(n) f \(f): residual")
                XCTAssertTrue(outputs[0].residual.contains { $0 != 0 }, "\(name) n \(n): something is kept")
            }
        }
    }

    func testTopKKeepsTheLargestMagnitudesLowerIndexFirstOnTies() throws {
        var rng = SystemRandomNumberGenerator()
        for n in [1, 2, 7, 100, 1000] {
            for f in [0.01, 0.1, 0.5, 1.0] {
                // Values from a small set, so that ties are common.
                let v = (0..<n).map { _ in Float(Int.random(in: -6...6, using: &rng)) * 0.5 }
                let codec = GradientCodec.topk(f)
                let k = min(n, max(1, Int((f * Double(n)).rounded(.up))))
                let chosen = Set(v.indices.sorted { (abs(v[$0]), -$0) > (abs(v[$1]), -$1) }.prefix(k))
                let expected = v.indices.map { chosen.contains($0) ? v[$0] : 0 }
                let bytes = encode(codec, v)
                XCTAssertEqual(bytes.count, 8 * k)
                XCTAssertEqual(try decode(codec, bytes, count: n), expected, "n \(n), f \(f)")
            }
        }
    }

    /// Every rank of small ranges with many ties (ranges at and around the insertion sort's 16),
    /// and ranks across larger ranges of distinct keys, of keys all equal, and of two values.
    func testSelectFindsEveryRank() {
        var rng = SystemRandomNumberGenerator()
        for n in [1, 2, 3, 10, 16, 17, 257] {
            let values = (0..<n).map { _ in Float(Int.random(in: 0...20, using: &rng)) }
            let sorted = values.sorted()
            for rank in 0..<n {
                var a = values
                XCTAssertEqual(a.withUnsafeMutableBufferPointer { GradientCodec.select($0.baseAddress!, count: n, rank: rank) }, sorted[rank])
            }
        }
        let n = 5000
        for (name, keys) in [("distinct", (0..<n).map { _ in UInt32.random(in: 0...UInt32.max, using: &rng) }),
                             ("equal", [UInt32](repeating: 7, count: n)),
                             ("two values", (0..<n).map { _ in Bool.random(using: &rng) ? UInt32(3) : 9 })] {
            let sorted = keys.sorted()
            for rank in [0, 1, n / 3, n / 2, n - 2, n - 1] {
                var a = keys
                XCTAssertEqual(a.withUnsafeMutableBufferPointer { GradientCodec.select($0.baseAddress!, count: n, rank: rank) }, sorted[rank], "\(name), rank \(rank)")
                XCTAssertEqual(a.sorted(), sorted, "\(name): select only reorders")
            }
        }
    }

    /// The k-th largest key and the count above it, against a sort: keys spread over the whole
    /// range, keys packed into a span narrower than the 2048 buckets, candidates clustered just
    /// above a threshold (the top-k case), all equal, two values, runs of one value with outliers.
    func testKthLargestKeyMatchesASort() {
        var rng = SplitMix64(seed: 20_261_202)
        let n = 3000
        let cases: [(String, [UInt32])] = [
            ("whole range", (0..<n).map { _ in UInt32.random(in: 0...UInt32.max, using: &rng) }),
            ("narrow span", (0..<n).map { _ in 1_000_000 + UInt32.random(in: 0..<700, using: &rng) }),
            ("clustered", (0..<n).map { _ in Float.random(in: 0.98...1, using: &rng).bitPattern }),
            ("equal", [UInt32](repeating: 7, count: n)),
            ("two values", (0..<n).map { _ in Bool.random(using: &rng) ? UInt32(3) : 0x7F80_0000 }),
            ("runs and outliers", (0..<n).map { i in i % 97 == 0 ? UInt32.random(in: 0...UInt32.max, using: &rng) : 0 }),
            ("one", [42]),
        ]
        for (name, keys) in cases {
            let descending = keys.sorted(by: >)
            for k in Set([1, 2, keys.count / 3, keys.count / 2, keys.count - 1, keys.count]) where k >= 1 && k <= keys.count {
                var a = keys
                let (key, above) = a.withUnsafeMutableBufferPointer { GradientCodec.kthLargestKey($0.baseAddress!, count: keys.count, k: k) }
                XCTAssertEqual(key, descending[k - 1], "\(name), k \(k)")
                XCTAssertEqual(above, keys.filter { $0 > descending[k - 1] }.count, "\(name), k \(k)")
            }
        }
    }

    func testSignSendsTheMeanMagnitudeWithEachSign() throws {
        let v: [Float] = [0.5, -1.5, 0, 2, -3, 1, 1, -1, 4, -0.0]
        let bytes = encode(.sign, v)
        XCTAssertEqual(bytes.count, 4 + 2)
        XCTAssertEqual(bytes[4], 0b1001_0010, "bits 1, 4 and 7 (the negatives) of the first byte")
        XCTAssertEqual(bytes[5], 0b10, "-0 has its sign bit set")
        let scale = Float(v.map { Double(abs($0)) }.reduce(0, +) / Double(v.count))
        XCTAssertEqual(try decode(.sign, bytes, count: v.count), v.map { $0.sign == .minus ? -scale : scale })
    }

    /// The sign bits against the documented layout bit by bit (bit i mod 8 of byte i div 8 is
    /// value i's sign bit, -0 and negative NaNs included), and their decoding to ±scale, for parts
    /// of one value to several bytes with a partial last byte.
    func testSignBitsMatchTheDocumentedLayout() throws {
        var rng = SystemRandomNumberGenerator()
        for n in [1, 7, 8, 15, 16, 17, 16 * 9 + 7] {
            let v: [Float] = (0..<n).map { _ in
                [Float(-0.0), 0, .infinity, -.infinity, Float(bitPattern: 0xFFC0_0001), Float.random(in: -2...2, using: &rng)][Int.random(in: 0...5, using: &rng)]
            }
            let bytes = encode(.sign, v)
            var expected = [UInt8](repeating: 0, count: (n + 7) / 8)
            for i in 0..<n where v[i].bitPattern >> 31 == 1 { expected[i / 8] |= 1 << UInt8(i % 8) }
            XCTAssertEqual(Array(bytes[4...]), expected, "n \(n): the sign bits")
            // A finite scale, to check the decoding against the bits.
            var payload = bytes
            withUnsafeBytes(of: Float(0.75).bitPattern.littleEndian) { for j in 0..<4 { payload[j] = $0[j] } }
            let decoded = try decode(.sign, payload, count: n)
            XCTAssertEqual(decoded.map(\.bitPattern), v.map { $0.bitPattern >> 31 == 1 ? Float(-0.75).bitPattern : Float(0.75).bitPattern }, "n \(n)")
        }
    }

    func testMalformedPartsAreRefused() {
        XCTAssertThrowsError(try decode(.bf16, [0, 0, 0], count: 2)) { XCTAssertEqual("\($0)", "a bf16 part of 2 values has 4 bytes, got 3") }
        // Top-k of 4 values at 0.5: two (index, value) pairs; indices must ascend and stay inside.
        func topk(_ i: UInt32, _ j: UInt32) -> [UInt8] {
            [i, j, Float(1).bitPattern, Float(2).bitPattern].flatMap { x in withUnsafeBytes(of: x.littleEndian) { Array($0) } }
        }
        XCTAssertNoThrow(try decode(.topk(0.5), topk(0, 3), count: 4))
        XCTAssertThrowsError(try decode(.topk(0.5), topk(2, 2), count: 4)) { XCTAssertEqual("\($0)", "topk index 2 after 2 in a part of 4 values (they must ascend)") }
        XCTAssertThrowsError(try decode(.topk(0.5), topk(1, 4), count: 4))
    }

    /// What went out plus what is kept is what came in, every step; over many steps nothing is
    /// lost: the sum of what was sent differs from the sum of the inputs by the last residual.
    func testErrorFeedbackKeepsWhatTheEncodingLeavesOut() throws {
        var rng = SystemRandomNumberGenerator()
        for codec in [GradientCodec.topk(0.1), .sign] {
            let n = 50
            let ef = ErrorFeedback(count: n)
            var sentSum = [Double](repeating: 0, count: n), inSum = [Double](repeating: 0, count: n)
            for _ in 0..<40 {
                let g = (0..<n).map { _ in Float.random(in: -1...1, using: &rng) }
                let before = Array(ef.residual)
                let part = g.withUnsafeBufferPointer { ef.accumulate($0.baseAddress!, range: 0..<n) }
                let v = Array(UnsafeBufferPointer(start: part, count: n))
                for i in 0..<n { XCTAssertEqual(v[i], g[i] + before[i]) }
                let bytes = encode(codec, v)
                bytes.withUnsafeBytes { ef.keep(sentAs: $0, codec: codec, range: 0..<n) }
                let sent = try decode(codec, bytes, count: n)
                for i in 0..<n {
                    XCTAssertEqual(ef.residual[i], v[i] - sent[i], "residual = what was not sent")
                    sentSum[i] += Double(sent[i])
                    inSum[i] += Double(g[i])
                }
            }
            for i in 0..<n { XCTAssertEqual(inSum[i] - sentSum[i], Double(ef.residual[i]), accuracy: 1e-4, "\(codec): nothing lost, only delayed") }
        }
    }
}
