/// Reads the safetensors format: an 8-byte little-endian header length N, N bytes of JSON
/// (`{"name": {"dtype", "shape", "data_offsets"}, "__metadata__": {…}}`), then the data buffer,
/// which the tensors' `data_offsets` must cover exactly, in order, without gaps or overlaps.
enum SafetensorsReader {
    /// The largest header accepted (as in the reference implementation): 100 MB.
    static let maxHeaderBytes = 100_000_000

    /// One tensor's header entry, checked.
    private struct Entry {
        let name: String
        let dtype: DType
        let shape: [Int]
        let count: Int
        let start: Int
        let end: Int
    }

    /// Parses `storage` (the whole file) and returns its tensors and metadata.
    static func read(_ storage: ByteStorage, path: String) throws -> (tensors: [TensorView], metadata: [String: String]) {
        let fail = ErrorContext(path: path)
        let bytes = storage.bytes
        guard bytes.count >= 8 else {
            throw fail("file is truncated: \(bytes.count) bytes, too short for the 8-byte safetensors header length")
        }
        let declared = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self))
        guard declared <= UInt64(maxHeaderBytes) else {
            throw fail("header length \(declared) exceeds the limit of \(maxHeaderBytes) bytes (100 MB)")
        }
        let headerLength = Int(declared)
        guard headerLength <= bytes.count - 8 else {
            throw fail("header length \(headerLength) goes beyond the end of the file (\(bytes.count) bytes)")
        }
        let header = UnsafeRawBufferPointer(rebasing: bytes[8..<(8 + headerLength)])
        guard headerLength > 0, header[0] == UInt8(ascii: "{") else {
            throw fail("header is not a JSON object (it must start with '{')")
        }
        if let bad = firstInvalidUTF8(header) {
            throw fail("header is not valid UTF-8 (at header byte \(bad))")
        }
        let json: JSONValue
        do {
            json = try JSONParser.parse(header)
        } catch let e as JSONSyntaxError {
            throw fail("header is not valid JSON: \(e.message) at header byte \(e.offset)")
        }
        guard case .object(let members) = json else {
            throw fail("header is not a JSON object")
        }

        let dataStart = 8 + headerLength
        let dataLength = bytes.count - dataStart
        var metadata: [String: String] = [:]
        var sawMetadata = false
        var entries: [Entry] = []
        var seen = Set<String>()
        entries.reserveCapacity(members.count)
        for (name, value) in members {
            if name == "__metadata__" {
                if sawMetadata { throw fail("'__metadata__' appears twice in the header") }
                sawMetadata = true
                metadata = try readMetadata(value, fail: fail)
                continue
            }
            guard seen.insert(name).inserted else {
                throw fail("appears twice in the header (duplicate tensor name)", tensor: name)
            }
            let entry = try readEntry(name: name, value: value, fail: fail)
            guard entry.end <= dataLength else {
                throw fail("data_offsets [\(entry.start), \(entry.end)] go beyond the end of the data buffer (\(dataLength) bytes)", tensor: name)
            }
            entries.append(entry)
        }

        // The data_offsets must tile the buffer: sorted by start, each begins where the previous ended.
        let ordered = entries.sorted { ($0.start, $0.end, $0.name) < ($1.start, $1.end, $1.name) }
        var expected = 0
        var previous: String?
        for entry in ordered {
            if entry.start < expected {
                throw fail("data_offsets [\(entry.start), \(entry.end)] overlap those of tensor '\(previous ?? "")'", tensor: entry.name)
            }
            if entry.start > expected {
                throw fail("data_offsets [\(entry.start), \(entry.end)] leave a gap: bytes \(expected)..<\(entry.start) of the data buffer belong to no tensor", tensor: entry.name)
            }
            expected = entry.end
            previous = entry.name
        }
        if expected != dataLength {
            throw fail("the tensors cover \(expected) bytes of the data buffer, but it holds \(dataLength) bytes (data_offsets must cover it exactly)")
        }

        let views = entries.map { e in
            TensorView(path: path, name: e.name, dtype: e.dtype, shape: e.shape, count: e.count,
                       storage: storage, offset: dataStart + e.start)
        }
        return (views, metadata)
    }

    private static func readMetadata(_ value: JSONValue, fail: ErrorContext) throws -> [String: String] {
        guard case .object(let pairs) = value else {
            throw fail("'__metadata__' must be an object of strings, found \(value.kindName)")
        }
        var result: [String: String] = [:]
        for (key, item) in pairs {
            guard case .string(let text) = item else {
                throw fail("'__metadata__' entry '\(key)' must be a string, found \(item.kindName)")
            }
            guard result.updateValue(text, forKey: key) == nil else {
                throw fail("'__metadata__' has the key '\(key)' twice")
            }
        }
        return result
    }

    /// A non-negative integer from a JSON number's text, or nil.
    private static func nonNegativeInteger(_ value: JSONValue) -> Int? {
        guard case .number(let text) = value, let n = Int(text), n >= 0 else { return nil }
        return n
    }

    private static func readEntry(name: String, value: JSONValue, fail: ErrorContext) throws -> Entry {
        guard case .object(let fields) = value else {
            throw fail("header entry must be an object with dtype, shape and data_offsets, found \(value.kindName)", tensor: name)
        }
        var dtypeValue: JSONValue?, shapeValue: JSONValue?, offsetsValue: JSONValue?
        for (key, item) in fields {
            switch key {
            case "dtype":
                if dtypeValue != nil { throw fail("header entry has 'dtype' twice", tensor: name) }
                dtypeValue = item
            case "shape":
                if shapeValue != nil { throw fail("header entry has 'shape' twice", tensor: name) }
                shapeValue = item
            case "data_offsets":
                if offsetsValue != nil { throw fail("header entry has 'data_offsets' twice", tensor: name) }
                offsetsValue = item
            default:
                throw fail("header entry has an unknown key '\(key)' (expected dtype, shape, data_offsets)", tensor: name)
            }
        }
        guard let dtypeItem = dtypeValue else { throw fail("header entry lacks 'dtype'", tensor: name) }
        guard let shapeItem = shapeValue else { throw fail("header entry lacks 'shape'", tensor: name) }
        guard let offsetsItem = offsetsValue else { throw fail("header entry lacks 'data_offsets'", tensor: name) }

        guard case .string(let dtypeName) = dtypeItem else {
            throw fail("'dtype' must be a string, found \(dtypeItem.kindName)", tensor: name)
        }
        guard let dtype = DType(rawValue: dtypeName) else {
            throw fail("unknown or unsupported dtype '\(dtypeName)' (supported: \(DType.supportedList))", tensor: name)
        }

        guard case .array(let dims) = shapeItem else {
            throw fail("'shape' must be an array of integers, found \(shapeItem.kindName)", tensor: name)
        }
        var shape: [Int] = []
        shape.reserveCapacity(dims.count)
        for d in dims {
            if case .number(let text) = d, let n = Int(text), n < 0 {
                throw fail("shape has a negative dimension \(n)", tensor: name)
            }
            guard let n = nonNegativeInteger(d) else {
                if case .number(let text) = d {
                    throw fail("shape entry \(text) is not an integer that fits in 64 bits", tensor: name)
                }
                throw fail("shape entries must be integers, found \(d.kindName)", tensor: name)
            }
            shape.append(n)
        }
        guard let count = checkedCount(shape) else {
            throw fail("shape \(shapeText(shape)) is absurdly large (the product of its dimensions exceeds 2^60)", tensor: name)
        }
        guard let byteCount = checkedByteCount(count: count, size: dtype.size) else {
            throw fail("shape \(shapeText(shape)) of \(dtype.rawValue) is absurdly large (its byte count overflows)", tensor: name)
        }

        guard case .array(let offsets) = offsetsItem, offsets.count == 2,
              let start = nonNegativeInteger(offsets[0]), let end = nonNegativeInteger(offsets[1]) else {
            throw fail("'data_offsets' must be an array of two non-negative integers [start, end]", tensor: name)
        }
        guard end >= start else {
            throw fail("data_offsets [\(start), \(end)] end before they start", tensor: name)
        }
        guard end - start == byteCount else {
            throw fail("shape \(shapeText(shape)) of \(dtype.rawValue) needs \(byteCount) bytes, but data_offsets [\(start), \(end)] span \(end - start) bytes", tensor: name)
        }
        return Entry(name: name, dtype: dtype, shape: shape, count: count, start: start, end: end)
    }
}
