// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "dsgd",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "dsgd", targets: ["dsgd"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // libzmq from the system (Debian: libzmq3-dev).
        .systemLibrary(
            name: "CZeroMQ",
            pkgConfig: "libzmq",
            providers: [.apt(["libzmq3-dev"]), .brew(["zeromq"])]
        ),
        // A thin, safe Swift wrapper over libzmq: contexts, sockets, messages, polling, errors.
        .target(name: "ZeroMQ", dependencies: ["CZeroMQ"]),
        // The compute core: data sets, models (forward and backward), optimizers. No networking.
        .target(name: "DSGDCore"),
        // The cluster: wire protocol, coordinator, worker, launcher, run directory.
        // Process plumbing Swift cannot call directly (variadic prctl, posix_spawn attributes, signals).
        .target(name: "CSystemSupport"),
        .target(name: "DSGDCluster", dependencies: ["DSGDCore", "ZeroMQ", "CSystemSupport"]),
        // The `dsgd` command line.
        .executableTarget(
            name: "dsgd",
            dependencies: [
                "DSGDCluster", "DSGDCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(name: "DSGDCoreTests", dependencies: ["DSGDCore"]),
        .testTarget(name: "DSGDClusterTests", dependencies: ["DSGDCluster", "DSGDCore", "ZeroMQ"]),
        .testTarget(name: "IntegrationTests", dependencies: ["DSGDCluster", "DSGDCore", "ZeroMQ"]),
    ]
)
