import DSGDCore
import Foundation
import ZeroMQ

/// A job's data file (`--data FILE`) on a worker: its own copy where the path names one (checked
/// against the job's SHA-256 when the set is built), else a copy cached by hash from an earlier
/// run, else the file fetched from the coordinator in `Wire.fileChunk` pieces (FILE messages) into
/// that cache and checked the same way.
///
/// The cache is `$DSGD_CACHE`, else `$XDG_CACHE_HOME/dsgd`, else `~/.cache/dsgd`; a file is
/// stored under its SHA-256, so a changed file is fetched again and an unchanged one never is.
extension Worker {
    /// Where fetched data files are kept.
    static var cacheDirectory: String {
        let env = ProcessInfo.processInfo.environment
        if let d = env["DSGD_CACHE"], !d.isEmpty { return d }
        if let x = env["XDG_CACHE_HOME"], !x.isEmpty { return x + "/dsgd" }
        return NSHomeDirectory() + "/.cache/dsgd"
    }

    /// The files of `spec` this worker lacks, as (file index, SHA-256): 0 the data file, 1 an IDX
    /// set's labels; none for a built-in set or one whose files are all here or cached.
    static func missingFiles(_ spec: DatasetSpec) -> [(index: UInt32, sha256: String)] {
        guard spec.isFile else { return [] }
        var missing: [(UInt32, String)] = []
        let fm = FileManager.default
        for (index, path, hash) in [(UInt32(0), spec.name as String?, spec.sha256), (1, spec.labelsFile, spec.labelsSha256)] {
            guard let path, let hash, !fm.fileExists(atPath: path), !fm.fileExists(atPath: cacheDirectory + "/" + hash) else { continue }
            missing.append((index, hash))
        }
        return missing
    }

    /// `spec` reading the cached copy of every file this worker has no copy of at its path.
    static func locallyReadable(_ spec: DatasetSpec) -> DatasetSpec {
        var s = spec
        let fm = FileManager.default
        if !fm.fileExists(atPath: s.name), let h = s.sha256 { s.name = cacheDirectory + "/" + h }
        if let l = s.labelsFile, !fm.fileExists(atPath: l), let h = s.labelsSha256 { s.labelsFile = cacheDirectory + "/" + h }
        return s
    }

    /// Asks the coordinator for the next chunk of the file being fetched.
    func requestNextChunk() throws {
        guard let f = fetching else { return }
        MessageHeader(type: .file, workerID: UInt32(id), count: f.index, step: f.received).encode(into: header)
        try socket.send(bytes: UnsafeRawBufferPointer(header), more: true)
        try socket.send(bytes: UnsafeRawBufferPointer(start: nil, count: 0), more: false)
    }

    /// Starts fetching the first missing file of the job, or builds the data set when none is
    /// missing (and says READY).
    func fetchOrBuild(_ j: JobConfig) throws {
        guard let next = Self.missingFiles(j.dataset).first else { return try finishWelcome(j) }
        let dir = Self.cacheDirectory
        do { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) } catch {
            throw WorkerError("cannot create the data cache \(dir): \(error.localizedDescription)")
        }
        let part = dir + "/" + next.sha256 + ".part.\(getpid())"
        guard FileManager.default.createFile(atPath: part, contents: nil), let handle = FileHandle(forWritingAtPath: part) else {
            throw WorkerError("cannot write \(part)")
        }
        let name = next.index == 0 ? j.dataset.name : j.dataset.labelsFile ?? ""
        log.info("\(name) is not here: fetching it from the coordinator into \(dir)")
        fetching = FileFetch(index: next.index, sha256: next.sha256, path: part, handle: handle, received: 0, job: j)
        try requestNextChunk()
    }

    /// A FILE answer: the chunk is appended; a short one ends the file, which is moved into the
    /// cache under its hash (the data set checks the hash when it is built).
    func handleFile(_ h: MessageHeader) throws {
        guard var f = fetching, h.count == f.index, h.step == f.received else {
            throw WorkerError("unexpected FILE message (file \(h.count) at byte \(h.step))")
        }
        let bytes = frames[1].bytes
        do { try f.handle.write(contentsOf: Data(bytes)) } catch { throw WorkerError("cannot write \(f.path): \(error)") }
        f.received += UInt64(bytes.count)
        fetching = f
        if bytes.count == Wire.fileChunk { return try requestNextChunk() }
        try? f.handle.close()
        let final = Self.cacheDirectory + "/" + f.sha256
        if rename(f.path, final) != 0 { throw WorkerError("cannot move \(f.path) to \(final): \(String(cString: strerror(errno)))") }
        log.info("fetched \(f.received) bytes into \(final)")
        fetching = nil
        try fetchOrBuild(f.job)
    }
}

/// A data file being fetched from the coordinator.
struct FileFetch {
    var index: UInt32
    var sha256: String
    /// The temporary file in the cache, and its handle.
    var path: String
    var handle: FileHandle
    var received: UInt64
    /// The job whose data set it is for.
    var job: JobConfig
}
