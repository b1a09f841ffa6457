import PackagePlugin

/// Runs the kernel generator at build time: the LossDSL kernels become C in the plugin's output
/// folder (the two sources there, the header and module map in `include/`), compiled into the target.
@main
struct GenerateKernels: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let output = context.pluginWorkDirectoryURL
        let generator = try context.tool(named: "KernelGenerator")
        return [
            .buildCommand(
                displayName: "Generating the DINO kernels' C from the LossDSL",
                executable: generator.url,
                arguments: [output.path],
                inputFiles: [generator.url],
                outputFiles: [
                    output.appending(path: "dino_kernels.c"),
                    output.appending(path: "dino_kernels_avx512.c"),
                    output.appending(path: "include/dino_kernels.h"),
                    output.appending(path: "include/module.modulemap"),
                ]
            )
        ]
    }
}
