import Foundation

/// Rendezvous from the environment: the coordinator's address, a worker's rank (its id) and the
/// worker count, as cluster engines and users set them, so one command line serves every host.
///
/// Precedence, highest first (a flag always wins; `ClusterEnvironment` covers the rest):
/// 1. the command line (`--connect`, `--id`, `--workers`, `--bind`);
/// 2. dsgd's own variables: `DSGD_COORDINATOR` (`tcp://HOST:PORT`, `ipc://PATH`, `HOST:PORT` or
///    `HOST`, port `DSGD_PORT` or 5555), `DSGD_RANK` (or its alias `DSGD_WORKER_ID`; both set and
///    different is an error), `DSGD_WORKERS`, `DSGD_BIND`;
/// 3. Kubernetes: `JOB_COMPLETION_INDEX` (an Indexed Job's pod index) is the rank;
/// 4. Slurm, the layout of deploy/slurm (one step, task 0 the coordinator, tasks 1...N the
///    workers): rank `SLURM_PROCID - 1`, workers `SLURM_NTASKS - 1`, coordinator the first host of
///    `SLURM_JOB_NODELIST` (or `SLURM_NODELIST`) at port `DSGD_PORT` or 5555. Workers started in a
///    step of their own set `DSGD_RANK` and `DSGD_COORDINATOR` instead.
public struct ClusterEnvironment: Equatable, Sendable {
    /// The coordinator's endpoint, and which variable gave it.
    public var coordinator: String?
    public var coordinatorSource: String?
    /// This worker's rank (worker id), and which variable gave it.
    public var rank: Int?
    public var rankSource: String?
    /// The number of workers, and which variable gave it.
    public var workers: Int?
    public var workersSource: String?
    /// The endpoint a coordinator binds (`DSGD_BIND`).
    public var bind: String?

    /// The port used when an address names only a host.
    public static let defaultPort = 5555

    public init() {}

    /// Reads `environment` as the precedence above says (flags are the caller's). Throws a
    /// `JobConfigError` naming the variable when a value is malformed.
    public static func resolve(_ environment: [String: String]) throws -> ClusterEnvironment {
        func value(_ key: String) -> String? {
            guard let v = environment[key]?.trimmingCharacters(in: .whitespaces), !v.isEmpty else { return nil }
            return v
        }
        func integer(_ key: String, minimum: Int) throws -> Int? {
            guard let text = value(key) else { return nil }
            guard let n = Int(text), n >= minimum else {
                throw JobConfigError("\(key)=\(text) is not an integer >= \(minimum)")
            }
            return n
        }
        var e = ClusterEnvironment()
        let port: Int
        if let p = try integer("DSGD_PORT", minimum: 1) {
            guard p <= 65535 else { throw JobConfigError("DSGD_PORT=\(p) is not a port (1...65535)") }
            port = p
        } else {
            port = defaultPort
        }
        let slurmProc = try integer("SLURM_PROCID", minimum: 0)
        let slurmTasks = try integer("SLURM_NTASKS", minimum: 1)

        // The coordinator.
        if let c = value("DSGD_COORDINATOR") {
            e.coordinator = try endpoint(c, port: port, variable: "DSGD_COORDINATOR")
            e.coordinatorSource = "DSGD_COORDINATOR"
        } else if let key = ["SLURM_JOB_NODELIST", "SLURM_NODELIST"].first(where: { value($0) != nil }) {
            let hosts: [String]
            do { hosts = try expandHostList(value(key)!) } catch let error as JobConfigError {
                throw JobConfigError("\(key): \(error.description)")
            }
            e.coordinator = "tcp://\(hosts[0]):\(port)"
            e.coordinatorSource = "\(key) (first host)"
        }

        // The rank.
        let rank = try integer("DSGD_RANK", minimum: 0), id = try integer("DSGD_WORKER_ID", minimum: 0)
        if let rank, let id, rank != id {
            throw JobConfigError("DSGD_RANK=\(rank) and DSGD_WORKER_ID=\(id) disagree (they name the same thing; set one)")
        }
        if let r = rank ?? id {
            e.rank = r
            e.rankSource = rank != nil ? "DSGD_RANK" : "DSGD_WORKER_ID"
        } else if let k = try integer("JOB_COMPLETION_INDEX", minimum: 0) {
            e.rank = k
            e.rankSource = "JOB_COMPLETION_INDEX"
        } else if let p = slurmProc, p >= 1 {  // task 0 is the coordinator's: no rank
            e.rank = p - 1
            e.rankSource = "SLURM_PROCID - 1"
        }

        // The worker count.
        if let n = try integer("DSGD_WORKERS", minimum: 1) {
            e.workers = n
            e.workersSource = "DSGD_WORKERS"
        } else if let t = slurmTasks {
            guard t >= 2 else { throw JobConfigError("SLURM_NTASKS=\(t): dsgd's Slurm layout needs a coordinator task and at least one worker task") }
            e.workers = t - 1
            e.workersSource = "SLURM_NTASKS - 1"
        }
        if let r = e.rank, let n = e.workers, r >= n {
            throw JobConfigError("rank \(r) (\(e.rankSource!)) is not below the worker count \(n) (\(e.workersSource!))")
        }
        e.bind = value("DSGD_BIND")
        return e
    }

    /// `text` as a ZeroMQ endpoint: `tcp://` and `ipc://` as they are, `HOST:PORT` and `HOST`
    /// (with `port`) as TCP.
    static func endpoint(_ text: String, port: Int, variable: String) throws -> String {
        if text.hasPrefix("tcp://") || text.hasPrefix("ipc://") { return text }
        if text.contains("://") { throw JobConfigError("\(variable)=\(text): only tcp:// and ipc:// endpoints are supported") }
        if text.hasPrefix("[") { return text.contains("]:") ? "tcp://\(text)" : "tcp://\(text):\(port)" }  // [IPv6]
        let colons = text.filter { $0 == ":" }.count
        if colons == 1 {
            guard let p = Int(text.split(separator: ":").last ?? ""), (1...65535).contains(p) else {
                throw JobConfigError("\(variable)=\(text): the port is not a number in 1...65535")
            }
            return "tcp://\(text)"
        }
        return colons == 0 ? "tcp://\(text):\(port)" : "tcp://[\(text)]:\(port)"
    }

    /// Expands a Slurm host list: `node[01-04,07],gpu3` is node01, node02, node03, node04, node07,
    /// gpu3 (zero padding kept, several bracket groups in one name multiply out, in order).
    public static func expandHostList(_ list: String) throws -> [String] {
        // Split at the commas outside brackets.
        var items: [String] = []
        var depth = 0
        var current = ""
        for ch in list {
            if ch == "[" { depth += 1 } else if ch == "]" {
                depth -= 1
                if depth < 0 { throw JobConfigError("unbalanced ']' in host list \"\(list)\"") }
            }
            if ch == "," && depth == 0 {
                items.append(current)
                current = ""
            } else {
                current.append(ch)
            }
        }
        if depth != 0 { throw JobConfigError("unbalanced '[' in host list \"\(list)\"") }
        items.append(current)
        var hosts: [String] = []
        for item in items {
            let trimmed = item.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { throw JobConfigError("empty host name in host list \"\(list)\"") }
            hosts += try expandName(trimmed, list: list)
        }
        return hosts
    }

    /// One name with bracket groups: `rack[1-2]-n[01,03]`.
    private static func expandName(_ name: String, list: String) throws -> [String] {
        guard let open = name.firstIndex(of: "[") else { return [name] }
        guard let close = name[open...].firstIndex(of: "]") else { throw JobConfigError("unbalanced '[' in host list \"\(list)\"") }
        let prefix = String(name[..<open])
        let body = name[name.index(after: open)..<close]
        let rest = try expandName(String(name[name.index(after: close)...]), list: list)
        var values: [String] = []
        for part in body.split(separator: ",", omittingEmptySubsequences: false) {
            let bounds = part.split(separator: "-", omittingEmptySubsequences: false)
            guard (1...2).contains(bounds.count), bounds.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isNumber) }),
                  let lo = Int(bounds[0]), let hi = Int(bounds.last!), lo <= hi
            else { throw JobConfigError("bad range \"\(part)\" in host list \"\(list)\"") }
            guard hi - lo < 100_000 else { throw JobConfigError("range \"\(part)\" in host list \"\(list)\" is too long") }
            let width = bounds[0].count
            for v in lo...hi {
                let digits = String(v)
                values.append(String(repeating: "0", count: max(0, width - digits.count)) + digits)
            }
        }
        return values.flatMap { v in rest.map { prefix + v + $0 } }
    }
}
