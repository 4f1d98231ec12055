import DSGDCluster
import DSGDCore
import Foundation
import XCTest

/// `dsgd run --config FILE`: a run directory's config.json, or its job alone, replays the run.
final class ConfigReplayTests: ClusterTestCase {
    func testReplayingAConfigGivesTheSameParameters() throws {
        let first = try run(["run", "--workers", "3", "--steps", "25", "--lr", "auto", "--momentum", "0.5", "--seed", "7",
                             "--quiet", "--out", path("first")])
        XCTAssertEqual(first.code, 0, first.stderr)
        let replay = try run(["run", "--config", path("first") + "/config.json", "--quiet", "--out", path("replay")])
        XCTAssertEqual(replay.code, 0, replay.stderr)
        XCTAssertEqual(try params(path("first")).values.map(\.bitPattern), try params(path("replay")).values.map(\.bitPattern))
        // The job object alone works too.
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path("first") + "/config.json"))) as! [String: Any]
        try JSONSerialization.data(withJSONObject: config["job"]!).write(to: URL(fileURLWithPath: path("job.json")))
        let alone = try run(["run", "--config", path("job.json"), "--quiet", "--out", path("alone")])
        XCTAssertEqual(alone.code, 0, alone.stderr)
        XCTAssertEqual(try params(path("first")).values.map(\.bitPattern), try params(path("alone")).values.map(\.bitPattern))
        XCTAssertEqual(try RunDirectory(path: path("alone")).readConfig().job, try RunDirectory(path: path("first")).readConfig().job)
    }

    func testTrainingFlagsBesideAConfigAreRefused() throws {
        try JSONCoding.encoder().encode(JobConfig()).write(to: URL(fileURLWithPath: path("job.json")))
        let r = try run(["run", "--config", path("job.json"), "--lr", "0.1", "--out", path("x")])
        XCTAssertNotEqual(r.code, 0)
        XCTAssertEqual(r.stderr, "dsgd: error: --config \(path("job.json")) is the whole job: give no training flags with it (edit the file to change the job)\n")
        try "{\"mode\": \"sync\"}".write(toFile: path("bad.json"), atomically: true, encoding: .utf8)
        let bad = try run(["run", "--config", path("bad.json")])
        XCTAssertTrue(bad.stderr.hasPrefix("dsgd: error: --config \(path("bad.json")): missing key "), bad.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("x")))
    }
}
