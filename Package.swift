// swift-tools-version:6.0
import PackageDescription

/// Release builds inline and specialize across the project's modules (a scan's loop calls
/// the scene, basics and JSON code of four modules, which otherwise see each other's generic
/// and accessor code only through calls).
let crossModule: [SwiftSetting] = [.unsafeFlags(["-cross-module-optimization"], .when(configuration: .release))]

let package = Package(
    name: "Buildcat",
    products: [
        .executable(name: "buildcat", targets: ["buildcat"]),
        // For tools/fuzz, whose package fuzzes the scene readers.
        .library(name: "BuildcatScenes", targets: ["BuildcatScenes"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
    ],
    targets: [
        // hiredis 0.14 from Debian's libhiredis-dev: the Redis wire protocol.
        .systemLibrary(name: "CHiredis", providers: [.apt(["libhiredis-dev"])]),
        // zstd from Debian's libzstd-dev: Blender ≥ 3.0 compresses .blend files with it.
        .systemLibrary(name: "CZstd", providers: [.apt(["libzstd-dev"])]),
        // zlib from Debian's zlib1g-dev: Blender < 3.0 compressed .blend files with gzip.
        .systemLibrary(name: "CZlib", providers: [.apt(["zlib1g-dev"])]),
        // Linux calls Swift cannot see without _GNU_SOURCE (copy_file_range, renameat2, FICLONE).
        .target(name: "CBuildcatLinux", dependencies: ["CBuildcatBytes"], cSettings: [.define("_GNU_SOURCE")]),
        // Byte scans vectorised in C (line feeds, JSON-plain strings, a USD text layer's asset
        // paths) and a prefetch hint.
        .target(name: "CBuildcatBytes"),
        // XXH3-64 and -128 compiled from Debian's xxhash.h (libxxhash-dev), the widest vector
        // code the processor runs picked at run time.
        .target(name: "CBuildcatXXH3"),

        // Foundation of the others: file-system calls that throw errors naming the path and
        // errno, byte-exact paths, directory walks, atomic creation of files.
        .target(
            name: "BuildcatBasics",
            dependencies: [
                "CBuildcatLinux",
                "CBuildcatBytes",
                "CBuildcatXXH3",
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            swiftSettings: crossModule
        ),
        // XXH3-128 of bytes and files, many files on all cores, and the persistent hash cache.
        .target(name: "BuildcatHash", dependencies: ["BuildcatBasics", "CBuildcatXXH3"], swiftSettings: crossModule),
        // The content-addressed store on the share, and Deadline-compatible manifests.
        .target(name: "BuildcatStore", dependencies: ["BuildcatBasics", "BuildcatHash"], swiftSettings: crossModule),
        // A Redis client over hiredis: URLs, log-in, pipelines, replies as Swift values.
        .target(name: "BuildcatRedis", dependencies: ["CHiredis"], swiftSettings: crossModule),
        // RQ's Redis layout (queues, job hashes, registries) spoken from Swift.
        .target(name: "BuildcatQueue", dependencies: ["BuildcatBasics", "BuildcatRedis", "CZlib"], swiftSettings: crossModule),
        // Scene files: one reader per format behind one protocol that lists and rewrites references.
        .target(name: "BuildcatScenes", dependencies: ["BuildcatBasics", "CBuildcatBytes", "CZstd", "CZlib"], swiftSettings: crossModule),
        // The farm: staging, submitting, the worker (later: audit and clean-up).
        .target(name: "BuildcatFarm", dependencies: ["BuildcatBasics", "BuildcatHash", "BuildcatStore", "BuildcatScenes", "BuildcatQueue", "BuildcatRedis", "CBuildcatLinux"], swiftSettings: crossModule),
        // The `buildcat` command: parsing and printing only; the work lives in the libraries.
        .executableTarget(
            name: "buildcat",
            dependencies: [
                "BuildcatBasics", "BuildcatHash", "BuildcatStore", "BuildcatScenes", "BuildcatRedis", "BuildcatQueue", "BuildcatFarm",
                "CBuildcatBytes",  // scan --json's entries, composed in C
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        .target(name: "BuildcatTestSupport", dependencies: ["BuildcatBasics"], path: "Tests/BuildcatTestSupport"),
        .testTarget(name: "BuildcatBasicsTests", dependencies: ["BuildcatBasics", "BuildcatTestSupport", "CBuildcatBytes", "CBuildcatLinux"]),
        .testTarget(name: "BuildcatHashTests", dependencies: ["BuildcatHash", "BuildcatTestSupport", "CBuildcatXXH3"]),
        .testTarget(name: "BuildcatStoreTests", dependencies: ["BuildcatStore", "BuildcatTestSupport"]),
        .testTarget(name: "BuildcatRedisTests", dependencies: ["BuildcatRedis", "BuildcatTestSupport"]),
        .testTarget(name: "BuildcatQueueTests", dependencies: ["BuildcatQueue", "BuildcatTestSupport"]),
        .testTarget(name: "BuildcatFarmTests", dependencies: ["BuildcatFarm", "BuildcatTestSupport"]),
        .testTarget(name: "BuildcatScenesTests", dependencies: ["BuildcatScenes", "BuildcatTestSupport", "CZstd"]),
        .testTarget(name: "BuildcatCLITests", dependencies: ["BuildcatTestSupport", "CHiredis"]),
    ],
    swiftLanguageModes: [.v6]
)
