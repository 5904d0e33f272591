import BuildcatScenes
import FuzzSupport
import Glibc
import SystemPackage

/// The file each input is written to: in /dev/shm (memory), one per fuzzing process.
private let inputPath = "/dev/shm/buildcat-fuzz-\(getpid()).blend"

/// One input: the bytes become a file, which the scanner reads as a .blend. Errors are the
/// expected outcome for most inputs; a crash, a leak or an over-long run is a bug.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzBlend(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard writeFuzzInput(data, size, to: inputPath) else { return 0 }
    if let result = try? SceneScanner().scan([FilePath(inputPath)]) {
        _ = result.references.count
    }
    return 0
}

/// SwiftPM makes an executable's `main` this module's own; hand control to libFuzzer from it.
@_cdecl("fuzz_blend_main")
public func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    runFuzzer(argc, argv) { fuzzBlend($0, $1) }
}
