import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The checkpoints of a run: `RUN_DIR/checkpoints/ckpt-STEP.bin`, the newest `keep` of them.
///
/// A write is atomic: the bytes go to a temporary file in the same directory, which is fsynced,
/// renamed over its final name, and the directory fsynced, so a crash at any moment leaves either
/// the old set of checkpoints or the old set plus a complete new one (and at worst a temporary
/// file, which `newestValid` ignores and the next write removes).
public struct CheckpointFiles {
    /// The `checkpoints` directory.
    public let directory: URL
    /// How many checkpoints to keep (older ones are deleted after each write).
    public let keep: Int

    /// The checkpoints of the run directory `run`.
    public init(run: URL, keep: Int = 3) {
        directory = run.appendingPathComponent("checkpoints", isDirectory: true)
        self.keep = max(1, keep)
    }

    /// `ckpt-000000000123.bin`: zero-padded so that names sort as steps do.
    static func name(step: Int) -> String { "ckpt-" + String(format: "%012d", step) + ".bin" }

    /// The step of a checkpoint file name, or nil if `name` is not one.
    static func step(of name: String) -> Int? {
        guard name.hasPrefix("ckpt-"), name.hasSuffix(".bin") else { return nil }
        return Int(name.dropFirst(5).dropLast(4))
    }

    /// The checkpoint files present, newest (highest step) first.
    public func list() -> [(step: Int, url: URL)] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.compactMap { n in Self.step(of: n).map { ($0, directory.appendingPathComponent(n)) } }
            .sorted { $0.step > $1.step }
    }

    /// Writes `bytes` as the checkpoint of `step` (atomically, see the type) and deletes all but
    /// the newest `keep` checkpoints and any temporary file left by an interrupted write.
    public func write(_ bytes: [UInt8], step: Int) throws {
        let fm = FileManager.default
        do { try fm.createDirectory(at: directory, withIntermediateDirectories: true) } catch {
            throw CheckpointError("cannot create \(directory.path): \(error.localizedDescription)")
        }
        let final = directory.appendingPathComponent(Self.name(step: step))
        let temp = directory.appendingPathComponent(".\(Self.name(step: step)).tmp")
        try writeSynced(bytes, to: temp.path)
        guard rename(temp.path, final.path) == 0 else {
            let e = errno
            unlink(temp.path)
            throw CheckpointError("cannot rename \(temp.lastPathComponent) to \(final.lastPathComponent): \(String(cString: strerror(e)))")
        }
        syncDirectory()
        for (_, url) in list().dropFirst(keep) { try? fm.removeItem(at: url) }
        for name in (try? fm.contentsOfDirectory(atPath: directory.path)) ?? [] where name.hasSuffix(".tmp") {
            try? fm.removeItem(at: directory.appendingPathComponent(name))
        }
    }

    /// The newest checkpoint that reads back whole and passes `accept`, and each newer file that
    /// did not, with the reason (a torn write, a flipped bit, a checkpoint of another job).
    public func newestValid(accept: (Checkpoint) throws -> Void = { _ in }) -> (checkpoint: Checkpoint?, skipped: [(name: String, reason: String)]) {
        var skipped: [(String, String)] = []
        for (_, url) in list() {
            do {
                let data = try Data(contentsOf: url)
                let c = try Checkpoint.decode([UInt8](data))
                try accept(c)
                return (c, skipped)
            } catch {
                skipped.append((url.lastPathComponent, "\(error)"))
            }
        }
        return (nil, skipped)
    }

    /// Writes `bytes` to a new file at `path` and fsyncs it before closing.
    private func writeSynced(_ bytes: [UInt8], to path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw CheckpointError("cannot create \(path): \(String(cString: strerror(errno)))") }
        var failure: Int32 = 0
        bytes.withUnsafeBytes { raw in
            var done = 0
            while done < raw.count {
                let n = posixWrite(fd, raw.baseAddress! + done, raw.count - done)
                if n < 0 { if errno == EINTR { continue }; failure = errno; return }
                done += n
            }
        }
        if failure == 0, fsync(fd) != 0 { failure = errno }
        close(fd)
        if failure != 0 {
            unlink(path)
            throw CheckpointError("cannot write \(path): \(String(cString: strerror(failure)))")
        }
    }

    /// Fsyncs the directory, so that the rename itself survives a crash.
    private func syncDirectory() {
        let fd = open(directory.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        fsync(fd)
        close(fd)
    }
}

/// `write(2)` (the name is taken by `CheckpointFiles.write` inside the type).
private func posixWrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
    write(fd, buffer, count)
}
