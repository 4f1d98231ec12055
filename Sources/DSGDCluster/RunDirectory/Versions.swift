import ZeroMQ

/// Version strings recorded in config.json.
public enum Versions {
    /// dsgd's own version.
    public static let dsgd = "0.1.0"

    /// dsgd, the wire protocol and libzmq.
    public static var all: [String: String] {
        ["dsgd": dsgd, "protocol": String(Wire.version), "libzmq": ZMQContext.version]
    }
}
