import BuildcatScenes
import Glibc
import SystemPackage

/// The readers of the other scene formats. An input's first byte picks the file name's
/// extension (and with it the format that reads it); the rest is the file.
private let extensions = ["usda", "usdc", "hip", "hipnc", "ifd", "ma", "nk", "obj", "mtl", "gltf", "glb"]

/// Where each input is written: in /dev/shm (memory), one folder per fuzzing process.
private let folder = "/dev/shm/buildcat-fuzz-scenes-\(getpid())"

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzScenes(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size > 0 else { return 0 }
    mkdir(folder, 0o700)
    let path = "\(folder)/input.\(extensions[Int(data[0]) % extensions.count])"
    let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
    guard descriptor >= 0 else { return 0 }
    var written = 1
    while written < size {
        let result = write(descriptor, data + written, size - written)
        if result <= 0 { break }
        written += result
    }
    close(descriptor)
    // Errors are the expected outcome for most inputs; a crash, a leak or a hang is a bug.
    if let result = try? SceneScanner().scan([FilePath(path)], formats: [USDFormat(environment: [:]), HoudiniFormat(environment: [:]),
                                                                      IFDFormat(environment: [:]), MayaAsciiFormat(environment: [:]),
                                                                      NukeFormat(), OBJFormat(), GLTFFormat()]) {
        _ = result.references.count
    }
    unlink(path)
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
@_cdecl("fuzz_scenes_main")
public func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    var count = argc
    var arguments = argv
    return runFuzzerDriver(&count, &arguments, { fuzzScenes($0, $1) })
}
