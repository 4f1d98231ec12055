import DSGDCore
import DSGDKernels
import DSGDKernelTable

/// Averages gradients and applies the SGD step in one pass over memory, through the active
/// kernel variant's `meanStep` (`VariantStep`, built for the CPU at hand) on a little-endian host,
/// and through `applyReference`, plain SIMD8 code that writes the same bits, otherwise.
///
/// Per parameter the gradients are summed in worker-id order
/// (`((g0 + g1) + g2) + ...`, so arrival order never changes a bit of the result), scaled by 1/N
/// and applied exactly as `SGD.step` does (`v = m v + s g; w' = w - lr v`, Nesterov
/// `w' = w - lr (s g + m v)`, or without momentum `w' = w - lr (s g)`),
/// writing the new parameters to a separate buffer. NaN or infinity anywhere in the sum is
/// detected on the way (the kernels test for an exponent of all ones; the reference uses that
/// `x * 0` is NaN only for non-finite `x`). No allocation after `init`.
public final class Aggregator {
    public let parameterCount: Int
    private let velocity: UnsafeMutablePointer<Float>
    let sources: UnsafeMutablePointer<UnsafeRawPointer?>
    let capacity: Int

    /// An aggregator for `parameterCount` parameters and at most `maxGradients` gradients per update.
    public init(parameterCount: Int, maxGradients: Int) {
        self.parameterCount = parameterCount
        capacity = max(maxGradients, 1)
        velocity = .allocate(capacity: max(parameterCount, 1))
        velocity.initialize(repeating: 0, count: max(parameterCount, 1))
        sources = .allocate(capacity: capacity)
        sources.initialize(repeating: nil, count: capacity)
    }

    deinit {
        velocity.deallocate()
        sources.deallocate()
    }

    /// The momentum buffer, copied (for a checkpoint).
    public var velocityValues: [Float] { Array(UnsafeBufferPointer(start: velocity, count: parameterCount)) }

    /// Replaces the momentum buffer (resuming from a checkpoint).
    public func restoreVelocity(_ values: [Float]) {
        precondition(values.count == parameterCount)
        values.withUnsafeBufferPointer { velocity.update(from: $0.baseAddress!, count: parameterCount) }
    }

    /// Sets gradient `index` (worker-id order) for the next `apply`: a pointer to the element at
    /// the start of the range that `apply` will process.
    public func setGradient(_ index: Int, _ pointer: UnsafeRawPointer) {
        sources[index] = pointer
    }

    /// Computes `out = step(params, mean of gradients 0..<count)` over all parameters.
    public func apply(count: Int, optimizer: SGD, params: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>) -> Bool {
        apply(count: count, range: 0..<parameterCount, optimizer: optimizer, params: params, out: out)
    }

    /// Computes `out[range] = step(params[range], mean of gradients 0..<count)` (the gradient
    /// pointers point at element `range.lowerBound`, stored as `storage` says) and returns true,
    /// or returns false if the sum holds NaN or infinity. After false, `out` and the momentum
    /// buffer are partly written: the caller keeps `params` and ends the run.
    public func apply(count: Int, range: Range<Int>, optimizer: SGD, params wholeParams: UnsafePointer<Float>,
                      out wholeOut: UnsafeMutablePointer<Float>, storage: GradientStorage = .float32) -> Bool {
        checkArguments(count, range)
        #if _endian(little)
        let step = StepKernels.Step(scale: 1 / Float(count), rate: optimizer.learningRate, momentum: optimizer.momentum,
                                    nesterov: optimizer.nesterov, bfloat16: storage == .bfloat16)
        return Self.kernel(sources, count, range.count, wholeParams + range.lowerBound, wholeOut + range.lowerBound,
                           velocity + range.lowerBound, step)
        #else
        return applyReference(count: count, range: range, optimizer: optimizer, params: wholeParams, out: wholeOut, storage: storage)
        #endif
    }

    /// Traps unless `count` gradients fit and `range` lies within the parameters.
    private func checkArguments(_ count: Int, _ range: Range<Int>) {
        precondition(count >= 1 && count <= capacity)
        precondition(range.lowerBound >= 0 && range.upperBound <= parameterCount)
    }

    /// The active kernel variant's mean-and-step (`VariantStep`): the same bits as
    /// `applyReference`, in that variant's vectors.
    static let kernel = Kernels.active.table.step.meanStep

    /// `apply` as plain SIMD8 code: the reference the kernel variants are checked against, and
    /// the code on a big-endian host.
    func applyReference(count: Int, range: Range<Int>, optimizer: SGD, params wholeParams: UnsafePointer<Float>,
                        out wholeOut: UnsafeMutablePointer<Float>, storage: GradientStorage = .float32) -> Bool {
        checkArguments(count, range)
        switch storage {
        case .float32: return apply(Float32Source.self, count: count, range: range, optimizer: optimizer, params: wholeParams, out: wholeOut)
        case .bfloat16: return apply(BFloat16Source.self, count: count, range: range, optimizer: optimizer, params: wholeParams, out: wholeOut)
        }
    }

    /// `applyReference` for gradients read through `S` (specialised for each).
    @inline(__always)
    private func apply<S: GradientSource>(_: S.Type, count: Int, range: Range<Int>, optimizer: SGD, params wholeParams: UnsafePointer<Float>,
                                          out wholeOut: UnsafeMutablePointer<Float>) -> Bool {
        let n = range.count
        let params = wholeParams + range.lowerBound, out = wholeOut + range.lowerBound
        let scale = 1 / Float(count)
        let lr = optimizer.learningRate, mu = optimizer.momentum
        let useMomentum = mu != 0
        let useNesterov = useMomentum && optimizer.nesterov
        let src = sources
        let vel = velocity + range.lowerBound
        var poison = SIMD8<Float>(repeating: 0)
        var i = 0
        while i + 8 <= n {
            var s = S.load8(src[0]!, i)
            var k = 1
            while k < count {
                s += S.load8(src[k]!, i)
                k += 1
            }
            poison += s * 0
            let g = scale * s
            let p = load8(params, i)
            if useMomentum {
                let v = mu * load8(vel, i) + g
                store8(v, vel, i)
                if useNesterov {
                    store8(p - lr * (g + mu * v), out, i)
                } else {
                    store8(p - lr * v, out, i)
                }
            } else {
                store8(p - lr * g, out, i)
            }
            i += 8
        }
        var tailPoison: Float = 0
        while i < n {
            var s = S.load1(src[0]!, i)
            for k in 1..<max(count, 1) where k < count { s += S.load1(src[k]!, i) }
            tailPoison += s * 0
            let g = scale * s
            if useMomentum {
                let v = mu * vel[i] + g
                vel[i] = v
                if useNesterov {
                    out[i] = params[i] - lr * (g + mu * v)
                } else {
                    out[i] = params[i] - lr * v
                }
            } else {
                out[i] = params[i] - lr * g
            }
            i += 1
        }
        return !(poison.sum().isNaN || tailPoison.isNaN)
    }
}

/// How the gradients an `Aggregator.apply` reads are stored: float32, or bf16 as received
/// (`--compress bf16`), widened on the fly exactly as `GradientCodec.decode` widens them.
public enum GradientStorage: Sendable {
    case float32, bfloat16
}

/// Reads gradient values from a source pointer: 8 at a time or one.
private protocol GradientSource {
    static func load8(_ p: UnsafeRawPointer, _ i: Int) -> SIMD8<Float>
    static func load1(_ p: UnsafeRawPointer, _ i: Int) -> Float
}

private enum Float32Source: GradientSource {
    @inline(__always) static func load8(_ p: UnsafeRawPointer, _ i: Int) -> SIMD8<Float> { p.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self) }
    @inline(__always) static func load1(_ p: UnsafeRawPointer, _ i: Int) -> Float { p.loadUnaligned(fromByteOffset: 4 * i, as: Float.self) }
}

/// Little-endian u16s, each the top half of a float32.
private enum BFloat16Source: GradientSource {
    @inline(__always) static func load8(_ p: UnsafeRawPointer, _ i: Int) -> SIMD8<Float> {
        #if _endian(little)
        let halves = p.loadUnaligned(fromByteOffset: 2 * i, as: SIMD8<UInt16>.self)
        return unsafeBitCast(SIMD8<UInt32>(truncatingIfNeeded: halves) &<< 16, to: SIMD8<Float>.self)
        #else
        var v = SIMD8<Float>()
        for j in 0..<8 { v[j] = load1(p, i + j) }
        return v
        #endif
    }

    @inline(__always) static func load1(_ p: UnsafeRawPointer, _ i: Int) -> Float {
        Float(bitPattern: UInt32(UInt16(littleEndian: p.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) << 16)
    }
}

@inline(__always)
private func load8(_ p: UnsafePointer<Float>, _ i: Int) -> SIMD8<Float> {
    UnsafeRawPointer(p + i).loadUnaligned(as: SIMD8<Float>.self)
}

@inline(__always)
private func store8(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>, _ i: Int) {
    UnsafeMutableRawPointer(p + i).storeBytes(of: v, as: SIMD8<Float>.self)
}
