/// One member of a zip archive, located in the archive's bytes.
struct ZipMember {
    /// The member's path inside the archive.
    let name: String
    /// 0 (stored) or 8 (deflate).
    let method: UInt16
    /// The CRC-32 of the uncompressed bytes.
    let crc: UInt32
    /// Bytes of (possibly compressed) data in the archive.
    let compressedSize: Int
    /// Bytes after inflating.
    let uncompressedSize: Int
    /// Offset of the member's local header.
    let headerOffset: Int
    /// Offset of the member's data.
    let dataOffset: Int
}

/// Reads the central directory of a zip archive (with ZIP64 extensions) and checks it against
/// the local headers: every offset and size in range, members not overlapping, names matching.
enum ZipDirectory {
    private static let endSignature: UInt32 = 0x0605_4B50
    private static let zip64LocatorSignature: UInt32 = 0x0706_4B50
    private static let zip64EndSignature: UInt32 = 0x0606_4B50
    private static let centralSignature: UInt32 = 0x0201_4B50
    private static let localSignature: UInt32 = 0x0403_4B50

    /// Lists the members of the archive in `bytes`; errors are reasons about the file as a whole
    /// or about a member (then `tensor` names the member).
    static func members(of bytes: UnsafeRawBufferPointer, fail: ErrorContext) throws -> [ZipMember] {
        func u16(_ at: Int) -> Int { Int(UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: UInt16.self))) }
        func u32(_ at: Int) -> UInt32 { UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: UInt32.self)) }
        func u64(_ at: Int) -> UInt64 { UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: UInt64.self)) }
        /// A 64-bit size or offset as an Int no larger than the file.
        func fileOffset(_ value: UInt64, _ what: String) throws -> Int {
            guard value <= UInt64(bytes.count) else {
                throw fail("corrupt zip archive: \(what) \(value) is beyond the end of the file (\(bytes.count) bytes)")
            }
            return Int(value)
        }

        // End of central directory record: 22 bytes plus a comment of at most 65535 bytes.
        let size = bytes.count
        guard size >= 22 else { throw fail("not a zip archive: \(size) bytes, too short for an end-of-central-directory record") }
        var end = -1
        var candidate = size - 22
        let lowest = max(0, size - 22 - 65535)
        while candidate >= lowest {
            if u32(candidate) == endSignature && u16(candidate + 20) == size - candidate - 22 {
                end = candidate
                break
            }
            candidate -= 1
        }
        guard end >= 0 else {
            throw fail("not a zip archive or truncated: no end-of-central-directory record at the end of the file")
        }
        let disk = u16(end + 4), directoryDisk = u16(end + 6)
        var entriesOnDisk = UInt64(u16(end + 8)), entryCount = UInt64(u16(end + 10))
        var directorySize = UInt64(u32(end + 12)), directoryOffset = UInt64(u32(end + 16))
        var directoryLimit = end  // the central directory must end before this offset
        if end >= 20 && u32(end - 20) == zip64LocatorSignature {
            let recordOffset = try fileOffset(u64(end - 20 + 8), "ZIP64 end record offset")
            guard recordOffset <= end - 20 - 56, u32(recordOffset) == zip64EndSignature else {
                throw fail("corrupt zip archive: the ZIP64 end-of-central-directory record is missing or misplaced")
            }
            guard u32(recordOffset + 16) == 0, u32(recordOffset + 20) == 0 else {
                throw fail("multi-disk zip archives are not supported")
            }
            entriesOnDisk = u64(recordOffset + 24)
            entryCount = u64(recordOffset + 32)
            directorySize = u64(recordOffset + 40)
            directoryOffset = u64(recordOffset + 48)
            directoryLimit = recordOffset
        } else {
            guard disk == 0, directoryDisk == 0 else { throw fail("multi-disk zip archives are not supported") }
            if entryCount == 0xFFFF || directorySize == 0xFFFF_FFFF || directoryOffset == 0xFFFF_FFFF {
                throw fail("corrupt zip archive: ZIP64 sizes are announced but the ZIP64 end record is missing")
            }
        }
        guard entriesOnDisk == entryCount else { throw fail("multi-disk zip archives are not supported") }
        let dirStart = try fileOffset(directoryOffset, "central directory offset")
        let dirSize = try fileOffset(directorySize, "central directory size")
        guard dirStart <= directoryLimit else {
            throw fail("corrupt zip archive: the central directory offset \(dirStart) is past the end record at \(directoryLimit)")
        }
        guard dirSize <= directoryLimit - dirStart else {
            throw fail("corrupt zip archive: the central directory (\(dirSize) bytes at \(dirStart)) runs into the end record at \(directoryLimit)")
        }
        let dirEnd = dirStart + dirSize
        guard entryCount <= UInt64(dirSize / 46) else {
            throw fail("corrupt zip archive: \(entryCount) entries cannot fit in a central directory of \(dirSize) bytes")
        }

        var members: [ZipMember] = []
        members.reserveCapacity(Int(entryCount))
        var p = dirStart
        for k in 0..<Int(entryCount) {
            guard dirEnd - p >= 46, u32(p) == centralSignature else {
                throw fail("corrupt zip archive: central directory entry \(k) is damaged")
            }
            let flags = u16(p + 8)
            let method = UInt16(u16(p + 10))
            let crc = u32(p + 16)
            var compressed = UInt64(u32(p + 20)), uncompressed = UInt64(u32(p + 24))
            let nameLength = u16(p + 28), extraLength = u16(p + 30), commentLength = u16(p + 32)
            let startDisk = u16(p + 34)
            var headerOffset = UInt64(u32(p + 42))
            let entryLength = 46 + nameLength + extraLength + commentLength
            guard dirEnd - p >= entryLength else {
                throw fail("corrupt zip archive: central directory entry \(k) runs past the directory's end")
            }
            let nameBytes = UnsafeRawBufferPointer(rebasing: bytes[(p + 46)..<(p + 46 + nameLength)])
            guard firstInvalidUTF8(nameBytes) == nil else {
                throw fail("corrupt zip archive: the name of member \(k) is not valid UTF-8")
            }
            let name = String(decoding: nameBytes, as: UTF8.self)

            // ZIP64 extra field (id 1): the saturated fields, in this order.
            var e = p + 46 + nameLength
            let extraEnd = e + extraLength
            while extraEnd - e >= 4 {
                let id = u16(e), length = u16(e + 2)
                guard extraEnd - e - 4 >= length else {
                    throw fail("corrupt zip archive: an extra field of the member runs past its end", tensor: name)
                }
                if id == 1 {
                    var q = e + 4
                    let qEnd = q + length
                    func next() throws -> UInt64 {
                        guard qEnd - q >= 8 else {
                            throw fail("corrupt zip archive: the ZIP64 extra field of the member is too short", tensor: name)
                        }
                        defer { q += 8 }
                        return u64(q)
                    }
                    if uncompressed == 0xFFFF_FFFF { uncompressed = try next() }
                    if compressed == 0xFFFF_FFFF { compressed = try next() }
                    if headerOffset == 0xFFFF_FFFF { headerOffset = try next() }
                }
                e += 4 + length
            }
            guard startDisk == 0 || startDisk == 0xFFFF else { throw fail("multi-disk zip archives are not supported") }
            if flags & 1 != 0 { throw fail("member is encrypted, which is not supported", tensor: name) }
            guard method == 0 || method == 8 else {
                throw fail("member uses compression method \(method); only stored (0) and deflate (8) are supported", tensor: name)
            }
            let compressedSize = try fileOffset(compressed, "compressed size of '\(name)'")
            guard uncompressed <= UInt64(Int.max) else {
                throw fail("member declares an absurd uncompressed size \(uncompressed)", tensor: name)
            }
            let uncompressedSize = Int(uncompressed)
            if method == 0 && compressedSize != uncompressedSize {
                throw fail("stored member has a compressed size \(compressedSize) different from its size \(uncompressedSize)", tensor: name)
            }
            let local = try fileOffset(headerOffset, "local header offset of '\(name)'")
            guard local <= dirStart, dirStart - local >= 30, u32(local) == localSignature else {
                throw fail("corrupt zip archive: the member's local header is missing or damaged", tensor: name)
            }
            let localNameLength = u16(local + 26), localExtraLength = u16(local + 28)
            let dataOffset = local + 30 + localNameLength + localExtraLength
            guard dataOffset <= dirStart, compressedSize <= dirStart - dataOffset else {
                throw fail("corrupt zip archive: the member's data runs into the central directory", tensor: name)
            }
            let localName = UnsafeRawBufferPointer(rebasing: bytes[(local + 30)..<(local + 30 + localNameLength)])
            guard localName.elementsEqual(nameBytes) else {
                throw fail("corrupt zip archive: the member's local header names it differently", tensor: name)
            }
            members.append(ZipMember(name: name, method: method, crc: crc, compressedSize: compressedSize,
                                     uncompressedSize: uncompressedSize, headerOffset: local, dataOffset: dataOffset))
            p += entryLength
        }
        guard p == dirEnd else {
            throw fail("corrupt zip archive: the central directory holds \(dirEnd - p) bytes beyond its \(entryCount) entries")
        }

        // Members must not share bytes.
        let byOffset = members.sorted { $0.headerOffset < $1.headerOffset }
        for (a, b) in zip(byOffset, byOffset.dropFirst()) where a.dataOffset + a.compressedSize > b.headerOffset {
            throw fail("corrupt zip archive: the member overlaps member '\(b.name)'", tensor: a.name)
        }
        return members
    }
}
