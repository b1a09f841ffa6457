import ArgumentParser
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The `dino-gen` command: DINO's training criterion on the CPU.
///
/// ```
/// dino-gen eval batch.safetensors          # the loss dict of one training step
/// dino-gen emit --output kernels/          # the generated C and its header
/// dino-gen bench                           # stage timings on the built-in W0 batch
/// dino-gen assign cost.npy                 # solve one assignment problem
/// dino-gen bench-assign                    # the solver against scipy on the same matrices
/// ```
@main
struct DinoGen: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dino-gen",
        abstract: "DINO's training criterion (matching, focal, box, denoising, auxiliary and mask losses) on the CPU.",
        subcommands: [Eval.self, Emit.self, Bench.self, Assign.self, BenchAssign.self],
        defaultSubcommand: Eval.self
    )

    /// Runs the command; usage errors exit with status 2, bad input with 1.
    static func main() {
        #if canImport(Glibc)
        // Keep freed memory for reuse instead of returning it to the system: the criterion's cost matrices
        // (megabytes per head) would otherwise come back as fresh pages on every evaluation, each one
        // faulted in again. The peak stays what one evaluation needs. (glibc's M_TRIM_THRESHOLD and
        // M_MMAP_THRESHOLD; <malloc.h> is not part of the Glibc module.)
        _ = glibcMallopt(-1, 64 << 20)
        _ = glibcMallopt(-3, 16 << 20)
        #endif
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                // --help, --version
                print(fullMessage(for: error))
                Glibc.exit(0)
            }
            let message = fullMessage(for: error)
            if !message.isEmpty { FileHandle.standardError.write(message + "\n") }
            if code == .validationFailure { Glibc.exit(2) }
            Glibc.exit(code.rawValue == 0 ? 0 : 1)
        }
    }
}

#if canImport(Glibc)
/// glibc's `mallopt(3)`.
@_silgen_name("mallopt")
private func glibcMallopt(_ parameter: Int32, _ value: Int32) -> Int32
#endif
