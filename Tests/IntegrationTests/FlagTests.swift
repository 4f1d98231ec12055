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

    /// A bind beyond loopback needs `--insecure` (the transport has no authentication), and then
    /// prints one warning; loopback addresses and ipc:// paths need nothing.
    func testBindingBeyondLoopbackNeedsInsecure() throws {
        for command in ["run", "coordinator"] {
            let refused = try run([command, "--bind", "tcp://0.0.0.0:0", "--workers", "1", "--steps", "5", "--out", path("exposed-\(command)")], timeout: 20)
            XCTAssertNotEqual(refused.code, 0)
            XCTAssertTrue(refused.stderr.contains("--bind tcp://0.0.0.0:0 listens beyond this machine"), refused.stderr)
        }
        let allowed = try run(["run", "--bind", "tcp://0.0.0.0:0", "--insecure", "--workers", "1", "--steps", "5", "--quiet",
                               "--out", path("exposed-allowed")], timeout: 60)
        XCTAssertEqual(allowed.code, 0, allowed.stderr)
        XCTAssertEqual(allowed.stderr.components(separatedBy: "dsgd: warning: tcp://0.0.0.0:0 is reachable from other machines").count - 1, 1, allowed.stderr)
        for (i, local) in ["tcp://127.0.0.2:0", "ipc://\(path("l.ipc"))"].enumerated() {
            let r = try run(["run", "--bind", local, "--workers", "1", "--steps", "5", "--quiet", "--out", path("local-\(i)")], timeout: 60)
            XCTAssertEqual(r.code, 0, "\(local): \(r.stderr)")
            XCTAssertFalse(r.stderr.contains("warning"), r.stderr)
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
