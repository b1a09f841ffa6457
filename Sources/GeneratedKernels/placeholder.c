/* Placeholder: SwiftPM needs one source of the target's own; the kernels come from the GenerateKernels plugin. */
