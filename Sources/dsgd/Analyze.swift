import ArgumentParser
import DSGDCluster
import DSGDCore

extension NormalizationKind: ExpressibleByArgument {}
import Foundation

extension CurvatureMethod: ExpressibleByArgument {}

extension DSGD {
    /// `dsgd analyze`: the curvature of a model's loss on a data set, and the learning rates it implies.
    struct Analyze: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "analyze",
            abstract: "Hessian eigenvalues, condition number and learning-rate limits of a model on a data set.",
            discussion: """
                Evaluates at the model's initial parameters, or at those of --init (for linear regression the Hessian does \
                not depend on them). lambda_max and lambda_min are exact (float64 Jacobi on the dense \
                Hessian) for linear and logistic regression and the 1-1-1 network, and come from \
                Lanczos on Hessian-vector products otherwise; power iteration cross-checks lambda_max; \
                the online estimate is LeCun, Simard and Pearlmutter's (1993) with a = g = 0.01, one \
                example per presentation. eta_opt = 1/lambda_max, eta_max = 2/lambda_max, and \
                2/(lambda_max + lambda_min) is the best fixed step on a quadratic.
                """)

        @Option(help: "Model (noop has no curvature).")
        var model: ModelKind

        @OptionGroup var data: DataOptions

        @Option(parsing: .unconditional, help: "Seed of a synthetic data set and of the iterations' random start vectors.")
        var seed: UInt64 = 1

        @Option(parsing: .unconditional, help: "Presentations (single examples) for the online lambda_max estimate.")
        var presentations: Int = 500

        @Option(help: "Force a method: exact, lanczos or power (default: exact where dsgd has the dense Hessian, else lanczos).")
        var method: CurvatureMethod?

        @Option(help: "Normalize the inputs first: none, standardize (zero mean, unit variance) or whiten (identity covariance), fitted on the whole data set.")
        var normalize: NormalizationKind = .none

        @Option(parsing: .upToNextOption, help: "Hidden layer widths of --model mlp.")
        var hidden: [Int] = [64]

        @Flag(help: "Layer normalization in the hidden layers of --model mlp.")
        var layerNorm = false

        @Option(name: .customLong("init"), help: "Evaluate at these parameters instead of the model's initial ones: default, zeros, a comma-separated list of all P numbers, or a params.json of an earlier run (e.g. where a run ended).")
        var initialization: String = "default"

        @Flag(help: "Print one JSON object instead of a table.")
        var json = false

        func validate() throws {
            if data.data == nil { throw ValidationError("give a data set: --data NAME (see `dsgd dataset list`) or --data FILE.csv") }
            if model == .noop { throw ValidationError("--model noop has no curvature (its loss is identically 0)") }
            if presentations < 0 { throw ValidationError("--presentations must be at least 0 (got \(presentations))") }
            if hidden.isEmpty || hidden.contains(where: { $0 < 1 }) {
                throw ValidationError("--hidden widths must be at least 1 (got \(hidden.map(String.init).joined(separator: " ")))")
            }
            if layerNorm, model != .mlp { throw ValidationError("--layer-norm applies to --model mlp only (got \(model.rawValue))") }
        }

        func run() throws {
            let source = data.data!
            var dataset = try data.load(name: source, seed: seed, allowFiles: true)
            if normalize != .none {
                dataset = Normalizer(normalize, statistics: FeatureStatistics(of: dataset)).apply(to: dataset)
            }
            let classes = try checkCompatible(dataset)
            let m = model.make(inputDimension: dataset.dimension, classes: classes, hidden: hidden, layerNorm: layerNorm)
            let start = ParameterInit(initialization)
            let w: [Float]
            do { w = try start.parameters(for: m, kind: model) } catch let e as JobConfigError { throw ValidationError(e.description) }
            let report = Curvature.analyze(model: m, parameters: w, data: dataset, seed: seed, method: method)
            var online = OnlineCurvature(parameterCount: m.parameterCount, seed: seed)
            let onlineEstimate = presentations > 0
                ? online.run(model: m, parameters: w, data: dataset, presentations: presentations, seed: seed) : nil
            let s = report.summary
            let place = start == .modelDefault ? "the initial parameters" : "the parameters of --init \(initialization)"
            let at = w.allSatisfy { $0 == 0 } ? "\(place) (all zeros)" : place
            let independence = m is LinearRegression ? "; the Hessian of linear regression does not depend on them" : ""
            let methodText: String
            switch report.method {
            case .exact: methodText = "exact (float64 Jacobi on the dense Hessian)"
            case .lanczos: methodText = "Lanczos (\(report.steps) steps, full reorthogonalisation) on Hessian-vector products"
            case .power: methodText = "power iteration / shifted power iteration (\(report.steps) products)"
            }

            if json {
                func number(_ x: Double?) -> Any { x.map { $0.isFinite ? $0 as Any : NSNull() } ?? NSNull() }
                let object: [String: Any] = [
                    "model": model.rawValue,
                    "data": source,
                    "normalize": normalize.rawValue,
                    "examples": dataset.examples,
                    "features": dataset.dimension,
                    "parameters": m.parameterCount,
                    "evaluated_at": start == .modelDefault ? "initial parameters" : "init \(initialization)",
                    "lambda_max": number(s.lambdaMax),
                    "lambda_min": number(s.lambdaMin),
                    "condition_number": number(s.conditionNumber),
                    "eta_opt": number(s.etaOpt),
                    "eta_max": number(s.etaMax),
                    "best_fixed_step": number(s.bestFixedStep),
                    "method": report.method.rawValue,
                    "method_steps": report.steps,
                    "power_lambda_max": number(report.powerLambdaMax),
                    "power_iterations": report.powerIterations,
                    "online_lambda_max": number(onlineEstimate),
                    "online_presentations": presentations,
                    "online_a": Double("\(online.perturbation)")!,
                    "online_g": Double("\(online.smoothing)")!,
                ]
                let bytes = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
                writeLine(String(decoding: bytes, as: UTF8.self), to: 1)
                return
            }

            func g(_ x: Double?) -> String { x.map { String(format: "%.6g", $0) } ?? "n/a" }
            var rows: [(String, String)] = [
                ("parameters", "\(m.parameterCount)"),
                ("lambda_max", g(s.lambdaMax)),
                ("lambda_min", g(s.lambdaMin)),
                ("condition number", s.conditionNumber.map { g($0) } ?? "n/a (lambda_min <= 0: the Hessian is singular or indefinite here)"),
                ("eta_opt = 1/lambda_max", g(s.etaOpt)),
                ("eta_max = 2/lambda_max", g(s.etaMax)),
                ("2/(lambda_max + lambda_min)", g(s.bestFixedStep)),
                ("method", methodText),
                ("power iteration lambda_max", "\(g(report.powerLambdaMax)) (\(report.powerIterations) iterations)"),
            ]
            if let e = onlineEstimate {
                let error = s.lambdaMax != 0 ? String(format: ", %+.1f%% from lambda_max", 100 * (e - s.lambdaMax) / s.lambdaMax) : ""
                rows.append(("online lambda_max", "\(g(e)) after \(presentations) presentations (a = g = \(online.perturbation))\(error)"))
            }
            writeLine("dsgd analyze: model \(model.rawValue) on \(source)\(normalize == .none ? "" : normalize == .whiten ? " (whitened)" : " (standardized)") (\(dataset.examples) examples x \(dataset.dimension) features), at \(at)\(independence)", to: 1)
            let width = rows.map(\.0.count).max()!
            for (k, v) in rows {
                writeLine(k.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + v, to: 1)
            }
        }

        /// Rejects model/data combinations the model cannot evaluate; returns the class count of a
        /// classifier with class-index targets (softmax, and any other model but the regressions).
        func checkCompatible(_ d: Dataset) throws -> Int {
            if model == .deepLinear111 && d.dimension != 1 {
                throw ValidationError("--model deep-linear-111 takes inputs of one feature (the data have \(d.dimension); try --features 1)")
            }
            if [.linear, .logistic, .deepLinear111, .noop].contains(model) { return 2 }
            var top = 0
            for y in d.targets {
                guard y >= 0 && y == y.rounded(.towardZero) && y < 1e6 else {
                    throw ValidationError("--model \(model.rawValue) needs class indices 0, 1, ... as targets (found \(y))")
                }
                top = max(top, Int(y))
            }
            return max(2, top + 1)
        }
    }
}
