import Foundation
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// The `dino-gen` executable built beside this test bundle (the test target depends on it, so
/// SwiftPM builds it first, with the same configuration and sanitizers).
func dinoGenExecutable() throws -> URL {
    var folders: [URL] = []
    let bundle = Bundle(for: BundleMarker.self).bundleURL
    folders.append(bundle.hasDirectoryPath ? bundle : bundle.deletingLastPathComponent())
    folders.append(bundle.deletingLastPathComponent())
    if let exe = Bundle.main.executableURL { folders.append(exe.deletingLastPathComponent()) }
    folders.append(URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent())
    for folder in folders {
        let candidate = folder.appendingPathComponent("dino-gen")
        if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
    }
    throw XCTSkip("the dino-gen executable is not beside the test bundle (looked in \(folders.map(\.path)))")
}

/// A class of this test bundle, for `Bundle(for:)`.
private final class BundleMarker {}

/// The outcome of one `dino-gen` run.
struct CLIRun {
    /// The exit status, or nil when a signal ended the process.
    let status: Int32?
    /// The signal that ended the process, or nil.
    let signal: Int32?
    let stdout: Data
    let stderr: Data

    var standardOutput: String { String(decoding: stdout, as: UTF8.self) }
    var standardError: String { String(decoding: stderr, as: UTF8.self) }

    /// Runs `dino-gen ARGUMENTS` to completion (killing it after `timeout` seconds), capturing both streams.
    static func run(_ arguments: [String], in folder: URL, timeout: TimeInterval = 300,
                    environment: [String: String] = [:]) throws -> CLIRun {
        let process = Process()
        process.executableURL = try dinoGenExecutable()
        process.arguments = arguments
        process.currentDirectoryURL = folder
        var childEnvironment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        // scripts/sanitize gives dino-gen its own AddressSanitizer options: leak checking stays on for
        // the executable while it is off for this test process (whose XCTest and Foundation objects
        // LeakSanitizer misreads, see scripts/sanitizers/lsan.supp).
        if let options = childEnvironment["CLI_TESTS_CHILD_ASAN_OPTIONS"] { childEnvironment["ASAN_OPTIONS"] = options }
        process.environment = childEnvironment
        // Files, not pipes: nothing can block on a full pipe, whatever the process writes.
        let id = UUID().uuidString
        let outURL = folder.appendingPathComponent(".stdout-\(id)"), errURL = folder.appendingPathComponent(".stderr-\(id)")
        try Data().write(to: outURL)
        try Data().write(to: errURL)
        let out = try FileHandle(forWritingTo: outURL), err = try FileHandle(forWritingTo: errURL)
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        let finished = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in finished.signal() }
        try process.run()
        if finished.wait(timeout: .now() + timeout) == .timedOut {
            kill(process.processIdentifier, SIGKILL)
            finished.wait()
        }
        try out.close()
        try err.close()
        defer {
            try? FileManager.default.removeItem(at: outURL)
            try? FileManager.default.removeItem(at: errURL)
        }
        let signaled = process.terminationReason == .uncaughtSignal
        return CLIRun(status: signaled ? nil : process.terminationStatus, signal: signaled ? process.terminationStatus : nil,
                      stdout: try Data(contentsOf: outURL), stderr: try Data(contentsOf: errURL))
    }
}

/// A fresh temporary folder, removed when the test ends.
func temporaryFolder(_ test: XCTestCase) throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("cli-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    test.addTeardownBlock {
        // A test may have made a file unreadable or its folder read-only: restore, then remove.
        _ = chmod(url.path, 0o755)
        try? FileManager.default.removeItem(at: url)
    }
    return url
}

/// The folder of committed fixtures (copied into the test bundle).
func fixture(_ name: String) throws -> URL {
    guard let url = Bundle.module.url(forResource: "Fixtures", withExtension: nil) else {
        throw XCTSkip("fixtures are missing from the test bundle")
    }
    return url.appendingPathComponent(name)
}

// MARK: - Bytes, written independently of TensorIO's writers

/// Little-endian bytes of fixed-width values.
func littleEndian<T: FixedWidthInteger>(_ values: [T]) -> [UInt8] {
    values.flatMap { v in withUnsafeBytes(of: v.littleEndian) { Array($0) } }
}

func float32Bytes(_ values: [Float]) -> [UInt8] { littleEndian(values.map(\.bitPattern)) }
func float64Bytes(_ values: [Double]) -> [UInt8] { littleEndian(values.map(\.bitPattern)) }
func float16Bytes(_ values: [Float]) -> [UInt8] { littleEndian(values.map { Float16($0).bitPattern }) }

/// One tensor of a hand-built safetensors file. `dtype` is free text and `offsets` may be forced, so
/// that any header can be written, valid or not.
struct RawTensor {
    var name: String
    var dtype: String
    var shape: [Int]
    var bytes: [UInt8]
    /// Forced data_offsets; nil: the running offset of the tensors laid out in order.
    var offsets: (Int, Int)? = nil

    static func f32(_ name: String, _ shape: [Int], _ values: [Float]) -> RawTensor {
        precondition(shape.reduce(1, *) == values.count, "\(name): shape \(shape) does not hold \(values.count) values")
        return RawTensor(name: name, dtype: "F32", shape: shape, bytes: float32Bytes(values))
    }

    static func i64(_ name: String, _ shape: [Int], _ values: [Int64]) -> RawTensor {
        precondition(shape.reduce(1, *) == values.count, "\(name): shape \(shape) does not hold \(values.count) values")
        return RawTensor(name: name, dtype: "I64", shape: shape, bytes: littleEndian(values))
    }

    static func u8(_ name: String, _ shape: [Int], _ values: [UInt8]) -> RawTensor {
        precondition(shape.reduce(1, *) == values.count, "\(name): shape \(shape) does not hold \(values.count) values")
        return RawTensor(name: name, dtype: "U8", shape: shape, bytes: values)
    }
}

/// A safetensors file: the 8-byte header length, the JSON header (tensors in the given order, data
/// laid out in that order), the data. Nothing is checked: this writes bad files too.
func safetensorsBytes(_ tensors: [RawTensor], headerPadding: Int = 8) -> [UInt8] {
    var fields: [String] = []
    var offset = 0
    for t in tensors {
        let (start, end) = t.offsets ?? (offset, offset + t.bytes.count)
        offset += t.bytes.count
        fields.append("\"\(t.name)\":{\"dtype\":\"\(t.dtype)\",\"shape\":[\(t.shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(start),\(end)]}")
    }
    var header = Array(("{" + fields.joined(separator: ",") + "}").utf8)
    while header.count % headerPadding != 0 { header.append(0x20) }
    return littleEndian([UInt64(header.count)]) + header + tensors.flatMap(\.bytes)
}

/// A `.npy` file (format 1.0) with the given header dict text and data.
func npyBytes(header dict: String, data: [UInt8]) -> [UInt8] {
    var header = Array(dict.utf8)
    while (10 + header.count + 1) % 64 != 0 { header.append(0x20) }
    header.append(0x0A)
    return [0x93] + Array("NUMPY".utf8) + [1, 0] + littleEndian([UInt16(header.count)]) + header + data
}

/// The `.npy` form of a tensor of the small batch (only the dtypes it uses).
func npyBytes(_ t: RawTensor, fortran: Bool = false) -> [UInt8] {
    let descr = ["F32": "<f4", "F64": "<f8", "I64": "<i8", "U8": "|u1", "F16": "<f2"][t.dtype] ?? "?"
    let dims = t.shape.count == 1 ? "(\(t.shape[0]),)" : "(" + t.shape.map(String.init).joined(separator: ", ") + ")"
    return npyBytes(header: "{'descr': '\(descr)', 'fortran_order': \(fortran ? "True" : "False"), 'shape': \(dims), }", data: t.bytes)
}

/// CRC-32 (ISO 3309), bit by bit: slow and obviously right.
func crc32(_ bytes: [UInt8]) -> UInt32 {
    var c: UInt32 = 0xFFFF_FFFF
    for b in bytes {
        c ^= UInt32(b)
        for _ in 0..<8 { c = (c & 1) != 0 ? (c >> 1) ^ 0xEDB8_8320 : c >> 1 }
    }
    return ~c
}

/// A zip archive of stored (uncompressed) members, as `numpy.savez` writes one.
func zipBytes(_ members: [(name: String, data: [UInt8])]) -> [UInt8] {
    var out: [UInt8] = [], directory: [UInt8] = []
    for m in members {
        let name = Array(m.name.utf8)
        let crc = crc32(m.data)
        let local = littleEndian([UInt32(0x0403_4B50)]) + littleEndian([UInt16(20), 0, 0, 0, 0]) + littleEndian([crc])
            + littleEndian([UInt32(m.data.count), UInt32(m.data.count)]) + littleEndian([UInt16(name.count), 0])
        directory += littleEndian([UInt32(0x0201_4B50)]) + littleEndian([UInt16(20), 20, 0, 0, 0, 0]) + littleEndian([crc])
            + littleEndian([UInt32(m.data.count), UInt32(m.data.count)]) + littleEndian([UInt16(name.count), 0, 0, 0, 0])
            + littleEndian([UInt32(0), UInt32(out.count)]) + name
        out += local + name + m.data
    }
    let end = littleEndian([UInt32(0x0605_4B50)]) + littleEndian([UInt16(0), 0, UInt16(members.count), UInt16(members.count)])
        + littleEndian([UInt32(directory.count), UInt32(out.count)]) + littleEndian([UInt16(0)])
    return out + directory + end
}

/// An `.npz` of the tensors (member `NAME.npy` each).
func npzBytes(_ tensors: [RawTensor]) -> [UInt8] {
    zipBytes(tensors.map { ($0.name + ".npy", npyBytes($0)) })
}

/// Writes `bytes` to `url`.
func write(_ bytes: [UInt8], to url: URL) throws {
    try Data(bytes).write(to: url)
}
