import DSGDKernels
import XCTest
#if canImport(DSGDKernelsAVX512OnAVX2)
import DSGDKernelsAVX512OnAVX2
#endif

/// Every kernel variant the tests run: those this build has and this CPU runs (fastest first),
/// each called directly (not through DSGD_KERNEL), and on x86-64 also the AVX-512 source compiled
/// for AVX2 (`avx512-layout-on-avx2`: 16 lanes and the 8 x 32 tile), so that the AVX-512
/// variant's logic is tested on a machine without AVX-512 too.
let testedKernels: [Kernels] = {
    var kernels = Kernels.supported
    #if canImport(DSGDKernelsAVX512OnAVX2)
    if KernelVariant.avx2.isSupported { kernels.append(Kernels(table: DSGDKernelsAVX512OnAVX2.Variant.table)) }
    #endif
    return kernels
}()

/// How DSGD_KERNEL is read: the fastest supported variant by default, a forced one if supported,
/// a one-line error for an unknown name or a variant the CPU cannot run.
final class KernelVariantTests: XCTestCase {
    func testVariantsUnderTest() {
        print("KernelVariantTests: variants under test: \(testedKernels.map(\.name)); active: \(Kernels.active.name); CPU: \(Kernels.cpuModel)")
        XCTAssertTrue(testedKernels.contains { $0.name == "portable" }, "the portable variant runs everywhere")
        XCTAssertTrue(KernelVariant.portable.isSupported)
        #if arch(x86_64)
        XCTAssertTrue(KernelVariant.allCases.allSatisfy(\.isBuilt))
        // The AVX-512 check implies the AVX2 one.
        if KernelVariant.avx512.cpuCanRun { XCTAssertTrue(KernelVariant.avx2.cpuCanRun) }
        #else
        XCTAssertEqual(KernelVariant.allCases.filter(\.isBuilt), [.portable])
        #endif
        let lanes = Dictionary(uniqueKeysWithValues: testedKernels.map { ($0.name, $0.lanes) })
        XCTAssertEqual(lanes["portable"], 4)
        if lanes["avx2"] != nil { XCTAssertEqual(lanes["avx2"], 8) }
        if lanes["avx512"] != nil { XCTAssertEqual(lanes["avx512"], 16) }
    }

    func testDefaultIsFastestSupported() {
        let all: (KernelVariant) -> Bool = { _ in true }
        XCTAssertEqual(try KernelVariant.select(forced: nil, isSupported: all).get(), .avx512)
        XCTAssertEqual(try KernelVariant.select(forced: "", isSupported: all).get(), .avx512)
        XCTAssertEqual(try KernelVariant.select(forced: "auto", isSupported: { $0 != .avx512 }).get(), .avx2)
        XCTAssertEqual(try KernelVariant.select(forced: nil, isSupported: { $0 == .portable }).get(), .portable)
        // On this machine: the fastest the CPU runs.
        XCTAssertEqual(try KernelVariant.select(forced: nil).get(), KernelVariant.fastestSupported)
        XCTAssertEqual(KernelVariant.fastestSupported, KernelVariant.allCases.first(where: \.isSupported))
    }

    func testForcedVariant() {
        let all: (KernelVariant) -> Bool = { _ in true }
        XCTAssertEqual(try KernelVariant.select(forced: "avx2", isSupported: all).get(), .avx2)
        XCTAssertEqual(try KernelVariant.select(forced: " AVX512\n", isSupported: all).get(), .avx512)
        XCTAssertEqual(try KernelVariant.select(forced: "portable", isSupported: { $0 == .portable }).get(), .portable)
        for variant in KernelVariant.allCases where variant.isSupported {
            XCTAssertEqual(try KernelVariant.select(forced: variant.rawValue).get(), variant)
        }
    }

    func testUnknownVariantRefused() {
        for value in ["avx", "sse2", "avx-512", "fast", "1"] {
            let result = KernelVariant.select(forced: value, isSupported: { _ in true })
            guard case .failure(let error) = result else { return XCTFail("\(value) accepted") }
            XCTAssertEqual(error.problem, .unknown)
            XCTAssertEqual(error.description, "DSGD_KERNEL=\(value) is not a kernel variant (use avx512, avx2, portable or auto)")
            XCTAssertFalse(error.description.contains("\n"))
        }
    }

    func testUnsupportedVariantRefused() {
        let noAVX512: (KernelVariant) -> Bool = { $0 != .avx512 }
        guard case .failure(let error) = KernelVariant.select(forced: "avx512", isSupported: noAVX512) else {
            return XCTFail("avx512 accepted on a CPU without it")
        }
        XCTAssertEqual(error.problem, .unsupported(.avx512, alternatives: [.avx2, .portable]))
        XCTAssertFalse(error.description.contains("\n"))
        XCTAssertTrue(error.description.hasPrefix("DSGD_KERNEL=avx512: "), error.description)
        XCTAssertTrue(error.description.hasSuffix("; use avx2 or portable"), error.description)
        guard case .failure(let old) = KernelVariant.select(forced: "avx2", isSupported: { $0 == .portable }) else {
            return XCTFail("avx2 accepted on a CPU without it")
        }
        XCTAssertEqual(old.problem, .unsupported(.avx2, alternatives: [.portable]))
        // On this machine: every variant the CPU cannot run is refused.
        for variant in KernelVariant.allCases where !variant.isSupported {
            guard case .failure = KernelVariant.select(forced: variant.rawValue) else { return XCTFail("\(variant) accepted") }
        }
    }

    /// `readSumWithWork`'s work, lane by lane in float64: per chunk of four vectors of `lanes`
    /// floats, the four running sums `s_k` take their vector, then each round sets the eight
    /// accumulators `a_j = s_(j mod 4) + a_j / 2`; the result is the sum of every accumulator lane.
    /// (Each float operation of the kernel here is exact or rounded once, as in float64 up to the
    /// tolerance: the data are small integers.)
    static func streamWork(_ data: [Float], lanes: Int, rounds: Int) -> Double {
        var s = [[Double]](repeating: [Double](repeating: 0, count: lanes), count: 4)
        var a = [[Double]](repeating: [Double](repeating: 0, count: lanes), count: 8)
        var i = 0
        while i + 4 * lanes <= data.count {
            for k in 0..<4 { for l in 0..<lanes { s[k][l] += Double(data[i + k * lanes + l]) } }
            for _ in 0..<rounds { for j in 0..<8 { for l in 0..<lanes { a[j][l] = s[j % 4][l] + a[j][l] / 2 } } }
            i += 4 * lanes
        }
        return a.joined().reduce(0, +)
    }

    /// The yardsticks run on every variant and count their work.
    func testYardsticks() {
        let data = (0..<1000).map { Float($0 % 7) }
        for kernels in testedKernels {
            XCTAssertEqual(data.withUnsafeBufferPointer { kernels.readSum($0.baseAddress!, count: $0.count) }, data.reduce(0, +), kernels.name)
            for rounds in [0, 1, 3] {
                // 1000 floats: whole chunks of four vectors, then a scalar tail.
                let (sum, work) = data.withUnsafeBufferPointer { kernels.readSumWithWork($0.baseAddress!, count: $0.count, rounds: rounds) }
                XCTAssertEqual(sum, data.reduce(0, +), "\(kernels.name) rounds \(rounds)")
                let expected = Self.streamWork(data, lanes: kernels.lanes, rounds: rounds)
                XCTAssertEqual(Double(work), expected, accuracy: 1e-5 * max(1, abs(expected)), "\(kernels.name) rounds \(rounds)")
                if rounds > 0 { XCTAssertGreaterThan(work, 0, kernels.name) }
            }
            let peak = kernels.peakLoop(iterations: 1000)
            XCTAssertTrue(peak.value.isFinite, kernels.name)
            XCTAssertEqual(peak.flops, 1000 * 12 * Double(kernels.lanes) * 2, kernels.name)
        }
    }
}
