import DSGDCore
import Foundation

extension JobConfig {
    enum CodingKeys: String, CodingKey {
        case mode, workers, model, dataset, noopParameters, learningRate, momentum, batch, epochs, steps
        case targetLoss, seed, evalEvery, workerTimeout, registerTimeout, gradientChunk
    }

    /// Encodes every field, writing `null` for an unset limit (so config.json shows every default).
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(mode, forKey: .mode)
        try c.encode(workers, forKey: .workers)
        try c.encode(model, forKey: .model)
        try c.encode(dataset, forKey: .dataset)
        try c.encode(noopParameters, forKey: .noopParameters)
        try c.encode(learningRate, forKey: .learningRate)
        try c.encode(momentum, forKey: .momentum)
        try c.encode(batch, forKey: .batch)
        try c.encode(epochs, forKey: .epochs)
        try c.encode(steps, forKey: .steps)
        try c.encode(targetLoss, forKey: .targetLoss)
        try c.encode(seed, forKey: .seed)
        try c.encode(evalEvery, forKey: .evalEvery)
        try c.encode(workerTimeout, forKey: .workerTimeout)
        try c.encode(registerTimeout, forKey: .registerTimeout)
        try c.encode(gradientChunk, forKey: .gradientChunk)
    }

    /// The JSON form used in config.json and in WELCOME (snake_case keys, sorted).
    public func jsonData() throws -> Data { try JSONCoding.encoder().encode(self) }

    /// Parses the JSON form.
    public static func fromJSON(_ data: Data) throws -> JobConfig {
        try JSONCoding.decoder().decode(JobConfig.self, from: data)
    }
}

/// The JSON settings shared by every file dsgd writes: snake_case keys, sorted, pretty-printed.
public enum JSONCoding {
    public static func encoder(pretty: Bool = true) -> JSONEncoder {
        let e = JSONEncoder()
        e.keyEncodingStrategy = .convertToSnakeCase
        e.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return e
    }

    public static func decoder() -> JSONDecoder {
        let d = JSONDecoder()
        d.keyDecodingStrategy = .convertFromSnakeCase
        d.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return d
    }
}
