import DSGDCluster
import DSGDCore
import Foundation
import XCTest

/// `--init` (`ParameterInit`): parsing, the parameters it gives, its errors, and its JSON field.
final class ParameterInitTests: XCTestCase {
    func testParsesEachForm() {
        XCTAssertEqual(ParameterInit("default"), .modelDefault)
        XCTAssertEqual(ParameterInit("zeros"), .zeros)
        XCTAssertEqual(ParameterInit("0.001,0"), .values([0.001, 0]))
        XCTAssertEqual(ParameterInit("-1.5"), .values([-1.5]))
        XCTAssertEqual(ParameterInit("runs/a/params.json"), .file("runs/a/params.json"))
        XCTAssertEqual(ParameterInit("1,x"), .file("1,x"), "not all numbers: a path")
        for text in ["default", "zeros", "0.001,0", "runs/a/params.json"] {
            XCTAssertEqual(ParameterInit(ParameterInit(text).description), ParameterInit(text), text)
        }
    }

    func testGivesTheParametersOrOneLineWhy() throws {
        let model = DeepLinear111()
        XCTAssertEqual(try ParameterInit.modelDefault.parameters(for: model, kind: .deepLinear111), model.initialParameters())
        XCTAssertEqual(try ParameterInit.zeros.parameters(for: model, kind: .deepLinear111), [0, 0])
        XCTAssertEqual(try ParameterInit("0.25,-2").parameters(for: model, kind: .deepLinear111), [0.25, -2])
        XCTAssertThrowsError(try ParameterInit("1,2,3").parameters(for: model, kind: .deepLinear111)) {
            XCTAssertEqual("\($0)", "--init: 3 numbers given, but the model has 2 parameters")
        }
        XCTAssertThrowsError(try ParameterInit.file("/nonexistent/params.json").parameters(for: model, kind: .deepLinear111)) {
            XCTAssertTrue("\($0)".hasPrefix("--init /nonexistent/params.json: cannot read the file"), "\($0)")
        }

        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dsgd-init-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let run = try RunDirectory(path: dir.path)
        try run.writeParams(ParamsFile(model: .deepLinear111, step: 7, shapes: model.shapes, values: [1.5, -0.25]))
        let file = ParameterInit(dir.path + "/params.json")
        XCTAssertEqual(try file.parameters(for: model, kind: .deepLinear111), [1.5, -0.25])
        let linear = LinearRegression(dimension: 1)
        XCTAssertThrowsError(try file.parameters(for: linear, kind: .linear)) {
            XCTAssertTrue("\($0)".contains("parameters of --model deep-linear-111, but this run trains --model linear"), "\($0)")
        }
        try Data("{not json".utf8).write(to: dir.appendingPathComponent("params.json"))
        XCTAssertThrowsError(try file.parameters(for: model, kind: .deepLinear111)) {
            XCTAssertTrue("\($0)".contains("not a params.json of dsgd"), "\($0)")
        }
    }

    func testJobFieldIsWrittenChecksItsLengthAndDefaultsWhenAbsent() throws {
        var job = JobConfig()
        job.model = .deepLinear111
        job.dataset = DatasetSpec(name: "synthetic-linear", examples: 1000, features: 1, seed: 1)
        job.initialization = .values([0.001, 0])
        let json = try JSONSerialization.jsonObject(with: job.jsonData()) as! [String: Any]
        XCTAssertEqual(json["init"] as? String, "0.001,0.0")
        XCTAssertEqual(try JobConfig.fromJSON(job.jsonData()), job)
        XCTAssertEqual(try job.initialParameters(), [0.001, 0])
        var object = json
        object.removeValue(forKey: "init")
        XCTAssertEqual(try JobConfig.fromJSON(JSONSerialization.data(withJSONObject: object)).initialization, .modelDefault)
        job.initialization = .values([1, 2, 3])
        XCTAssertEqual(job.problems(), ["--init: 3 numbers given, but the model has 2 parameters"])
    }

    func testClassifiersNeedTwoClasses() {
        var job = JobConfig()
        job.model = .softmax
        job.dataset = DatasetSpec(name: "blobs", examples: 1000, features: 2, seed: 1, classes: 1)
        XCTAssertEqual(job.problems(), ["--model softmax needs at least 2 classes (got --classes 1)"])
        job.dataset.classes = 2
        XCTAssertEqual(job.problems(), [])
    }

    func testDefaultLearningRateSettlesTheOneOneOneNetwork() {
        XCTAssertEqual(JobConfig.defaultLearningRate(for: .deepLinear111), 0.1)
        for kind in ModelKind.allCases where kind != .deepLinear111 {
            XCTAssertEqual(JobConfig.defaultLearningRate(for: kind), JobConfig().learningRate)
        }
    }
}
