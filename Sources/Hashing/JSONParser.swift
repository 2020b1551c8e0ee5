/// Why the bytes given to `JSONValue(parsing:)` are not one valid I-JSON text, and where.
///
/// `offset` is a 0-based byte offset; `line` and `column` are 1-based, the column counted in bytes
/// (lines end at LF), so an editor's "go to byte" or "line:column" finds the problem.
public struct JSONParseError: Error, CustomStringConvertible, Sendable, Equatable {
    public let message: String
    public let offset: Int
    public let line: Int
    public let column: Int

    public init(message: String, offset: Int, line: Int, column: Int) {
        self.message = message
        self.offset = offset
        self.line = line
        self.column = column
    }

    public var description: String {
        "invalid JSON at line \(line), column \(column): \(message)"
    }
}

extension JSONValue {
    /// The deepest nesting of arrays and objects the parser accepts.
    public static let maximumNestingDepth = 512

    /// Parses exactly one JSON text (RFC 8259) from UTF-8 bytes; surrounding whitespace allowed,
    /// anything else after it is an error.
    ///
    /// Strict I-JSON (RFC 7493): invalid UTF-8 (overlong forms, encoded surrogates, truncated
    /// sequences), unpaired `\u` surrogate escapes, duplicate names (compared after unescaping),
    /// numbers that overflow a double, a byte order mark, comments, trailing commas, leading zeros
    /// and raw control characters in strings are all rejected. Nesting deeper than
    /// `maximumNestingDepth` is rejected rather than risking the stack.
    public init(parsing bytes: some Collection<UInt8>) throws(JSONParseError) {
        let result: Result<JSONValue, JSONParseError>? = bytes.withContiguousStorageIfAvailable { buffer in
            JSONParser.parse(buffer)
        }
        if let result {
            self = try result.get()
        } else {
            let copy = Array(bytes)
            self = try copy.withUnsafeBufferPointer { JSONParser.parse($0) }.get()
        }
    }

    /// Parses exactly one JSON text from a string's UTF-8 form; see `init(parsing:)` for the rules.
    public init(parsing string: String) throws(JSONParseError) {
        var string = string
        self = try string.withUTF8 { JSONParser.parse($0) }.get()
    }
}

/// An iterative (explicit-stack) recursive-descent parser over a byte buffer: no recursion, so
/// depth is bounded by `maximumNestingDepth` and not by the caller's thread stack.
struct JSONParser: ~Copyable {
    private let bytes: UnsafeBufferPointer<UInt8>
    private var pos = 0
    /// Reused for strings that contain escapes.
    private var scratch: [UInt8] = []

    private init(_ bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    static func parse(_ bytes: UnsafeBufferPointer<UInt8>) -> Result<JSONValue, JSONParseError> {
        var parser = JSONParser(bytes)
        do throws(JSONParseError) {
            return .success(try parser.parseDocument())
        } catch {
            return .failure(error)
        }
    }

    // MARK: - Structure

    /// One open array or object.
    private struct Frame {
        var isObject: Bool
        var elements: [JSONValue] = []
        var members: [String: JSONValue] = [:]
        var key: String = ""

        /// `}` or `]`.
        var closer: UInt8 { isObject ? UInt8(ascii: "}") : UInt8(ascii: "]") }
        /// The finished container.
        var value: JSONValue { isObject ? .object(members) : .array(elements) }
    }

    private mutating func parseDocument() throws(JSONParseError) -> JSONValue {
        if bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF {
            throw error("byte order mark (U+FEFF) not allowed; save the file as UTF-8 without BOM", at: 0)
        }
        var stack: [Frame] = []
        var value: JSONValue

        parseValue: while true {
            skipWhitespace()
            guard pos < bytes.count else {
                throw error(stack.isEmpty ? "empty input, expected a JSON value" : "unexpected end of input, expected a value", at: pos)
            }
            switch bytes[pos] {
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                guard stack.count < JSONValue.maximumNestingDepth else { throw tooDeep() }
                var frame = Frame(isObject: bytes[pos] == UInt8(ascii: "{"))
                pos += 1
                skipWhitespace()
                if pos < bytes.count, bytes[pos] == frame.closer {
                    pos += 1
                    value = frame.value
                } else {
                    if frame.isObject { frame.key = try parseKey(existing: frame.members) }
                    stack.append(frame)
                    continue parseValue
                }
            case UInt8(ascii: "\""):
                value = .string(try parseString())
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                value = .number(try parseNumber())
            case UInt8(ascii: "t"):
                try expectLiteral("true")
                value = .bool(true)
            case UInt8(ascii: "f"):
                try expectLiteral("false")
                value = .bool(false)
            case UInt8(ascii: "n"):
                try expectLiteral("null")
                value = .null
            default:
                throw unexpected(expecting: "a JSON value")
            }

            // A value is complete: hand it to the enclosing container, closing as many as end here.
            while true {
                guard !stack.isEmpty else {
                    skipWhitespace()
                    if pos < bytes.count {
                        throw unexpected(expecting: "end of input after the JSON value")
                    }
                    return value
                }
                let top = stack.count - 1
                skipWhitespace()
                let next: UInt8? = pos < bytes.count ? bytes[pos] : nil
                if stack[top].isObject {
                    let key = stack[top].key
                    stack[top].members[key] = value
                } else {
                    stack[top].elements.append(value)
                }
                if next == UInt8(ascii: ",") {
                    pos += 1
                    if stack[top].isObject {
                        skipWhitespace()
                        stack[top].key = try parseKey(existing: stack[top].members)
                    }
                    continue parseValue
                } else if next == stack[top].closer {
                    pos += 1
                    value = stack.removeLast().value
                } else {
                    throw unexpected(expecting: stack[top].isObject ? "',' or '}' in object" : "',' or ']' in array")
                }
            }
        }
    }

    /// Parses `"name" :` (whitespace already skipped) and rejects a name already in `existing`.
    private mutating func parseKey(existing: [String: JSONValue]) throws(JSONParseError) -> String {
        guard pos < bytes.count, bytes[pos] == UInt8(ascii: "\"") else {
            if pos < bytes.count, bytes[pos] == UInt8(ascii: "}") {
                throw error("trailing comma before '}' in object", at: pos)
            }
            throw unexpected(expecting: "a string (object member name)")
        }
        let keyOffset = pos
        let key = try parseString()
        if let index = existing.index(forKey: key) {
            let earlier = existing[index].key
            if earlier.unicodeScalars.elementsEqual(key.unicodeScalars) {
                throw error("duplicate key \(Self.quoted(key)) in object", at: keyOffset)
            }
            throw error(
                "duplicate key \(Self.quoted(key)) in object (canonically equivalent to \(Self.quoted(earlier)); such names cannot be told apart)",
                at: keyOffset)
        }
        skipWhitespace()
        guard pos < bytes.count, bytes[pos] == UInt8(ascii: ":") else {
            throw unexpected(expecting: "':' after object member name")
        }
        pos += 1
        return key
    }

    // MARK: - Scalars

    @inline(__always)
    private mutating func skipWhitespace() {
        while pos < bytes.count {
            switch bytes[pos] {
            case 0x20, 0x0A, 0x0D, 0x09: pos += 1
            default: return
            }
        }
    }

    private mutating func expectLiteral(_ literal: StaticString) throws(JSONParseError) {
        let start = pos
        let count = literal.utf8CodeUnitCount
        let text = UnsafeBufferPointer(start: literal.utf8Start, count: count)
        for i in 0..<count {
            guard start + i < bytes.count, bytes[start + i] == text[i] else {
                pos = start
                throw unexpected(expecting: "a JSON value (did you mean '\(literal)'?)")
            }
        }
        pos = start + count
        // `truex` / `nullnull`: a literal must not run into other letters or digits.
        if pos < bytes.count, Self.isIdentifierByte(bytes[pos]) {
            throw unexpected(expecting: "a delimiter after '\(literal)'")
        }
    }

    private static func isIdentifierByte(_ b: UInt8) -> Bool {
        (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z"))
            || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9")) || b == UInt8(ascii: "_")
    }

    /// Exact powers of ten for Clinger's fast path.
    private static let powersOfTen: [Double] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
        1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
    ]

    /// Validates the RFC 8259 number grammar, then converts with correct rounding.
    private mutating func parseNumber() throws(JSONParseError) -> Double {
        let start = pos
        var negative = false
        if bytes[pos] == UInt8(ascii: "-") {
            negative = true
            pos += 1
        }
        guard pos < bytes.count, Self.isDigit(bytes[pos]) else {
            throw unexpected(expecting: "a digit after '-'")
        }
        var mantissa: UInt64 = 0
        var significantDigits = 0  // digits accumulated into `mantissa`, leading zeros excluded
        var decimalExponent = 0
        if bytes[pos] == UInt8(ascii: "0") {
            pos += 1
            if pos < bytes.count, Self.isDigit(bytes[pos]) {
                throw error("leading zeros are not allowed in numbers", at: start)
            }
        } else {
            while pos < bytes.count, Self.isDigit(bytes[pos]) {
                if significantDigits < 19 {
                    mantissa = mantissa &* 10 &+ UInt64(bytes[pos] &- UInt8(ascii: "0"))
                }
                significantDigits += 1
                pos += 1
            }
        }
        if pos < bytes.count, bytes[pos] == UInt8(ascii: ".") {
            pos += 1
            guard pos < bytes.count, Self.isDigit(bytes[pos]) else {
                throw unexpected(expecting: "a digit after the decimal point")
            }
            while pos < bytes.count, Self.isDigit(bytes[pos]) {
                let digit = UInt64(bytes[pos] &- UInt8(ascii: "0"))
                if significantDigits > 0 || digit != 0 {
                    if significantDigits < 19 { mantissa = mantissa &* 10 &+ digit }
                    significantDigits += 1
                }
                decimalExponent -= 1
                pos += 1
            }
        }
        var exponent = 0
        var exponentOverflow = false
        if pos < bytes.count, bytes[pos] | 0x20 == UInt8(ascii: "e") {
            pos += 1
            var exponentNegative = false
            if pos < bytes.count, bytes[pos] == UInt8(ascii: "+") || bytes[pos] == UInt8(ascii: "-") {
                exponentNegative = bytes[pos] == UInt8(ascii: "-")
                pos += 1
            }
            guard pos < bytes.count, Self.isDigit(bytes[pos]) else {
                throw unexpected(expecting: "a digit in the exponent")
            }
            while pos < bytes.count, Self.isDigit(bytes[pos]) {
                if exponent < 100_000_000 {
                    exponent = exponent * 10 + Int(bytes[pos] &- UInt8(ascii: "0"))
                } else {
                    exponentOverflow = true
                }
                pos += 1
            }
            if exponentNegative { exponent = -exponent }
        }
        if pos < bytes.count, Self.isIdentifierByte(bytes[pos]) || bytes[pos] == UInt8(ascii: ".") {
            throw unexpected(expecting: "a delimiter after the number")
        }

        // Clinger's fast path: an exact mantissa below 2^53 times an exact power of ten is
        // correctly rounded by a single IEEE multiplication or division.
        let scale = decimalExponent + exponent
        if !exponentOverflow, significantDigits <= 15, scale >= -22, scale <= 22 {
            let m = Double(mantissa)
            let magnitude = scale >= 0 ? m * Self.powersOfTen[scale] : m / Self.powersOfTen[-scale]
            return negative ? -magnitude : magnitude
        }
        // Otherwise the standard library's correctly rounded conversion of the validated lexeme.
        let lexeme = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<pos]), as: UTF8.self)
        // (Huge exponents are fine here too: "1e999999999999" converts to infinity, "1e-99999999999" to 0.)
        let value = Double(lexeme) ?? .infinity
        if value.isInfinite {
            throw error("number \(Self.truncated(lexeme)) is out of the range of a 64-bit double (I-JSON)", at: start)
        }
        return value
    }

    @inline(__always)
    private static func isDigit(_ b: UInt8) -> Bool { b &- UInt8(ascii: "0") < 10 }

    /// Parses a string starting at the opening quote; validates UTF-8 strictly and unescapes.
    private mutating func parseString() throws(JSONParseError) -> String {
        pos += 1  // opening quote
        let start = pos
        // Fast path: plain ASCII with no escapes becomes a String straight from the buffer.
        while pos < bytes.count {
            let b = bytes[pos]
            if b == UInt8(ascii: "\"") {
                let s = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<pos]), as: UTF8.self)
                pos += 1
                return s
            }
            if b == UInt8(ascii: "\\") || b < 0x20 || b >= 0x80 { break }
            pos += 1
        }
        // Slow path: validate UTF-8 and unescape into `scratch`.
        scratch.removeAll(keepingCapacity: true)
        var copiedUpTo = start
        while pos < bytes.count {
            let b = bytes[pos]
            if b == UInt8(ascii: "\"") {
                if copiedUpTo == start {
                    // Non-ASCII but no escapes: already validated, decode in place.
                    let s = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<pos]), as: UTF8.self)
                    pos += 1
                    return s
                }
                scratch.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[copiedUpTo..<pos]))
                pos += 1
                return String(decoding: scratch, as: UTF8.self)
            } else if b == UInt8(ascii: "\\") {
                scratch.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[copiedUpTo..<pos]))
                try parseEscape()
                copiedUpTo = pos
            } else if b < 0x20 {
                throw error(
                    "control character U+\(Self.hex4(UInt32(b))) must be escaped in a string (write \\u\(Self.hex4(UInt32(b))))",
                    at: pos)
            } else if b < 0x80 {
                pos += 1
            } else {
                try skipUTF8Sequence()
            }
        }
        throw error("unterminated string (missing closing '\"')", at: start - 1)
    }

    /// Parses one escape at `pos` (the backslash) and appends its UTF-8 to `scratch`.
    private mutating func parseEscape() throws(JSONParseError) {
        let escapeStart = pos
        pos += 1
        guard pos < bytes.count else { throw error("unterminated string (missing closing '\"')", at: escapeStart) }
        let c = bytes[pos]
        pos += 1
        switch c {
        case UInt8(ascii: "\""): scratch.append(0x22)
        case UInt8(ascii: "\\"): scratch.append(0x5C)
        case UInt8(ascii: "/"): scratch.append(0x2F)
        case UInt8(ascii: "b"): scratch.append(0x08)
        case UInt8(ascii: "f"): scratch.append(0x0C)
        case UInt8(ascii: "n"): scratch.append(0x0A)
        case UInt8(ascii: "r"): scratch.append(0x0D)
        case UInt8(ascii: "t"): scratch.append(0x09)
        case UInt8(ascii: "u"):
            var scalar = try parseHex4(escapeStart: escapeStart)
            if scalar >= 0xDC00 && scalar <= 0xDFFF {
                throw error("unpaired low surrogate \\u\(Self.hex4(scalar)) in string (I-JSON requires valid Unicode)", at: escapeStart)
            }
            if scalar >= 0xD800 && scalar <= 0xDBFF {
                guard pos + 1 < bytes.count, bytes[pos] == UInt8(ascii: "\\"), bytes[pos + 1] == UInt8(ascii: "u") else {
                    throw error("unpaired high surrogate \\u\(Self.hex4(scalar)) in string (I-JSON requires valid Unicode)", at: escapeStart)
                }
                let lowStart = pos
                pos += 2
                let low = try parseHex4(escapeStart: lowStart)
                guard low >= 0xDC00 && low <= 0xDFFF else {
                    throw error("high surrogate \\u\(Self.hex4(scalar)) not followed by a low surrogate (got \\u\(Self.hex4(low)))", at: escapeStart)
                }
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
            }
            Self.appendUTF8(scalar, to: &scratch)
        default:
            throw error("invalid escape '\\\(Self.describe(c))' in string (allowed: \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)", at: escapeStart)
        }
    }

    /// Reads four hex digits at `pos` (after `\u`).
    private mutating func parseHex4(escapeStart: Int) throws(JSONParseError) -> UInt32 {
        var v: UInt32 = 0
        for _ in 0..<4 {
            guard pos < bytes.count else { throw error("incomplete \\u escape in string", at: escapeStart) }
            let b = bytes[pos]
            let d: UInt32
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = UInt32(b - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = UInt32(b - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = UInt32(b - UInt8(ascii: "A") + 10)
            default: throw error("invalid \\u escape in string (expected four hex digits)", at: escapeStart)
            }
            v = v << 4 | d
            pos += 1
        }
        return v
    }

    /// Validates one multi-byte UTF-8 sequence at `pos` (RFC 3629: no overlong forms, no
    /// surrogates, nothing above U+10FFFF) and moves past it.
    private mutating func skipUTF8Sequence() throws(JSONParseError) {
        let lead = bytes[pos]
        let length: Int
        var low: UInt8 = 0x80  // allowed range of the second byte
        var high: UInt8 = 0xBF
        switch lead {
        case 0x80...0xBF:
            throw error("invalid UTF-8: unexpected continuation byte 0x\(Self.hex2(lead))", at: pos)
        case 0xC0, 0xC1:
            throw error("invalid UTF-8: overlong encoding (lead byte 0x\(Self.hex2(lead)))", at: pos)
        case 0xC2...0xDF:
            length = 2
        case 0xE0:
            length = 3; low = 0xA0
        case 0xED:
            length = 3; high = 0x9F
        case 0xE1...0xEF:
            length = 3
        case 0xF0:
            length = 4; low = 0x90
        case 0xF1...0xF3:
            length = 4
        case 0xF4:
            length = 4; high = 0x8F
        default:
            throw error("invalid UTF-8: byte 0x\(Self.hex2(lead)) never appears in UTF-8", at: pos)
        }
        guard pos + 1 < bytes.count, bytes[pos + 1] & 0xC0 == 0x80 else {
            throw error("invalid UTF-8: truncated sequence (lead byte 0x\(Self.hex2(lead)))", at: pos)
        }
        let second = bytes[pos + 1]
        if second < low || second > high {
            let what: String
            switch lead {
            case 0xED: what = "surrogate code point encoded in UTF-8"
            case 0xF4: what = "code point above U+10FFFF"
            default: what = "overlong encoding"
            }
            throw error("invalid UTF-8: \(what) (0x\(Self.hex2(lead)) 0x\(Self.hex2(second)))", at: pos)
        }
        for i in 2..<length {
            guard pos + i < bytes.count, bytes[pos + i] & 0xC0 == 0x80 else {
                throw error("invalid UTF-8: truncated sequence (lead byte 0x\(Self.hex2(lead)))", at: pos)
            }
        }
        pos += length
    }

    // MARK: - Errors

    private func error(_ message: String, at offset: Int) -> JSONParseError {
        var line = 1
        var lineStart = 0
        let end = min(offset, bytes.count)
        var i = 0
        while i < end {
            if bytes[i] == 0x0A {
                line += 1
                lineStart = i + 1
            }
            i += 1
        }
        return JSONParseError(message: message, offset: offset, line: line, column: offset - lineStart + 1)
    }

    private func unexpected(expecting what: String) -> JSONParseError {
        guard pos < bytes.count else {
            return error("unexpected end of input, expected \(what)", at: pos)
        }
        return error("unexpected \(Self.describe(bytes[pos])), expected \(what)", at: pos)
    }

    private func tooDeep() -> JSONParseError {
        error("nesting deeper than \(JSONValue.maximumNestingDepth) levels of arrays/objects", at: pos)
    }

    private static func describe(_ b: UInt8) -> String {
        if b >= 0x21 && b < 0x7F { return "'\(Character(Unicode.Scalar(b)))'" }
        return "byte 0x\(hex2(b))"
    }

    private static func hex2(_ b: UInt8) -> String {
        let s = String(b, radix: 16, uppercase: true)
        return s.count == 1 ? "0" + s : s
    }

    private static func hex4(_ v: UInt32) -> String {
        let s = String(v, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, 4 - s.count)) + s
    }

    /// A name as it would appear in JSON, shortened for messages.
    static func quoted(_ s: String) -> String {
        var out: [UInt8] = []
        CanonicalJSON.appendString(truncated(s), to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    private static func truncated(_ s: String) -> String {
        s.unicodeScalars.count > 80 ? String(String.UnicodeScalarView(s.unicodeScalars.prefix(77))) + "..." : s
    }

    private static func appendUTF8(_ scalar: UInt32, to out: inout [UInt8]) {
        switch scalar {
        case 0..<0x80:
            out.append(UInt8(scalar))
        case 0x80..<0x800:
            out.append(UInt8(0xC0 | scalar >> 6))
            out.append(UInt8(0x80 | scalar & 0x3F))
        case 0x800..<0x10000:
            out.append(UInt8(0xE0 | scalar >> 12))
            out.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            out.append(UInt8(0x80 | scalar & 0x3F))
        default:
            out.append(UInt8(0xF0 | scalar >> 18))
            out.append(UInt8(0x80 | scalar >> 12 & 0x3F))
            out.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            out.append(UInt8(0x80 | scalar & 0x3F))
        }
    }
}
