// swift-tools-version:6.0
// libFuzzer targets for Buildcat's readers of untrusted files. Built and run by tools/fuzz/run,
// which adds -sanitize=fuzzer,address; not part of the main package's build.
import PackageDescription

let package = Package(
    name: "BuildcatFuzz",
    dependencies: [.package(name: "Buildcat", path: "../..")],
    targets: [
        // Writing an input to a file, and handing control to libFuzzer: what every target does.
        .target(name: "FuzzSupport", path: "support"),
        // Feeds arbitrary bytes to the .blend reader and the scanner.
        .executableTarget(
            name: "fuzz-blend",
            dependencies: ["FuzzSupport", .product(name: "BuildcatScenes", package: "Buildcat")],
            path: "blend",
            swiftSettings: [.unsafeFlags(["-parse-as-library"])]
        ),
        // Feeds arbitrary bytes, as each of the other scene formats, to the scanner.
        .executableTarget(
            name: "fuzz-scenes",
            dependencies: ["FuzzSupport", .product(name: "BuildcatScenes", package: "Buildcat")],
            path: "scenes",
            swiftSettings: [.unsafeFlags(["-parse-as-library"])]
        ),
    ],
    swiftLanguageModes: [.v6]
)
