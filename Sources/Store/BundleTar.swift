/// A minimal POSIX ustar writer and reader for bundles, written here so a bundle depends on no
/// library and reads with any `tar`.
///
/// Deterministic by construction: regular files only, mode 0444, uid/gid 0, no user or group names,
/// mtime 0, entries sorted by name, two zero blocks at the end. The same entries always give the
/// same bytes, so exporting a run twice gives identical files.
public enum BundleTar {
    public struct Entry: Sendable, Equatable {
        public let name: String
        public let bytes: [UInt8]
        public init(name: String, bytes: [UInt8]) {
            self.name = name
            self.bytes = bytes
        }
    }

    public enum ReadError: Error, CustomStringConvertible, Sendable, Equatable {
        case truncated(offset: Int)
        case badChecksum(offset: Int)
        case notUstar(offset: Int)
        case unsupportedType(name: String, type: UInt8)
        case badName(String)
        case duplicate(String)
        case badSize(offset: Int)
        case trailingData(offset: Int)
        /// The end-of-archive marker (two zero blocks) starting at `offset` is missing or incomplete.
        case missingEnd(offset: Int)
        /// `count` bytes follow the end-of-archive marker, which ends at `offset`.
        case afterEnd(offset: Int, count: Int)
        case notCanonical(offset: Int)

        public var description: String {
            switch self {
            case .truncated(let o): return "the bundle is truncated (at byte \(o))"
            case .badChecksum(let o): return "tar header at byte \(o) is damaged (its checksum does not match)"
            case .notUstar(let o): return "tar header at byte \(o) is not a ustar header (not a bcli bundle?)"
            case .unsupportedType(let n, let t): return "entry \(n) has tar type '\(Character(Unicode.Scalar(t)))'; bundles hold regular files only"
            case .badName(let n): return "entry name '\(n)' is not allowed in a bundle"
            case .duplicate(let n): return "entry \(n) appears twice"
            case .badSize(let o): return "tar header at byte \(o) has an unreadable size"
            case .notCanonical(let o): return "tar header at byte \(o) is not as bcli writes it (damaged, or the archive was re-packed by another tool)"
            case .trailingData(let o): return "unexpected non-zero byte at \(o) in padding or in the end-of-archive marker (damaged)"
            case .missingEnd(let o):
                return "the bundle is cut short: its end-of-archive marker (two 512-byte zero blocks) at byte \(o) is missing or incomplete (truncated copy?)"
            case .afterEnd(let o, let n):
                return "\(n) unexpected byte(s) after the end of the archive (from byte \(o)); a bundle ends exactly at its end-of-archive marker (padded or appended to?)"
            }
        }
    }

    static let block = 512

    /// The archive bytes for `entries`, sorted by name. Names must be ASCII and under 100 bytes.
    public static func write(_ entries: [Entry]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(entries.reduce(1024) { $0 + block + roundUp($1.bytes.count) })
        for entry in entries.sorted(by: { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }) {
            precondition(entry.name.utf8.count < 100, "bundle entry names are short by construction")
            out += header(name: entry.name, size: entry.bytes.count)
            out += entry.bytes
            out += [UInt8](repeating: 0, count: roundUp(entry.bytes.count) - entry.bytes.count)
        }
        out += [UInt8](repeating: 0, count: 2 * block)
        return out
    }

    /// The entries of an archive, checked: header checksums, ustar magic, regular files only,
    /// safe relative names, no duplicates, zero padding, and an archive that ends exactly at its
    /// end-of-archive marker (two zero blocks, as `write` ends it): nothing after it, not even one
    /// zero byte, and not one byte of it missing.
    ///
    /// Iterative, and nothing in a header is trusted before it is checked: sizes are bounded by
    /// the 11-digit octal field and by the bytes actually present, names by the 100-byte field
    /// (pax and GNU long-name entries are refused as unsupported types), so no header can make the
    /// reader recurse, allocate beyond the file, or read outside it.
    public static func read(_ bytes: [UInt8]) throws(ReadError) -> [Entry] {
        var entries: [Entry] = []
        var names = Set<String>()
        var offset = 0
        while true {
            guard offset < bytes.count else { throw .missingEnd(offset: offset) }
            guard offset + block <= bytes.count else { throw .truncated(offset: offset) }
            let h = bytes[offset..<offset + block]
            if h.allSatisfy({ $0 == 0 }) {
                // The end-of-archive marker: exactly two zero blocks, then the end of the file.
                let end = offset + 2 * block
                guard end <= bytes.count else {
                    if let stray = bytes[offset...].firstIndex(where: { $0 != 0 }) { throw .trailingData(offset: stray) }
                    throw .missingEnd(offset: offset)
                }
                if let stray = bytes[offset..<end].firstIndex(where: { $0 != 0 }) { throw .trailingData(offset: stray) }
                guard end == bytes.count else { throw .afterEnd(offset: end, count: bytes.count - end) }
                break
            }
            let stored = octal(h, 148, 8)
            var sum = 0
            for (i, b) in h.enumerated() { sum += (i >= 148 && i < 156) ? 32 : Int(b) }
            guard let stored, stored == sum else { throw .badChecksum(offset: offset) }
            guard Array(h[(offset + 257)..<(offset + 262)]) == Array("ustar".utf8) else { throw .notUstar(offset: offset) }
            let name = string(h, 0, 100)
            let prefix = string(h, 345, 155)
            let full = prefix.isEmpty ? name : prefix + "/" + name
            let type = h[offset + 156]
            guard type == UInt8(ascii: "0") || type == 0 else { throw .unsupportedType(name: full, type: type) }
            guard isSafe(full) else { throw .badName(full) }
            // 11 octal digits is the ustar maximum (8 GiB); anything larger is damage, not a size.
            guard let size = octal(h, 124, 12), size >= 0, size < maxEntrySize else { throw .badSize(offset: offset) }
            // Bundles are only written by `write`: any other header byte is damage, even one the
            // checksum would miss (e.g. a leading space in an octal field).
            guard full.utf8.count < 100, Array(h) == header(name: full, size: size) else { throw .notCanonical(offset: offset) }
            let start = offset + block
            guard start + size <= bytes.count else { throw .truncated(offset: start) }
            guard names.insert(full).inserted else { throw .duplicate(full) }
            entries.append(Entry(name: full, bytes: Array(bytes[start..<start + size])))
            let end = min(start + roundUp(size), bytes.count)
            if let stray = bytes[(start + size)..<end].firstIndex(where: { $0 != 0 }) { throw .trailingData(offset: stray) }
            offset = start + roundUp(size)
        }
        return entries
    }

    // MARK: - Internals

    static func roundUp(_ n: Int) -> Int { (n + block - 1) / block * block }

    /// The largest size an 11-digit octal field holds (ustar without extensions).
    static let maxEntrySize = 0o77777777777 + 1

    static func header(name: String, size: Int) -> [UInt8] {
        var h = [UInt8](repeating: 0, count: block)
        func put(_ text: String, at offset: Int) {
            for (i, b) in text.utf8.enumerated() { h[offset + i] = b }
        }
        func putOctal(_ value: Int, at offset: Int, width: Int) {
            let digits = String(value, radix: 8)
            // Callers keep values below 8^(width-1); clamp rather than trap if one ever does not.
            put(String(repeating: "0", count: max(0, width - 1 - digits.count)) + digits.suffix(width - 1), at: offset)  // NUL-terminated
        }
        put(name, at: 0)
        putOctal(0o444, at: 100, width: 8)
        putOctal(0, at: 108, width: 8)
        putOctal(0, at: 116, width: 8)
        putOctal(size, at: 124, width: 12)
        putOctal(0, at: 136, width: 12)
        h[156] = UInt8(ascii: "0")
        put("ustar", at: 257)  // "ustar\0"
        put("00", at: 263)
        for i in 148..<156 { h[i] = 32 }
        let sum = h.reduce(0) { $0 + Int($1) }
        let digits = String(sum, radix: 8)
        put(String(repeating: "0", count: 6 - digits.count) + digits, at: 148)
        h[154] = 0
        h[155] = 32
        return h
    }

    static func string(_ h: ArraySlice<UInt8>, _ offset: Int, _ length: Int) -> String {
        let start = h.startIndex + offset
        let field = h[start..<start + length]
        let end = field.firstIndex(of: 0) ?? field.endIndex
        return String(decoding: field[start..<end], as: UTF8.self)
    }

    static func octal(_ h: ArraySlice<UInt8>, _ offset: Int, _ length: Int) -> Int? {
        let start = h.startIndex + offset
        var value = 0
        var digits = 0
        for b in h[start..<start + length] {
            if b == 0 || b == 32 { if digits > 0 { break } else { continue } }
            guard b >= 48 && b <= 55 else { return nil }
            value = value * 8 + Int(b - 48)
            digits += 1
            if value > Int(Int32.max) * 64 { return nil }
        }
        return digits > 0 ? value : nil
    }

    static func isSafe(_ name: String) -> Bool {
        !name.isEmpty && !name.hasPrefix("/") && !name.split(separator: "/", omittingEmptySubsequences: false).contains { $0 == ".." || $0.isEmpty }
    }
}
