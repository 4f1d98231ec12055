import ArgumentParser
import DSGDCluster
import Foundation

extension DSGD {
    /// `dsgd bench codec`: what encoding and decoding a vector costs, per `--compress` scheme.
    struct BenchCodec: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "codec",
            abstract: "Time encoding and decoding a gradient of D values in parts, per encoding; JSON lines.",
            discussion: "The values are a fixed pseudo-random gradient (not zeros), so top-k's selection does real work. Encoding includes error feedback for topk and sign, as a worker does it.")

        @Option(parsing: .upToNextOption, help: "Vector sizes.")
        var dims: [Int] = [1_000_000]

        @Option(parsing: .upToNextOption, help: "Encodings.")
        var compress: [String] = ["none", "bf16", "fp16", "topk:0.01", "sign"]

        @Option(help: "Values per part (--gradient-chunk) (default: as dsgd run's for each encoding: 131072; topk 4194304).")
        var gradientChunk: Int?

        @Option(help: "Repetitions (median reported).")
        var repeats: Int = 30

        @Flag(inversion: .prefixedNo, help: "Error feedback with topk and sign (as workers do by default).")
        var errorFeedback = true

        func validate() throws {
            if let c = gradientChunk, c < 1 { throw ValidationError("--gradient-chunk must be at least 1") }
            for d in dims where d < 1 { throw ValidationError("--dims must be positive") }
            guard repeats >= 1 else { throw ValidationError("--repeats must be at least 1") }
        }

        func run() throws {
            for d in dims {
                var state: UInt64 = 0x9E37_79B9_7F4A_7C15
                let values = (0..<d).map { _ -> Float in
                    state = state &* 6364136223846793005 &+ 1442695040888963407
                    return Float(Int64(bitPattern: state >> 11) % 2_000_001 - 1_000_000) * 1e-9
                }
                for name in compress {
                    let codec = try GradientCodec(parsing: name)
                    let gradientChunk = gradientChunk ?? JobConfig.defaultGradientChunk(compress: codec)
                    let parts = stride(from: 0, to: d, by: gradientChunk).map { $0 ..< min(d, $0 + gradientChunk) }
                    let bytes = parts.reduce(0) { $0 + codec.payloadBytes(count: $1.count) }
                    let encoded = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 8)
                    let work = UnsafeMutablePointer<Float>.allocate(capacity: d)
                    let scratch = UnsafeMutablePointer<Float>.allocate(capacity: min(gradientChunk, d))
                    let decoded = UnsafeMutablePointer<Float>.allocate(capacity: d)
                    defer { encoded.deallocate(); work.deallocate(); scratch.deallocate(); decoded.deallocate() }
                    let feedback = codec.isSparse && errorFeedback ? ErrorFeedback(count: d) : nil
                    var encodeTimes: [Double] = [], decodeTimes: [Double] = []
                    for _ in 0..<repeats {
                        values.withUnsafeBufferPointer { work.update(from: $0.baseAddress!, count: d) }
                        let t0 = monotonicSeconds()
                        var offset = 0
                        for r in parts {
                            let v = work + r.lowerBound, size = codec.payloadBytes(count: r.count)
                            codec.encode(v, range: r, feedback: feedback, into: encoded + offset, scratch: scratch)
                            offset += size
                        }
                        let t1 = monotonicSeconds()
                        offset = 0
                        for r in parts {
                            let size = codec.payloadBytes(count: r.count)
                            try codec.decode(UnsafeRawBufferPointer(start: encoded + offset, count: size), count: r.count, into: decoded + r.lowerBound)
                            offset += size
                        }
                        let t2 = monotonicSeconds()
                        encodeTimes.append(t1 - t0)
                        decodeTimes.append(t2 - t1)
                    }
                    encodeTimes.sort()
                    decodeTimes.sort()
                    let e = encodeTimes[repeats / 2], dd = decodeTimes[repeats / 2]
                    writeLine("{\"benchmark\":\"codec\",\"compress\":\"\(codec)\",\"dim\":\(d),\"gradient_chunk\":\(gradientChunk),\"bytes\":\(bytes),\"error_feedback\":\(feedback != nil),"
                        + "\"encode_ms\":\(String(format: "%.4f", e * 1e3)),\"decode_ms\":\(String(format: "%.4f", dd * 1e3)),"
                        + "\"encode_values_per_s\":\(String(format: "%.3e", Double(d) / e)),\"decode_values_per_s\":\(String(format: "%.3e", Double(d) / dd)),\(benchMachineFields)}", to: 1)
                }
            }
        }
    }
}
