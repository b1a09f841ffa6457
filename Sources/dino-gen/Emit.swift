import ArgumentParser
import CodegenC
import DINOKernels
import Foundation

/// `dino-gen emit`: writes the generated C, byte for byte what the build compiles.
struct Emit: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write the generated C kernels and their header to a folder.",
        discussion: """
            Writes dino_kernels.c and dino_kernels_avx512.c to OUTPUT and include/dino_kernels.h and
            include/module.modulemap below it: the same bytes the GenerateKernels build plugin hands to the
            compiler. dino_kernels.c holds each kernel's rows for AVX2 and the public functions, which run the
            AVX-512 rows of dino_kernels_avx512.c where the CPU has AVX-512. To build them on their own:
              clang -O3 -fopenmp -fno-math-errno -mavx2 -mfma -mllvm -enable-mem-access-versioning=false -fPIC -shared \\
                -I OUTPUT/include OUTPUT/dino_kernels.c OUTPUT/dino_kernels_avx512.c -o libdino_kernels.so -liomp5 -lm
            """)

    @Option(name: .shortAndLong, help: "The folder to write to (created if missing).")
    var output: String

    mutating func run() throws {
        let folder = URL(fileURLWithPath: output)
        do {
            try GeneratedSources(kernels: DINOKernels.all).write(to: folder)
        } catch {
            throw CommandFailure("cannot write the kernels to \(output): \(error.localizedDescription)")
        }
        print("wrote \(output)/\(GeneratedSources.sourceName), \(output)/\(GeneratedSources.wideSourceName), "
              + "\(output)/include/\(GeneratedSources.headerName), \(output)/include/\(GeneratedSources.moduleMapName)")
    }
}

/// A failure to report on standard error with exit status 1.
struct CommandFailure: Error, CustomStringConvertible {
    /// What went wrong.
    let description: String
    init(_ description: String) { self.description = description }
}
