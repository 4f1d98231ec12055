import DSGDCluster
import Foundation
import XCTest

/// `dsgd experiment compression --quick`: seven runs of the logistic task, one per encoding, the
/// same job otherwise; every table number is read again from the run directories here (final
/// loss and bytes from summary.json, the target and examples to it from metrics.jsonl); and what
/// error feedback is for shows: without it top-k ends at a higher loss than with it.
final class CompressionExperimentTests: ClusterTestCase {
    struct Results: Decodable {
        struct Row: Decodable {
            var task: String
            var scheme: String
            var compress: String
            var errorFeedback: Bool
            var compressParams: String
            var run: String
            var status: String
            var examples: Int
            var finalLoss: Double?
            var target: Double?
            var examplesToTarget: Int?
            var gradientBytes: Int?
            var parameterBytes: Int?
        }
        var fraction: Double
        var targetFraction: Double
        var rows: [Row]
    }

    func testQuickRunsEveryEncodingAndRecomputesFromTheRuns() throws {
        let out = path("compression")
        let r = try run(["experiment", "compression", "--quick", "--out", out], timeout: 240)
        XCTAssertEqual(r.code, 0, r.stderr)
        try checkReport(out, svg: "compression.svg", stdout: r.stdout, csvRows: 7)
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        let results = try decoder.decode(Results.self, from: Data(contentsOf: URL(fileURLWithPath: out + "/results.json")))
        XCTAssertEqual(results.rows.map(\.scheme), ["none", "bf16", "fp16", "topk:0.01", "topk:0.01 no-ef", "sign", "sign no-ef"])

        // The target: the float32 run's loss at the first evaluation past a quarter of its budget.
        let reference = try XCTUnwrap(results.rows.first)
        let referencePoints = try metrics(out + "/" + reference.run)
        let budget = try XCTUnwrap(referencePoints.last).examples
        let target = try XCTUnwrap(referencePoints.first { Double($0.examples) >= results.targetFraction * Double(budget) }?.loss)
        var examples: Set<Int> = []
        for row in results.rows {
            let dir = out + "/" + row.run
            let s = try summary(dir)
            let job = try JSONCoding.decoder().decode(ConfigFile.self, from: Data(contentsOf: URL(fileURLWithPath: dir + "/config.json"))).job
            XCTAssertEqual(s.status, .completed, row.scheme)
            XCTAssertEqual(job.compress.description, row.compress, row.scheme)
            XCTAssertEqual(job.errorFeedback, row.errorFeedback, row.scheme)
            XCTAssertEqual(job.compressParams.description, row.compressParams, row.scheme)
            XCTAssertEqual(row.finalLoss, s.finalLoss, row.scheme)
            XCTAssertEqual(row.gradientBytes, s.workerBytesReceived?.reduce(0, +), row.scheme)
            XCTAssertEqual(row.parameterBytes, s.workerBytesSent?.reduce(0, +), row.scheme)
            XCTAssertEqual(row.target, target, row.scheme)
            let reached = try metrics(dir).first { ($0.loss ?? .infinity) <= target }?.examples
            XCTAssertEqual(row.examplesToTarget, reached, row.scheme)
            examples.insert(s.examples)
        }
        XCTAssertEqual(examples.count, 1, "one budget for every run")

        // Fewer gradient bytes than float32 for every encoding, in the order of their sizes.
        func bytes(_ scheme: String) throws -> Int { try XCTUnwrap(results.rows.first { $0.scheme == scheme }?.gradientBytes) }
        XCTAssertLessThan(try bytes("bf16"), try bytes("none"))
        XCTAssertEqual(try bytes("bf16"), try bytes("fp16"))
        XCTAssertLessThan(try bytes("topk:0.01"), try bytes("bf16"))
        XCTAssertLessThan(try bytes("sign"), try bytes("bf16"))
        // Error feedback: top-k with it reaches the target; without it the loss ends higher.
        let topk = try XCTUnwrap(results.rows.first { $0.scheme == "topk:0.01" })
        let bare = try XCTUnwrap(results.rows.first { $0.scheme == "topk:0.01 no-ef" })
        XCTAssertNotNil(topk.examplesToTarget)
        XCTAssertGreaterThan(try XCTUnwrap(bare.finalLoss), try XCTUnwrap(topk.finalLoss))
        let report = try String(contentsOfFile: out + "/report.md", encoding: .utf8)
        XCTAssertTrue(report.contains("topk:0.01 with error feedback reaches the target in"), report)
    }
}
