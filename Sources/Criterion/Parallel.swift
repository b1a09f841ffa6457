import DINOKernelsC

/// Runs `body(index)` for every index in `0..<count` on the kernels' OpenMP threads (dynamic
/// schedule, one index at a time per thread), so that independent tasks share the cores with the
/// generated kernels instead of competing with them. `body` must be safe to run concurrently for
/// different indices; kernels it calls run single-threaded inside it.
func parallelFor(_ count: Int, _ body: (Int) -> Void) {
    guard count > 0 else { return }
    if count == 1 { return body(0) }
    withoutActuallyEscaping(body) { body in
        var task = body
        withUnsafeMutablePointer(to: &task) { pointer in
            dino_parallel_for(Int64(count), pointer) { context, index in
                context!.assumingMemoryBound(to: ((Int) -> Void).self).pointee(Int(index))
            }
        }
    }
}
