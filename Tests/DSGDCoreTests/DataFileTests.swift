@testable import DSGDCore
import Foundation
import XCTest

/// SHA-256, the chunked loaders (every chunk boundary) and data-file specs.
final class DataFileTests: XCTestCase {
    var dir: URL!
    var savedChunk = 0

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("dsgd-datafile-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        savedChunk = DataStream.chunkSize
    }

    override func tearDownWithError() throws {
        DataStream.chunkSize = savedChunk
        try? FileManager.default.removeItem(at: dir)
    }

    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    // MARK: SHA-256 (FIPS 180-4 and NIST CAVP test vectors)

    func testSHA256KnownVectors() {
        XCTAssertEqual(SHA256.hex(Array("".utf8)), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(SHA256.hex(Array("abc".utf8)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(SHA256.hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)),
                       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        XCTAssertEqual(SHA256.hex(Array("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu".utf8)),
                       "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1")
        // 55, 56, 63, 64 and 65 bytes: the padding's edge cases.
        XCTAssertEqual(SHA256.hex([UInt8](repeating: 0x61, count: 55)), "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318")
        XCTAssertEqual(SHA256.hex([UInt8](repeating: 0x61, count: 56)), "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a")
        XCTAssertEqual(SHA256.hex([UInt8](repeating: 0x61, count: 64)), "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb")
    }

    func testSHA256OfAMillionAInOddChunks() {
        let million = [UInt8](repeating: 0x61, count: 1_000_000)
        var h = SHA256()
        var i = 0, step = 1
        million.withUnsafeBufferPointer { p in
            while i < p.count {
                let n = min(step, p.count - i)
                h.update(UnsafeBufferPointer(rebasing: p[i..<(i + n)]))
                i += n
                step = step % 97 + 13
            }
        }
        XCTAssertEqual(h.finalizeHex(), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    func testSHA256OfAFileMatchesTheStreamedHash() throws {
        let bytes = (0..<70_001).map { UInt8(truncatingIfNeeded: $0 &* 2654435761 >> 7) }
        try Data(bytes).write(to: URL(fileURLWithPath: path("b.bin")))
        DataStream.chunkSize = 4093
        XCTAssertEqual(try DataStream.hashAndCountLines(.file(path("b.bin")), file: "b.bin").sha256, SHA256.hex(bytes))
    }

    // MARK: chunked loaders

    /// The CSV, LIBSVM and IDX loaders give the same data set whatever the chunk size (down to
    /// one byte), and the same errors.
    func testLoadersAreChunkSizeIndependent() throws {
        var rng = SplitMix64(seed: 3)
        let d = Dataset(examples: 37, dimension: 5, features: (0..<185).map { _ in Float(rng.nextGaussian()) },
                        targets: (0..<37).map { Float($0 % 3) })
        try CSVWriter.write(d, to: path("d.csv"))
        var svm = ""
        for i in 0..<d.examples {
            svm += "\(d.targets[i])"
            for j in 0..<d.dimension where d.features[i * 5 + j] > 0 { svm += " \(j + 1):\(d.features[i * 5 + j])" }
            svm += i % 4 == 0 ? " # comment\r\n" : "\n"
        }
        try svm.write(toFile: path("d.svm"), atomically: true, encoding: .utf8)
        let pixels = (0..<(37 * 6)).map { Float($0 % 256) }
        try IDXLoader.write(pixels, shape: [37, 2, 3], to: path("train-images-idx3-ubyte"))
        try IDXLoader.write(d.targets, shape: [37], to: path("train-labels-idx1-ubyte"))

        for chunk in [1, 2, 3, 7, 64, 4096] {
            DataStream.chunkSize = chunk
            let csv = try DatasetSpec.file(path("d.csv"), format: nil).resolvingFile()
            XCTAssertEqual(csv.examples, 37)
            XCTAssertEqual(csv.features, 5)
            XCTAssertEqual(csv.classes, 3)
            XCTAssertEqual(csv.sha256, SHA256.hex(try Data(contentsOf: URL(fileURLWithPath: path("d.csv")))))
            let loaded = try csv.materialize()
            XCTAssertEqual(loaded.features.map(\.bitPattern), d.features.map(\.bitPattern), "chunk \(chunk)")
            XCTAssertEqual(loaded.targets, d.targets)

            let s = try DatasetSpec.file(path("d.svm"), format: nil).resolvingFile()
            let sparse = try s.materialize()
            XCTAssertEqual(sparse.examples, 37)
            XCTAssertEqual(sparse.features, d.features.map { $0 > 0 ? $0 : 0 }, "chunk \(chunk)")

            let idx = try DatasetSpec.file(path("train-images-idx3-ubyte"), format: nil).resolvingFile()
            XCTAssertEqual(idx.labelsFile, path("train-labels-idx1-ubyte"))
            XCTAssertEqual(idx.features, 6)
            let images = try idx.materialize()
            XCTAssertEqual(images.features, pixels.map { $0 * (1 / Float(255)) })
            XCTAssertEqual(images.targets, d.targets)

            XCTAssertThrowsError(try DatasetSpec.file(path("bad.csv"), format: nil).resolvingFile())
            try "a,label\n1,2\n\n3,4\n".write(toFile: path("bad.csv"), atomically: true, encoding: .utf8)
            XCTAssertEqual("\(try errorOf { try DatasetSpec.file(self.path("bad.csv"), format: nil).resolvingFile() })",
                           "\(path("bad.csv")):3:1: empty line (expected 2 fields)")
            try "x,label\n1,2\n3,4,5\n".write(toFile: path("bad.csv"), atomically: true, encoding: .utf8)
            XCTAssertEqual("\(try errorOf { try DatasetSpec.file(self.path("bad.csv"), format: nil).resolvingFile() })",
                           "\(path("bad.csv")):3:3: expected 2 fields, found 3")
        }
    }

    func testAHashMismatchIsOneClearLine() throws {
        try "a,label\n1,0\n2,1\n".write(toFile: path("m.csv"), atomically: true, encoding: .utf8)
        let spec = try DatasetSpec.file(path("m.csv"), format: nil).resolvingFile()
        try "a,label\n1,0\n2,0\n".write(toFile: path("m.csv"), atomically: true, encoding: .utf8)
        let text = "\(try errorOf { try spec.materialize() })"
        XCTAssertTrue(text.hasPrefix("data file \(path("m.csv")) differs from the coordinator's: its SHA-256 is "), text)
        XCTAssertFalse(text.contains("\n"))
    }

    func testFormatFromTheName() {
        XCTAssertEqual(DataFileFormat.guess(path: "a/b.CSV"), .csv)
        XCTAssertEqual(DataFileFormat.guess(path: "x.svm"), .libsvm)
        XCTAssertEqual(DataFileFormat.guess(path: "x.libsvm"), .libsvm)
        XCTAssertEqual(DataFileFormat.guess(path: "mnist/train-images-idx3-ubyte"), .idx)
        XCTAssertEqual(DataFileFormat.guess(path: "t10k-images.idx3-ubyte"), .idx)
        XCTAssertNil(DataFileFormat.guess(path: "data.txt"))
        XCTAssertEqual(DataFileFormat.idxLabelsPath(forImages: "m/t10k-images.idx3-ubyte"), "m/t10k-labels.idx1-ubyte")
        XCTAssertNil(DataFileFormat.idxLabelsPath(forImages: "pixels.idx"))
        XCTAssertThrowsError(try DatasetSpec.file("data.txt", format: nil))
        XCTAssertEqual(try DatasetSpec.file("data.txt", format: .libsvm).format, .libsvm)
    }

    /// A built-in set's JSON has no file keys (WELCOME for built-in sets is unchanged); a file's
    /// spec round-trips with them.
    func testSpecJSON() throws {
        let e = JSONEncoder()
        e.keyEncodingStrategy = .convertToSnakeCase
        let builtIn = String(decoding: try e.encode(DatasetSpec(name: "digits", examples: 1, features: 1, seed: 1)), as: UTF8.self)
        XCTAssertFalse(builtIn.contains("format") || builtIn.contains("sha256"), builtIn)
        var f = try DatasetSpec.file("a.csv", format: nil, labelColumn: "-1")
        f.sha256 = "ab"
        let d = JSONDecoder()
        d.keyDecodingStrategy = .convertFromSnakeCase
        let text = String(decoding: try e.encode(f), as: UTF8.self)
        XCTAssertTrue(text.contains("\"label_column\":\"-1\""), text)
        XCTAssertEqual(try d.decode(DatasetSpec.self, from: Data(text.utf8)), f)
    }

    func errorOf(_ body: () throws -> Any) throws -> Error {
        do { _ = try body() } catch { return error }
        XCTFail("no error")
        return NoError()
    }

    struct NoError: Error {}
}
