import Foundation
import XCTest
@testable import TensorIO

/// The folder of committed fixtures (copied into the test bundle).
func fixturesFolder() throws -> URL {
    guard let url = Bundle.module.url(forResource: "Fixtures", withExtension: nil) else {
        throw XCTSkip("fixtures are missing from the test bundle")
    }
    return url
}

/// The path of a committed fixture.
func fixture(_ name: String) throws -> String {
    try fixturesFolder().appendingPathComponent(name).path
}

/// The parsed expected.json written by make_fixtures.py.
func expectedValues() throws -> [String: Any] {
    let data = try Data(contentsOf: try fixturesFolder().appendingPathComponent("expected.json"))
    guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
        throw NSError(domain: "expected.json is not an object", code: 1)
    }
    return object
}

/// A fresh temporary folder, removed when the test ends.
func temporaryFolder(_ test: XCTestCase) throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("tensorio-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(at: url) }
    return url
}

/// Writes `bytes` to `name` in `folder` and returns the path.
func writeBytes(_ bytes: [UInt8], named name: String, in folder: URL) throws -> String {
    let url = folder.appendingPathComponent(name)
    try Data(bytes).write(to: url)
    return url.path
}

/// A float64 from the hex text Python's float.hex() writes (also "nan", "inf", "-inf").
func double(fromHex text: String) -> Double? {
    if text == "nan" { return .nan }
    return Double(text)
}

/// Bit-for-bit equality, with any NaN equal to any NaN.
func sameDouble(_ a: Double, _ b: Double) -> Bool {
    (a.isNaN && b.isNaN) || a.bitPattern == b.bitPattern
}

/// Asserts that opening `path` fails with a TensorFileError naming `path`, whose reason contains
/// `reason` and whose tensor is `tensor`.
func assertOpenFails(_ path: String, reason: String, tensor: String? = nil,
                     file: StaticString = #filePath, line: UInt = #line) {
    do {
        let opened = try TensorFile.open(path: path)
        XCTFail("opening \(path) succeeded with tensors \(opened.names); expected: \(reason)", file: file, line: line)
    } catch let error as TensorFileError {
        checkError(error, path: path, reason: reason, tensor: tensor, file: file, line: line)
    } catch {
        XCTFail("unexpected error type \(type(of: error)): \(error)", file: file, line: line)
    }
}

/// Asserts the parts of a TensorFileError and its description.
func checkError(_ error: TensorFileError, path: String, reason: String, tensor: String?,
                file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(error.path, path, file: file, line: line)
    XCTAssertTrue(error.reason.contains(reason), "reason '\(error.reason)' lacks '\(reason)'", file: file, line: line)
    XCTAssertEqual(error.tensor, tensor, "error: \(error)", file: file, line: line)
    XCTAssertTrue(error.description.hasPrefix(path + ": "), file: file, line: line)
    if let tensor = tensor {
        XCTAssertTrue(error.description.contains("tensor '\(tensor)': "), file: file, line: line)
    }
}

/// Asserts that `body` throws a TensorFileError with the given path, reason fragment and tensor.
func assertThrows<T>(_ body: @autoclosure () throws -> T, path: String, reason: String, tensor: String?,
                     file: StaticString = #filePath, line: UInt = #line) {
    do {
        _ = try body()
        XCTFail("no error; expected: \(reason)", file: file, line: line)
    } catch let error as TensorFileError {
        checkError(error, path: path, reason: reason, tensor: tensor, file: file, line: line)
    } catch {
        XCTFail("unexpected error type \(type(of: error)): \(error)", file: file, line: line)
    }
}

/// Builds a safetensors file from a header text and a data buffer (no checks: for bad files).
func rawSafetensors(header: String, data: [UInt8] = [], declaredLength: UInt64? = nil) -> [UInt8] {
    let h = Array(header.utf8)
    let length = declaredLength ?? UInt64(h.count)
    return withUnsafeBytes(of: length.littleEndian) { Array($0) } + h + data
}

/// The exact value of an IEEE binary16 bit pattern, computed from the definition in float64.
func halfReference(_ bits: UInt16) -> Double {
    let sign: Double = bits & 0x8000 != 0 ? -1 : 1
    let exponent = Int((bits >> 10) & 0x1F)
    let fraction = Double(bits & 0x3FF)
    switch exponent {
    case 0: return sign * fraction * pow(2.0, -24.0)
    case 31: return fraction == 0 ? sign * .infinity : .nan
    default: return sign * (1 + fraction / 1024) * pow(2.0, Double(exponent - 15))
    }
}

/// The exact value of a bfloat16 bit pattern, computed from the definition in float64.
func bfloat16Reference(_ bits: UInt16) -> Double {
    let sign: Double = bits & 0x8000 != 0 ? -1 : 1
    let exponent = Int((bits >> 7) & 0xFF)
    let fraction = Double(bits & 0x7F)
    switch exponent {
    case 0: return sign * fraction * pow(2.0, -133.0)
    case 255: return fraction == 0 ? sign * .infinity : .nan
    default: return sign * (1 + fraction / 128) * pow(2.0, Double(exponent - 127))
    }
}
