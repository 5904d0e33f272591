import BuildcatBasics
import BuildcatTestSupport
import Foundation
import SystemPackage

/// Runs the built `buildcat` with a private hash cache, so tests neither read nor fill ~/.cache.
@discardableResult
func buildcat(_ arguments: [String], cache: FilePath, environment: [String: String] = [:], currentDirectory: FilePath? = nil) throws -> ProcessOutput {
    var overrides = environment
    overrides["BUILDCAT_CACHE_DIR"] = cache.string
    return try run(TestEnvironment.buildcat, arguments, environment: TestEnvironment.environment(overrides), currentDirectory: currentDirectory)
}

/// Runs a shell script with the given variables, for tests that need `unshare`, `mount` or
/// names that are not UTF-8 on a command line.
@discardableResult
func shell(_ script: String, _ variables: [String: String] = [:]) throws -> ProcessOutput {
    try run("/bin/bash", ["-c", script], environment: TestEnvironment.environment(variables))
}
