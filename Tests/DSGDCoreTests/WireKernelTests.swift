import DSGDKernels
import DSGDKernelTable
import XCTest

/// The wire encodings every kernel variant exports (`KernelTable.wire`: bf16, fp16 and sign,
/// docs/PROTOCOL.md §4.1), on every variant under test (`testedKernels`), against references
/// written here independently of the kernels' arithmetic:
/// - bf16: the nearer of the two bf16 neighbours in float64, ties to the even one; NaN → 0x7FC0;
/// - fp16: Swift's own `Float16` conversions (finite values and infinities; NaN → 0x7E00 with
///   the sign, and decoding keeps a NaN's payload bits);
/// - sign: the scale summed in the documented eight lanes by a plain loop, each bit read by
///   index, and error feedback as `(r + v) - (±scale)`.
/// - top-k's candidate pass: a scalar loop over the keys `bits & 0x7FFF_FFFF`, with the sums of
///   error feedback computed first.
/// Every comparison is of bits (no tolerance): the encodings are exact functions.
final class WireKernelTests: XCTestCase {
    /// Part lengths: empty-tail and tail cases around the vector widths (4, 8, 16 lanes).
    let lengths = [1, 3, 7, 8, 9, 15, 16, 17, 31, 33, 64 + 5, 1000 + 3]

    /// Random floats: every bit pattern (NaNs of both signs and all payloads, infinities,
    /// subnormals, both zeros), with the specials first.
    func randomFloats(_ n: Int, seed: UInt64) -> [Float] {
        var state = seed
        let special: [UInt32] = [0x7FC0_0000, 0xFF80_0001, 0x7F80_0000, 0xFF80_0000, 0x0000_0000, 0x8000_0000, 0x7F7F_FFFF,
                                 0x3F80_8000, 0x3F81_8000, 0x0000_0001, 0x477F_F000, 0x3880_0000, 0x3380_0000]
        return (0..<n).map { i in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(bitPattern: i < special.count ? special[i] : UInt32(truncatingIfNeeded: state >> 32))
        }
    }

    func encode(_ f: WireKernels.Encode, _ v: [Float], bytes: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0xAA, count: bytes)
        v.withUnsafeBufferPointer { vb in out.withUnsafeMutableBytes { f(vb.baseAddress!, $0.baseAddress!, v.count) } }
        return out
    }

    func decode(_ f: WireKernels.Decode, _ bytes: [UInt8], count: Int) -> [Float] {
        var out = [Float](repeating: .nan, count: count)
        bytes.withUnsafeBytes { b in out.withUnsafeMutableBufferPointer { f(b.baseAddress!, $0.baseAddress!, count) } }
        return out
    }

    func halves(_ bytes: [UInt8]) -> [UInt16] {
        stride(from: 0, to: bytes.count, by: 2).map { UInt16(bytes[$0]) | UInt16(bytes[$0 + 1]) << 8 }
    }

    /// bf16 by comparing the two neighbours in float64.
    func referenceBFloat16(_ x: Float) -> UInt16 {
        if x.isNaN { return 0x7FC0 }
        let down = x.bitPattern & 0xFFFF_0000, up = down &+ 0x1_0000
        if down == x.bitPattern { return UInt16(down >> 16) }
        let dDown = abs(Double(x) - Double(Float(bitPattern: down)))
        // One step up from the largest finite magnitude is infinity, which counts as 2^128.
        let upValue = Float(bitPattern: up).isInfinite ? Double(Float(bitPattern: up).sign == .minus ? -1 : 1) * 0x1p128 : Double(Float(bitPattern: up))
        let dUp = abs(Double(x) - upValue)
        if dDown < dUp { return UInt16(down >> 16) }
        if dUp < dDown { return UInt16(up >> 16) }
        return UInt16((down >> 16) & 1 == 0 ? down >> 16 : up >> 16)
    }

    func testBFloat16BothWays() {
        for kernels in testedKernels {
            for n in lengths {
                let v = randomFloats(n, seed: UInt64(n))
                let bytes = encode(kernels.table.wire.encodeBFloat16, v, bytes: 2 * n)
                let got = halves(bytes)
                for i in 0..<n {
                    XCTAssertEqual(got[i], referenceBFloat16(v[i]), "\(kernels.name) n \(n) value \(i): \(String(v[i].bitPattern, radix: 16))")
                }
                let back = decode(kernels.table.wire.decodeBFloat16, bytes, count: n)
                XCTAssertEqual(back.map(\.bitPattern), got.map { UInt32($0) << 16 }, "\(kernels.name) n \(n)")
            }
        }
    }

    func referenceBinary16(_ x: Float) -> UInt16 {
        x.isNaN ? (x.sign == .minus ? 0xFE00 : 0x7E00) : Float16(x).bitPattern
    }

    func testBinary16EncodingMatchesFloat16() {
        // A sweep over every exponent with the halfway cases of the 13 dropped bits, both signs.
        var sweep: [Float] = []
        var bits: UInt32 = 0
        while bits < 0x7F80_0000 {
            for b in [bits, bits | 0x8000_0000, bits &+ 0x1000, bits &+ 0xFFF, bits &+ 0x3000] { sweep.append(Float(bitPattern: b)) }
            bits &+= 0x2000 &+ 7
        }
        for kernels in testedKernels {
            for v in lengths.map({ randomFloats($0, seed: 7 &* UInt64($0)) }) + [sweep] {
                let got = halves(encode(kernels.table.wire.encodeBinary16, v, bytes: 2 * v.count))
                let wrong = v.indices.filter { got[$0] != referenceBinary16(v[$0]) }
                XCTAssertEqual(wrong.count, 0, "\(kernels.name) n \(v.count): first wrong \(wrong.first.map { String(v[$0].bitPattern, radix: 16) } ?? "")")
            }
        }
    }

    func testBinary16DecodingOfEveryPattern() {
        let all = (0...UInt16.max).map { $0 }
        let bytes = all.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] }
        let expected = all.map { h -> UInt32 in
            let f = Float16(bitPattern: h)
            // A NaN keeps its sign and its payload bits, shifted into the float's mantissa.
            return f.isNaN ? UInt32(h & 0x8000) << 16 | 0x7F80_0000 | UInt32(h & 0x3FF) << 13 : Float(f).bitPattern
        }
        for kernels in testedKernels {
            let got = decode(kernels.table.wire.decodeBinary16, bytes, count: all.count).map(\.bitPattern)
            let wrong = all.indices.filter { got[$0] != expected[$0] }
            XCTAssertEqual(wrong.count, 0, "\(kernels.name): first wrong \(wrong.first.map { String(all[$0], radix: 16) } ?? "")")
        }
    }

    /// The documented scale: lane j sums |v_i| for i ≡ j (mod 8) in index order, lanes added as
    /// ((l0 + l1) + (l2 + l3)) + ((l4 + l5) + (l6 + l7)), divided by n.
    func referenceScale(_ v: [Float]) -> Float {
        var lanes = [Float](repeating: 0, count: 8)
        for (i, x) in v.enumerated() { lanes[i % 8] += x < 0 ? -x : x }
        return (((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]))) / Float(v.count)
    }

    /// Finite values of mixed signs and magnitudes, with both zeros.
    func gradientLike(_ n: Int, seed: UInt64) -> [Float] {
        var state = seed
        return (0..<n).map { i in
            if i % 11 == 5 { return i % 2 == 0 ? 0 : -0.0 }
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: state) >> 40) * 1e-6 * Float(1 + i % 5)
        }
    }

    func testSignPayloadAndDecoding() {
        for kernels in testedKernels {
            for n in lengths {
                let v = gradientLike(n, seed: UInt64(n) + 99)
                let bytes = encode(kernels.table.wire.encodeSign, v, bytes: 4 + (n + 7) / 8)
                let scale = Float(bitPattern: UInt32(bytes[0]) | UInt32(bytes[1]) << 8 | UInt32(bytes[2]) << 16 | UInt32(bytes[3]) << 24)
                XCTAssertEqual(scale.bitPattern, referenceScale(v).bitPattern, "\(kernels.name) n \(n): scale")
                for i in 0..<n {
                    let bit = (bytes[4 + i / 8] >> UInt8(i % 8)) & 1
                    XCTAssertEqual(UInt32(bit), v[i].bitPattern >> 31, "\(kernels.name) n \(n) value \(i)")
                }
                let padding = n % 8 == 0 ? 0 : bytes[4 + n / 8] >> UInt8(n % 8)
                XCTAssertEqual(padding, 0, "\(kernels.name) n \(n): the last byte's unused bits are 0")
                let back = decode(kernels.table.wire.decodeSign, bytes, count: n)
                XCTAssertEqual(back.map(\.bitPattern), v.map { ($0.sign == .minus ? -scale : scale).bitPattern }, "\(kernels.name) n \(n)")
            }
        }
    }

    func testSignWithErrorFeedback() {
        for kernels in testedKernels {
            for n in lengths {
                let v = gradientLike(n, seed: UInt64(n) + 5), before = gradientLike(n, seed: UInt64(n) + 6)
                var residual = before
                var out = [UInt8](repeating: 0xAA, count: 4 + (n + 7) / 8)
                v.withUnsafeBufferPointer { vb in residual.withUnsafeMutableBufferPointer { r in out.withUnsafeMutableBytes {
                    kernels.table.wire.accumulateAndEncodeSign(vb.baseAddress!, r.baseAddress!, $0.baseAddress!, n)
                } } }
                let sum = (0..<n).map { before[$0] + v[$0] }
                XCTAssertEqual(out, encode(kernels.table.wire.encodeSign, sum, bytes: out.count), "\(kernels.name) n \(n): the payload of r + v")
                let scale = referenceScale(sum)
                let kept = sum.map { $0 - ($0.sign == .minus ? -scale : scale) }
                XCTAssertEqual(residual.map(\.bitPattern), kept.map(\.bitPattern), "\(kernels.name) n \(n): what is kept")
            }
        }
    }

    /// `topk`'s candidate pass: the indices whose key reaches the threshold, ascending, and with
    /// addends the stored sums, on lengths of whole chunks of 16 (from one chunk to many), at a
    /// threshold that about a tenth of the values reach, at one above every key (no candidate), at
    /// zero (all of them), and with a limit that the count passes midway: the pass stops after
    /// the chunk that passed it, and with addends has added exactly the chunks it did.
    func testTopKCandidatePass() {
        for kernels in testedKernels {
            for n in [16, 32, 16 * 7, 16 * 65] {
                let v = gradientLike(n, seed: UInt64(n) + 11), a = gradientLike(n, seed: UInt64(n) + 12)
                let sorted = v.map { $0.bitPattern & 0x7FFF_FFFF }.sorted()
                for threshold in [sorted[n - n / 10 - 1], 0x7FFF_FFFF, 0] {
                    for adding in [false, true] {
                        for limit in [n, n / 3] {
                            let context = "\(kernels.name) n \(n) threshold \(threshold) adding \(adding) limit \(limit)"
                            var values = v, indices = [UInt32](repeating: 0xFFFF_FFFF, count: n + 16)
                            let (count, end) = values.withUnsafeMutableBufferPointer { vb in a.withUnsafeBufferPointer { ab in
                                indices.withUnsafeMutableBufferPointer {
                                    kernels.table.wire.gatherAtLeast(vb.baseAddress!, adding ? ab.baseAddress! : nil, n, threshold, limit, $0.baseAddress!)
                                }
                            } }
                            // The reference: chunk by chunk, stopping after the chunk that passes the limit.
                            var expected: [UInt32] = [], expectedEnd = n, sums = v
                            var i = 0
                            while i < n {
                                for j in i..<(i + 16) {
                                    if adding { sums[j] = v[j] + a[j] }
                                    if sums[j].bitPattern & 0x7FFF_FFFF >= threshold { expected.append(UInt32(j)) }
                                }
                                i += 16
                                if expected.count > limit { expectedEnd = i; break }
                            }
                            XCTAssertEqual(count, expected.count, context)
                            XCTAssertEqual(end, expectedEnd, context)
                            XCTAssertEqual(Array(indices.prefix(count)), expected, context)
                            XCTAssertEqual(values.map(\.bitPattern), (adding ? Array(sums.prefix(expectedEnd)) + v.suffix(n - expectedEnd) : v).map(\.bitPattern),
                                           "\(context): the values (the sums where added)")
                        }
                    }
                }
            }
        }
    }
}
