import DSGDKernelTable

/// This variant's function table (see `KernelTable`); the only public name of the module.
public enum Variant {
    public static let table = KernelTable(
        name: variantName, lanes: laneCount, fusedMultiplyAdd: fused,
        tile: (rows: VariantSGEMM.mr, columns: VariantSGEMM.nr), sgemmWorkspaceCount: VariantSGEMM.workspaceCount,
        multiply: { m, n, k, a, lda, ta, b, ldb, tb, c, ldc, accumulate, bias, relu, workspace in
            VariantSGEMM.multiply(m: m, n: n, k: k, a: a, lda: lda, transposeA: ta, b: b, ldb: ldb, transposeB: tb,
                                  c: c, ldc: ldc, accumulate: accumulate, bias: bias, relu: relu, workspace: workspace)
        },
        columnSums: { a, rows, cols, lda, out in VariantSGEMM.columnSums(a, rows: rows, cols: cols, lda: lda, into: out) },
        reluBackward: { d, h, count in VariantSGEMM.reluBackward(d, mask: h, count: count) },
        affineGradient: { logistic, w, d, x, rows, y, batch, g, next in
            VariantAffine.lossAndGradient(logistic: logistic, parameters: w, dimension: d, features: x, featureRows: rows, targets: y,
                                          batch: batch, gradient: g, next: next)
        },
        affineLoss: { logistic, w, d, x, y, n in
            VariantAffine.meanLoss(logistic: logistic, parameters: w, dimension: d, features: x, targets: y, examples: n)
        },
        elementwise: { function, x, out, count in
            switch function {
            case .exp: eightAtATime(x, out, count, VariantMath.exp)
            case .log1p: eightAtATime(x, out, count, VariantMath.log1p)
            case .sigmoid: eightAtATime(x, out, count, VariantMath.sigmoid)
            }
        },
        logisticLossAndSlope: { z, y, loss, slope, count in
            var i = 0
            while i < count {
                var zv = Vector8(), yv = Vector8()
                for k in 0..<min(8, count - i) { zv[k] = z[i + k]; yv[k] = y[i + k] }
                let (l, s) = VariantMath.logisticLossAndSlope(z: zv, y: yv)
                for k in 0..<min(8, count - i) { loss[i + k] = l[k]; slope[i + k] = s[k] }
                i += 8
            }
        },
        readSum: { p, count in Yardsticks.readSum(p, count) },
        readSumWithWork: { p, count, rounds in Yardsticks.readSumWithWork(p, count, rounds) },
        peakLoop: { iterations, x, y in Yardsticks.peakLoop(iterations, x, y) },
        wire: WireKernels(
            encodeBFloat16: { x, out, n in VariantWire.encodeBFloat16(x, out, n) },
            decodeBFloat16: { p, out, n in VariantWire.decodeBFloat16(p, out, n) },
            encodeBinary16: { x, out, n in VariantWire.encodeBinary16(x, out, n) },
            decodeBinary16: { p, out, n in VariantWire.decodeBinary16(p, out, n) },
            encodeSign: { x, out, n in VariantWire.encodeSign(x, out, n) },
            decodeSign: { p, out, n in VariantWire.decodeSign(p, out, n) },
            accumulateAndEncodeSign: { x, r, out, n in VariantWire.accumulateAndEncodeSign(x, r, out, n) },
            gatherAtLeast: { v, a, n, t, limit, out in VariantWire.gatherAtLeast(v, a, n, t, limit, out) }),
        step: StepKernels(meanStep: { g, count, n, w, out, v, step in VariantStep.meanStep(g, count, n, w, out, v, step) }))

    /// Whether `madd` is one fused instruction here.
    static var fused: Bool {
        #if DSGD_KERNELS_PORTABLE && arch(x86_64)
        return false
        #else
        return true
        #endif
    }

    /// `out[i] = f(x[i])`, eight lanes at a time (the last vector padded with zeros).
    static func eightAtATime(_ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ count: Int, _ f: (Vector8) -> Vector8) {
        var i = 0
        while i < count {
            var v = Vector8()
            for k in 0..<min(8, count - i) { v[k] = x[i + k] }
            let r = f(v)
            for k in 0..<min(8, count - i) { out[i + k] = r[k] }
            i += 8
        }
    }
}
