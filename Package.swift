// swift-tools-version: 6.0
import PackageDescription

// The kernels (GEMM, fused affine loss and gradient) are compiled for Haswell-class x86-64 (AVX2 + FMA) when the manifest is evaluated
// on an x86-64 host: SIMD8<Float> becomes one AVX register and addingProduct one FMA (55-80 GFLOP/s
// at 64-256 x 784 x 256, against 0.4-0.6 for a baseline x86-64 build, measured). Only DSGDKernels
// gets the flag; the release binary then needs an AVX2+FMA CPU (Intel Haswell 2013+, AMD Zen).
#if arch(x86_64)
let kernelSettings: [SwiftSetting] = [.unsafeFlags(["-target-cpu", "haswell"])]
#else
let kernelSettings: [SwiftSetting] = []
#endif

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
        // Single-precision GEMM microkernels (no dependencies; compiled for a target CPU, see above).
        .target(name: "DSGDKernels", swiftSettings: kernelSettings),
        // The compute core: data sets, models (forward and backward), optimizers. No networking.
        .target(name: "DSGDCore", dependencies: ["DSGDKernels"]),
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
        .testTarget(name: "DSGDCoreTests", dependencies: ["DSGDCore", "DSGDKernels"], exclude: ["Fixtures"]),
        .testTarget(name: "DSGDClusterTests", dependencies: ["DSGDCluster", "DSGDCore", "ZeroMQ"]),
        .testTarget(name: "IntegrationTests", dependencies: ["DSGDCluster", "DSGDCore", "ZeroMQ"]),
    ]
)
