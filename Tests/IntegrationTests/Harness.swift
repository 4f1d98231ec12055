import DSGDCluster
import Foundation
import XCTest

/// Runs the real `dsgd` binary (built next to the test bundle, or `$DSGD_BINARY`) in a temporary
/// directory and always tears its processes down.
class ClusterTestCase: XCTestCase {
    var scratch: URL!
    var children: [ChildProcess] = []

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("dsgd-test-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        XCTAssertTrue(FileManager.default.isExecutableFile(atPath: Self.binary), "dsgd binary not found at \(Self.binary): run `swift build` first")
    }

    override func tearDown() {
        for c in children { c.terminate(grace: 2) }
        children = []
        try? FileManager.default.removeItem(at: scratch)
    }

    /// The dsgd executable under test.
    static var binary: String {
        if let b = ProcessInfo.processInfo.environment["DSGD_BINARY"] { return b }
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
        // On Linux the test binary sits in the build products directory beside `dsgd`.
        while !FileManager.default.fileExists(atPath: dir.appendingPathComponent("dsgd").path), dir.path != "/" {
            dir.deleteLastPathComponent()
        }
        return dir.appendingPathComponent("dsgd").path
    }

    func path(_ name: String) -> String { scratch.appendingPathComponent(name).path }

    /// Starts dsgd with `arguments`; stdout is piped, stderr goes to a file in the scratch directory.
    func start(_ arguments: [String], name: String = "dsgd") throws -> ChildProcess {
        let c = try ChildProcess(name: name, executable: Self.binary, arguments: arguments, pipeStdout: true,
                                 stderrFile: path("\(name)-\(children.count).stderr"))
        children.append(c)
        return c
    }

    struct Result {
        var code: Int32
        var stdout: [String]
        var stderr: String
    }

    /// Runs dsgd to completion (failing the test and killing it after `timeout` seconds).
    func run(_ arguments: [String], timeout: Double = 120, file: StaticString = #filePath, line: UInt = #line) throws -> Result {
        let c = try start(arguments)
        let errFile = path("dsgd-\(children.count - 1).stderr")
        var lines: [String] = []
        let deadline = Date().addingTimeInterval(timeout)
        while c.poll() == nil {
            if Date() > deadline {
                XCTFail("dsgd \(arguments.joined(separator: " ")) did not finish within \(timeout) s", file: file, line: line)
                c.terminate(grace: 1)
                break
            }
            if let l = c.stdoutReader!.readLine(timeout: 0.1) { lines.append(l) }
        }
        while let l = c.stdoutReader!.readLine(timeout: 1) { lines.append(l) }
        let err = (try? String(contentsOfFile: errFile, encoding: .utf8)) ?? ""
        return Result(code: c.exitCode ?? -1, stdout: lines, stderr: err)
    }

    /// Waits for a line of `process`'s stdout that contains `marker`.
    func waitForLine(_ process: ChildProcess, containing marker: String, timeout: Double = 60) -> String? {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let l = process.stdoutReader!.readLine(timeout: 0.2), l.contains(marker) { return l }
            if process.poll() != nil, process.stdoutReader!.isClosed { return nil }
        }
        return nil
    }

    /// Waits for a progress line (`step N/total  epoch ...` or `step N  epoch ...`) with N >= `step`.
    /// Progress lines come at most ten a second, so the line of one given step may never be printed.
    func waitForProgress(_ process: ChildProcess, atLeastStep step: Int, timeout: Double = 60) -> String? {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            guard let l = waitForLine(process, containing: "step ", timeout: deadline.timeIntervalSinceNow) else { return nil }
            let words = l.split(separator: " ")
            guard words.count > 1, words[0] == "step", let n = Int(words[1].split(separator: "/")[0]) else { continue }
            if n >= step { return l }
        }
        return nil
    }

    func summary(_ dir: String) throws -> RunSummary { try RunDirectory(path: dir).readSummary() }

    func params(_ dir: String) throws -> ParamsFile {
        try JSONCoding.decoder().decode(ParamsFile.self, from: Data(contentsOf: URL(fileURLWithPath: dir + "/params.json")))
    }

    /// Pids of live processes whose environment names `launcher` as their dsgd launcher.
    /// The live processes `processesLaunched(by:)` whose subcommand (`dsgd ROLE ...`) is `role`:
    /// "coordinator" or "worker".
    func processesLaunched(by launcher: pid_t, role: String) -> [Int] {
        processesLaunched(by: launcher).filter { pid in
            let argv = (try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8))?.split(separator: "\0") ?? []
            return argv.count > 1 && argv[1] == role
        }
    }

    func processesLaunched(by launcher: pid_t) -> [Int] {
        let needle = Array("\(TerminationSignal.parentEnvironmentKey)=\(launcher)\0".utf8)
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap(Int.init).filter { pid in
            guard let env = FileManager.default.contents(atPath: "/proc/\(pid)/environ") else { return false }
            let bytes = [UInt8](env)
            guard bytes.count >= needle.count else { return false }
            // Zombies have an empty environ; a live child of the launcher has the variable.
            return (0...(bytes.count - needle.count)).contains { i in bytes[i] == needle[0] && Array(bytes[i..<(i + needle.count)]) == needle }
        }
    }
}
