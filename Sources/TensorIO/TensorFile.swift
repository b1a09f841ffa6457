/// An opened tensor file (`.safetensors`, `.npz` or `.npy`). The file is memory-mapped; its
/// tensors are views into the mapping (or into memory inflated from an `.npz`), and each view
/// keeps that memory alive.
public final class TensorFile {
    /// The file formats the readers understand.
    public enum Format: String, Sendable {
        /// Hugging Face safetensors.
        case safetensors
        /// A NumPy zip of `.npy` arrays (`numpy.savez`, `numpy.savez_compressed`).
        case npz
        /// One NumPy array.
        case npy
    }

    /// The path the file was opened with.
    public let path: String
    /// The format, chosen by the file's first bytes (and its extension when those are ambiguous).
    public let format: Format
    /// The `__metadata__` strings of a safetensors file (empty for other formats).
    public let metadata: [String: String]
    private let tensors: [String: TensorView]

    /// The tensor names, sorted. A `.npy` file holds one tensor, named after the file
    /// (its last path component without the extension).
    public let names: [String]

    private init(path: String, format: Format, views: [TensorView], metadata: [String: String]) {
        self.path = path
        self.format = format
        self.metadata = metadata
        var table: [String: TensorView] = [:]
        for v in views { table[v.name] = v }
        self.tensors = table
        self.names = table.keys.sorted()
    }

    /// Opens and validates the file at `path`. The format is recognized by its magic bytes
    /// (`PK` for `.npz`, `\x93NUMPY` for `.npy`); otherwise a file named `.npz` or `.npy` is an
    /// error and anything else is read as safetensors.
    public static func open(path: String) throws -> TensorFile {
        try parse(try ByteStorage.map(path: path), path: path, forced: nil)
    }

    /// Reads a tensor file held in memory (the bytes are copied once); `name` stands for the path
    /// in error messages and chooses the format as a file name would.
    public static func open(bytes: [UInt8], name: String) throws -> TensorFile {
        try parse(try ByteStorage.copying(bytes, path: name), path: name, forced: nil)
    }

    /// Reads safetensors bytes held in memory (copied once); `name` stands for the path in errors.
    public static func safetensors(bytes: [UInt8], name: String) throws -> TensorFile {
        try parse(try ByteStorage.copying(bytes, path: name), path: name, forced: .safetensors)
    }

    private static func parse(_ storage: ByteStorage, path: String, forced: Format?) throws -> TensorFile {
        let fail = ErrorContext(path: path)
        let bytes = storage.bytes
        if bytes.isEmpty { throw fail("file is empty") }
        let lowered = path.lowercased()
        let isZip = bytes.count >= 4 && bytes[0] == 0x50 && bytes[1] == 0x4B
            && ((bytes[2] == 3 && bytes[3] == 4) || (bytes[2] == 5 && bytes[3] == 6))
        let format: Format
        if let forced = forced {
            format = forced
        } else if isZip {
            format = .npz
        } else if NpyReader.hasMagic(bytes) {
            format = .npy
        } else if lowered.hasSuffix(".npz") {
            throw fail("not a zip archive (an .npz file starts with the bytes 'PK\\x03\\x04')")
        } else if lowered.hasSuffix(".npy") {
            throw fail("not a .npy file (bad magic: it must start with \\x93NUMPY)")
        } else {
            format = .safetensors
        }
        switch format {
        case .npz:
            return TensorFile(path: path, format: .npz, views: try NpzReader.read(storage, path: path), metadata: [:])
        case .npy:
            let view = try NpyReader.read(storage, range: 0..<bytes.count, name: npyTensorName(path), path: path)
            return TensorFile(path: path, format: .npy, views: [view], metadata: [:])
        case .safetensors:
            let (views, metadata) = try SafetensorsReader.read(storage, path: path)
            return TensorFile(path: path, format: .safetensors, views: views, metadata: metadata)
        }
    }

    /// The name given to the single tensor of a `.npy` file: the file name without its extension.
    static func npyTensorName(_ path: String) -> String {
        let file = path.split(separator: "/", omittingEmptySubsequences: false).last.map(String.init) ?? path
        let stem = file.lowercased().hasSuffix(".npy") ? String(file.dropLast(4)) : file
        return stem.isEmpty ? "array" : stem
    }

    /// The tensor called `name`, or nil.
    public subscript(name: String) -> TensorView? {
        tensors[name]
    }

    /// The tensor called `name`; a missing tensor is an error naming the file and the tensor.
    public func tensor(_ name: String) throws -> TensorView {
        guard let view = tensors[name] else {
            throw TensorFileError(path: path, tensor: name, reason: "is not in the file")
        }
        return view
    }
}
