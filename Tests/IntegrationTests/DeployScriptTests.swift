import DSGDCluster
import Foundation
import XCTest

/// `deploy/local.sh`: a coordinator and N workers started by hand, after a build.
final class DeployScriptTests: ClusterTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The script asks SwiftPM to build even when a binary is already there (so a `git pull` never
    /// runs a stale one), then trains. A stand-in `swift` on PATH records the calls and points the
    /// script at the binary under test.
    func testLocalScriptBuildsEveryTimeThenTrains() throws {
        let bin = path("bin"), calls = path("swift-calls")
        try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
        let binDir = URL(fileURLWithPath: Self.binary).deletingLastPathComponent().path
        let stub = """
            #!/bin/sh
            echo "$*" >> '\(calls)'
            case "$*" in *--show-bin-path*) echo '\(binDir)' ;; esac
            exit 0
            """
        try stub.write(toFile: bin + "/swift", atomically: true, encoding: .utf8)
        chmod(bin + "/swift", 0o755)
        let out = path("local")
        let env = ["PATH": bin + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"), "DSGD_BUILD_CONFIG": "debug"]
        let script = try ChildProcess(name: "local.sh", executable: "/bin/bash",
                                      arguments: [Self.root.appendingPathComponent("deploy/local.sh").path, "2", "--steps", "20", "--out", out],
                                      environment: env, pipeStdout: true, stderrFile: path("local.stderr"))
        children.append(script)
        XCTAssertEqual(script.wait(timeout: 60), 0, (try? String(contentsOfFile: path("local.stderr"), encoding: .utf8)) ?? "")
        let recorded = try String(contentsOfFile: calls, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(recorded.first, "build -c debug --product dsgd", "built first, though the binary exists: \(recorded)")
        XCTAssertEqual(try summary(out).status, .completed)
        XCTAssertEqual(try summary(out).steps, 20)
    }
}
