import DSGDCluster
import Foundation
import XCTest

/// Command-line flags that every subcommand spells and defaults the same way.
final class FlagTests: ClusterTestCase {
    func testNegativeNumbersGetAClearMessage() throws {
        for (args, text) in [
            (["worker", "--connect", "tcp://127.0.0.1:1", "--id", "-1"], "--id must be 0 or more (got -1)"),
            (["worker", "--connect", "tcp://127.0.0.1:1", "--id", "0", "--connect-timeout", "-2"], "--connect-timeout must be positive"),
            (["run", "--workers", "-3"], "--workers must be at least 1 (got -3)"),
        ] {
            let r = try run(args, timeout: 20)
            XCTAssertNotEqual(r.code, 0, "\(args)")
            XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
            XCTAssertTrue(r.stderr.contains(text), "\(args): \(r.stderr)")
            XCTAssertFalse(r.stderr.contains("Missing value"), r.stderr)
        }
    }

    /// `dsgd run` and `dsgd coordinator` bind the same default endpoint: loopback, a free port,
    /// printed once bound.
    func testRunAndCoordinatorShareTheDefaultEndpoint() throws {
        for command in ["run", "coordinator"] {
            let help = try run([command, "--help"])
            let words = help.stdout.drop { !$0.contains("--bind") }.prefix(4).joined(separator: " ").split(whereSeparator: \.isWhitespace)
            let line = words.joined(separator: " ")
            XCTAssertTrue(line.contains("(default: tcp://127.0.0.1:0)"), "\(command): \(line)")
        }
        let out = path("by-hand")
        let coordinator = try start(["coordinator", "--workers", "1", "--steps", "5", "--out", out], name: "coordinator")
        let ready = try XCTUnwrap(waitForLine(coordinator, containing: "listening on "))
        XCTAssertTrue(ready.hasPrefix("dsgd coordinator: listening on tcp://127.0.0.1:"), ready)
        let port = try XCTUnwrap(Int(ready.split(separator: ":").last!))
        XCTAssertGreaterThan(port, 0, "port 0 resolved to the port actually bound")
        let endpoint = String(ready.dropFirst("dsgd coordinator: listening on ".count))
        let worker = try start(["worker", "--connect", endpoint, "--id", "0"], name: "worker")
        XCTAssertEqual(coordinator.wait(timeout: 30), 0)
        XCTAssertEqual(worker.wait(timeout: 10), 0)
        XCTAssertEqual(try summary(out).steps, 5)
    }
}
