import ArgumentParser
import DSGDCluster
import DSGDCore
import Foundation

extension DSGD {
    /// `dsgd bench round`: the median time of one synchronous aggregation round.
    struct BenchRound: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "round",
            abstract: "Time synchronous rounds (PARAMS out, GRADIENT back, average, update) with the noop model.",
            discussion: """
                Prints one JSON object per line: transport, workers, dim, rounds, compress, compress_params, bytes_per_round, \
                median_ms, p90_ms, and the processor time a round costs: cpu_ms_per_round (coordinator, and each worker's \
                mean; user and system time of all their threads, libzmq's I/O threads included), cpu_ms_per_round_total, \
                cores (online), and cpu_bound_ms = cpu_ms_per_round_total / cores, the shortest round the machine's cores \
                allow for that work. Each configuration also runs \(Self.shortRounds) rounds first, alone: a round's \
                processor time is the difference of the two runs' divided by the difference of their rounds, so that \
                starting and stopping the processes does not count.
                """)

        /// Rounds of the shorter run whose processor time is subtracted (start-up and shutdown).
        static let shortRounds = 10

        @Option(parsing: .upToNextOption, help: "Parameter counts.")
        var dims: [Int] = [1_000, 100_000, 1_000_000]

        @Option(parsing: .upToNextOption, help: "Worker counts.")
        var workers: [Int] = [2, 4]

        @Option(parsing: .upToNextOption, help: "Transports: tcp, ipc.")
        var transports: [String] = ["tcp", "ipc"]

        @Option(help: "Rounds per configuration, at least 20 (the first 5 are warm-up and not counted).")
        var rounds: Int = 200

        @Option(help: "Floats per GRADIENT part (default: as dsgd run's for each encoding: 131072; topk 4194304).")
        var gradientChunk: Int?

        @Option(parsing: .upToNextOption, help: "Gradient encodings (--compress of dsgd run): none, bf16, fp16, topk:F, sign. Parameters go as float32 with none, as the changed entries with topk (--compress-params sparse), in bf16 otherwise. The noop gradient is a fixed non-zero pattern for every encoding but none, and for none too when several are given.")
        var compress: [String] = ["none"]

        func validate() throws {
            guard rounds > 2 * Self.shortRounds - 1 else {
                throw ValidationError("--rounds must be at least \(2 * Self.shortRounds) (a round's processor time is taken over the rounds past a \(Self.shortRounds)-round run)")
            }
            for t in transports where t != "tcp" && t != "ipc" { throw ValidationError("unknown transport '\(t)' (tcp or ipc)") }
            for d in dims where d < 1 { throw ValidationError("--dims must be positive") }
            if let c = gradientChunk, c < 1 { throw ValidationError("--gradient-chunk must be at least 1") }
            for w in workers where w < 1 { throw ValidationError("--workers must be positive") }
            for c in compress {
                do { _ = try GradientCodec(parsing: c) } catch { throw ValidationError(error.description) }
            }
        }

        func run() throws {
            let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("dsgd-bench-\(getpid())")
            try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: scratch) }
            for codec in try compress.map({ try GradientCodec(parsing: $0) }) {
            for transport in transports {
                for n in workers {
                    for d in dims {
                        if TerminationSignal.received != nil { throw ExitCode(130) }
                        var job = JobConfig()
                        job.mode = .sync
                        job.workers = n
                        job.model = .noop
                        job.noopParameters = d
                        job.dataset = .init(name: "synthetic-linear", examples: 64 * n, features: 1, seed: 1)
                        job.batch = 1
                        job.epochs = nil
                        job.steps = rounds
                        job.evalEvery = rounds
                        job.gradientChunk = gradientChunk ?? JobConfig.defaultGradientChunk(compress: codec)
                        job.compress = codec
                        if case .topk = codec { job.compressParams = .changes } else { job.compressParams = codec == .f32 ? .f32 : .bf16 }
                        // Encodings that look at the values get a non-zero gradient to look at, and
                        // so does float32 when it is compared with them (the same work per round).
                        job.noopPattern = codec != .f32 || compress.count > 1
                        let name = "\(transport)-\(n)-\(d)-\(codec.id)"
                        // The same job over `shortRounds` rounds, then over all of them.
                        var short = job
                        short.steps = Self.shortRounds
                        short.evalEvery = Self.shortRounds
                        let (_, shortCPU) = try runCluster(short, scratch: scratch, name: name + "-short", transport: transport)
                        let (s, cpu) = try runCluster(job, scratch: scratch, name: name, transport: transport)
                        let params = job.compressParams.description
                        let line = "{\"benchmark\":\"sync_round\",\"transport\":\"\(transport)\",\"workers\":\(n),\"dim\":\(d),\"rounds\":\(rounds),\"gradient_chunk\":\(job.gradientChunk),"
                            + "\"compress\":\"\(codec)\",\"compress_params\":\"\(params)\",\"bytes_per_round\":\((s.bytesMoved ?? 0) / max(s.steps, 1)),"
                            + "\"median_ms\":\(fmt(s.roundMsMedian)),\"p90_ms\":\(fmt(s.roundMsP90)),"
                            + cpuFields(cpu, shortCPU, rounds: rounds - Self.shortRounds) + ",\(benchMachineFields)}"
                        writeLine(line, to: 1)
                    }
                }
            }
            }
        }

        /// A number for the JSON line, or null (none, or not finite).
        func fmt(_ x: Double?) -> String { x.flatMap { $0.isFinite ? String(format: "%.4f", $0) : nil } ?? "null" }

        /// Runs `job` as a local cluster in `scratch/name` and returns its summary and the
        /// processor seconds of the coordinator and of each worker.
        func runCluster(_ job: JobConfig, scratch: URL, name: String, transport: String) throws -> (RunSummary, [Double]) {
            let dir = scratch.appendingPathComponent(name).path
            var options = Launcher.Options(job: job, runDirectory: dir)
            options.bind = transport == "tcp" ? "tcp://127.0.0.1:0" : "ipc://\(scratch.path)/\(name).ipc"
            options.quiet = true
            let launcher = Launcher(options: options)
            let code = launcher.run()
            guard code == 0 else { throw CleanFailure("bench run \(name) failed (exit \(code))") }
            let cpu = [launcher.cpuSeconds.coordinator] + launcher.cpuSeconds.workers
            return (try RunDirectory(path: dir).readSummary(), cpu.map { $0 ?? .nan })
        }

        /// The JSON fields of a round's processor time: the difference of two runs' seconds
        /// (coordinator first, then each worker) over `rounds` more rounds, in ms a round.
        func cpuFields(_ long: [Double], _ short: [Double], rounds: Int) -> String {
            let perRound = zip(long, short).map { 1000 * ($0 - $1) / Double(rounds) }
            let workers = perRound.dropFirst()
            let total = perRound.reduce(0, +), cores = max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN)))
            return "\"cpu_ms_per_round\":{\"coordinator\":\(fmt(perRound[0])),\"worker_mean\":\(fmt(workers.reduce(0, +) / Double(max(workers.count, 1))))},"
                + "\"cpu_ms_per_round_total\":\(fmt(total)),\"cores\":\(cores),\"cpu_bound_ms\":\(fmt(total / Double(cores)))"
        }
    }
}
