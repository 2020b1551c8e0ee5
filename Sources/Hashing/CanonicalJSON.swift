/// Why a `JSONValue` has no RFC 8785 canonical form.
public enum CanonicalJSONError: Error, CustomStringConvertible, Sendable, Equatable {
    /// NaN or ±Infinity: JSON has no such numbers. Only reachable for values built in code
    /// (the parser never produces them); replace the number or encode it as a string.
    case nonFiniteNumber(Double)

    public var description: String {
        switch self {
        case .nonFiniteNumber(let d):
            return "cannot canonicalise the number \(d): RFC 8785 allows only finite numbers; replace it or encode it as a string"
        }
    }
}

extension JSONValue {
    /// RFC 8785 (JCS) canonical UTF-8 bytes: members sorted by UTF-16 code units, no whitespace,
    /// strings escaped as ECMAScript `JSON.stringify` does, numbers as `Number.prototype.toString`.
    ///
    /// Why: these are the bytes bcli sends, hashes and stores for request bodies, so two
    /// semantically equal bodies always hash the same. Throws for NaN/Infinity (only reachable
    /// for hand-built values).
    public func canonicalBytes() throws(CanonicalJSONError) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        try CanonicalJSON.append(self, to: &out)
        return out
    }

    /// `canonicalBytes()` as a `String` (the bytes are always valid UTF-8).
    public func canonicalString() throws(CanonicalJSONError) -> String {
        String(decoding: try canonicalBytes(), as: UTF8.self)
    }
}

/// The JCS encoder's building blocks, shared with the pretty printer.
enum CanonicalJSON {
    static func append(_ value: JSONValue, to out: inout [UInt8]) throws(CanonicalJSONError) {
        switch value {
        case .null:
            out.append(contentsOf: "null".utf8)
        case .bool(let b):
            out.append(contentsOf: (b ? "true" : "false").utf8)
        case .number(let d):
            guard d.isFinite else { throw .nonFiniteNumber(d) }
            ECMAScriptNumber.append(d, to: &out)
        case .string(let s):
            appendString(s, to: &out)
        case .array(let elements):
            out.append(UInt8(ascii: "["))
            var first = true
            for element in elements {
                if !first { out.append(UInt8(ascii: ",")) }
                first = false
                try append(element, to: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            var first = true
            for (key, member) in sortedMembers(members) {
                if !first { out.append(UInt8(ascii: ",")) }
                first = false
                appendString(key, to: &out)
                out.append(UInt8(ascii: ":"))
                try append(member, to: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    /// Members in JCS order (UTF-16 code units of the names).
    static func sortedMembers(_ members: [String: JSONValue]) -> [(key: String, value: JSONValue)] {
        members.sorted { utf16Precedes($0.key, $1.key) }
    }

    /// Whether `a` sorts before `b` when both are compared as sequences of UTF-16 code units.
    ///
    /// Works on UTF-8 (fast, no transcoding): byte order equals scalar order, and scalar order
    /// equals UTF-16 order except when a scalar in U+E000…U+FFFF (lead byte 0xEE/0xEF) meets a
    /// supplementary scalar (lead byte ≥ 0xF0, a surrogate pair 0xD800… in UTF-16, so smaller).
    static func utf16Precedes(_ a: String, _ b: String) -> Bool {
        var ia = a.utf8.makeIterator()
        var ib = b.utf8.makeIterator()
        while true {
            guard let x = ia.next() else { return ib.next() != nil }
            guard let y = ib.next() else { return false }
            if x != y {
                // The first differing byte of two strings with a common prefix is either a lead
                // byte in both (different lengths or values) or a continuation byte in both.
                if x >= 0xF0 && (y == 0xEE || y == 0xEF) { return true }
                if y >= 0xF0 && (x == 0xEE || x == 0xEF) { return false }
                return x < y
            }
        }
    }

    /// Appends `s` as a JSON string the way ECMAScript `JSON.stringify` writes it: only `"`, `\`
    /// and U+0000…U+001F escaped (`\b \f \n \r \t`, else `\u00xx` lowercase), everything else raw.
    static func appendString(_ s: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        let done: Void? = s.utf8.withContiguousStorageIfAvailable { appendEscaped($0, to: &out) }
        if done == nil {
            appendEscaped(Array(s.utf8), to: &out)
        }
        out.append(UInt8(ascii: "\""))
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    private static func appendEscaped(_ bytes: some Collection<UInt8>, to out: inout [UInt8]) {
        for b in bytes {
            if b >= 0x20 && b != UInt8(ascii: "\"") && b != UInt8(ascii: "\\") {
                out.append(b)
                continue
            }
            out.append(UInt8(ascii: "\\"))
            switch b {
            case UInt8(ascii: "\""): out.append(UInt8(ascii: "\""))
            case UInt8(ascii: "\\"): out.append(UInt8(ascii: "\\"))
            case 0x08: out.append(UInt8(ascii: "b"))
            case 0x0C: out.append(UInt8(ascii: "f"))
            case 0x0A: out.append(UInt8(ascii: "n"))
            case 0x0D: out.append(UInt8(ascii: "r"))
            case 0x09: out.append(UInt8(ascii: "t"))
            default:
                out.append(contentsOf: "u00".utf8)
                out.append(hexDigits[Int(b >> 4)])
                out.append(hexDigits[Int(b & 0xF)])
            }
        }
    }
}
