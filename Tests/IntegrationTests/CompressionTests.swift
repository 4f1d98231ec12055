import DSGDCluster
import DSGDCore
import Foundation
import XCTest

/// `--compress` and `--compress-params` through a real cluster: three sync workers, the vector in
/// parts of 4 values, and the final parameters equal, bit for bit, a replay in this process that
/// encodes every worker's vector part by part as docs/PROTOCOL.md §4.1 says (written again here,
/// not DSGDCluster's `GradientCodec`), with each worker's error feedback residual, and averages
/// the decoded parts as the coordinator does. A peer of another protocol version, and a worker
/// that sends float32 to a compressing job, get a clear error.
final class CompressionTests: ClusterTestCase {
    let n = 3, examples = 96, features = 8, batch = 4, steps = 24, chunk = 4, seed: UInt64 = 5
    let lr: Float = 0.5

    // MARK: The encodings, from PROTOCOL.md §4.1

    static func bf16(_ x: Float) -> Float {
        if x.isNaN { return x }
        let b = x.bitPattern
        let lower = b & 0xFFFF, upper = b >> 16
        let up = lower > 0x8000 || (lower == 0x8000 && upper & 1 == 1)
        return Float(bitPattern: (up ? upper + 1 : upper) << 16)
    }

    /// What the receiver decodes of one part `v` sent with `codec` (`none`, `bf16`, `topk:F`, `sign`).
    static func sent(_ v: [Float], codec: String) -> [Float] {
        switch codec {
        case "bf16": return v.map(bf16)
        case "sign":
            var lanes = [Float](repeating: 0, count: 8)
            for (i, x) in v.enumerated() { lanes[i % 8] += abs(x) }
            let sum = ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]))
            let s = sum / Float(v.count)
            return v.map { $0.sign == .minus ? -s : s }
        default:
            guard codec.hasPrefix("topk:"), let f = Double(codec.dropFirst(5)) else { return v }
            let k = min(v.count, max(1, Int((f * Double(v.count)).rounded(.up))))
            let keep = Set(v.indices.sorted { abs(v[$0]) != abs(v[$1]) ? abs(v[$0]) > abs(v[$1]) : $0 < $1 }.prefix(k))
            return v.indices.map { keep.contains($0) ? v[$0] : 0 }
        }
    }

    /// The parameters after `steps` sync updates with `codec` for gradients (and error feedback
    /// for topk and sign) and `params` for parameters.
    func replay(codec: String, params: String, data: Dataset, chunk: Int? = nil) -> [Float] {
        let chunk = chunk ?? self.chunk
        let model = LogisticRegression(dimension: features)
        let order = SyncReplay(model: model, data: data, workers: n, batch: batch, seed: seed, learningRate: lr)
        var sgd = ReferenceSGD(parameters: model.initialParameters(), learningRate: lr)
        let p = sgd.parameters.count
        let feedback = codec == "sign" || codec.hasPrefix("topk:")
        var residual = [[Float]](repeating: [Float](repeating: 0, count: p), count: n)
        for t in 0..<steps {
            let seen = params == "bf16" ? sgd.parameters.map(Self.bf16) : sgd.parameters
            var decoded: [[Float]] = []
            for k in 0..<n {
                var v = model.lossAndGradient(parameters: seen, data: data, batch: order.minibatch(worker: k, step: t)).gradient
                if feedback { for i in 0..<p { v[i] = v[i] + residual[k][i] } }
                var out = [Float]()
                for lo in stride(from: 0, to: p, by: chunk) {
                    let part = Array(v[lo ..< min(p, lo + chunk)])
                    out += Self.sent(part, codec: codec)
                }
                if feedback { for i in 0..<p { residual[k][i] = v[i] - out[i] } }
                decoded.append(out)
            }
            sgd.apply(decoded)
        }
        return sgd.parameters
    }

    func testCompressedSyncEqualsAReplayOfTheDocumentedEncodings() throws {
        let data = try DatasetSpec(name: "synthetic-logistic", examples: examples, features: features, seed: seed).materialize()
        for (codec, params) in [("bf16", "none"), ("topk:0.25", "none"), ("sign", "none"), ("none", "bf16"), ("topk:0.25", "sparse")] {
            let out = path("\(codec)-\(params)")
            let r = try run(["run", "--quiet", "--workers", "\(n)", "--mode", "sync", "--model", "logistic", "--examples", "\(examples)",
                             "--features", "\(features)", "--batch", "\(batch)", "--lr", "\(lr)", "--steps", "\(steps)", "--seed", "\(seed)",
                             "--gradient-chunk", "\(chunk)", "--compress", codec, "--compress-params", params, "--out", out])
            XCTAssertEqual(r.code, 0, r.stderr)
            assertBitIdentical(try self.params(out).values, replay(codec: codec, params: params, data: data),
                               "--compress \(codec) --compress-params \(params): the coordinator against the documented replay")
            let s = try summary(out)
            let p = features + 1
            // Per worker and step: a gradient of 3 parts (4, 4, 1 values) and parameters of 3 parts.
            let gradientPart = { (L: Int) -> Int in
                switch codec {
                case "bf16": return 2 * L
                case "sign": return 4 + (L + 7) / 8
                case "topk:0.25": return 8 * max(1, Int((0.25 * Double(L)).rounded(.up)))
                default: return 4 * L
                }
            }
            let received = [4, 4, 1].map { 32 + gradientPart($0) }.reduce(0, +) * steps
            let sent = [4, 4, 1].map { 32 + (params == "bf16" ? 2 : 4) * $0 }.reduce(0, +) * steps
            XCTAssertEqual(s.workerBytesReceived, Array(repeating: received, count: n), "\(codec): bytes from each worker")
            if params == "sparse" {
                // Version 0 whole, then per part the changed entries (8 bytes each) when at most half changed.
                let bytes = try XCTUnwrap(s.workerBytesSent)
                XCTAssertTrue(bytes.allSatisfy { $0 < sent && $0 == bytes[0] }, "sparse parameters: fewer bytes than float32 (\(bytes) against \(sent))")
            } else {
                XCTAssertEqual(s.workerBytesSent, Array(repeating: sent, count: n), "\(params): bytes to each worker")
            }
            XCTAssertEqual(s.compress, codec == "none" ? nil : codec)
            XCTAssertEqual(try self.params(out).values.count, p)
        }
    }

    /// Without `--gradient-chunk`, top-k vectors go in one part (4,194,304 floats), so their k
    /// entries are the whole vector's largest; other encodings keep parts of 131,072. In one part,
    /// the coordinator's sparse step is written into the current parameters
    /// (`ParameterStore.beginUpdate(inPlace:)`): under `--compress-params sparse` it lists the
    /// changes it sends, under `bf16` the parameters are encoded from that buffer version after
    /// version.
    func testTopKSendsTheWholeVectorInOnePartByDefault() throws {
        let data = try DatasetSpec(name: "synthetic-logistic", examples: examples, features: features, seed: seed).materialize()
        let common = ["run", "--quiet", "--workers", "\(n)", "--mode", "sync", "--model", "logistic", "--examples", "\(examples)",
                      "--features", "\(features)", "--batch", "\(batch)", "--lr", "\(lr)", "--steps", "\(steps)", "--seed", "\(seed)"]
        let p = features + 1
        // topk:0.1 keeps one entry of the 9 per worker: the changes (at most 3) go as such.
        for (codec, params, expected) in [("topk:0.25", "none", 4_194_304), ("topk:0.1", "sparse", 4_194_304),
                                          ("topk:0.25", "bf16", 4_194_304), ("sign", "none", 131_072)] {
            let out = path("default-chunk-\(codec.prefix(4))-\(params)")
            let r = try run(common + ["--compress", codec, "--compress-params", params, "--out", out])
            XCTAssertEqual(r.code, 0, r.stderr)
            XCTAssertEqual(try RunDirectory(path: out).readConfig().job.gradientChunk, expected, "\(codec): the default part size")
            assertBitIdentical(try self.params(out).values, replay(codec: codec, params: params, data: data, chunk: p),
                               "--compress \(codec) --compress-params \(params): one part of \(p) values")
        }
        // In one part, top-k keeps ceil(0.25 x 9) = 3 entries per gradient (3 parts of 4, 4, 1 kept 1 + 1 + 1).
        let s = try summary(path("default-chunk-topk-none"))
        XCTAssertEqual(s.workerBytesReceived, Array(repeating: (32 + 8 * 3) * steps, count: n), "topk: one part of 3 entries per gradient")
    }

    func testAPeerOfAnotherVersionOrEncodingGetsAClearError() throws {
        let out = path("refusals")
        let (coordinator, endpoint) = try startCoordinator(["--workers", "1", "--mode", "sync", "--compress", "bf16", "--steps", "5"], out: out)
        // A version 2 HELLO (before encodings existed).
        let old = try RawPeer(connect: endpoint, routingID: "old")
        var hello = MessageHeader(type: .hello, workerID: 0).bytes
        hello[4] = 2
        try old.send([hello])
        XCTAssertEqual(try old.receive().type, .error)
        XCTAssertEqual(old.replyText, "protocol version 2 is not supported (this build speaks 3)")
        old.close()

        // A worker that sends float32 parts to a bf16 job.
        let w = try ScriptedWorker(id: 0, connect: endpoint)
        try w.register()
        _ = try w.expectParams()
        try w.send(try w.computeGradient())
        XCTAssertEqual(try w.peer.receive().type, .error)
        XCTAssertEqual(w.peer.replyText, "worker 0 sent a gradient part of encoding 0, but the job's --compress is bf16 (encoding 1)")
        coordinator.signal(SIGINT)
        XCTAssertEqual(coordinator.wait(timeout: 10), 130)
        XCTAssertEqual(try summary(out).rejectedMessages, 2)
    }
}
