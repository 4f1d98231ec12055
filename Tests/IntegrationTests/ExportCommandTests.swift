import Foundation
import XCTest

/// `dsgd export csv` against a golden file and a hand-written expectation, and
/// `dsgd export tensorboard` read back by a TFRecord/protobuf reader written here (and by the
/// `tensorboard` Python package where it is installed).
final class ExportCommandTests: ClusterTestCase {
    let sync = ReportFixtures.run("sync"), async = ReportFixtures.run("async")

    func testCSVExportEqualsTheGoldenFile() throws {
        let r = try run(["export", "csv", sync])
        XCTAssertEqual(r.code, 0, r.stderr)
        XCTAssertEqual(r.output, try ReportFixtures.expected("export-sync.csv"))
        let toFile = try run(["export", "csv", sync, "--out", path("sync.csv")])
        XCTAssertEqual(toFile.code, 0, toFile.stderr)
        XCTAssertEqual(try String(contentsOfFile: path("sync.csv"), encoding: .utf8), try ReportFixtures.expected("export-sync.csv"))
    }

    /// The header is the union of the keys, step/time/examples/epoch/loss first and the rest
    /// sorted; absent and null values are empty cells; numbers are copied as written.
    func testCSVHeaderIsTheUnionOfKeysInAStableOrder() throws {
        let dir = try ReportFixtures.copy("sync", into: scratch, as: "mixed")
        try """
            {"step":0,"time":0.5,"examples":0,"epoch":0.0,"loss":0.69,"zeta":1}
            {"loss":null,"step":10,"time":1.25e-1,"examples":320,"epoch":0.5,"alpha":"a,b"}

            {"step":20,"time":2,"examples":640,"epoch":1,"loss":0.300000000000000044,"staleness_max":3}

            """.write(toFile: dir + "/metrics.jsonl", atomically: true, encoding: .utf8)
        let r = try run(["export", "csv", dir])
        XCTAssertEqual(r.code, 0, r.stderr)
        XCTAssertEqual(r.output, """
            step,time,examples,epoch,loss,alpha,staleness_max,zeta
            0,0.5,0,0.0,0.69,,,1
            10,1.25e-1,320,0.5,,"a,b",,
            20,2,640,1,0.300000000000000044,,3,

            """)
    }

    func testExportErrorsAreOneLine() throws {
        for args in [["export", "csv", scratch.path], ["export", "tensorboard"], ["export", "tensorboard", path("nope")]] {
            let r = try run(args)
            XCTAssertNotEqual(r.code, 0, args.joined(separator: " "))
            XCTAssertEqual(r.errorLines.count, 1, r.stderr)
        }
    }

    // MARK: - TensorBoard

    /// Exports both fixtures and returns each run's one event file.
    func exportTensorBoard() throws -> [String: URL] {
        let out = path("tb")
        let r = try run(["export", "tensorboard", sync, async, "--out", out])
        XCTAssertEqual(r.code, 0, r.stderr)
        var files: [String: URL] = [:]
        for name in ["sync", "async"] {
            let dir = URL(fileURLWithPath: out).appendingPathComponent(name)
            let events = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasPrefix("events.out.tfevents.") }
            XCTAssertEqual(events.count, 1, "\(name): \(events)")
            let parts = try XCTUnwrap(events.first).split(separator: ".")
            XCTAssertEqual(parts.count >= 5 ? Int(parts[3]) != nil : false, true, "file name \(events[0])")
            files[name] = dir.appendingPathComponent(events[0])
        }
        // A second export replaces the files instead of adding duplicates.
        XCTAssertEqual(try run(["export", "tensorboard", sync, "--out", out]).code, 0)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: out + "/sync").count, 1)
        return files
    }

    func testTensorBoardFilesReadBackByAnIndependentReader() throws {
        let files = try exportTensorBoard()
        for (name, dir) in [("sync", sync), ("async", async)] {
            let events = try IndependentEventReader.read(try Data(contentsOf: files[name]!))
            let metrics = try ReportFixtures.metrics(dir)
            XCTAssertEqual(events.first?.fileVersion, "brain.Event:2")
            XCTAssertNil(events.first?.step)
            let points = Array(events.dropFirst())
            XCTAssertEqual(points.count, metrics.count)
            var starts: [Double] = []
            for (event, point) in zip(points, metrics) {
                XCTAssertEqual(event.step, Int64(try XCTUnwrap(point["step"]?.int)))
                XCTAssertNil(event.fileVersion)
                let expectedTags = ["loss", "test_loss", "test_accuracy", "train_accuracy", "staleness_mean", "staleness_max", "examples", "epoch"]
                    .filter { point[$0]?.double != nil }
                XCTAssertEqual(event.values.map(\.tag), expectedTags)
                for (tag, value) in event.values {
                    XCTAssertEqual(value, Float(try XCTUnwrap(point[tag]?.double)), "\(name) step \(event.step ?? -1) \(tag)")
                }
                starts.append(try XCTUnwrap(event.wallTime) - (try XCTUnwrap(point["time"]?.double)))
            }
            // wall_time = the run's start + time: one start for every point, and the version
            // record stamped with it; the start lies before now.
            XCTAssertLessThan(starts.max()! - starts.min()!, 1e-6)
            XCTAssertEqual(try XCTUnwrap(events.first?.wallTime), starts[0], accuracy: 1e-6)
            XCTAssertLessThan(starts[0], Date().timeIntervalSince1970)
            XCTAssertTrue(files[name]!.lastPathComponent.hasPrefix("events.out.tfevents.\(Int(starts[0].rounded(.down)))."))
            if name == "async" { XCTAssertTrue(points[3].values.contains { $0.tag == "staleness_max" }) }
        }
    }

    func testTensorBoardPackageReadsTheFiles() throws {
        let check = Self.python(["-c", "import tensorboard"])
        guard check.status == 0 else {
            throw XCTSkip("python3 cannot import tensorboard (pip install tensorboard to run this test): \(check.stderr.split(separator: "\n").last ?? "")")
        }
        let files = try exportTensorBoard()
        let script = """
            import json, sys
            from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
            acc = EventAccumulator(sys.argv[1])
            acc.Reload()
            print(json.dumps({t: [[e.step, e.value, e.wall_time] for e in acc.Scalars(t)] for t in acc.Tags()["scalars"]}))
            """
        for (name, dir) in [("sync", sync), ("async", async)] {
            let r = Self.python(["-c", script, files[name]!.deletingLastPathComponent().path])
            XCTAssertEqual(r.status, 0, r.stderr)
            let scalars = try JSONDecoder().decode([String: [[Double]]].self, from: Data(r.stdout.utf8))
            let metrics = try ReportFixtures.metrics(dir)
            var expectedTags: Set = ["loss", "test_loss", "test_accuracy", "train_accuracy", "examples", "epoch"]
            if name == "async" { expectedTags.formUnion(["staleness_mean", "staleness_max"]) }
            XCTAssertEqual(Set(scalars.keys), expectedTags)
            for (tag, series) in scalars {
                XCTAssertEqual(series.map { Int($0[0]) }, metrics.map { $0["step"]?.int ?? -1 }, tag)
                XCTAssertEqual(series.map { Float($0[1]) }, metrics.map { Float($0[tag]?.double ?? .nan) }, tag)
                let starts = zip(series, metrics).map { $0[2] - ($1["time"]?.double ?? .nan) }
                XCTAssertLessThan(starts.max()! - starts.min()!, 1e-5, tag)
            }
        }
    }

    static func python(_ arguments: [String]) -> (status: Int32, stdout: String, stderr: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3"] + arguments
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        do { try p.run() } catch { return (127, "", "\(error)") }
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }
}

/// A TensorBoard event-file reader written for the tests from the format's description alone
/// (TFRecord framing, tensorflow.Event protobuf), sharing no code with dsgd's writer: a bitwise
/// CRC-32C, both CRCs checked on every record, the protobuf fields decoded by wire type.
enum IndependentEventReader {
    struct Event {
        var wallTime: Double?
        var step: Int64?
        var fileVersion: String?
        var values: [(tag: String, value: Float)] = []
    }

    struct Malformed: Error, CustomStringConvertible { let description: String }

    static func crc32c(_ bytes: ArraySlice<UInt8>) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
        }
        return ~crc
    }

    static func masked(_ crc: UInt32) -> UInt32 { ((crc >> 15) | (crc << 17)) &+ 0xA282_EAD8 }

    static func littleEndian(_ bytes: ArraySlice<UInt8>) -> UInt64 {
        bytes.reversed().reduce(0) { $0 << 8 | UInt64($1) }
    }

    static func read(_ data: Data) throws -> [Event] {
        let bytes = [UInt8](data)
        var i = 0, events: [Event] = []
        while i < bytes.count {
            guard i + 12 <= bytes.count else { throw Malformed(description: "truncated header at \(i)") }
            let length = Int(littleEndian(bytes[i..<(i + 8)]))
            guard UInt32(littleEndian(bytes[(i + 8)..<(i + 12)])) == masked(crc32c(bytes[i..<(i + 8)])) else {
                throw Malformed(description: "length CRC mismatch at \(i)")
            }
            let start = i + 12, end = start + length
            guard end + 4 <= bytes.count else { throw Malformed(description: "truncated record at \(i)") }
            guard UInt32(littleEndian(bytes[end..<(end + 4)])) == masked(crc32c(bytes[start..<end])) else {
                throw Malformed(description: "data CRC mismatch at \(i)")
            }
            events.append(try event(bytes[start..<end]))
            i = end + 4
        }
        return events
    }

    enum Field {
        case varint(UInt64), fixed64(UInt64), bytes(ArraySlice<UInt8>), fixed32(UInt32)
    }

    static func fields(_ bytes: ArraySlice<UInt8>) throws -> [(Int, Field)] {
        var i = bytes.startIndex, out: [(Int, Field)] = []
        func varint() throws -> UInt64 {
            var v: UInt64 = 0, shift: UInt64 = 0
            while true {
                guard i < bytes.endIndex, shift < 64 else { throw Malformed(description: "bad varint") }
                let b = bytes[i]; i += 1
                v |= UInt64(b & 0x7F) << shift
                if b < 0x80 { return v }
                shift += 7
            }
        }
        while i < bytes.endIndex {
            let key = try varint()
            let number = Int(key >> 3)
            switch key & 7 {
            case 0: out.append((number, .varint(try varint())))
            case 1: out.append((number, .fixed64(littleEndian(bytes[i..<(i + 8)])))); i += 8
            case 2:
                let n = Int(try varint())
                out.append((number, .bytes(bytes[i..<(i + n)]))); i += n
            case 5: out.append((number, .fixed32(UInt32(littleEndian(bytes[i..<(i + 4)]))))); i += 4
            default: throw Malformed(description: "wire type \(key & 7)")
            }
        }
        return out
    }

    static func event(_ bytes: ArraySlice<UInt8>) throws -> Event {
        var e = Event()
        for (number, field) in try fields(bytes) {
            switch (number, field) {
            case (1, .fixed64(let bits)): e.wallTime = Double(bitPattern: bits)
            case (2, .varint(let v)): e.step = Int64(bitPattern: v)
            case (3, .bytes(let s)): e.fileVersion = String(decoding: s, as: UTF8.self)
            case (5, .bytes(let summary)):
                for (n, value) in try fields(summary) {
                    guard n == 1, case .bytes(let v) = value else { throw Malformed(description: "Summary field \(n)") }
                    var tag = "", simple: Float?
                    for (vn, vf) in try fields(v) {
                        switch (vn, vf) {
                        case (1, .bytes(let t)): tag = String(decoding: t, as: UTF8.self)
                        case (2, .fixed32(let bits)): simple = Float(bitPattern: bits)
                        default: throw Malformed(description: "Summary.Value field \(vn)")
                        }
                    }
                    e.values.append((tag, try XCTUnwrap(simple)))
                }
            default: throw Malformed(description: "Event field \(number)")
            }
        }
        return e
    }
}
