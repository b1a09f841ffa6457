/// Writes `.safetensors` files (for tests, benchmarks and synthetic examples).
public enum SafetensorsWriter {
    /// One tensor to write: its name, type, shape and little-endian bytes.
    public struct Entry {
        /// The tensor's name.
        public let name: String
        /// The element type.
        public let dtype: DType
        /// The dimensions (`[]` for a scalar).
        public let shape: [Int]
        /// The data, little-endian, C order.
        public let bytes: [UInt8]

        /// An entry from raw little-endian bytes.
        public init(name: String, dtype: DType, shape: [Int], bytes: [UInt8]) {
            self.name = name
            self.dtype = dtype
            self.shape = shape
            self.bytes = bytes
        }

        /// An F32 entry.
        public static func float32(_ name: String, _ shape: [Int], _ values: [Float]) -> Entry {
            Entry(name: name, dtype: .f32, shape: shape, bytes: LittleEndianBytes.of(values))
        }

        /// An F64 entry.
        public static func float64(_ name: String, _ shape: [Int], _ values: [Double]) -> Entry {
            Entry(name: name, dtype: .f64, shape: shape, bytes: LittleEndianBytes.of(values))
        }

        /// An I64 entry.
        public static func int64(_ name: String, _ shape: [Int], _ values: [Int64]) -> Entry {
            Entry(name: name, dtype: .i64, shape: shape, bytes: LittleEndianBytes.of(values))
        }

        /// An I32 entry.
        public static func int32(_ name: String, _ shape: [Int], _ values: [Int32]) -> Entry {
            Entry(name: name, dtype: .i32, shape: shape, bytes: LittleEndianBytes.of(values))
        }
    }

    /// Writes `tensors` (in the given order) and optional `__metadata__` to `path`, after checking
    /// them: names unique and not `__metadata__`, each byte count matching its shape and dtype.
    public static func write(_ tensors: [(name: String, dtype: DType, shape: [Int], bytes: [UInt8])],
                             metadata: [String: String] = [:], to path: String) throws {
        try write(tensors.map { Entry(name: $0.name, dtype: $0.dtype, shape: $0.shape, bytes: $0.bytes) },
                  metadata: metadata, to: path)
    }

    /// Writes `entries` (in the given order) and optional `__metadata__` to `path`, after checking
    /// them as `write(_:metadata:to:)` does for tuples.
    public static func write(_ entries: [Entry], metadata: [String: String] = [:], to path: String) throws {
        try validate(entries, path: path)
        try writeFile(path, parts: parts(entries, metadata: metadata))
    }

    /// The bytes of a safetensors file holding `entries`. The data offsets follow the byte arrays,
    /// so the header is always consistent; `entries` are not otherwise checked here (a byte count
    /// that does not match the shape, or a repeated name, is reported when the bytes are read).
    /// `write` checks them before writing.
    public static func encode(_ entries: [Entry], metadata: [String: String] = [:]) -> [UInt8] {
        Array(parts(entries, metadata: metadata).joined())
    }

    /// Checks names and byte counts; errors name `path` and the tensor.
    static func validate(_ entries: [Entry], path: String) throws {
        let fail = ErrorContext(path: path)
        var seen = Set<String>()
        for e in entries {
            guard e.name != "__metadata__" else { throw fail("'__metadata__' cannot be a tensor name", tensor: e.name) }
            guard seen.insert(e.name).inserted else { throw fail("is given twice", tensor: e.name) }
            if let negative = e.shape.first(where: { $0 < 0 }) {
                throw fail("shape \(shapeText(e.shape)) has a negative dimension \(negative)", tensor: e.name)
            }
            guard let count = checkedCount(e.shape), let byteCount = checkedByteCount(count: count, size: e.dtype.size) else {
                throw fail("shape \(shapeText(e.shape)) is absurdly large", tensor: e.name)
            }
            guard e.bytes.count == byteCount else {
                throw fail("shape \(shapeText(e.shape)) of \(e.dtype.rawValue) needs \(byteCount) bytes, \(e.bytes.count) given", tensor: e.name)
            }
        }
    }

    /// The file as parts: the length and the header (padded with spaces to a multiple of 8 bytes,
    /// so that data is 8-byte aligned in a memory map), then each tensor's data. The data is laid
    /// out widest element type first (stable within a width), so every tensor is aligned to its
    /// element size; the header lists the tensors in the given order.
    static func parts(_ entries: [Entry], metadata: [String: String]) -> [[UInt8]] {
        let layout = entries.indices.sorted { a, b in
            entries[a].dtype.size != entries[b].dtype.size ? entries[a].dtype.size > entries[b].dtype.size : a < b
        }
        var offsets = [Int](repeating: 0, count: entries.count)
        var end = 0
        for k in layout {
            offsets[k] = end
            end += entries[k].bytes.count
        }
        var fields: [String] = []
        if !metadata.isEmpty {
            let pairs = metadata.keys.sorted().map { "\(jsonStringLiteral($0)):\(jsonStringLiteral(metadata[$0] ?? ""))" }
            fields.append("\"__metadata__\":{" + pairs.joined(separator: ",") + "}")
        }
        for (e, offset) in zip(entries, offsets) {
            let shape = e.shape.map(String.init).joined(separator: ",")
            fields.append("\(jsonStringLiteral(e.name)):{\"dtype\":\"\(e.dtype.rawValue)\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(offset + e.bytes.count)]}")
        }
        var header = Array(("{" + fields.joined(separator: ",") + "}").utf8)
        while header.count % 8 != 0 { header.append(0x20) }
        return [LittleEndianBytes.of([Int64(header.count)]) + header] + layout.map { entries[$0].bytes }
    }
}
