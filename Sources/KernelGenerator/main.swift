import CodegenC
import DINOKernels
import Foundation

// Writes the generated kernels into a folder: the C source there, the header and module map in include/.
// Used by the GenerateKernels build plugin; `dino-gen emit` writes the same bytes.
let arguments = CommandLine.arguments
guard arguments.count == 2 else {
    FileHandle.standardError.write(Data("usage: KernelGenerator OUTPUT_DIR\n".utf8))
    exit(2)
}
do {
    try GeneratedSources(kernels: DINOKernels.all).write(to: URL(fileURLWithPath: arguments[1]))
} catch {
    FileHandle.standardError.write(Data("KernelGenerator: \(error)\n".utf8))
    exit(1)
}
