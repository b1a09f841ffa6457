// swift-tools-version: 6.3;(experimentalCGen)
import PackageDescription

// The stages, one module each:
//   LossDSL (math) → CodegenC (lowering to C) → DINOKernels (DINO's costs and losses in the DSL)
//   → KernelGenerator + GenerateKernels plugin → GeneratedKernels (the C, built by clang with OpenMP)
//   → TensorIO, Assignment, Criterion (the Swift runtime) → dino-gen (the CLI).

/// Flags for the generated C: vectorized libm (libmvec) and AVX2/FMA, OpenMP. Memory-access
/// versioning is off: it would guard each vectorized gather (a logit per query, stride C) with a
/// "stride == 1" test that never holds, and run the scalar loop instead.
let kernelCFlags: [String] = [
    "-O3", "-fopenmp", "-fno-math-errno", "-fveclib=libmvec", "-mavx2", "-mfma", "-Wall", "-Wextra",
    "-mllvm", "-enable-mem-access-versioning=false",
]

let package = Package(
    name: "dino-gen",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "dino-gen", targets: ["dino-gen"]),
        .library(name: "Criterion", targets: ["Criterion"]),
        .library(name: "LossDSL", targets: ["LossDSL"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/weichsel/ZIPFoundation", from: "0.9.19"),
    ],
    targets: [
        // DSL → lowering → kernels
        .target(name: "LossDSL"),
        .target(name: "CodegenC", dependencies: ["LossDSL"]),
        .target(name: "DINOKernels", dependencies: ["LossDSL", "CodegenC"]),
        .executableTarget(name: "KernelGenerator", dependencies: ["DINOKernels", "CodegenC"]),
        .plugin(name: "GenerateKernels", capability: .buildTool(), dependencies: ["KernelGenerator"]),
        .target(
            name: "GeneratedKernels",
            cSettings: [.unsafeFlags(kernelCFlags)],
            linkerSettings: [.linkedLibrary("iomp5"), .linkedLibrary("mvec"), .linkedLibrary("m")],
            plugins: ["GenerateKernels"]
        ),
        // runtime
        .target(name: "TensorIO", dependencies: [.product(name: "ZIPFoundation", package: "ZIPFoundation")]),
        .target(name: "Assignment"),
        .target(name: "Criterion", dependencies: ["TensorIO", "Assignment", "GeneratedKernels", "DINOKernels"]),
        // CLI
        .executableTarget(
            name: "dino-gen",
            dependencies: [
                "Criterion", "CodegenC", "DINOKernels", "Assignment", "TensorIO",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // tests
        .testTarget(name: "LossDSLTests", dependencies: ["LossDSL", "CodegenC", "DINOKernels"]),
        .testTarget(name: "KernelTests", dependencies: ["GeneratedKernels", "DINOKernels", "CodegenC"]),
        .testTarget(name: "AssignmentTests", dependencies: ["Assignment", "Criterion"]),
        .testTarget(name: "TensorIOTests", dependencies: ["TensorIO"], resources: [.copy("Fixtures")]),
        .testTarget(name: "CriterionTests", dependencies: ["Criterion", "TensorIO", "Assignment"], resources: [.copy("Fixtures")]),
        // Runs the built dino-gen executable (the dependency makes SwiftPM build it first, with the same sanitizers).
        .testTarget(name: "CLITests", dependencies: ["dino-gen"], resources: [.copy("Fixtures")]),
    ],
    swiftLanguageModes: [.v5]
)
