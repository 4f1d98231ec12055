/// Whole-file reads and writes and the number parsing the loaders share. Internal: the loaders'
/// public API is all callers need.
enum DataFileIO {
    /// The bytes of the file at `path`.
    static func read(_ path: String) throws -> [UInt8] {
        guard let f = fopen(path, "rb") else { throw DataFileError(file: path, message: "cannot open: \(errnoText())") }
        defer { fclose(f) }
        var bytes: [UInt8] = []
        if fseek(f, 0, SEEK_END) == 0 {
            let size = ftell(f)
            if size > 0 { bytes.reserveCapacity(size) }
            rewind(f)
        }
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, f) }
            bytes.append(contentsOf: chunk[0..<n])
            if n < chunk.count { break }
        }
        if ferror(f) != 0 { throw DataFileError(file: path, message: "cannot read: \(errnoText())") }
        return bytes
    }

    /// Replaces the file at `path` with `bytes`.
    static func write(_ bytes: [UInt8], to path: String) throws {
        guard let f = fopen(path, "wb") else { throw DataFileError(file: path, message: "cannot create: \(errnoText())") }
        let written = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, f) }
        let closed = fclose(f)
        if written != bytes.count || closed != 0 { throw DataFileError(file: path, message: "cannot write: \(errnoText())") }
    }

    /// Parses `bytes` as a decimal (or hex) float with Swift's own parser, the inverse of
    /// `Float.description`. Nil if it is not a number; may return infinity (overflow) or NaN.
    /// Allocation-free for fields up to 15 bytes (they fit a small string).
    @inline(__always)
    static func parseFloat(_ bytes: UnsafeBufferPointer<UInt8>) -> Float? {
        Float(String(decoding: bytes, as: UTF8.self))
    }

    /// `bytes` as text for an error message, quoted, cut after 40 characters (invalid UTF-8
    /// shows as U+FFFD).
    static func quoted(_ bytes: UnsafeBufferPointer<UInt8>) -> String {
        let text = String(decoding: bytes, as: UTF8.self)
        return "\"" + (text.count > 40 ? text.prefix(40) + "..." : text) + "\""
    }

    /// Whether `b` is a space or a tab.
    @inline(__always)
    static func isBlank(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 }

    private static func errnoText() -> String { String(cString: strerror(errno)) }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
