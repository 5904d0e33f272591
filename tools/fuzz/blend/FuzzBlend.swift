import BuildcatScenes
import Glibc
import SystemPackage

/// The file each input is written to: in /dev/shm (memory), one per fuzzing process.
private let inputPath = "/dev/shm/buildcat-fuzz-\(getpid()).blend"

/// One input: the bytes become a file, which the scanner reads as a .blend. Errors are the
/// expected outcome for most inputs; a crash, a leak or an over-long run is a bug.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzBlend(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let descriptor = open(inputPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
    guard descriptor >= 0 else { return 0 }
    var written = 0
    while written < size {
        let result = write(descriptor, data + written, size - written)
        if result <= 0 { break }
        written += result
    }
    close(descriptor)
    if let result = try? SceneScanner().scan([FilePath(inputPath)]) {
        _ = result.references.count
    }
    return 0
}

/// libFuzzer's entry point for programs that have their own `main`.
@_silgen_name("LLVMFuzzerRunDriver")
private func runFuzzerDriver(
    _ argc: UnsafeMutablePointer<Int32>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> Int32
) -> Int32

/// SwiftPM makes an executable's `main` this module's own; hand control to libFuzzer from it.
@_cdecl("fuzz_blend_main")
public func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    var count = argc
    var arguments = argv
    return runFuzzerDriver(&count, &arguments, { fuzzBlend($0, $1) })
}
