/// Why a data file could not be read or written, pinned to where it went wrong:
/// `description` reads like a compiler diagnostic, `digits.csv:12:5: expected a number, found "abc"`.
public struct DataFileError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The file's name exactly as the caller gave it (a path, or any label for in-memory text).
    public var file: String
    /// 1-based line number, when the problem sits on one line of a text file.
    public var line: Int?
    /// 1-based column: the field number in CSV, the token position in LIBSVM.
    public var column: Int?
    /// What is wrong, without the location.
    public var message: String

    public init(file: String, line: Int? = nil, column: Int? = nil, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.message = message
    }

    /// `file:line:column: message`, leaving out the parts that are nil.
    public var description: String {
        var s = file
        if let line {
            s += ":\(line)"
            if let column { s += ":\(column)" }
        }
        return s + ": " + message
    }
}
