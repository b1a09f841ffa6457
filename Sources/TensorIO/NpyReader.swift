/// Reads the NumPy `.npy` format: the magic `\x93NUMPY`, a version, a header length, a Python dict
/// literal `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }`, then the C-order data.
enum NpyReader {
    /// The largest header accepted: 100 MB (NumPy itself writes a few hundred bytes at most).
    static let maxHeaderBytes = 100_000_000
    static let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]

    /// True if `bytes` starts with the `.npy` magic.
    static func hasMagic(_ bytes: UnsafeRawBufferPointer) -> Bool {
        bytes.count >= magic.count && zip(bytes.prefix(magic.count), magic).allSatisfy { $0 == $1 }
    }

    /// Parses the `.npy` data at `range` of `storage` as the tensor `name`.
    static func read(_ storage: ByteStorage, range: Range<Int>, name: String, path: String) throws -> TensorView {
        let fail = { (reason: String) in TensorFileError(path: path, tensor: name, reason: reason) }
        let bytes = UnsafeRawBufferPointer(rebasing: storage.bytes[range])
        guard hasMagic(bytes) else {
            throw fail("not a .npy array (bad magic: it must start with \\x93NUMPY)")
        }
        guard bytes.count >= 10 else { throw fail(".npy data is truncated inside its preamble (\(bytes.count) bytes)") }
        let major = bytes[6], minor = bytes[7]
        guard (1...3).contains(major), minor == 0 else {
            throw fail("unsupported .npy format version \(major).\(minor) (1.0, 2.0 and 3.0 are known)")
        }
        let prefix: Int, headerLength: Int
        if major == 1 {
            prefix = 10
            headerLength = Int(UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt16.self)))
        } else {
            guard bytes.count >= 12 else { throw fail(".npy data is truncated inside its preamble (\(bytes.count) bytes)") }
            prefix = 12
            headerLength = Int(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt32.self)))
        }
        guard headerLength <= maxHeaderBytes else {
            throw fail(".npy header length \(headerLength) exceeds the limit of \(maxHeaderBytes) bytes")
        }
        guard headerLength <= bytes.count - prefix else {
            throw fail(".npy header length \(headerLength) goes beyond the end of the data (\(bytes.count) bytes)")
        }
        let headerBytes = UnsafeRawBufferPointer(rebasing: bytes[prefix..<(prefix + headerLength)])
        let text: [Unicode.Scalar]
        if major == 3 {
            if let bad = firstInvalidUTF8(headerBytes) { throw fail(".npy header is not valid UTF-8 (at header byte \(bad))") }
            text = Array(String(decoding: headerBytes, as: UTF8.self).unicodeScalars)
        } else {
            text = headerBytes.map { Unicode.Scalar($0) }  // Latin-1
        }
        let header: NpyHeader
        do {
            header = try NpyHeader.parse(text)
        } catch let e as NpyHeaderError {
            throw fail(".npy header is invalid: \(e.message)")
        }
        guard let count = checkedCount(header.shape) else {
            throw fail("shape \(shapeText(header.shape)) is absurdly large (the product of its dimensions exceeds 2^60)")
        }
        guard let byteCount = checkedByteCount(count: count, size: header.dtype.size) else {
            throw fail("shape \(shapeText(header.shape)) of \(header.dtype.rawValue) is absurdly large (its byte count overflows)")
        }
        let dataStart = prefix + headerLength
        let available = bytes.count - dataStart
        if available < byteCount {
            throw fail("data is truncated: shape \(shapeText(header.shape)) of \(header.dtype.rawValue) needs \(byteCount) bytes, \(available) are present")
        }
        if available > byteCount {
            throw fail("\(available - byteCount) bytes follow the array data (shape \(shapeText(header.shape)) of \(header.dtype.rawValue) needs \(byteCount))")
        }
        return TensorView(path: path, name: name, dtype: header.dtype, shape: header.shape, count: count,
                          storage: storage, offset: range.lowerBound + dataStart)
    }
}

/// A problem in a `.npy` header.
struct NpyHeaderError: Error {
    let message: String
}

/// The checked content of a `.npy` header.
struct NpyHeader {
    let dtype: DType
    let shape: [Int]

    /// A value of the Python literal subset that `.npy` headers use.
    indirect enum Literal {
        case string(String)
        case integer(Int?)  // nil: does not fit in 64 bits
        case bool(Bool)
        case none
        case tuple([Literal])
        case list([Literal])
        case dict([(key: Literal, value: Literal)])

        var kindName: String {
            switch self {
            case .string: return "a string"
            case .integer: return "an integer"
            case .bool: return "a boolean"
            case .none: return "None"
            case .tuple: return "a tuple"
            case .list: return "a list"
            case .dict: return "a dict"
            }
        }
    }

    /// Parses and checks the header text.
    static func parse(_ text: [Unicode.Scalar]) throws -> NpyHeader {
        var parser = LiteralParser(text: text)
        parser.skipSpace()
        let value = try parser.value(depth: 0)
        parser.skipSpace()
        guard parser.atEnd else {
            throw NpyHeaderError(message: "unexpected '\(parser.current)' after the header dict")
        }
        guard case .dict(let pairs) = value else {
            throw NpyHeaderError(message: "the header must be a dict, found \(value.kindName)")
        }
        var descr: Literal?, fortran: Literal?, shapeValue: Literal?
        for (key, item) in pairs {
            guard case .string(let k) = key else {
                throw NpyHeaderError(message: "header keys must be strings, found \(key.kindName)")
            }
            switch k {
            case "descr":
                if descr != nil { throw NpyHeaderError(message: "key 'descr' appears twice") }
                descr = item
            case "fortran_order":
                if fortran != nil { throw NpyHeaderError(message: "key 'fortran_order' appears twice") }
                fortran = item
            case "shape":
                if shapeValue != nil { throw NpyHeaderError(message: "key 'shape' appears twice") }
                shapeValue = item
            default:
                throw NpyHeaderError(message: "unexpected key '\(k)' (expected descr, fortran_order, shape)")
            }
        }
        guard let descrItem = descr else { throw NpyHeaderError(message: "key 'descr' is missing") }
        guard let fortranItem = fortran else { throw NpyHeaderError(message: "key 'fortran_order' is missing") }
        guard let shapeItem = shapeValue else { throw NpyHeaderError(message: "key 'shape' is missing") }

        let dtype = try parseDescr(descrItem)
        guard case .bool(let isFortran) = fortranItem else {
            throw NpyHeaderError(message: "'fortran_order' must be True or False, found \(fortranItem.kindName)")
        }
        if isFortran {
            throw NpyHeaderError(message: "the array is stored in Fortran order, which is not supported (save np.ascontiguousarray(a) instead)")
        }
        guard case .tuple(let dims) = shapeItem else {
            throw NpyHeaderError(message: "'shape' must be a tuple of integers, found \(shapeItem.kindName)")
        }
        var shape: [Int] = []
        for d in dims {
            guard case .integer(let n) = d else {
                throw NpyHeaderError(message: "'shape' entries must be integers, found \(d.kindName)")
            }
            guard let dim = n else { throw NpyHeaderError(message: "a 'shape' entry does not fit in 64 bits") }
            guard dim >= 0 else { throw NpyHeaderError(message: "'shape' has a negative dimension \(dim)") }
            shape.append(dim)
        }
        return NpyHeader(dtype: dtype, shape: shape)
    }

    /// Maps a NumPy type string such as `<f4` to a `DType`.
    static func parseDescr(_ item: Literal) throws -> DType {
        guard case .string(let descr) = item else {
            if case .list = item {
                throw NpyHeaderError(message: "structured dtypes (a list 'descr') are not supported")
            }
            throw NpyHeaderError(message: "'descr' must be a string, found \(item.kindName)")
        }
        var body = Substring(descr)
        var order: Character = "|"
        if let first = body.first, "<>|=".contains(first) {
            order = first
            body = body.dropFirst()
        }
        if body == "O" || body.hasPrefix("O") {
            throw NpyHeaderError(message: "object arrays (dtype '\(descr)') are not supported: they hold pickled Python objects")
        }
        let table: [Substring: DType] = ["f8": .f64, "f4": .f32, "f2": .f16, "i8": .i64, "i4": .i32,
                                         "i2": .i16, "i1": .i8, "u1": .u8, "b1": .bool]
        guard let dtype = table[body] else {
            throw NpyHeaderError(message: "dtype '\(descr)' is not supported (supported: <f8, <f4, <f2, <i8, <i4, <i2, |i1, |u1, |b1)")
        }
        if order == ">" && dtype.size > 1 {
            throw NpyHeaderError(message: "big-endian dtype '\(descr)' is not supported (convert with a.astype('<\(body)'))")
        }
        return dtype
    }

    /// A recursive-descent parser for the literal subset: strings, integers, True/False/None, tuples, lists, dicts.
    private struct LiteralParser {
        let text: [Unicode.Scalar]
        var index = 0
        static let maxDepth = 32

        var atEnd: Bool { index >= text.count }
        var current: Unicode.Scalar { text[index] }

        mutating func skipSpace() {
            while index < text.count, text[index] == " " || text[index] == "\n" || text[index] == "\t" || text[index] == "\r" {
                index += 1
            }
        }

        func failure(_ message: String) -> NpyHeaderError {
            NpyHeaderError(message: "\(message) at header character \(index)")
        }

        mutating func value(depth: Int) throws -> Literal {
            guard depth < LiteralParser.maxDepth else { throw failure("nesting too deep") }
            guard !atEnd else { throw failure("unexpected end of the header") }
            let c = current
            switch c {
            case "'", "\"": return .string(try string())
            case "{": return try dict(depth: depth)
            case "(": return try sequence(close: ")", depth: depth)
            case "[": return try sequence(close: "]", depth: depth)
            case "-", "+", "0"..."9": return try integer()
            default:
                if c.properties.isAlphabetic || c == "_" {
                    let word = identifier()
                    switch word {
                    case "True": return .bool(true)
                    case "False": return .bool(false)
                    case "None": return .none
                    default: throw failure("unexpected name '\(word)'")
                    }
                }
                throw failure("unexpected character '\(c)'")
            }
        }

        mutating func identifier() -> String {
            var word = ""
            while index < text.count, text[index].properties.isAlphabetic || text[index] == "_" || ("0"..."9").contains(text[index]) {
                word.unicodeScalars.append(text[index])
                index += 1
            }
            return word
        }

        mutating func string() throws -> String {
            let quote = current
            index += 1
            var result = ""
            while true {
                guard !atEnd else { throw failure("unterminated string") }
                let c = current
                index += 1
                if c == quote { return result }
                if c == "\n" { throw failure("line break inside a string") }
                if c == "\\" {
                    guard !atEnd else { throw failure("unterminated string") }
                    let e = current
                    index += 1
                    switch e {
                    case "\\", "'", "\"": result.unicodeScalars.append(e)
                    case "n": result += "\n"
                    case "t": result += "\t"
                    default: throw failure("unsupported escape '\\\(e)' in a string")
                    }
                    continue
                }
                result.unicodeScalars.append(c)
            }
        }

        mutating func integer() throws -> Literal {
            var negative = false
            if current == "-" || current == "+" {
                negative = current == "-"
                index += 1
            }
            var value: Int? = 0
            var digits = 0
            while index < text.count, ("0"..."9").contains(text[index]) {
                let d = Int(text[index].value - 48)
                if let v = value {
                    let (m, o1) = v.multipliedReportingOverflow(by: 10)
                    let (s, o2) = m.addingReportingOverflow(d)
                    value = (o1 || o2) ? nil : s
                }
                digits += 1
                index += 1
            }
            guard digits > 0 else { throw failure("a sign without digits") }
            if index < text.count, text[index] == "L" || text[index] == "l" { index += 1 }  // Python 2 long
            if index < text.count, text[index] == "." || text[index] == "e" || text[index] == "E" {
                throw failure("a float where an integer was expected")
            }
            return .integer(value.map { negative ? -$0 : $0 })
        }

        mutating func sequence(close: Unicode.Scalar, depth: Int) throws -> Literal {
            index += 1
            var items: [Literal] = []
            var sawComma = false
            while true {
                skipSpace()
                guard !atEnd else { throw failure("unexpected end of the header inside a \(close == ")" ? "tuple" : "list")") }
                if current == close { index += 1; break }
                items.append(try value(depth: depth + 1))
                skipSpace()
                guard !atEnd else { throw failure("unexpected end of the header") }
                if current == "," { index += 1; sawComma = true; continue }
                if current == close { index += 1; break }
                throw failure("expected ',' or '\(close)', found '\(current)'")
            }
            if close == "]" { return .list(items) }
            // Python: `(x)` is just x; a tuple needs a comma or no items.
            if items.count == 1 && !sawComma { return items[0] }
            return .tuple(items)
        }

        mutating func dict(depth: Int) throws -> Literal {
            index += 1
            var pairs: [(key: Literal, value: Literal)] = []
            while true {
                skipSpace()
                guard !atEnd else { throw failure("unexpected end of the header inside the dict") }
                if current == "}" { index += 1; return .dict(pairs) }
                let key = try value(depth: depth + 1)
                skipSpace()
                guard !atEnd, current == ":" else { throw failure("expected ':' after a dict key") }
                index += 1
                skipSpace()
                let item = try value(depth: depth + 1)
                pairs.append((key, item))
                skipSpace()
                guard !atEnd else { throw failure("unexpected end of the header inside the dict") }
                if current == "," { index += 1; continue }
                if current == "}" { index += 1; return .dict(pairs) }
                throw failure("expected ',' or '}' in the dict, found '\(current)'")
            }
        }
    }
}
