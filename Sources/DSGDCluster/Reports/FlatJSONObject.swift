/// One JSON object parsed with its keys in file order and every value's text as written: the
/// shape of a metrics.jsonl line. Exports copy numbers through exactly (no re-formatting), and a
/// malformed line gets a message that says where it went wrong.
public struct FlatJSONObject: Sendable {
    /// A value of the object.
    public enum Value: Sendable, Equatable {
        /// A number, with its text as written.
        case number(Double, text: String)
        case string(String)
        case bool(Bool)
        case null
        /// An array or object, kept as its raw text.
        case nested(String)

        /// The number, if this is one (and finite); nil otherwise.
        public var double: Double? {
            if case .number(let x, _) = self, x.isFinite { return x }
            return nil
        }

        /// The value as a CSV cell: numbers as written, strings unquoted, null empty.
        public var text: String {
            switch self {
            case .number(_, let t): return t
            case .string(let s): return s
            case .bool(let b): return b ? "true" : "false"
            case .null: return ""
            case .nested(let raw): return raw
            }
        }
    }

    /// The fields in the order of the text.
    public private(set) var fields: [(key: String, value: Value)] = []

    /// The value of `key`, if present.
    public subscript(key: String) -> Value? {
        fields.first { $0.key == key }?.value
    }

    /// Parses `text`, which must hold exactly one JSON object.
    /// - Throws: `FlatJSONObject.ParseError` naming the column and what was expected there.
    public init(parsing text: String) throws {
        var p = Parser(bytes: Array(text.utf8))
        p.skipSpace()
        try p.expect(UInt8(ascii: "{"), "'{' (a JSON object)")
        p.skipSpace()
        if p.peek == UInt8(ascii: "}") {
            p.index += 1
        } else {
            while true {
                p.skipSpace()
                let key = try p.string()
                if fields.contains(where: { $0.key == key }) { throw p.error("key \"\(key)\" appears twice") }
                p.skipSpace()
                try p.expect(UInt8(ascii: ":"), "':'")
                p.skipSpace()
                fields.append((key, try p.value()))
                p.skipSpace()
                if p.peek == UInt8(ascii: ",") { p.index += 1; continue }
                try p.expect(UInt8(ascii: "}"), "',' or '}'")
                break
            }
        }
        p.skipSpace()
        if p.index < p.bytes.count { throw p.error("text after the object") }
    }

    /// Why a line is not a JSON object.
    public struct ParseError: Error, CustomStringConvertible {
        public let column: Int
        public let reason: String
        public var description: String { "\(reason) at column \(column)" }
    }

    private struct Parser {
        let bytes: [UInt8]
        var index = 0

        var peek: UInt8? { index < bytes.count ? bytes[index] : nil }

        func error(_ reason: String) -> ParseError { ParseError(column: index + 1, reason: reason) }

        mutating func skipSpace() {
            while let c = peek, c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D { index += 1 }
        }

        mutating func expect(_ c: UInt8, _ what: String) throws {
            guard peek == c else { throw error(peek == nil ? "expected \(what), found the end of the line" : "expected \(what)") }
            index += 1
        }

        mutating func value() throws -> Value {
            guard let c = peek else { throw error("expected a value, found the end of the line") }
            switch c {
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "t"): try literal("true"); return .bool(true)
            case UInt8(ascii: "f"): try literal("false"); return .bool(false)
            case UInt8(ascii: "n"): try literal("null"); return .null
            case UInt8(ascii: "["), UInt8(ascii: "{"): return .nested(try nested())
            default: return try number()
            }
        }

        mutating func literal(_ word: String) throws {
            let w = Array(word.utf8)
            guard index + w.count <= bytes.count, Array(bytes[index..<(index + w.count)]) == w else {
                throw error("expected a value")
            }
            index += w.count
        }

        mutating func number() throws -> Value {
            let start = index
            while let c = peek, c == UInt8(ascii: "-") || c == UInt8(ascii: "+") || c == UInt8(ascii: ".")
                    || c == UInt8(ascii: "e") || c == UInt8(ascii: "E") || (c >= 0x30 && c <= 0x39) {
                index += 1
            }
            let text = String(decoding: bytes[start..<index], as: UTF8.self)
            guard !text.isEmpty, text.first != "+", let x = Double(text) else {
                index = start
                throw error("expected a value")
            }
            return .number(x, text: text)
        }

        mutating func string() throws -> String {
            try expect(UInt8(ascii: "\""), "a string")
            var out: [UInt8] = []
            while true {
                guard let c = peek else { throw error("unterminated string") }
                index += 1
                if c == UInt8(ascii: "\"") { break }
                if c != UInt8(ascii: "\\") { out.append(c); continue }
                guard let e = peek else { throw error("unterminated string") }
                index += 1
                switch e {
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "u"):
                    guard index + 4 <= bytes.count,
                          let code = UInt32(String(decoding: bytes[index..<(index + 4)], as: UTF8.self), radix: 16) else {
                        throw error("bad \\u escape")
                    }
                    index += 4
                    out += Array(String(Character(Unicode.Scalar(code) ?? "\u{FFFD}")).utf8)
                default: out.append(e)
                }
            }
            return String(decoding: out, as: UTF8.self)
        }

        /// Skips a balanced array or object (strings respected) and returns its text.
        mutating func nested() throws -> String {
            let start = index
            var depth = 0
            repeat {
                guard let c = peek else { throw error("unterminated array or object") }
                if c == UInt8(ascii: "\"") { _ = try string(); continue }
                if c == UInt8(ascii: "[") || c == UInt8(ascii: "{") { depth += 1 }
                if c == UInt8(ascii: "]") || c == UInt8(ascii: "}") { depth -= 1 }
                index += 1
            } while depth > 0
            return String(decoding: bytes[start..<index], as: UTF8.self)
        }
    }
}
