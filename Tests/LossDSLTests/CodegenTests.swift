import CodegenC
import DINOKernels
import Foundation
import LossDSL
import XCTest

/// Checks of the generator itself: what the lowering does to expressions, and that the C is
/// stable, warning-free and what the build compiles.
final class CodegenTests: XCTestCase {
    let row = Axis("i", .size("N"))
    var input: Tensor { Tensor("x", .float32, [.size("N")]) }

    /// The C of one kernel with a single per-row output `out = value`.
    func generate(_ value: (Expr) -> Expr) -> String {
        let kernel = Kernel(name: "probe", doc: "probe", rows: [row], inputs: [input],
                            outputs: [.perRow(name: "out", .float32, value(input[row.i]), doc: "")])
        return GeneratedSources(kernels: [kernel]).source
    }

    /// The rows function of the probe kernel (where its math is), up to the drivers.
    func body(_ source: String) -> String {
        let start = source.range(of: "DG_VARIANT(dino_probe_rows)")!.lowerBound
        let end = source.range(of: "#ifndef DG_AVX512_VARIANT", range: start..<source.endIndex)!.lowerBound
        return String(source[start..<end])
    }

    func count(_ needle: String, in text: String) -> Int { text.components(separatedBy: needle).count - 1 }

    func testCommonSubexpressionsAreComputedOnce() {
        let c = body(generate { x in exp(x * 3) + exp(x * 3) * 2 })
        XCTAssertEqual(count("expf(", in: c), 1, c)
        XCTAssertEqual(count("* 3.0f", in: c), 1, c)
    }

    func testIntegerPowersBecomeProducts() {
        let c = body(generate { x in (x + 1).pow(2) + (x - 1).pow(5) })
        XCTAssertEqual(count("pow", in: c), 0, c)
        // (x + 1)² is one product of a named value with itself
        XCTAssertTrue(c.range(of: #"(v\d+) \* \1"#, options: .regularExpression) != nil, c)
    }

    func testConstantExpressionsFold() {
        let c = body(generate { x in x * ((Expr(2) + 3) * 4 - log(Expr(1))) + 0 })
        XCTAssertTrue(c.contains("20.0f"), c)
        XCTAssertFalse(c.contains("logf"), c)
        XCTAssertFalse(c.contains("+ 0.0f"), c)
        let identity = body(generate { x in x * 1 + 0 })
        XCTAssertTrue(identity.contains("out[row] = (float)x[i];") || identity.contains("out[row] = (float)x[row];"), identity)
    }

    func testLoopInvariantsAreHoisted() {
        let c = Axis("c", .size("C"))
        let table = Tensor("t", .float32, [.size("N"), .size("C")])
        let kernel = Kernel(name: "probe", doc: "probe", rows: [row], inputs: [table], parameters: ["a"],
                            outputs: [.total(name: "s", sum(over: c, of: table[row.i, c.i] * exp(parameter("a") * 2)), doc: "")])
        let function = body(GeneratedSources(kernels: [kernel]).source)
        // exp(a·2) depends on no loop: computed once per block, before the loop over the block's rows
        let expLine = function.range(of: "expf(")!.lowerBound
        let loopLine = function.range(of: "for (int64_t row = block")!.lowerBound
        XCTAssertLessThan(expLine, loopLine, function)
    }

    /// A gather output is one call of its helper per row, with the block, the columns and the output
    /// placed as its expressions say, and no loop of its own.
    func testGatherIsOneHelperCall() {
        let matrix = Tensor("m", .float32, [.size("N"), .size("C")])
        let columns = Tensor("cols", .int64, [.size("K")])
        let gather = ColumnGather(source: matrix, start: row.i * Extent.size("C").expr, rowLength: Extent.size("C").expr,
                                  rows: Expr.int(1), columns: columns, columnsStart: Expr.int(0), count: Extent.size("K").expr,
                                  at: row.i, stride: Extent.size("N").expr)
        let kernel = Kernel(name: "probe", doc: "probe", rows: [row], inputs: [matrix, columns],
                            outputs: [.gather(name: "out", gather, doc: "row i's listed columns")],
                            schedule: Schedule(blockRows: 1))
        let source = GeneratedSources(kernels: [kernel]).source
        let function = body(source)
        XCTAssertEqual(count("dg_gather_columns_f32(", in: function), 1, function)
        XCTAssertTrue(function.contains("dg_gather_columns_f32(m + (i * C), C, 1, cols + 0, K, out + i, N);"), function)
        XCTAssertFalse(function.contains("for ("), function)
        // the helper comes with the source, once
        XCTAssertEqual(count("static inline void dg_gather_columns_f32(", in: source), 1)
    }

    /// A scan for an element at least a row's value, over consecutive elements, is the prelude's
    /// `dg_any_at_least_f32`; any other condition keeps the generic block-by-block scan.
    func testContiguousScanIsOneHelperCall() {
        let c = Axis("c", .size("C"))
        let table = Tensor("t", .float32, [.size("N"), .size("C")])
        func scan(_ condition: (Expr, Expr) -> Expr) -> String {
            let kernel = Kernel(name: "probe", doc: "probe", rows: [row], inputs: [table, input],
                                outputs: [.perRow(name: "out", .float32, exists(over: c, condition(table[row.i, c.i], input[row.i])).real, doc: "")],
                                schedule: Schedule(blockRows: 1))
            return body(GeneratedSources(kernels: [kernel]).source)
        }
        let atLeast = scan { x, v in x >= v }
        XCTAssertTrue(atLeast.range(of: #"dg_any_at_least_f32\(t \+ \w+, C, \w+\);"#, options: .regularExpression) != nil, atLeast)
        XCTAssertFalse(atLeast.contains("c_block"), atLeast)
        let greater = scan { x, v in x > v }
        XCTAssertFalse(greater.contains("dg_any_at_least_f32"), greater)
        XCTAssertTrue(greater.contains("c_block"), greater)
    }

    /// Stores over the same axes are written in one loop, which loads what they share once; with
    /// `prefetch`, a scalar pass before it prefetches each item's first element of each list tensor.
    func testStoresShareOneLoopAndPrefetch() {
        let item = Axis("k", .size("K"))
        let rows = Tensor(list: .size("H"), "rows", .float32, [.size("M")], doc: "")
        let which = Tensor("which", .int64, [.size("K")])
        func kernel(prefetch: Bool) -> String {
            let x = rows[Expr.int(0), which[item.i]], y = rows[Expr.int(0), which[item.i] + 1]
            let k = Kernel(name: "probe", doc: "probe", rows: [row], inputs: [rows, which],
                           outputs: [.store(name: "a", .float32, over: [item], at: item.i, exp(x) + y, doc: ""),
                                     .store(name: "b", .float32, over: [item], at: item.i, exp(x) * y, doc: "")],
                           schedule: Schedule(blockRows: 1, prefetch: prefetch))
            return body(GeneratedSources(kernels: [k]).source)
        }
        let plain = kernel(prefetch: false)
        XCTAssertEqual(count("dg_expf(", in: plain), 3, plain)   // one loop (three copies: steps, whole vectors, last vector)
        XCTAssertEqual(count("__builtin_prefetch", in: plain), 0, plain)
        let prefetched = kernel(prefetch: true)
        XCTAssertEqual(count("__builtin_prefetch(&rows[0][", in: prefetched), 1, prefetched)
        XCTAssertTrue(prefetched.contains(", 0, 2);"), prefetched)
    }

    func testOutputIsDeterministic() {
        let first = GeneratedSources(kernels: DINOKernels.all)
        let second = GeneratedSources(kernels: DINOKernels.all)
        XCTAssertEqual(first, second)
        XCTAssertTrue(first.source.contains("#pragma omp simd simdlen(16) reduction(+:"))
        XCTAssertTrue(first.source.contains("#pragma omp parallel for"))
        // every kernel's rows exist in both variants, and the public function picks one
        XCTAssertTrue(first.source.contains("void DG_VARIANT(dino_label_loss_rows)("))
        XCTAssertTrue(first.source.contains("if (wide) dino_label_loss_rows_avx512("))
        XCTAssertTrue(first.wideSource.contains("#include \"\(GeneratedSources.sourceName)\""))
    }

    func testGeneratedCCompilesWithoutWarnings() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("dino-gen-cc-\(getpid())")
        defer { try? FileManager.default.removeItem(at: folder) }
        try GeneratedSources(kernels: DINOKernels.all).write(to: folder)
        for source in [GeneratedSources.sourceName, GeneratedSources.wideSourceName] {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            // the flags of the GeneratedKernels target (Package.swift), warnings as errors
            process.arguments = ["clang", "-std=c99", "-O3", "-fopenmp", "-fno-math-errno", "-fveclib=libmvec", "-mavx2", "-mfma",
                                 "-Wall", "-Wextra", "-Werror", "-c",
                                 "-I", folder.appendingPathComponent("include").path,
                                 folder.appendingPathComponent(source).path,
                                 "-o", folder.appendingPathComponent(source + ".o").path]
            let errors = Pipe()
            process.standardError = errors
            try process.run()
            process.waitUntilExit()
            let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            XCTAssertEqual(process.terminationStatus, 0, "\(source): \(text)")
        }
    }

    /// `dino-gen emit` writes byte for byte what the build plugin generated for this build.
    func testEmitEqualsThePluginOutput() throws {
        let products = Bundle.main.bundleURL   // …/<scratch>/<triple>/debug
        let scratch = products.deletingLastPathComponent().deletingLastPathComponent()
        let outputs = scratch.appendingPathComponent("plugins/outputs")
        let enumerator = FileManager.default.enumerator(at: outputs, includingPropertiesForKeys: nil)
        var pluginFolder: URL?
        while let url = enumerator?.nextObject() as? URL {
            if url.lastPathComponent == GeneratedSources.sourceName, url.path.contains("GeneratedKernels") {
                pluginFolder = url.deletingLastPathComponent()
            }
        }
        let plugin = try XCTUnwrap(pluginFolder, "no plugin output below \(outputs.path)")
        let emitted = FileManager.default.temporaryDirectory.appendingPathComponent("dino-gen-emit-\(getpid())")
        defer { try? FileManager.default.removeItem(at: emitted) }
        let process = Process()
        process.executableURL = products.appendingPathComponent("dino-gen")
        process.arguments = ["emit", "--output", emitted.path]
        process.standardOutput = Pipe()
        try process.run()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0)
        for file in [GeneratedSources.sourceName, GeneratedSources.wideSourceName,
                     "include/" + GeneratedSources.headerName, "include/" + GeneratedSources.moduleMapName] {
            let a = try Data(contentsOf: plugin.appendingPathComponent(file))
            let b = try Data(contentsOf: emitted.appendingPathComponent(file))
            XCTAssertEqual(a, b, "\(file) differs between the plugin and dino-gen emit")
        }
    }
}
