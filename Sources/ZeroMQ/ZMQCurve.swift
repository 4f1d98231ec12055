import CZeroMQ

/// A CURVE key pair (Curve25519), both keys in Z85 text (40 characters), as `zmq_curve_keypair`
/// makes them.
public struct CurveKeyPair: Sendable, Equatable {
    public let publicKey: String
    public let secretKey: String

    public init(publicKey: String, secretKey: String) {
        self.publicKey = publicKey
        self.secretKey = secretKey
    }

    /// A new random key pair.
    public static func generate() throws -> CurveKeyPair {
        var pub = [CChar](repeating: 0, count: 41), sec = [CChar](repeating: 0, count: 41)
        guard zmq_curve_keypair(&pub, &sec) == 0 else { throw ZMQError.last("zmq_curve_keypair") }
        return CurveKeyPair(publicKey: text(pub), secretKey: text(sec))
    }

    /// Whether this libzmq was built with CURVE (libsodium).
    public static var isSupported: Bool { zmq_has("curve") != 0 }

    /// Whether `key` is a Z85 key: 40 characters of the Z85 alphabet that decode to 32 bytes.
    public static func isValid(_ key: String) -> Bool {
        guard key.utf8.count == 40 else { return false }
        var out = [UInt8](repeating: 0, count: 32)
        return zmq_z85_decode(&out, key) != nil
    }

    /// The Z85 text of a 32-byte binary key.
    public static func z85(_ binary: UnsafeRawBufferPointer) -> String? {
        guard binary.count == 32 else { return nil }
        var out = [CChar](repeating: 0, count: 41)
        guard zmq_z85_encode(&out, binary.baseAddress!.assumingMemoryBound(to: UInt8.self), 32) != nil else { return nil }
        return text(out)
    }
}

/// The text of a NUL-terminated C string buffer.
private func text(_ chars: [CChar]) -> String {
    String(decoding: chars.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

extension ZMQSocket {
    /// Makes this (binding) socket a CURVE server with `secretKey` (Z85): every peer must complete
    /// a CURVE handshake, which the ZAP handler of the context authorizes; traffic is encrypted.
    public func setCurveServer(secretKey: String) throws {
        try set(ZMQ_CURVE_SERVER, 1, "ZMQ_CURVE_SERVER")
        try set(ZMQ_CURVE_SECRETKEY, text: secretKey, "ZMQ_CURVE_SECRETKEY")
        try set(ZMQ_ZAP_DOMAIN, text: "dsgd", "ZMQ_ZAP_DOMAIN")
    }

    /// Makes this (connecting) socket a CURVE client of the server whose public key is
    /// `serverKey`, authenticating with `keys`.
    public func setCurveClient(serverKey: String, keys: CurveKeyPair) throws {
        try set(ZMQ_CURVE_SERVERKEY, text: serverKey, "ZMQ_CURVE_SERVERKEY")
        try set(ZMQ_CURVE_PUBLICKEY, text: keys.publicKey, "ZMQ_CURVE_PUBLICKEY")
        try set(ZMQ_CURVE_SECRETKEY, text: keys.secretKey, "ZMQ_CURVE_SECRETKEY")
    }
}

extension ZMQMessage {
    /// A metadata property of a received message (`zmq_msg_gets`), e.g. "User-Id", which the ZAP
    /// handler set for the connection it came on; nil when absent.
    public func property(_ name: String) -> String? {
        guard let p = zmq_msg_gets(msg, name) else { return nil }
        return String(cString: p)
    }
}
