// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "bcli",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "bcli", targets: ["bcli"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.25.0"),
    ],
    targets: [
        // OpenSSL's libcrypto (EVP digests), linked from the system (libssl-dev).
        .systemLibrary(
            name: "COpenSSL",
            pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"])]
        ),
        .target(
            name: "Hashing",
            dependencies: ["COpenSSL"]
        ),
        // Small helpers several modules need and none owns: "did you mean" suggestions, the
        // atomic file write, the seeded generator. Depends on nothing.
        .target(name: "Support"),
        .target(
            name: "Store",
            dependencies: [
                "Hashing",
                "Support",
                .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
        .target(
            name: "Sandbox",
            dependencies: [
                "Hashing",
                "Support",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "BusinessCentral",
            dependencies: [
                "Hashing",
                "Support",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .target(
            name: "Batch",
            dependencies: [
                "Hashing",
                "Support",
                "Store",
                "BusinessCentral",
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        // The shared hub on PostgreSQL: remotes, push, pull, the hub's schema and chain (docs/hub.md).
        .target(
            name: "Hub",
            dependencies: [
                "Hashing",
                "Support",
                "Store",
                "BusinessCentral",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "bcli",
            dependencies: [
                "Hub",
                "Hashing",
                "Support",
                "Store",
                "Sandbox",
                "BusinessCentral",
                "Batch",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // Test-only helper: writes blobs and ledger rows in a loop so tests can SIGKILL it.
        .executableTarget(
            name: "crash-writer",
            dependencies: ["Hashing", "Store", "Support"],
            path: "Tests/Helpers/crash-writer"
        ),
        // Store micro-benchmarks driven by scripts/bench (release build only).
        .executableTarget(
            name: "bcli-bench",
            dependencies: ["Hashing", "Store", "BusinessCentral"],
            path: "Benchmarks/bcli-bench"
        ),
        // Test-only helpers shared by every test target: TempDir, the process launcher, withSandbox.
        .target(
            name: "TestSupport",
            dependencies: [
                "Sandbox", "Hashing", "Store",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            path: "Tests/TestSupport"
        ),
        .testTarget(name: "HashingTests", dependencies: ["Hashing", "TestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "SupportTests", dependencies: ["Support", "TestSupport"]),
        .testTarget(name: "StoreTests", dependencies: ["Store", "Hashing", "TestSupport"]),
        .testTarget(name: "SandboxTests", dependencies: [
            "Sandbox", "Hashing", "TestSupport",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
        ]),
        .testTarget(name: "BusinessCentralTests", dependencies: ["BusinessCentral", "Sandbox", "Hashing", "Support", "TestSupport"],
                    exclude: ["Fixtures"]),
        .testTarget(name: "BatchTests", dependencies: ["Batch", "Store", "Hashing", "BusinessCentral", "Support", "TestSupport"]),
        .testTarget(name: "EndToEndTests", dependencies: [
            "Hashing", "Store", "Sandbox", "TestSupport",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
        ]),
        // The hub against a real PostgreSQL (BCLI_TEST_PG_URL; `.ci/run` starts a throwaway cluster).
        .testTarget(name: "HubTests", dependencies: [
            "Hub", "Store", "Hashing", "BusinessCentral", "Support", "TestSupport",
            .product(name: "PostgresNIO", package: "postgres-nio"),
        ]),
        // The exit table of the `bcli` executable (tested through `@testable import bcli`).
        .testTarget(name: "bcliTests", dependencies: [
            "bcli", "Batch", "BusinessCentral", "Hashing", "Store",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
    ],
    swiftLanguageModes: [.v6]
)
