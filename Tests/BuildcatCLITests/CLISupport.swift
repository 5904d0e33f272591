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

/// Runs a shell script with the given variables, for tests that need names that are not
/// UTF-8 on a command line, or (with `namespace`) mounts of their own: the script then runs as
/// root in a private user and mount namespace, whose mounts vanish with it.
@discardableResult
func shell(_ script: String, _ variables: [String: String] = [:], namespace: Bool = false) throws -> ProcessOutput {
    let command = namespace ? ["unshare", "--user", "--map-root-user", "--mount", "/bin/bash", "-c", script] : ["/bin/bash", "-c", script]
    return try run("/usr/bin/env", command, environment: TestEnvironment.environment(variables))
}
