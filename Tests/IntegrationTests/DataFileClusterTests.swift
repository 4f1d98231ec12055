import DSGDCluster
import DSGDCore
import Foundation
import XCTest

/// `dsgd run --data FILE` on each format, malformed files refused before any worker starts, and
/// a worker whose copy of the file differs from the coordinator's.
final class DataFileClusterTests: ClusterTestCase {
    /// A CSV exported from a built-in set trains exactly as the set does (sync, bit for bit), and
    /// the job names the file, its format, label column and SHA-256.
    func testCSVTrainsLikeTheBuiltInSet() throws {
        let csv = path("bc.csv")
        XCTAssertEqual(try run(["dataset", "export", "breast-cancer", "--out", csv]).code, 0)
        let common = ["--workers", "2", "--steps", "30", "--normalize", "standardize", "--quiet"]
        let a = try run(["run", "--data", csv, "--out", path("a")] + common)
        XCTAssertEqual(a.code, 0, a.stderr)
        let b = try run(["run", "--data", "breast-cancer", "--out", path("b")] + common)
        XCTAssertEqual(b.code, 0, b.stderr)
        XCTAssertEqual(try params(path("a")).values.map(\.bitPattern), try params(path("b")).values.map(\.bitPattern))
        XCTAssertEqual(try summary(path("a")).status, .completed)
        let spec = try RunDirectory(path: path("a")).readConfig().job.dataset
        XCTAssertEqual(spec.format, .csv)
        XCTAssertEqual(spec.name, csv)
        XCTAssertEqual(spec.labelColumn, "label")
        XCTAssertEqual(spec.sha256, SHA256.hex(try Data(contentsOf: URL(fileURLWithPath: csv))))
        XCTAssertEqual([spec.examples, spec.features, spec.classes], [569, 30, 2])
    }

    /// CSV with the label in another column (by index), LIBSVM and IDX each train to completion.
    func testEveryFormatThroughRun() throws {
        var rng = SplitMix64(seed: 11)
        var csv = "y,a,b,c\n", svm = ""
        for i in 0..<200 {
            let x = (0..<3).map { _ in Float(rng.nextGaussian()) }
            let y = x[0] - 2 * x[2] > 0 ? 1 : 0
            csv += "\(y),\(x[0]),\(x[1]),\(x[2])\n"
            svm += "\(y) 1:\(x[0]) 3:\(x[2])" + (i % 7 == 0 ? " # sparse\n" : "\n")
        }
        try csv.write(toFile: path("first.csv"), atomically: true, encoding: .utf8)
        try svm.write(toFile: path("s.libsvm"), atomically: true, encoding: .utf8)
        let pixels = (0..<(120 * 16)).map { Float(($0 * 37) % 256) }
        try IDXLoader.write(pixels, shape: [120, 4, 4], to: path("train-images-idx3-ubyte"))
        try IDXLoader.write((0..<120).map { Float($0 % 3) }, shape: [120], to: path("train-labels-idx1-ubyte"))

        let cases: [(String, [String], DataFileFormat, Int)] = [
            ("csv", ["--data", path("first.csv"), "--label-column", "0"], .csv, 3),
            ("libsvm", ["--data", path("s.libsvm")], .libsvm, 3),
            ("idx", ["--data", path("train-images-idx3-ubyte"), "--model", "softmax"], .idx, 16),
        ]
        for (name, flags, format, features) in cases {
            let r = try run(["run", "--workers", "2", "--steps", "20", "--batch", "8", "--quiet", "--out", path(name)] + flags)
            XCTAssertEqual(r.code, 0, "\(name): \(r.stderr)")
            XCTAssertEqual(try summary(path(name)).status, .completed, name)
            let spec = try RunDirectory(path: path(name)).readConfig().job.dataset
            XCTAssertEqual(spec.format, format, name)
            XCTAssertEqual(spec.features, features, name)
        }
        let idx = try RunDirectory(path: path("idx")).readConfig().job.dataset
        XCTAssertEqual(idx.labelsFile, path("train-labels-idx1-ubyte"))
        XCTAssertEqual(idx.classes, 3)
        XCTAssertNotNil(idx.labelsSha256)
        // analyze and dataset export take the same files.
        let a = try run(["analyze", "--model", "logistic", "--data", path("s.libsvm"), "--json", "--presentations", "0"])
        XCTAssertEqual(a.code, 0, a.stderr)
        XCTAssertTrue(a.stdout.joined().contains("\"examples\":200"), a.stdout.joined())
        XCTAssertEqual(try run(["dataset", "export", path("s.libsvm"), "--out", path("back.csv")]).code, 0)
        XCTAssertEqual(try CSVLoader.load(path: path("back.csv")).dimension, 3)
    }

    /// A malformed file of each format: one line naming file:line(:column) (IDX: the byte), a
    /// non-zero exit, and no run directory (nothing was started).
    func testMalformedFilesAreRefusedBeforeAnyWorkerStarts() throws {
        try "a,b,label\n1,2,0\n3,x,1\n".write(toFile: path("bad.csv"), atomically: true, encoding: .utf8)
        try "1 1:0.5\n0 2:1 1:3\n".write(toFile: path("bad.svm"), atomically: true, encoding: .utf8)
        try Data([0, 0, 8, 3, 0, 0, 0, 2]).write(to: URL(fileURLWithPath: path("bad-images-idx3-ubyte")))
        try IDXLoader.write([1, 0], shape: [2], to: path("bad-labels-idx1-ubyte"))
        let cases = [
            (path("bad.csv"), "\(path("bad.csv")):3:2: expected a number, found \"x\""),
            (path("bad.svm"), "\(path("bad.svm")):2:3: feature index 1 is not greater than the previous index 2"),
            (path("bad-images-idx3-ubyte"), "\(path("bad-images-idx3-ubyte")): byte 8: truncated header: 3 dimension sizes need 16 bytes, the file has 8"),
        ]
        for (i, (file, expected)) in cases.enumerated() {
            for command in ["run", "coordinator"] {
                let out = path("out\(i)\(command)")
                let r = try run([command, "--data", file, "--out", out, "--workers", "2"])
                XCTAssertNotEqual(r.code, 0)
                let lines = r.stderr.split(separator: "\n")
                XCTAssertEqual(lines, ["dsgd: error: \(expected)"], command)
                XCTAssertFalse(FileManager.default.fileExists(atPath: out), "\(command) \(file): nothing may start")
                XCTAssertFalse(r.stdout.joined().contains("listening"), r.stdout.joined())
            }
        }
    }

    /// A worker whose file at the job's path is not the coordinator's (the same name, other bytes)
    /// fails with one clear line naming the file and both hashes.
    func testAWorkerWithAnotherFileOfTheSameNameSaysSo() throws {
        let file = path("shared.csv")
        try "a,b,label\n1,2,0\n3,4,1\n5,6,0\n7,8,1\n".write(toFile: file, atomically: true, encoding: .utf8)
        let expected = SHA256.hex(Array("a,b,label\n1,2,0\n3,4,1\n5,6,0\n7,8,1\n".utf8))
        let (coordinator, endpoint) = try startCoordinator(["--data", file, "--workers", "1", "--batch", "2", "--register-timeout", "5"],
                                                           out: path("run"))
        try "a,b,label\n1,2,0\n3,4,1\n5,6,0\n7,8,0\n".write(toFile: file, atomically: true, encoding: .utf8)
        let worker = try startWorker(0, endpoint: endpoint)
        XCTAssertNotEqual(worker.wait(timeout: 30), 0)
        let err = try String(contentsOfFile: path("worker0-1.stderr"), encoding: .utf8)
        let lines = err.split(separator: "\n").filter { $0.hasPrefix("dsgd") }
        XCTAssertEqual(lines.count, 1, err)
        XCTAssertTrue(lines.first?.hasPrefix("dsgd: error: worker 0: data file \(file) differs from the coordinator's: its SHA-256 is ") ?? false, err)
        XCTAssertTrue(err.contains("the job's is \(expected)"), err)
        _ = coordinator.terminate(grace: 2)
    }
}
