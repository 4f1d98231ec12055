import ArgumentParser
import DSGDCluster
import Foundation
import ZeroMQ

extension DSGD {
    /// `dsgd keygen`: CURVE key pairs for a coordinator and its workers, and the allowed-workers
    /// file that binds each worker id to its key.
    struct Keygen: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write CURVE keys: coordinator.key/.pub, worker-ID.key/.pub and allowed-workers.txt.",
            discussion: """
                Give the coordinator coordinator.key and allowed-workers.txt (`dsgd coordinator --curve-key \
                DIR/coordinator.key --allowed-workers DIR/allowed-workers.txt`), and worker k its worker-k.key \
                and coordinator.pub (`dsgd worker --curve-key DIR/worker-k.key --coordinator-key \
                DIR/coordinator.pub`). A .key file holds a secret (mode 0600): copy each only where it is used.
                """)

        @Option(help: "Directory to write the keys into (created; must not hold keys already).")
        var out: String

        @Option(help: "Workers to make keys for, ids 0 ..< N.")
        var workers: Int

        func validate() throws {
            if workers < 1 { throw ValidationError("--workers must be at least 1 (got \(workers))") }
            if out.isEmpty { throw ValidationError("--out must name a directory") }
        }

        func run() throws {
            try requireCurve()
            let fm = FileManager.default
            do { try fm.createDirectory(atPath: out, withIntermediateDirectories: true) } catch {
                throw CleanFailure("cannot create \(out): \(error.localizedDescription)")
            }
            let existing = ((try? fm.contentsOfDirectory(atPath: out)) ?? []).filter { $0.hasSuffix(".key") || $0 == "allowed-workers.txt" }
            guard existing.isEmpty else {
                throw CleanFailure("\(out) already holds keys (\(existing.sorted().joined(separator: ", "))): choose another directory")
            }
            do {
                try KeyFiles.write(try CurveKeyPair.generate(), directory: out, name: "coordinator")
                var allowed = "# worker id, public key: the key that alone may register as that worker\n"
                for k in 0..<workers {
                    let pair = try CurveKeyPair.generate()
                    try KeyFiles.write(pair, directory: out, name: "worker-\(k)")
                    allowed += "\(k) \(pair.publicKey)\n"
                }
                try Data(allowed.utf8).write(to: URL(fileURLWithPath: out + "/allowed-workers.txt"))
            } catch {
                throw CleanFailure("keygen: \(error)")
            }
            writeLine("dsgd keygen: wrote coordinator.key, coordinator.pub, worker-0 ... worker-\(workers - 1) .key/.pub and allowed-workers.txt to \(out)", to: 1)
        }
    }
}

/// Fails with one line when this libzmq has no CURVE (built without libsodium).
func requireCurve() throws {
    guard CurveKeyPair.isSupported else {
        throw CleanFailure("this libzmq (\(ZMQContext.version)) has no CURVE support (it was built without libsodium)")
    }
}
