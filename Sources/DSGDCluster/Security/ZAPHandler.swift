import Foundation
import ZeroMQ

/// The coordinator's CURVE authentication: a ZAP handler (ZeroMQ RFC 27) on a thread of its own,
/// bound to `inproc://zeromq.zap.01` of the coordinator's context. libzmq asks it about every
/// CURVE handshake; it allows a client whose public key is in the allowed-workers file and names
/// the connection's user id after that worker's id (the coordinator then accepts HELLO from that
/// connection only for that id), and denies every other key. A denied client never gets a
/// connection, so it cannot send the coordinator a single message.
final class ZAPHandler: @unchecked Sendable {
    private let socket: ZMQSocket
    private let allowed: [String: Int]
    private let log: Log
    private let lock = NSLock()
    private var stopping = false
    private var deniedCount = 0
    private let stopped = DispatchSemaphore(value: 0)

    /// Binds the handler in `context` and starts its thread.
    init(context: ZMQContext, allowed: [String: Int], log: Log) throws {
        socket = try ZMQSocket(context, .rep, lingerMs: 0)
        try socket.bind("inproc://zeromq.zap.01")
        self.allowed = allowed
        self.log = log
        let thread = Thread { [self] in serve() }
        thread.name = "dsgd-zap"
        thread.start()
    }

    /// Handshakes denied so far.
    var denied: Int {
        lock.lock()
        defer { lock.unlock() }
        return deniedCount
    }

    /// Stops the thread and closes the socket.
    func stop() {
        lock.lock()
        stopping = true
        lock.unlock()
        stopped.wait()
    }

    private var isStopping: Bool {
        lock.lock()
        defer { lock.unlock() }
        return stopping
    }

    private func serve() {
        defer {
            socket.close()
            stopped.signal()
        }
        let poller = ZMQPoller([socket])
        let frames = (0..<8).map { _ in ZMQMessage() }
        while !isStopping {
            guard (try? poller.waitForInput(timeoutMs: 100)) == true,
                  let n = try? socket.receiveMultipart(into: frames, dontWait: true), n > 0 else { continue }
            // version, request id, domain, address, identity, mechanism, credentials...
            let requestID = Array(frames[1].bytes)
            var status = "400", text = "not a CURVE handshake", userID = ""
            if n >= 7, String(decoding: frames[0].bytes, as: UTF8.self) == "1.0",
               String(decoding: frames[5].bytes, as: UTF8.self) == "CURVE" {
                if let key = CurveKeyPair.z85(frames[6].bytes), let id = allowed[key] {
                    (status, text, userID) = ("200", "OK", String(id))
                } else {
                    text = "key not allowed"
                    let address = String(decoding: frames[3].bytes, as: UTF8.self)
                    lock.lock()
                    deniedCount += 1
                    let count = deniedCount
                    lock.unlock()
                    if count <= 20 || count % 1000 == 0 {
                        log.error("denied a CURVE handshake from \(address.isEmpty ? "a peer" : address) (#\(count)): its key is not in the allowed workers")
                    }
                }
            }
            let reply: [[UInt8]] = [Array("1.0".utf8), requestID, Array(status.utf8), Array(text.utf8), Array(userID.utf8), []]
            for (i, f) in reply.enumerated() {
                _ = try? f.withUnsafeBytes { try socket.send(bytes: $0, more: i < reply.count - 1) }
            }
        }
    }
}

/// CURVE settings of a coordinator: its key pair and the public key of every allowed worker.
public struct CoordinatorSecurity: Sendable {
    public let keys: CurveKeyPair
    /// Public key (Z85) to worker id.
    public let allowedWorkers: [String: Int]

    public init(keys: CurveKeyPair, allowedWorkers: [String: Int]) {
        self.keys = keys
        self.allowedWorkers = allowedWorkers
    }
}
