import Foundation
import XCTest
@testable import TensorIO

/// Good files written by Python (make_fixtures.py), checked against the values Python recorded.
final class ReaderTests: XCTestCase {

    /// Checks every tensor listed in `table` (name → dtype, shape, values) against `file`.
    private func checkTensors(_ file: TensorFile, _ table: [String: Any], line: UInt = #line) throws {
        for (name, item) in table {
            guard let spec = item as? [String: Any], let dtypeName = spec["dtype"] as? String,
                  let shape = spec["shape"] as? [Int], let values = spec["values"] as? [String] else {
                XCTFail("bad expected.json entry \(name)", line: line)
                continue
            }
            guard let view = file[name] else {
                XCTFail("tensor \(name) missing from \(file.path)", line: line)
                continue
            }
            XCTAssertEqual(view.dtype.rawValue, dtypeName, name, line: line)
            XCTAssertEqual(view.shape, shape, name, line: line)
            XCTAssertEqual(view.count, values.count, name, line: line)
            XCTAssertEqual(view.bytes.count, values.count * view.dtype.size, name, line: line)
            if view.dtype.isFloat {
                let expected = values.compactMap(double(fromHex:))
                XCTAssertEqual(expected.count, values.count, line: line)
                let got = try view.float64Array()
                for (i, (g, e)) in zip(got, expected).enumerated() {
                    XCTAssertTrue(sameDouble(g, e), "\(name)[\(i)]: \(g) != \(e)", line: line)
                }
                XCTAssertThrowsError(try view.int64Array(), line: line)
                if view.dtype != .f64 {
                    // Narrower floats convert to float32 exactly.
                    let f = try view.float32()
                    XCTAssertEqual(f.count, values.count, line: line)
                    for i in 0..<f.count {
                        XCTAssertTrue(sameDouble(Double(f[i]), expected[i]), "\(name)[\(i)] as float32", line: line)
                    }
                }
            } else {
                let expected = values.compactMap { Int64($0) }
                XCTAssertEqual(expected.count, values.count, line: line)
                XCTAssertEqual(try view.int64Array(), expected, name, line: line)
                XCTAssertEqual(try view.float64Array(), expected.map(Double.init), name, line: line)
                XCTAssertEqual(try view.float32().toArray(), expected.map(Float.init), name, line: line)
            }
        }
    }

    func testSafetensorsAllDtypesMatchPython() throws {
        let expected = try expectedValues()
        let file = try TensorFile.open(path: try fixture("dtypes.safetensors"))
        XCTAssertEqual(file.format, .safetensors)
        let table = try XCTUnwrap(expected["dtypes.safetensors"] as? [String: Any])
        try checkTensors(file, table)
        XCTAssertEqual(file.names, (Array(table.keys) + ["f16_all"]).sorted())
        XCTAssertEqual(file.metadata, try XCTUnwrap(expected["metadata"] as? [String: String]))
        // Every dtype is covered.
        XCTAssertEqual(Set(file.names.compactMap { file[$0]?.dtype }), Set(DType.allCases).subtracting([.bf16]))
    }

    func testScalarsAndEmptyTensors() throws {
        let file = try TensorFile.open(path: try fixture("dtypes.safetensors"))
        let scalar = try XCTUnwrap(file["scalar_i64"])
        XCTAssertEqual(scalar.shape, [])
        XCTAssertEqual(scalar.count, 1)
        XCTAssertEqual(try scalar.int64Scalar(), 7)
        XCTAssertEqual(try XCTUnwrap(file["scalar_i32"]).int64Scalar(), -3)
        XCTAssertEqual(try XCTUnwrap(file["scalar_f64"]).float64Array(), [2.5])
        let empty = try XCTUnwrap(file["empty_f32"])
        XCTAssertEqual(empty.shape, [0, 4])
        XCTAssertEqual(empty.count, 0)
        let buffer = try empty.float32()
        XCTAssertEqual(buffer.count, 0)
        XCTAssertEqual(try XCTUnwrap(file["empty_i64"]).int64Array(), [])
        assertThrows(try XCTUnwrap(file["i64"]).int64Scalar(), path: file.path, reason: "exactly one value", tensor: "i64")
    }

    func testFloat64ToFloat32RoundsLikeNumpy() throws {
        let expected = try expectedValues()
        let rounded = try XCTUnwrap(expected["f64_round_as_f32"] as? [String]).compactMap(double(fromHex:))
        let file = try TensorFile.open(path: try fixture("dtypes.safetensors"))
        let buffer = try XCTUnwrap(file["f64_round"]).float32()
        XCTAssertFalse(buffer.isView)
        XCTAssertEqual(buffer.count, rounded.count)
        for i in 0..<buffer.count {
            XCTAssertEqual(Double(buffer[i]).bitPattern, rounded[i].bitPattern, "f64_round[\(i)]")
        }
        // 1.797e308 does not fit in float32: an error naming the tensor and the index, not an infinity.
        assertThrows(try XCTUnwrap(file["f64_special"]).float32(), path: file.path,
                     reason: "at flat index 4 is outside the float32 range", tensor: "f64_special")
    }

    func testFloat16AllBitPatterns() throws {
        let expected = try expectedValues()
        let file = try TensorFile.open(path: try fixture("dtypes.safetensors"))
        let view = try XCTUnwrap(file["f16_all"])
        XCTAssertEqual(view.dtype, .f16)
        XCTAssertEqual(view.count, 65536)
        let f32 = try view.float32()
        let f64 = try view.float64Array()
        for bits in 0..<65536 {
            let reference = halfReference(UInt16(bits))
            XCTAssertTrue(sameDouble(Double(f32[bits]), reference), "f16 \(String(bits, radix: 16)) -> \(f32[bits]), expected \(reference)")
            XCTAssertTrue(sameDouble(f64[bits], reference))
            if reference.isNaN {
                // NaN payload kept: the 10-bit fraction becomes the top of the 23-bit one.
                XCTAssertEqual(f32[bits].bitPattern & 0x7FFFFF, UInt32(bits & 0x3FF) << 13)
            }
        }
        // numpy's own conversion of a sample.
        let sample = try XCTUnwrap(expected["f16_all_sample"] as? [String: String])
        XCTAssertGreaterThan(sample.count, 250)
        for (key, text) in sample {
            let index = try XCTUnwrap(Int(key))
            XCTAssertTrue(sameDouble(Double(f32[index]), try XCTUnwrap(double(fromHex: text))), "numpy f16 \(key)")
        }
    }

    func testBFloat16AllBitPatterns() throws {
        let expected = try expectedValues()
        let file = try TensorFile.open(path: try fixture("bf16.safetensors"))
        try checkTensors(file, try XCTUnwrap(expected["bf16.safetensors"] as? [String: Any]))
        let view = try XCTUnwrap(file["bf16_all"])
        XCTAssertEqual(view.shape, [256, 256])
        let f32 = try view.float32()
        XCTAssertFalse(f32.isView)
        for bits in 0..<65536 {
            let reference = bfloat16Reference(UInt16(bits))
            XCTAssertTrue(sameDouble(Double(f32[bits]), reference), "bf16 \(String(bits, radix: 16))")
            XCTAssertEqual(f32[bits].bitPattern, UInt32(bits) << 16)
        }
    }

    func testNpzStoredAndCompressedMatchPython() throws {
        let expected = try expectedValues()
        let table = try XCTUnwrap(expected["arrays.npz"] as? [String: Any])
        for name in ["arrays.npz", "arrays_compressed.npz"] {
            let file = try TensorFile.open(path: try fixture(name))
            XCTAssertEqual(file.format, .npz)
            XCTAssertEqual(file.names, table.keys.sorted())
            try checkTensors(file, table)
        }
        // Stored members are used in place: an F32 member is a view into the mapping when it happens to be
        // aligned (numpy's zip layout does not align members), and an exact copy otherwise.
        let stored = try TensorFile.open(path: try fixture("arrays.npz"))
        for name in ["targets.0.boxes", "f32_matrix"] {
            let view = try XCTUnwrap(stored[name])
            XCTAssertEqual(try view.float32().isView, view.isAligned, name)
        }
        let compressed = try TensorFile.open(path: try fixture("arrays_compressed.npz"))
        XCTAssertTrue(try XCTUnwrap(compressed["targets.0.boxes"]).float32().isView, "inflated memory is aligned too")
    }

    func testHandmadeZipReads() throws {
        let file = try TensorFile.open(path: try fixture("handmade.npz"))
        XCTAssertEqual(file.names, ["a", "b"])
        XCTAssertEqual(try XCTUnwrap(file["a"]).float32().toArray(), (0..<64).map(Float.init))
        XCTAssertEqual(try XCTUnwrap(file["b"]).int64Array(), [1, 2, 3])
    }

    func testNpyFilesAllVersions() throws {
        let expected = try expectedValues()
        for (name, tensor) in [("matrix.npy", "matrix"), ("scalar.npy", "scalar"), ("v2.npy", "v2"), ("v3.npy", "v3")] {
            let file = try TensorFile.open(path: try fixture(name))
            XCTAssertEqual(file.format, .npy)
            XCTAssertEqual(file.names, [tensor])
            try checkTensors(file, [tensor: try XCTUnwrap(expected[name])])
        }
    }

    func testZeroCopyAndLifetime() throws {
        var buffer: FloatBuffer?
        var address: UnsafeRawPointer?
        do {
            let file = try TensorFile.open(path: try fixture("dtypes.safetensors"))
            let view = try XCTUnwrap(file["f32_matrix"])
            XCTAssertTrue(view.isAligned)
            buffer = try view.float32()
            address = view.bytes.baseAddress
        }
        // The file and view are gone; the buffer keeps the mapping alive.
        let b = try XCTUnwrap(buffer)
        XCTAssertTrue(b.isView)
        XCTAssertEqual(UnsafeRawPointer(b.pointer), address)
        XCTAssertEqual(Array(b.toArray().prefix(4)), [1.0, -2.5, 3.25, Float(bitPattern: 1)])
        XCTAssertTrue(b[4].isInfinite)
        XCTAssertTrue(b[5].isNaN)

        // A view outlives its file too.
        var view: TensorView?
        do { view = try TensorFile.open(path: try fixture("dtypes.safetensors"))["i16"] }
        XCTAssertEqual(try XCTUnwrap(view).int64Array(), [-32768, -1, 0, 32767])
    }

    func testUnalignedFloat32IsCopied() throws {
        // A 57-byte header puts the data at offset 65: not a multiple of 4.
        let values: [Float] = [1.5, -0.0, .infinity, 3e-42]
        let bytes = rawSafetensors(header: "{\"x\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}".padding(toLength: 57, withPad: " ", startingAt: 0),
                                   data: LittleEndianBytes.of(values))
        let file = try TensorFile.open(bytes: bytes, name: "unaligned.safetensors")
        let view = try XCTUnwrap(file["x"])
        XCTAssertFalse(view.isAligned)
        let buffer = try view.float32()
        XCTAssertFalse(buffer.isView)
        XCTAssertEqual(buffer.toArray().map(\.bitPattern), values.map(\.bitPattern))
    }

    func testInMemoryOpeningOfEveryFormat() throws {
        for name in ["dtypes.safetensors", "arrays.npz", "arrays_compressed.npz", "matrix.npy"] {
            let path = try fixture(name)
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
            let fromFile = try TensorFile.open(path: path)
            let fromMemory = try TensorFile.open(bytes: bytes, name: name)
            XCTAssertEqual(fromFile.names, fromMemory.names)
            XCTAssertEqual(fromFile.format, fromMemory.format)
            for n in fromFile.names {
                let a = try XCTUnwrap(fromFile[n]), b = try XCTUnwrap(fromMemory[n])
                XCTAssertEqual(a.shape, b.shape)
                XCTAssertTrue(a.bytes.elementsEqual(b.bytes), "\(name) \(n)")
            }
        }
        let safetensors = [UInt8](try Data(contentsOf: URL(fileURLWithPath: try fixture("bf16.safetensors"))))
        XCTAssertEqual(try TensorFile.safetensors(bytes: safetensors, name: "x").names, ["bf16_all", "bf16_special", "f32_after"])
    }

    func testMissingTensorLookup() throws {
        let file = try TensorFile.open(path: try fixture("matrix.npy"))
        XCTAssertNil(file["nope"])
        assertThrows(try file.tensor("nope"), path: file.path, reason: "is not in the file", tensor: "nope")
        XCTAssertEqual(try file.tensor("matrix").shape, [3, 4])
    }
}
