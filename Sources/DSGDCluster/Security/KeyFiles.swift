import Foundation
import ZeroMQ

/// The key files of CURVE authentication, as `dsgd keygen` writes them:
/// - `NAME.key`: two lines, `public <Z85>` and `secret <Z85>` (mode 0600: it holds the secret);
/// - `NAME.pub`: one line, the public key in Z85;
/// - an allowed-workers file: one line `ID PUBLICKEY` per worker, which
///   binds each worker id to the one key that may claim it. A line starting with `#` is a
///   comment (only whole lines: Z85 keys may contain `#`).
public enum KeyFiles {
    /// Writes `directory/name.key` and `directory/name.pub` for `pair`.
    public static func write(_ pair: CurveKeyPair, directory: String, name: String) throws {
        let key = directory + "/" + name + ".key"
        guard FileManager.default.createFile(atPath: key, contents: Data("public \(pair.publicKey)\nsecret \(pair.secretKey)\n".utf8),
                                             attributes: [.posixPermissions: 0o600]) else {
            throw KeyFileError("cannot write \(key)")
        }
        try Data((pair.publicKey + "\n").utf8).write(to: URL(fileURLWithPath: directory + "/" + name + ".pub"))
    }

    /// Reads a `.key` file.
    public static func readKeyPair(_ path: String) throws -> CurveKeyPair {
        var pub: String?, sec: String?
        for (n, line) in try lines(path) {
            let parts = line.split(separator: " ", omittingEmptySubsequences: true)
            guard parts.count == 2, ["public", "secret"].contains(parts[0]) else {
                throw KeyFileError("\(path):\(n): expected `public KEY` or `secret KEY`")
            }
            let key = String(parts[1])
            guard CurveKeyPair.isValid(key) else { throw KeyFileError("\(path):\(n): not a Z85 key of 40 characters") }
            if parts[0] == "public" { pub = key } else { sec = key }
        }
        guard let pub, let sec else { throw KeyFileError("\(path): needs both a `public` and a `secret` line (a .key file of dsgd keygen)") }
        return CurveKeyPair(publicKey: pub, secretKey: sec)
    }

    /// Reads a public key: a `.pub` file, or the `public` line of a `.key` file.
    public static func readPublicKey(_ path: String) throws -> String {
        let all = try lines(path)
        if all.count == 1, CurveKeyPair.isValid(all[0].line) { return all[0].line }
        return try readKeyPair(path).publicKey
    }

    /// Reads an allowed-workers file: public key to worker id. Ids must be in `0 ..< workers`,
    /// and neither an id nor a key may appear twice.
    public static func readAllowedWorkers(_ path: String, workers: Int) throws -> [String: Int] {
        var byKey: [String: Int] = [:], ids = Set<Int>()
        for (n, line) in try lines(path) {
            let parts = line.split(separator: " ", omittingEmptySubsequences: true)
            guard parts.count == 2, let id = Int(parts[0]) else { throw KeyFileError("\(path):\(n): expected `ID PUBLICKEY`") }
            let key = String(parts[1])
            guard (0..<workers).contains(id) else { throw KeyFileError("\(path):\(n): worker id \(id) is not in 0 ..< \(workers)") }
            guard CurveKeyPair.isValid(key) else { throw KeyFileError("\(path):\(n): not a Z85 key of 40 characters") }
            guard ids.insert(id).inserted else { throw KeyFileError("\(path):\(n): worker \(id) appears twice") }
            guard byKey.updateValue(id, forKey: key) == nil else { throw KeyFileError("\(path):\(n): this key is already another worker's") }
        }
        return byKey
    }

    /// The non-empty, non-comment lines of `path`, trimmed, with their 1-based numbers.
    static func lines(_ path: String) throws -> [(n: Int, line: String)] {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw KeyFileError("cannot read \(path): \(error.localizedDescription)")
        }
        // Only a whole line is a comment: Z85 keys may contain '#'.
        return text.split(separator: "\n", omittingEmptySubsequences: false).enumerated().compactMap { i, raw in
            let t = raw.trimmingCharacters(in: .whitespaces)
            return t.isEmpty || t.hasPrefix("#") ? nil : (i + 1, t)
        }
    }
}

/// A key file could not be read or written; the text names the file (and line).
public struct KeyFileError: Error, CustomStringConvertible {
    public let description: String
    init(_ d: String) { description = d }
}
