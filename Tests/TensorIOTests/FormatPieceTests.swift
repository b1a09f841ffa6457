import Foundation
import XCTest
@testable import TensorIO

/// The small pieces the readers are built from: CRC-32, the JSON parser, shape arithmetic, half floats.
final class FormatPieceTests: XCTestCase {

    func testCRC32KnownValues() {
        // The standard check value, and values from zlib.crc32.
        let check = Array("123456789".utf8)
        XCTAssertEqual(check.withUnsafeBytes { CRC32.checksum($0) }, 0xCBF4_3926)
        XCTAssertEqual([UInt8]().withUnsafeBytes { CRC32.checksum($0) }, 0)
        let fox = Array("The quick brown fox jumps over the lazy dog".utf8)
        XCTAssertEqual(fox.withUnsafeBytes { CRC32.checksum($0) }, 0x414F_A339)
        // Chunked computation equals one pass, for every split point (exercises the 8-byte loop and the tail).
        let data = (0..<100).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
        let whole = data.withUnsafeBytes { CRC32.checksum($0) }
        XCTAssertEqual(whole, bitwiseCRC(data))
        for split in 0...data.count {
            let first = data[..<split].withUnsafeBytes { CRC32.checksum($0) }
            XCTAssertEqual(data[split...].withUnsafeBytes { CRC32.checksum($0, continuing: first) }, whole)
        }
    }

    /// A plain bit-at-a-time CRC-32 as an independent reference.
    private func bitwiseCRC(_ data: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for byte in data {
            c ^= UInt32(byte)
            for _ in 0..<8 { c = (c >> 1) ^ (0xEDB8_8320 & (0 &- (c & 1))) }
        }
        return ~c
    }

    private func parse(_ text: String) throws -> JSONValue {
        let bytes = Array(text.utf8)
        return try bytes.withUnsafeBytes { try JSONParser.parse($0) }
    }

    func testJSONParserAcceptsValidJSON() throws {
        guard case .object(let members) = try parse(" {\"a\\n\\u00e9\\ud83d\\ude00\": [1, -0.5e+3, true, false, null, \"\\\"\\\\\\/\\b\\f\\r\\t\"], \"b\": {}} ") else {
            return XCTFail("not an object")
        }
        XCTAssertEqual(members.count, 2)
        XCTAssertEqual(members[0].key, "a\né😀")
        guard case .array(let items) = members[0].value else { return XCTFail("not an array") }
        XCTAssertEqual(items.count, 6)
        if case .number(let n) = items[1] { XCTAssertEqual(n, "-0.5e+3") } else { XCTFail("not a number") }
        if case .string(let s) = items[5] { XCTAssertEqual(s, "\"\\/\u{8}\u{c}\r\t") } else { XCTFail("not a string") }
        // Duplicate keys are kept for the caller to report.
        guard case .object(let dup) = try parse("{\"k\":1,\"k\":2}") else { return XCTFail("not an object") }
        XCTAssertEqual(dup.map(\.key), ["k", "k"])
    }

    func testJSONParserRejectsInvalidJSON() {
        for text in ["", "{", "{\"a\"}", "{\"a\":}", "[1,]", "[01]", "[1.]", "[1e]", "[-]", "\"abc", "\"\\x\"", "\"\\u12\"",
                     "\"\u{01}\"", "tru", "nul", "{\"a\":1,}", "[1 2]", "{} {}", "\"\\udc00\"", "\"\\ud800\\u0041\""] {
            XCTAssertThrowsError(try parse(text), "accepted: \(text)")
        }
    }

    func testFirstInvalidUTF8() {
        func check(_ bytes: [UInt8]) -> Int? { bytes.withUnsafeBytes { firstInvalidUTF8($0) } }
        XCTAssertNil(check(Array("plain ünïcødé ✓ 😀".utf8)))
        XCTAssertEqual(check([0x61, 0x62, 0xFF]), 2)
        XCTAssertEqual(check([0x61, 0xE2, 0x82]), 1, "truncated sequence")
        XCTAssertEqual(check([0xC0, 0x80]), 0, "overlong encoding")
        XCTAssertEqual(check([0xED, 0xA0, 0x80]), 0, "encoded surrogate")
    }

    func testCheckedCount() {
        XCTAssertEqual(checkedCount([]), 1)
        XCTAssertEqual(checkedCount([2, 3, 4]), 24)
        XCTAssertEqual(checkedCount([5, 0, 7]), 0)
        XCTAssertEqual(checkedCount([1 << 30, 1 << 30]), 1 << 60)
        XCTAssertNil(checkedCount([1 << 30, (1 << 30) + 1]))
        XCTAssertNil(checkedCount([Int.max, Int.max]))
        XCTAssertNil(checkedCount([0, Int.max, 2]))
        XCTAssertNil(checkedCount([3, -1]))
        XCTAssertNil(checkedByteCount(count: 1 << 60, size: 8))
        XCTAssertEqual(checkedByteCount(count: 1 << 59, size: 8), 1 << 62)
    }

    func testTensorFileErrorDescription() {
        XCTAssertEqual(TensorFileError(path: "a/b.safetensors", tensor: "x.y", reason: "is bad").description,
                       "a/b.safetensors: tensor 'x.y': is bad")
        XCTAssertEqual(TensorFileError(path: "f.npz", reason: "file is empty").description, "f.npz: file is empty")
    }

    func testDTypeProperties() {
        XCTAssertEqual(DType.allCases.map(\.size), [8, 4, 2, 2, 8, 4, 2, 1, 1, 1])
        XCTAssertEqual(DType.allCases.filter(\.isFloat), [.f64, .f32, .f16, .bf16])
        XCTAssertEqual(DType.allCases.filter(\.isInteger), [.i64, .i32, .i16, .i8, .u8])
        XCTAssertEqual(DType(rawValue: "BF16"), .bf16)
        XCTAssertNil(DType(rawValue: "bf16"))
    }

    func testNpyTensorNames() {
        XCTAssertEqual(TensorFile.npyTensorName("dir/cost.npy"), "cost")
        XCTAssertEqual(TensorFile.npyTensorName("COST.NPY"), "COST")
        XCTAssertEqual(TensorFile.npyTensorName("dir/.npy"), "array")
        XCTAssertEqual(TensorFile.npyTensorName("plain"), "plain")
    }
}
