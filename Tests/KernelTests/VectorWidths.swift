import DINOKernelsC

/// Runs `body` with the kernels' AVX-512 rows (where the CPU has them), then with their AVX2 rows, and
/// leaves the automatic choice in place after.
func withEachVectorWidth(_ body: () throws -> Void) rethrows {
    defer { dino_set_vector_bits(0) }
    for bits: Int32 in [512, 256] where dino_set_vector_bits(bits) == bits { try body() }
}
