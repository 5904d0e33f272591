import BuildcatScenes
import FuzzSupport
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
    guard writeFuzzInput(data, size, from: 1, to: path) else { return 0 }
    // Errors are the expected outcome for most inputs; a crash, a leak or a hang is a bug.
    if let result = try? SceneScanner().scan([FilePath(path)], formats: [USDFormat(environment: [:]), HoudiniFormat(environment: [:]),
                                                                      IFDFormat(environment: [:]), MayaAsciiFormat(environment: [:]),
                                                                      NukeFormat(), OBJFormat(), GLTFFormat()]) {
        _ = result.references.count
    }
    unlink(path)
    return 0
}

/// SwiftPM makes an executable's `main` this module's own; hand control to libFuzzer from it.
@_cdecl("fuzz_scenes_main")
public func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    runFuzzer(argc, argv) { fuzzScenes($0, $1) }
}
