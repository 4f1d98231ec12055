import DSGDCore
import Foundation

/// Where a run's initial parameters come from (`--init`, the job's `init` field).
///
/// - `default`: the model's own initialization (`Model.initialParameters()`: zeros for the
///   affine and softmax models, He from the seed for the MLP, `[0.1, 0.05]` for the 1-1-1 network);
/// - `zeros`: every parameter 0 (for the 1-1-1 network, exactly its saddle point);
/// - a comma-separated list of exactly P numbers, e.g. `0.001,0` (small models);
/// - a path to a `params.json` of an earlier run of the same model and shape: a run that starts
///   where another stopped.
///
/// Only the coordinator reads it: workers always receive the parameters in PARAMS.
public enum ParameterInit: Equatable, Sendable, CustomStringConvertible {
    case modelDefault
    case zeros
    case values([Float])
    case file(String)

    /// Parses the flag's text: `default`, `zeros`, a list of numbers (anything with a comma, or a
    /// single number), or else a file path.
    public init(_ text: String) {
        let t = text.trimmingCharacters(in: .whitespaces)
        switch t.lowercased() {
        case "default", "": self = .modelDefault
        case "zeros": self = .zeros
        default:
            let fields = t.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            let numbers = fields.compactMap { Float($0) }
            if numbers.count == fields.count, !numbers.isEmpty, !t.hasSuffix(".json") {
                self = .values(numbers)
            } else {
                self = .file(t)
            }
        }
    }

    /// The text form written to config.json (`init`), which `init(_:)` parses back.
    public var description: String {
        switch self {
        case .modelDefault: return "default"
        case .zeros: return "zeros"
        case .values(let v): return v.map { "\($0)" }.joined(separator: ",")
        case .file(let path): return path
        }
    }

    /// A one-line reason this choice cannot work for `model` (of kind `kind`), checked without
    /// reading files; nil when it can (a file is checked by `parameters(for:kind:)`).
    public func problem(parameterCount: Int) -> String? {
        switch self {
        case .values(let v):
            if v.count != parameterCount {
                return "--init: \(v.count) numbers given, but the model has \(parameterCount) parameters"
            }
            if let bad = v.first(where: { !$0.isFinite }) { return "--init: \(bad) is not a finite number" }
            return nil
        default:
            return nil
        }
    }

    /// The initial parameter vector for `model` (of kind `kind`). Throws `JobConfigError` with a
    /// one-line message for a list of the wrong length, a file that cannot be read or parsed, or a
    /// params.json of another model or shape.
    public func parameters(for model: any Model, kind: ModelKind) throws -> [Float] {
        let count = model.parameterCount
        switch self {
        case .modelDefault:
            return model.initialParameters()
        case .zeros:
            return [Float](repeating: 0, count: count)
        case .values(let v):
            if let p = problem(parameterCount: count) { throw JobConfigError(p) }
            return v
        case .file(let path):
            let bytes: Data
            do { bytes = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
                throw JobConfigError("--init \(path): cannot read the file (\((error as NSError).localizedDescription))")
            }
            let file: ParamsFile
            do { file = try JSONCoding.decoder().decode(ParamsFile.self, from: bytes) } catch {
                throw JobConfigError("--init \(path): not a params.json of dsgd (\(error))")
            }
            guard file.model == kind else {
                throw JobConfigError("--init \(path): parameters of --model \(file.model.rawValue), but this run trains --model \(kind.rawValue)")
            }
            guard file.values.count == count, file.shapes == model.shapes else {
                let shape = { (s: [ParameterShape]) in s.map { "\($0.name)\($0.shape)" }.joined(separator: " ") }
                throw JobConfigError("--init \(path): \(file.values.count) parameters shaped \(shape(file.shapes)), but this model has \(count) shaped \(shape(model.shapes))")
            }
            if let i = file.values.firstIndex(where: { !$0.isFinite }) {
                throw JobConfigError("--init \(path): value \(i) is \(file.values[i]), not finite")
            }
            return file.values
        }
    }
}
