#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where a loader's bytes come from: a file, read in chunks of `DataStream.chunkSize` (so a
/// loader never holds the whole text, only its float32 result), or bytes already in memory.
enum DataSource {
    case file(String)
    case memory(UnsafeBufferPointer<UInt8>)
}

/// Chunked reading for the loaders: whole chunks (hashing, counting lines) or complete lines
/// (parsing), each optionally fed to a SHA-256 as read.
public enum DataStream {
    /// Bytes read from a file per `read(2)` (tests make it tiny, to cross every boundary).
    nonisolated(unsafe) public static var chunkSize = 1 << 22

    /// Opens `path` for reading, or throws `cannot open: ...` naming it.
    static func open(_ path: String) throws -> Int32 {
        #if canImport(Glibc)
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        #else
        let fd = Darwin.open(path, O_RDONLY | O_CLOEXEC)
        #endif
        guard fd >= 0 else { throw DataFileError(file: path, message: "cannot open: \(String(cString: strerror(errno)))") }
        var st = stat()
        if fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR {
            close(fd)
            throw DataFileError(file: path, message: "cannot read: it is a directory")
        }
        return fd
    }

    /// The size of the file at `path` in bytes, or nil.
    static func size(_ path: String) -> Int? {
        var st = stat()
        return stat(path, &st) == 0 ? Int(st.st_size) : nil
    }

    /// Calls `body` with each chunk of `source` in order (and hashes it into `hash`, if given).
    static func forEachChunk(
        _ source: DataSource, file: String, hash: UnsafeMutablePointer<SHA256>? = nil,
        _ body: (UnsafeBufferPointer<UInt8>) throws -> Void
    ) throws {
        switch source {
        case .memory(let bytes):
            hash?.pointee.update(bytes)
            try body(bytes)
        case .file(let path):
            let fd = try open(path)
            defer { close(fd) }
            let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: chunkSize)
            defer { buffer.deallocate() }
            while true {
                let n = read(fd, buffer, chunkSize)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw DataFileError(file: path, message: "cannot read: \(String(cString: strerror(errno)))")
                }
                if n == 0 { return }
                let chunk = UnsafeBufferPointer(start: UnsafePointer(buffer), count: n)
                hash?.pointee.update(chunk)
                try body(chunk)
            }
        }
    }

    /// The number of `\n` bytes of `source`.
    static func countLines(_ source: DataSource, file: String) throws -> Int {
        var newlines = 0
        try forEachChunk(source, file: file) { newlines += count(newlinesIn: $0) }
        return newlines
    }

    /// The SHA-256 of `source` (hex) and its number of `\n` bytes, in one pass.
    static func hashAndCountLines(_ source: DataSource, file: String) throws -> (sha256: String, newlines: Int) {
        var hash = SHA256()
        var newlines = 0
        try withUnsafeMutablePointer(to: &hash) { h in
            try forEachChunk(source, file: file, hash: h) { newlines += count(newlinesIn: $0) }
        }
        return (hash.finalizeHex(), newlines)
    }

    /// The number of `\n` bytes in `chunk`.
    static func count(newlinesIn chunk: UnsafeBufferPointer<UInt8>) -> Int {
        var newlines = 0
        guard var p = UnsafeRawPointer(chunk.baseAddress) else { return 0 }
        var left = chunk.count
        while left > 0, let hit = memchr(p, 0x0A, left) {
            newlines += 1
            let skip = UnsafeRawPointer(hit) - p + 1
            p += skip
            left -= skip
        }
        return newlines
    }

    /// Calls `body` with every line of `source` (without its `\n`; a `\r` before it stays) and its
    /// 1-based number; a last line without `\n` counts, an empty text has no lines. Hashes every
    /// byte read into `hash`, if given.
    static func forEachLine(
        _ source: DataSource, file: String, hash: UnsafeMutablePointer<SHA256>? = nil,
        _ body: (UnsafeBufferPointer<UInt8>, Int) throws -> Void
    ) throws {
        var number = 0
        func lines(in bytes: UnsafeBufferPointer<UInt8>, final: Bool) throws -> Int {
            guard let base = bytes.baseAddress else { return 0 }
            var start = 0
            while start < bytes.count {
                let rest = bytes.count - start
                guard let hit = memchr(base + start, 0x0A, rest) else { break }
                let end = UnsafeRawPointer(hit) - UnsafeRawPointer(base)
                number += 1
                try body(UnsafeBufferPointer(start: base + start, count: end - start), number)
                start = end + 1
            }
            if final && start < bytes.count {
                number += 1
                try body(UnsafeBufferPointer(start: base + start, count: bytes.count - start), number)
                return bytes.count
            }
            return start
        }
        switch source {
        case .memory(let bytes):
            hash?.pointee.update(bytes)
            _ = try lines(in: bytes, final: true)
        case .file(let path):
            let fd = try open(path)
            defer { close(fd) }
            var capacity = chunkSize
            var buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity)
            defer { buffer.deallocate() }
            var filled = 0
            while true {
                if filled == capacity {  // one line longer than the buffer: grow it
                    let bigger = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity * 2)
                    bigger.update(from: buffer, count: filled)
                    buffer.deallocate()
                    buffer = bigger
                    capacity *= 2
                }
                let n = read(fd, buffer + filled, capacity - filled)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw DataFileError(file: path, message: "cannot read: \(String(cString: strerror(errno)))")
                }
                if n > 0 { hash?.pointee.update(UnsafeBufferPointer(start: buffer + filled, count: n)) }
                filled += n
                let used = try lines(in: UnsafeBufferPointer(start: buffer, count: filled), final: n == 0)
                if n == 0 { return }
                if used > 0 {
                    memmove(buffer, buffer + used, filled - used)
                    filled -= used
                }
            }
        }
    }
}
