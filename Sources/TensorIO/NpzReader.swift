import Foundation
import ZIPFoundation

/// Reads `.npz` archives (`numpy.savez` and `numpy.savez_compressed`): a zip of `.npy` members.
/// Stored members are used in place in the file's memory map; deflated ones are inflated with
/// ZIPFoundation into memory the tensor owns. Every member's CRC-32 is checked.
enum NpzReader {
    /// Deflate cannot shrink data by more than about 1032:1; a larger declared ratio is corrupt.
    static let maxDeflateRatio = 1032

    /// Parses the archive in `storage` (the whole file).
    static func read(_ storage: ByteStorage, path: String) throws -> [TensorView] {
        let fail = ErrorContext(path: path)
        let members = try ZipDirectory.members(of: storage.bytes, fail: fail)
        var views: [TensorView] = []
        var seen = Set<String>()
        for member in members {
            if member.name.hasSuffix("/") {
                throw fail("member is a directory; an .npz archive holds only .npy arrays", tensor: member.name)
            }
            let name = member.name.hasSuffix(".npy") ? String(member.name.dropLast(4)) : member.name
            guard seen.insert(name).inserted else {
                throw fail("appears twice in the archive (duplicate member name)", tensor: name)
            }
            let (memberStorage, range) = try contents(of: member, tensor: name, in: storage, fail: fail)
            views.append(try NpyReader.read(memberStorage, range: range, name: name, path: path))
        }
        return views
    }

    /// The member's uncompressed bytes: a range of the archive itself, or of newly inflated memory.
    private static func contents(of member: ZipMember, tensor: String, in storage: ByteStorage,
                                 fail: ErrorContext) throws -> (ByteStorage, Range<Int>) {
        let compressed = UnsafeRawBufferPointer(
            rebasing: storage.bytes[member.dataOffset..<(member.dataOffset + member.compressedSize)])
        if member.method == 0 {
            let crc = CRC32.checksum(compressed)
            guard crc == member.crc else {
                throw fail("member data is corrupt (CRC-32 \(hex(crc)), expected \(hex(member.crc)))", tensor: tensor)
            }
            return (storage, member.dataOffset..<(member.dataOffset + member.compressedSize))
        }
        let (limit, overflow) = member.compressedSize.multipliedReportingOverflow(by: maxDeflateRatio)
        guard overflow || member.uncompressedSize <= limit + 1024 else {
            throw fail("member declares \(member.uncompressedSize) bytes, impossible from \(member.compressedSize) deflated bytes (corrupt archive)", tensor: tensor)
        }
        let inflated = try inflate(compressed, expected: member.uncompressedSize, tensor: tensor, fail: fail)
        let crc = CRC32.checksum(inflated.bytes)
        guard crc == member.crc else {
            throw fail("member data is corrupt (CRC-32 \(hex(crc)), expected \(hex(member.crc)))", tensor: tensor)
        }
        return (inflated, 0..<inflated.count)
    }

    /// Inflates a raw deflate stream with ZIPFoundation into malloc'ed memory of exactly `expected` bytes.
    private static func inflate(_ compressed: UnsafeRawBufferPointer, expected: Int, tensor: String,
                                fail: ErrorContext) throws -> ByteStorage {
        // Grow as output arrives (a corrupt size must not make us allocate up front).
        var capacity = max(1, min(expected, compressed.count * 4 + 65536))
        guard var memory = malloc(capacity) else { throw fail("out of memory inflating the member", tensor: tensor) }
        var written = 0
        var consumedInput = 0
        var failure: TensorFileError?
        do {
            _ = try Data.decompress(
                size: Int64(compressed.count), bufferSize: max(1, compressed.count), skipCRC32: true,
                provider: { _, chunk in
                    // ZIPFoundation hands zlib `chunk` bytes as input whatever we return; with the buffer as
                    // large as the member, the whole stream goes in at once with no padding, and a stream
                    // that asks for more input than the member holds is truncated.
                    guard consumedInput < compressed.count else {
                        failure = fail("member data is corrupt: its deflate stream is truncated", tensor: tensor)
                        throw failure!
                    }
                    let take = min(chunk, compressed.count - consumedInput)
                    var data = Data(count: chunk)
                    data.withUnsafeMutableBytes { out in
                        out.copyMemory(from: UnsafeRawBufferPointer(rebasing: compressed[consumedInput..<(consumedInput + take)]))
                    }
                    consumedInput += take
                    return data
                },
                consumer: { data in
                    guard data.count <= expected - written else {
                        failure = fail("member data is corrupt: it inflates to more than the declared \(expected) bytes", tensor: tensor)
                        throw failure!
                    }
                    if written + data.count > capacity {
                        var newCapacity = capacity
                        while newCapacity < written + data.count { newCapacity = newCapacity > expected / 2 ? expected : newCapacity * 2 }
                        guard let grown = realloc(memory, newCapacity) else {
                            failure = fail("out of memory inflating the member (\(expected) bytes)", tensor: tensor)
                            throw failure!
                        }
                        memory = grown
                        capacity = newCapacity
                    }
                    data.withUnsafeBytes { chunk in
                        if let source = chunk.baseAddress, chunk.count > 0 {
                            (memory + written).copyMemory(from: source, byteCount: chunk.count)
                        }
                    }
                    written += data.count
                })
        } catch {
            free(memory)
            if let failure = failure { throw failure }
            throw fail("member data is corrupt: inflating failed (\(error))", tensor: tensor)
        }
        guard written == expected else {
            free(memory)
            throw fail("member data is corrupt: it inflates to \(written) bytes, but \(expected) are declared", tensor: tensor)
        }
        return ByteStorage(mallocated: memory, count: written)
    }

    private static func hex(_ value: UInt32) -> String {
        let digits = String(value, radix: 16)
        return "0x" + String(repeating: "0", count: max(0, 8 - digits.count)) + digits
    }
}
