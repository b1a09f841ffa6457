import Foundation
import XCTest
@testable import TensorIO

/// The corpus of bad files: each must fail with a clear error that names the file (and the tensor
/// when one applies) — never a crash, never a silent NaN.
final class BadFileTests: XCTestCase {
    private var folder: URL!

    override func setUpWithError() throws {
        folder = try temporaryFolder(self)
    }

    /// Writes a safetensors file with the given header and data, and asserts how opening it fails.
    private func assertSafetensorsFails(_ header: String, data: [UInt8] = [], declaredLength: UInt64? = nil,
                                        reason: String, tensor: String? = nil, line: UInt = #line) throws {
        let path = try writeBytes(rawSafetensors(header: header, data: data, declaredLength: declaredLength),
                                  named: "case\(line).safetensors", in: folder)
        assertOpenFails(path, reason: reason, tensor: tensor, line: line)
    }

    private func entry(_ name: String, _ dtype: String, _ shape: [Int], _ start: Int, _ end: Int) -> String {
        "\"\(name)\":{\"dtype\":\"\(dtype)\",\"shape\":[\(shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(start),\(end)]}"
    }

    // MARK: file level

    func testEmptyFile() throws {
        assertOpenFails(try writeBytes([], named: "empty.safetensors", in: folder), reason: "file is empty")
        assertOpenFails(try writeBytes([], named: "empty.npz", in: folder), reason: "file is empty")
    }

    func testDirectory() throws {
        assertOpenFails(folder.path, reason: "is a directory")
    }

    func testMissingFile() throws {
        let path = folder.appendingPathComponent("missing.safetensors").path
        assertOpenFails(path, reason: "cannot open the file: No such file or directory")
    }

    func testUnreadableFile() throws {
        let path = try writeBytes(Array(repeating: 0, count: 16), named: "locked.safetensors", in: folder)
        try FileManager.default.setAttributes([.posixPermissions: 0], ofItemAtPath: path)
        if FileManager.default.isReadableFile(atPath: path) {
            throw XCTSkip("running with privileges that read any file")
        }
        assertOpenFails(path, reason: "cannot open the file: Permission denied")
    }

    // MARK: safetensors header

    func testTruncatedBeforeHeaderLength() throws {
        let path = try writeBytes([1, 2, 3, 4, 5], named: "short.safetensors", in: folder)
        assertOpenFails(path, reason: "file is truncated: 5 bytes")
    }

    func testHeaderLengthBeyondFile() throws {
        try assertSafetensorsFails("{}", declaredLength: 4000, reason: "header length 4000 goes beyond the end of the file (10 bytes)")
    }

    func testHeaderOver100MB() throws {
        try assertSafetensorsFails("{}", declaredLength: 200_000_000, reason: "header length 200000000 exceeds the limit of 100000000 bytes")
        try assertSafetensorsFails("{}", declaredLength: UInt64.max, reason: "exceeds the limit")
    }

    func testHeaderNotJSON() throws {
        try assertSafetensorsFails("{\"x\": ", reason: "header is not valid JSON: unexpected end of text")
        try assertSafetensorsFails("{'x': 1}", reason: "header is not valid JSON")
        try assertSafetensorsFails("{\"x\":{\"dtype\":\"F32\",}}", reason: "header is not valid JSON")
        try assertSafetensorsFails("{} trailing", reason: "after the end of the JSON value")
        try assertSafetensorsFails("{\"a\":\"\\ud800\"}", reason: "unpaired surrogate")
        try assertSafetensorsFails("{\"x\":" + String(repeating: "[", count: 100) + String(repeating: "]", count: 100) + "}",
                                   reason: "nesting deeper than 64 levels")
    }

    func testHeaderNotAnObject() throws {
        try assertSafetensorsFails("[1, 2]", reason: "header is not a JSON object")
        try assertSafetensorsFails("  {}", reason: "must start with '{'")
        try assertSafetensorsFails("", reason: "header is not a JSON object")
        try assertSafetensorsFails("{\"x\": 3}", reason: "header entry must be an object", tensor: "x")
    }

    func testHeaderNotUTF8() throws {
        let header: [UInt8] = Array("{\"a".utf8) + [0xC3, 0x28] + Array("\":{}}".utf8)
        let bytes = withUnsafeBytes(of: UInt64(header.count).littleEndian) { Array($0) } + header
        assertOpenFails(try writeBytes(bytes, named: "utf8.safetensors", in: folder), reason: "header is not valid UTF-8 (at header byte 3)")
    }

    func testUnknownDtype() throws {
        try assertSafetensorsFails("{" + entry("x", "F8_E4M3", [2], 0, 2) + "}", data: [0, 0],
                                   reason: "unknown or unsupported dtype 'F8_E4M3'", tensor: "x")
        try assertSafetensorsFails("{\"x\":{\"dtype\":4,\"shape\":[],\"data_offsets\":[0,4]}}", data: [0, 0, 0, 0],
                                   reason: "'dtype' must be a string", tensor: "x")
    }

    func testShapeTimesDtypeSizeDiffersFromByteCount() throws {
        try assertSafetensorsFails("{" + entry("w", "F32", [2, 3], 0, 20) + "}", data: Array(repeating: 0, count: 20),
                                   reason: "shape [2, 3] of F32 needs 24 bytes, but data_offsets [0, 20] span 20 bytes", tensor: "w")
    }

    func testNegativeAndAbsurdShapes() throws {
        try assertSafetensorsFails("{" + entry("n", "F32", [-2, 3], 0, 0) + "}", reason: "negative dimension -2", tensor: "n")
        // 2^40 × 2^40 overflows nothing in a 64-bit product check… but exceeds the 2^60 limit.
        try assertSafetensorsFails("{" + entry("big", "F32", [1 << 40, 1 << 40], 0, 0) + "}", reason: "absurdly large", tensor: "big")
        // Even with a zero dimension the other dimensions must not overflow.
        try assertSafetensorsFails("{" + entry("z", "U8", [0, Int.max, Int.max], 0, 0) + "}", reason: "absurdly large", tensor: "z")
        // 2^60 elements are allowed, but 2^60 × 8 bytes overflows.
        try assertSafetensorsFails("{" + entry("w", "F64", [1 << 30, 1 << 30], 0, 0) + "}", reason: "its byte count overflows", tensor: "w")
        try assertSafetensorsFails("{\"s\":{\"dtype\":\"F32\",\"shape\":[99999999999999999999],\"data_offsets\":[0,4]}}",
                                   data: [0, 0, 0, 0], reason: "is not an integer that fits in 64 bits", tensor: "s")
        try assertSafetensorsFails("{\"s\":{\"dtype\":\"F32\",\"shape\":[2.0],\"data_offsets\":[0,8]}}",
                                   data: Array(repeating: 0, count: 8), reason: "shape entry 2.0 is not an integer", tensor: "s")
        try assertSafetensorsFails("{\"s\":{\"dtype\":\"F32\",\"shape\":3,\"data_offsets\":[0,12]}}",
                                   data: Array(repeating: 0, count: 12), reason: "'shape' must be an array", tensor: "s")
    }

    func testDataOffsetsOutOfRange() throws {
        try assertSafetensorsFails("{" + entry("a", "U8", [8], 0, 8) + "}", data: [1, 2, 3, 4],
                                   reason: "data_offsets [0, 8] go beyond the end of the data buffer (4 bytes)", tensor: "a")
        try assertSafetensorsFails("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[18446744073709551615,0]}}",
                                   reason: "'data_offsets' must be an array of two non-negative integers", tensor: "a")
        try assertSafetensorsFails("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0]}}", data: [1],
                                   reason: "'data_offsets' must be an array of two non-negative integers", tensor: "a")
    }

    func testDataOffsetsUnordered() throws {
        try assertSafetensorsFails("{" + entry("a", "U8", [0], 4, 2) + "}", data: [1, 2, 3, 4],
                                   reason: "data_offsets [4, 2] end before they start", tensor: "a")
    }

    func testDataOffsetsOverlapping() throws {
        try assertSafetensorsFails("{" + entry("a", "U8", [4], 0, 4) + "," + entry("b", "U8", [4], 2, 6) + "}",
                                   data: Array(repeating: 1, count: 6), reason: "overlap those of tensor 'a'", tensor: "b")
        // A zero-size tensor in the middle of another overlaps it too.
        try assertSafetensorsFails("{" + entry("a", "U8", [4], 0, 4) + "," + entry("e", "U8", [0], 2, 2) + "}",
                                   data: Array(repeating: 1, count: 4), reason: "overlap those of tensor 'a'", tensor: "e")
    }

    func testDataOffsetsLeaveAGap() throws {
        try assertSafetensorsFails("{" + entry("a", "U8", [2], 0, 2) + "," + entry("b", "U8", [2], 4, 6) + "}",
                                   data: Array(repeating: 1, count: 6), reason: "bytes 2..<4 of the data buffer belong to no tensor", tensor: "b")
    }

    func testDataBufferNotCoveredToTheEnd() throws {
        try assertSafetensorsFails("{" + entry("a", "U8", [8], 0, 8) + "}", data: Array(repeating: 1, count: 12),
                                   reason: "the tensors cover 8 bytes of the data buffer, but it holds 12 bytes")
        try assertSafetensorsFails("{}", data: [1], reason: "cover 0 bytes of the data buffer, but it holds 1 bytes")
    }

    func testDuplicateTensorNames() throws {
        try assertSafetensorsFails("{" + entry("x", "U8", [1], 0, 1) + "," + entry("x", "U8", [1], 1, 2) + "}",
                                   data: [1, 2], reason: "appears twice in the header", tensor: "x")
        try assertSafetensorsFails("{\"__metadata__\":{},\"__metadata__\":{}}", reason: "'__metadata__' appears twice")
    }

    func testMalformedEntries() throws {
        try assertSafetensorsFails("{\"x\":{\"dtype\":\"U8\",\"data_offsets\":[0,1]}}", data: [1], reason: "lacks 'shape'", tensor: "x")
        try assertSafetensorsFails("{\"x\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1],\"extra\":1}}", data: [1],
                                   reason: "unknown key 'extra'", tensor: "x")
        try assertSafetensorsFails("{\"x\":{\"dtype\":\"U8\",\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", data: [1],
                                   reason: "has 'dtype' twice", tensor: "x")
        try assertSafetensorsFails("{\"__metadata__\":{\"k\":1}}", reason: "'__metadata__' entry 'k' must be a string")
        try assertSafetensorsFails("{\"__metadata__\":[]}", reason: "'__metadata__' must be an object of strings")
    }

    // MARK: values

    func testBoolOtherThanZeroOrOne() throws {
        let path = try writeBytes(rawSafetensors(header: "{" + entry("mask", "BOOL", [3], 0, 3) + "}", data: [1, 2, 0]),
                                  named: "bool.safetensors", in: folder)
        let view = try XCTUnwrap(try TensorFile.open(path: path)["mask"])
        assertThrows(try view.int64Array(), path: path, reason: "BOOL byte at flat index 1 is 2, not 0 or 1", tensor: "mask")
        assertThrows(try view.float32(), path: path, reason: "BOOL byte at flat index 1 is 2", tensor: "mask")
        assertThrows(try view.float64Array(), path: path, reason: "not 0 or 1", tensor: "mask")
    }

    func testIntegersFromFloatTensor() throws {
        let path = try fixture("dtypes.safetensors")
        let view = try XCTUnwrap(try TensorFile.open(path: path)["f32_matrix"])
        assertThrows(try view.int64Array(), path: path, reason: "holds F32 values where integers", tensor: "f32_matrix")
    }

    // MARK: format detection

    func testWrongMagicForExtension() throws {
        let text = Array("hello, this is not an archive at all".utf8)
        assertOpenFails(try writeBytes(text, named: "data.npz", in: folder), reason: "not a zip archive")
        assertOpenFails(try writeBytes(text, named: "data.NPY", in: folder), reason: "not a .npy file (bad magic")
    }

    // MARK: .npy

    private func npy(_ header: String, data: [UInt8] = [], version: UInt8 = 1) -> [UInt8] {
        var h = Array(header.utf8)
        h.append(0x0A)
        var out: [UInt8] = [0x93] + Array("NUMPY".utf8) + [version, 0]
        if version == 1 {
            out += LittleEndianBytes.of([UInt16(h.count)])
        } else {
            out += withUnsafeBytes(of: UInt32(h.count).littleEndian) { Array($0) }
        }
        return out + h + data
    }

    private func assertNpyFails(_ bytes: [UInt8], reason: String, line: UInt = #line) throws {
        let path = try writeBytes(bytes, named: "case\(line).npy", in: folder)
        assertOpenFails(path, reason: reason, tensor: "case\(line)", line: line)
    }

    func testNpyRejectedByDtypeOrLayout() throws {
        assertOpenFails(try fixture("bad_fortran.npy"), reason: "stored in Fortran order", tensor: "bad_fortran")
        assertOpenFails(try fixture("bad_object.npy"), reason: "object arrays (dtype '|O') are not supported", tensor: "bad_object")
        assertOpenFails(try fixture("bad_bigendian.npy"), reason: "big-endian dtype '>f8' is not supported", tensor: "bad_bigendian")
        assertOpenFails(try fixture("bad_complex.npy"), reason: "dtype '<c8' is not supported", tensor: "bad_complex")
        assertOpenFails(try fixture("bad_structured.npy"), reason: "structured dtypes", tensor: "bad_structured")
    }

    func testNpyBadMagicAndVersion() throws {
        let good = try NpyWriter.encode(bytes: LittleEndianBytes.of([Float(1), 2]), dtype: .f32, shape: [2])
        var badMagic = good
        badMagic[1] = UInt8(ascii: "X")
        // Not recognized as .npy by its content, so the file as a whole is rejected by its extension.
        assertOpenFails(try writeBytes(badMagic, named: "magic.npy", in: folder), reason: "not a .npy file (bad magic")
        var version = good
        version[6] = 9
        try assertNpyFails(version, reason: "unsupported .npy format version 9.0")
        try assertNpyFails(Array(good.prefix(8)), reason: "truncated inside its preamble")
    }

    func testNpyBadHeaders() throws {
        try assertNpyFails(npy("['descr', '<f4']"), reason: "the header must be a dict, found a list")
        try assertNpyFails(npy("{'descr': '<f4', 'fortran_order': False}"), reason: "key 'shape' is missing")
        try assertNpyFails(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}", data: [0, 0, 0, 0]),
                           reason: "unexpected key 'x'")
        try assertNpyFails(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'shape': (1,)}", data: [0, 0, 0, 0]),
                           reason: "key 'shape' appears twice")
        try assertNpyFails(npy("{'descr': '<f4', 'fortran_order': 0, 'shape': (1,)}", data: [0, 0, 0, 0]),
                           reason: "'fortran_order' must be True or False")
        try assertNpyFails(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1.5,)}"), reason: "a float where an integer was expected")
        try assertNpyFails(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,)}"), reason: "negative dimension -1")
        try assertNpyFails(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (3)}"), reason: "'shape' must be a tuple")
        try assertNpyFails(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)}"), reason: "does not fit in 64 bits")
        try assertNpyFails(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1073741824, 1073741824, 8)}"), reason: "absurdly large")
        try assertNpyFails(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,)"), reason: "unexpected end of the header")
        try assertNpyFails(npy("{'descr': '<f4, 'fortran_order': False, 'shape': (1,)}"), reason: ".npy header is invalid")
        try assertNpyFails(npy(String(repeating: "(", count: 100)), reason: "nesting too deep")
    }

    func testNpyHeaderLengthBeyondData() throws {
        var bytes = npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,)}", data: [0, 0, 0, 0])
        bytes[8] = 0xFF
        bytes[9] = 0x7F
        try assertNpyFails(bytes, reason: ".npy header length 32767 goes beyond the end of the data")
        var v2 = npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,)}", data: [0, 0, 0, 0], version: 2)
        v2[8] = 0; v2[9] = 0; v2[10] = 0; v2[11] = 0x40
        try assertNpyFails(v2, reason: "exceeds the limit of 100000000 bytes")
    }

    func testNpyDataLengthMismatch() throws {
        let header = "{'descr': '<i8', 'fortran_order': False, 'shape': (2, 2), }"
        try assertNpyFails(npy(header, data: Array(repeating: 0, count: 24)), reason: "data is truncated: shape [2, 2] of I64 needs 32 bytes, 24 are present")
        try assertNpyFails(npy(header, data: Array(repeating: 0, count: 40)), reason: "8 bytes follow the array data")
    }

    // MARK: .npz

    func testNpzCorruptions() throws {
        assertOpenFails(try fixture("bad_crc.npz"), reason: "member data is corrupt (CRC-32", tensor: "a")
        assertOpenFails(try fixture("bad_inflate.npz"), reason: "member data is corrupt", tensor: "x")
        assertOpenFails(try fixture("bad_deflate_truncated.npz"), reason: "its deflate stream is truncated", tensor: "x")
        assertOpenFails(try fixture("bad_size.npz"), reason: "inflates to 152 bytes, but 252 are declared", tensor: "b")
        assertOpenFails(try fixture("bad_truncated.npz"), reason: "no end-of-central-directory record")
        assertOpenFails(try fixture("bad_overlap.npz"), reason: "overlaps member 'c.npy'", tensor: "o.npy")
    }

    func testNpzMembers() throws {
        assertOpenFails(try fixture("bad_duplicate.npz"), reason: "appears twice in the archive", tensor: "a")
        assertOpenFails(try fixture("bad_not_npy.npz"), reason: "not a .npy array (bad magic", tensor: "notes.txt")
        assertOpenFails(try fixture("bad_encrypted.npz"), reason: "member is encrypted", tensor: "a.npy")
        assertOpenFails(try fixture("bad_method.npz"), reason: "compression method 12", tensor: "a.npy")
        assertOpenFails(try fixture("bad_member_bigendian.npz"), reason: "big-endian dtype '>f4'", tensor: "a")
    }

    func testNpzStructuralDamage() throws {
        let good = [UInt8](try Data(contentsOf: URL(fileURLWithPath: try fixture("handmade.npz"))))
        let end = good.count - 22
        // Entry count larger than the central directory can hold.
        var count = good
        count[end + 10] = 0xFF
        count[end + 8] = 0xFF
        assertOpenFails(try writeBytes(count, named: "count.npz", in: folder), reason: "entries cannot fit in a central directory")
        // Central directory offset beyond the end record.
        var offset = good
        offset[end + 19] = 0x7F
        assertOpenFails(try writeBytes(offset, named: "offset.npz", in: folder), reason: "beyond the end of the file")
        // The first directory entry's signature damaged.
        let dirStart = Int(good[end + 16]) | Int(good[end + 17]) << 8
        var signature = good
        signature[dirStart] = 0
        assertOpenFails(try writeBytes(signature, named: "signature.npz", in: folder), reason: "central directory entry 0 is damaged")
        // A local header offset pointing at garbage.
        var local = good
        local[dirStart + 42] = 7
        assertOpenFails(try writeBytes(local, named: "local.npz", in: folder), reason: "local header is missing or damaged", tensor: "a.npy")
        // A zip with only an end record is a valid, empty archive.
        let empty: [UInt8] = [0x50, 0x4B, 5, 6] + Array(repeating: 0, count: 18)
        XCTAssertEqual(try TensorFile.open(path: try writeBytes(empty, named: "empty-archive.npz", in: folder)).names, [])
    }
}
