import Foundation
import XCTest
@testable import TensorIO

/// The writers, checked by reading their output back and against files NumPy wrote.
final class WriterTests: XCTestCase {

    func testSafetensorsRoundTripEveryDtype() throws {
        let folder = try temporaryFolder(self)
        let path = folder.appendingPathComponent("all.safetensors").path
        let tensors: [(name: String, dtype: DType, shape: [Int], bytes: [UInt8])] = [
            ("f64", .f64, [2], LittleEndianBytes.of([Double.pi, -0.0])),
            ("f32", .f32, [3, 1], LittleEndianBytes.of([Float(1), 2, -3])),
            ("f16", .f16, [2], LittleEndianBytes.of([UInt16(0x3C00), 0xC000])),
            ("bf16", .bf16, [2], LittleEndianBytes.of([UInt16(0x3F80), 0x4049])),
            ("i64", .i64, [], LittleEndianBytes.of([Int64.min])),
            ("i32", .i32, [2], LittleEndianBytes.of([Int32(-5), 6])),
            ("i16", .i16, [1], LittleEndianBytes.of([UInt16(bitPattern: -300)])),
            ("i8", .i8, [2], [0x80, 0x7F]),
            ("u8", .u8, [0], []),
            ("bool", .bool, [2], [1, 0]),
            ("name with \"quotes\", \\ and\nnewline, ünïcødé ✓", .u8, [1], [9]),
        ]
        try SafetensorsWriter.write(tensors, metadata: ["format": "pt", "q\"": "v\\"], to: path)
        let file = try TensorFile.open(path: path)
        XCTAssertEqual(file.names, tensors.map(\.name).sorted())
        XCTAssertEqual(file.metadata, ["format": "pt", "q\"": "v\\"])
        for t in tensors {
            let view = try XCTUnwrap(file[t.name])
            XCTAssertEqual(view.dtype, t.dtype)
            XCTAssertEqual(view.shape, t.shape)
            XCTAssertEqual(Array(view.bytes), t.bytes, t.name)
            XCTAssertTrue(view.isAligned, "the writer pads the header to 8 bytes and F64 comes first")
        }
        XCTAssertEqual(try XCTUnwrap(file["f16"]).float32().toArray(), [1, -2])
        XCTAssertEqual(try XCTUnwrap(file["bf16"]).float32().toArray(), [1, 3.140625])
        XCTAssertEqual(try XCTUnwrap(file["i16"]).int64Array(), [-300])
        XCTAssertEqual(try XCTUnwrap(file["i8"]).int64Array(), [-128, 127])
        // The header is padded with spaces to a multiple of 8 bytes.
        let raw = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let headerLength = raw[0..<8].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        XCTAssertEqual(headerLength % 8, 0)
        XCTAssertEqual(raw[8], UInt8(ascii: "{"))
    }

    func testEntryHelpersAndEncodeMatchWrite() throws {
        let folder = try temporaryFolder(self)
        let path = folder.appendingPathComponent("entries.safetensors").path
        let entries: [SafetensorsWriter.Entry] = [
            .float32("boxes", [1, 4], [0.5, 0.5, 0.25, 0.125]),
            .float64("d", [1], [1e-300]),
            .int64("labels", [1], [90]),
            .int32("count", [], [3]),
        ]
        try SafetensorsWriter.write(entries, to: path)
        XCTAssertEqual([UInt8](try Data(contentsOf: URL(fileURLWithPath: path))), SafetensorsWriter.encode(entries))
        let file = try TensorFile.safetensors(bytes: SafetensorsWriter.encode(entries), name: "mem")
        XCTAssertEqual(try XCTUnwrap(file["boxes"]).float32().toArray(), [0.5, 0.5, 0.25, 0.125])
        XCTAssertEqual(try XCTUnwrap(file["d"]).float64Array(), [1e-300])
        XCTAssertEqual(try XCTUnwrap(file["labels"]).int64Array(), [90])
        XCTAssertEqual(try XCTUnwrap(file["count"]).int64Scalar(), 3)
    }

    func testWriterRejectsInconsistentTensors() throws {
        let path = try temporaryFolder(self).appendingPathComponent("bad.safetensors").path
        assertThrows(try SafetensorsWriter.write([("a", .f32, [2], [0, 0, 0])], to: path), path: path,
                     reason: "shape [2] of F32 needs 8 bytes, 3 given", tensor: "a")
        assertThrows(try SafetensorsWriter.write([("a", .u8, [1], [0]), ("a", .u8, [1], [0])], to: path), path: path,
                     reason: "is given twice", tensor: "a")
        assertThrows(try SafetensorsWriter.write([("__metadata__", .u8, [1], [0])], to: path), path: path,
                     reason: "cannot be a tensor name", tensor: "__metadata__")
        assertThrows(try SafetensorsWriter.write([("n", .u8, [-1], [])], to: path), path: path,
                     reason: "negative dimension -1", tensor: "n")
        XCTAssertFalse(FileManager.default.fileExists(atPath: path), "nothing is written when a check fails")
        // encode does not check, but what it produces is rejected with the tensor's name when read.
        let bytes = SafetensorsWriter.encode([.init(name: "w", dtype: .f32, shape: [2], bytes: [1, 2, 3])])
        assertThrows(try TensorFile.safetensors(bytes: bytes, name: "mem"), path: "mem", reason: "needs 8 bytes", tensor: "w")
        let unwritable = "/proc/tensorio-cannot-write-here.safetensors"
        assertThrows(try SafetensorsWriter.write([("a", .u8, [1], [0])], to: unwritable), path: unwritable,
                     reason: "cannot create the file", tensor: nil)
    }

    /// A write that fails part-way (here: the file size limit, as a full disk would) leaves no
    /// half-written file: an existing file keeps its bytes, and no temporary file stays behind.
    func testFailedWriteLeavesNothingHalfWritten() throws {
        let folder = try temporaryFolder(self)
        let path = folder.appendingPathComponent("step.safetensors").path
        try SafetensorsWriter.write([("small", .u8, [4], [1, 2, 3, 4])], to: path)
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        var old = rlimit()
        XCTAssertEqual(getrlimit(Int32(RLIMIT_FSIZE.rawValue), &old), 0)
        let oldSignal = signal(SIGXFSZ, SIG_IGN)  // past the limit, write() fails with EFBIG instead of a signal
        var limit = old
        limit.rlim_cur = 100_000
        XCTAssertEqual(setrlimit(Int32(RLIMIT_FSIZE.rawValue), &limit), 0)
        let big = [UInt8](repeating: 7, count: 1_000_000)
        assertThrows(try SafetensorsWriter.write([("big", .u8, [big.count], big)], to: path), path: path,
                     reason: "cannot write the file: File too large", tensor: nil)
        XCTAssertEqual(setrlimit(Int32(RLIMIT_FSIZE.rawValue), &old), 0)
        signal(SIGXFSZ, oldSignal)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), before, "the existing file was changed")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder.path), ["step.safetensors"])
        // A symbolic link is written through, not replaced.
        let link = folder.appendingPathComponent("link.safetensors").path
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: "step.safetensors")
        try SafetensorsWriter.write([("b", .u8, [2], [5, 6])], to: link)
        XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: link), "step.safetensors")
        XCTAssertEqual(try TensorFile.open(path: path).names, ["b"])
        // Devices and FIFOs are written in place: /dev/full reports a full disk.
        assertThrows(try SafetensorsWriter.write([("a", .u8, [1], [0])], to: "/dev/full"), path: "/dev/full",
                     reason: "cannot write the file: No space left on device", tensor: nil)
    }

    func testNpyWriterMatchesNumpyByteForByte() throws {
        // matrix.npy is np.save((arange(12).reshape(3, 4) - 5.5) / 3); scalar.npy is np.save(np.int64(42)).
        let matrix = (0..<12).map { (Double($0) - 5.5) / 3.0 }
        let numpyMatrix = [UInt8](try Data(contentsOf: URL(fileURLWithPath: try fixture("matrix.npy"))))
        XCTAssertEqual(try NpyWriter.encode(bytes: LittleEndianBytes.of(matrix), dtype: .f64, shape: [3, 4]), numpyMatrix)
        let numpyScalar = [UInt8](try Data(contentsOf: URL(fileURLWithPath: try fixture("scalar.npy"))))
        XCTAssertEqual(try NpyWriter.encode(bytes: LittleEndianBytes.of([Int64(42)]), dtype: .i64, shape: []), numpyScalar)
    }

    func testNpyWriterRoundTrip() throws {
        let folder = try temporaryFolder(self)
        let path = folder.appendingPathComponent("cost.npy").path
        let values = (0..<(5 * 7)).map { Double($0) * 0.1 - 1 }
        try NpyWriter.write(doubles: values, rows: 5, cols: 7, to: path)
        let file = try TensorFile.open(path: path)
        XCTAssertEqual(file.names, ["cost"])
        let view = try file.tensor("cost")
        XCTAssertEqual(view.shape, [5, 7])
        XCTAssertEqual(try view.float64Array(), values)
        for dtype in DType.allCases where dtype != .bf16 {
            let p = folder.appendingPathComponent("t_\(dtype.rawValue).npy").path
            let bytes = [UInt8](repeating: dtype == .bool ? 1 : 3, count: 6 * dtype.size)
            try NpyWriter.write(bytes: bytes, dtype: dtype, shape: [2, 3], to: p)
            let t = try TensorFile.open(path: p).tensor("t_\(dtype.rawValue)")
            XCTAssertEqual(t.dtype, dtype)
            XCTAssertEqual(Array(t.bytes), bytes)
        }
        assertThrows(try NpyWriter.write(bytes: [0, 0], dtype: .bf16, shape: [1], to: path), path: path,
                     reason: "BF16 cannot be stored in a .npy file", tensor: nil)
        assertThrows(try NpyWriter.write(doubles: [1, 2, 3], rows: 2, cols: 2, to: path), path: path,
                     reason: "needs 32 bytes, 24 given", tensor: nil)
    }
}
