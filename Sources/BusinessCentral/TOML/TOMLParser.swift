import Hashing

/// An error in a TOML document, with the 1-based line it was found on.
public struct TOMLError: Error, Sendable, Equatable, CustomStringConvertible {
    public let line: Int
    public let message: String

    public init(line: Int, message: String) {
        self.line = line
        self.message = message
    }

    public var description: String { "line \(line): \(message)" }
}

/// A small, strict parser for the TOML subset bcli's config needs.
///
/// Why our own: no TOML package is available in the mirror. Supported: comments, `[table]` and
/// `[a."b c"]` headers, `key = value` with bare, quoted and dotted keys, basic strings (with
/// escapes), literal strings, integers (decimal, 0x, 0o, 0b, underscores), floats (incl. `inf`,
/// `nan`), booleans and (multi-line) arrays of those. Anything else — multi-line strings, dates and
/// times, inline tables, arrays of tables — is rejected with its line number rather than
/// misread. Duplicate keys and re-defined tables are errors, as TOML requires.
///
/// Nesting is bounded: arrays nested deeper than `maximumNestingDepth`, and keys or table headers
/// with more than that many dotted parts, are errors naming the limit, line and column (an
/// unbounded depth would overflow the stack here or in whatever walks the result).
public enum TOMLParser {
    /// The deepest array nesting, and the most dotted key parts, a document may have (the same
    /// limit as JSON bodies and YAML manifests; bcli's config needs 3).
    public static let maximumNestingDepth = JSONValue.maximumNestingDepth

    public static func parse(_ text: String) throws(TOMLError) -> TOMLTable {
        var parser = Parser(text)
        return try parser.parseDocument()
    }
}

// MARK: - Implementation

/// A mutable tree used while parsing; converted to `TOMLTable` at the end.
private final class Node {
    enum Entry {
        case value(TOMLValue, line: Int)
        case table(Node, line: Int)
    }

    var order: [String] = []
    var entries: [String: Entry] = [:]
    /// Defined by a `[header]` (may not be defined again).
    var definedByHeader = false
    /// Created by a dotted key (`a.b = 1`); may not be re-opened by a header.
    var definedByDottedKey = false

    func put(_ key: String, _ entry: Entry) {
        if entries[key] == nil { order.append(key) }
        entries[key] = entry
    }

    func toTable() -> TOMLTable {
        var table = TOMLTable()
        for key in order {
            switch entries[key]! {
            case .value(let value, let line): table.set(key, value, line: line)
            case .table(let node, let line): table.set(key, .table(node.toTable()), line: line)
            }
        }
        return table
    }
}

private struct Parser {
    let s: [Unicode.Scalar]
    var i = 0
    var line = 1
    /// Arrays open around the current position.
    var arrayDepth = 0

    init(_ text: String) {
        s = Array(text.unicodeScalars)
    }

    // MARK: Document

    mutating func parseDocument() throws(TOMLError) -> TOMLTable {
        let root = Node()
        var current = root
        while true {
            skipSpaces()
            guard let c = peek() else { break }
            switch c {
            case "#":
                try skipComment()
            case "\n", "\r":
                try consumeNewline()
            case "[":
                current = try parseHeader(root: root)
            default:
                try parseKeyValue(into: current)
            }
        }
        return root.toTable()
    }

    mutating func parseHeader(root: Node) throws(TOMLError) -> Node {
        let headerLine = line
        advance()  // [
        if peek() == "[" {
            throw err("arrays of tables (`[[…]]`) are not supported by bcli's config reader; use `[profiles.NAME]` tables")
        }
        skipSpaces()
        let path = try parseKeyPath()
        skipSpaces()
        guard peek() == "]" else { throw err("expected `]` to close the table header") }
        advance()
        try expectEndOfLine()

        var node = root
        for (n, segment) in path.enumerated() {
            let (child, existed) = try table(segment, in: node, line: headerLine, byDottedKey: false) { type, valueLine in
                "[\(dotted(path))]: `\(segment)` is already defined as a value (\(type), line \(valueLine)), not a table"
            }
            if existed, n == path.count - 1 {
                if child.definedByHeader {
                    throw TOMLError(line: headerLine, message: "table [\(dotted(path))] is defined more than once")
                }
                if child.definedByDottedKey {
                    throw TOMLError(line: headerLine, message: "table [\(dotted(path))] was already defined by a dotted key")
                }
            }
            node = child
        }
        node.definedByHeader = true
        return node
    }

    /// The table `segment` of `node`, and whether it was there already; a new one (made at
    /// `line`, by a header or a dotted key) when it was not. A value under that name is an error
    /// at `line`, worded by `valueThere(type name, line of the value)`.
    private func table(_ segment: String, in node: Node, line: Int, byDottedKey: Bool,
                       valueThere: (String, Int) -> String) throws(TOMLError) -> (Node, existed: Bool) {
        switch node.entries[segment] {
        case nil:
            let child = Node()
            child.definedByDottedKey = byDottedKey
            node.put(segment, .table(child, line: line))
            return (child, false)
        case .table(let child, _):
            return (child, true)
        case .value(let value, let valueLine):
            throw TOMLError(line: line, message: valueThere(value.typeName, valueLine))
        }
    }

    mutating func parseKeyValue(into table: Node) throws(TOMLError) {
        let keyLine = line
        let path = try parseKeyPath()
        skipSpaces()
        guard peek() == "=" else {
            throw err("expected `=` after key `\(dotted(path))` (a line must be `key = value`, a `[table]` header or a comment)")
        }
        advance()
        skipSpaces()
        let value = try parseValue()
        try expectEndOfLine()

        var node = table
        for segment in path.dropLast() {
            let (child, existed) = try self.table(segment, in: node, line: keyLine, byDottedKey: true) { type, valueLine in
                "key `\(dotted(path))`: `\(segment)` is already defined as a value (\(type), line \(valueLine))"
            }
            if existed, child.definedByHeader && !child.definedByDottedKey {
                throw TOMLError(line: keyLine, message: "key `\(dotted(path))` extends table `\(segment)` defined by a header")
            }
            node = child
        }
        let last = path[path.count - 1]
        if let existing = node.entries[last] {
            let firstLine: Int
            switch existing {
            case .value(_, let l), .table(_, let l): firstLine = l
            }
            throw TOMLError(line: keyLine, message: "duplicate key `\(dotted(path))` (first defined on line \(firstLine))")
        }
        node.put(last, .value(value, line: keyLine))
    }

    // MARK: Keys

    mutating func parseKeyPath() throws(TOMLError) -> [String] {
        var path = [try parseSimpleKey()]
        while true {
            let save = i
            skipSpaces()
            if peek() == "." {
                advance()
                skipSpaces()
                if path.count >= TOMLParser.maximumNestingDepth {
                    throw err("key nested deeper than \(TOMLParser.maximumNestingDepth) levels (more than \(TOMLParser.maximumNestingDepth) dotted parts) at column \(column); bcli's limit — use a shorter key")
                }
                path.append(try parseSimpleKey())
            } else {
                i = save
                return path
            }
        }
    }

    mutating func parseSimpleKey() throws(TOMLError) -> String {
        guard let c = peek() else { throw err("expected a key, found end of file") }
        if c == "\"" {
            if lookahead("\"\"\"") { throw err("multi-line strings are not supported as keys") }
            return try parseBasicString()
        }
        if c == "'" {
            if lookahead("'''") { throw err("multi-line strings are not supported as keys") }
            return try parseLiteralString()
        }
        var key = ""
        while let c = peek(), isBareKeyChar(c) {
            key.unicodeScalars.append(c)
            advance()
        }
        if key.isEmpty {
            throw err("expected a key (letters, digits, `_`, `-`, or a quoted key), found `\(printable(c))`")
        }
        return key
    }

    func isBareKeyChar(_ c: Unicode.Scalar) -> Bool {
        ("a"..."z").contains(c) || ("A"..."Z").contains(c) || ("0"..."9").contains(c) || c == "_" || c == "-"
    }

    // MARK: Values

    mutating func parseValue() throws(TOMLError) -> TOMLValue {
        guard let c = peek() else { throw err("expected a value, found end of file") }
        switch c {
        case "\"":
            if lookahead("\"\"\"") {
                throw err("multi-line strings (\"\"\"…\"\"\") are not supported by bcli's config reader; use a single-line string with \\n escapes")
            }
            return .string(try parseBasicString())
        case "'":
            if lookahead("'''") {
                throw err("multi-line literal strings ('''…''') are not supported by bcli's config reader; use a single-line string")
            }
            return .string(try parseLiteralString())
        case "[":
            return try parseArray()
        case "{":
            throw err("inline tables ({ … }) are not supported by bcli's config reader; use a [table] header instead")
        case "\n", "\r", "#":
            throw err("expected a value after `=`")
        default:
            return try parseScalar()
        }
    }

    mutating func parseArray() throws(TOMLError) -> TOMLValue {
        guard arrayDepth < TOMLParser.maximumNestingDepth else {
            throw err("arrays nested deeper than \(TOMLParser.maximumNestingDepth) levels at column \(column); bcli's limit — flatten the value")
        }
        arrayDepth += 1
        defer { arrayDepth -= 1 }
        advance()  // [
        var items: [TOMLValue] = []
        while true {
            try skipSpacesNewlinesAndComments()
            guard let c = peek() else { throw err("unterminated array: expected `]`") }
            if c == "]" {
                advance()
                return .array(items)
            }
            items.append(try parseValue())
            try skipSpacesNewlinesAndComments()
            guard let next = peek() else { throw err("unterminated array: expected `]`") }
            if next == "," {
                advance()
            } else if next == "]" {
                advance()
                return .array(items)
            } else {
                throw err("expected `,` or `]` in array, found `\(printable(next))`")
            }
        }
    }

    mutating func parseScalar() throws(TOMLError) -> TOMLValue {
        var token = ""
        while let c = peek(), !isValueDelimiter(c) {
            token.unicodeScalars.append(c)
            advance()
        }
        if token == "true" { return .boolean(true) }
        if token == "false" { return .boolean(false) }
        if looksLikeDateOrTime(token) {
            throw err("dates and times (`\(token)`) are not supported by bcli's config reader; quote the value as a string")
        }
        if let value = parseNumber(token) { return value }
        if token.isEmpty { throw err("expected a value after `=`") }
        if let first = token.unicodeScalars.first, ("a"..."z").contains(first) || ("A"..."Z").contains(first) {
            throw err("invalid value `\(token)`: strings must be quoted (\"…\"), booleans are `true`/`false`")
        }
        throw err("invalid value `\(token)`")
    }

    func isValueDelimiter(_ c: Unicode.Scalar) -> Bool {
        c == " " || c == "\t" || c == "\n" || c == "\r" || c == "," || c == "]" || c == "#" || c == "}"
    }

    func looksLikeDateOrTime(_ t: String) -> Bool {
        let u = Array(t.unicodeScalars)
        func digits(_ range: Range<Int>) -> Bool {
            range.upperBound <= u.count && range.allSatisfy { ("0"..."9").contains(u[$0]) }
        }
        // 1979-05-27…  or  07:32:00…
        if digits(0..<4), u.count > 4, u[4] == "-" { return true }
        if digits(0..<2), u.count > 2, u[2] == ":" { return true }
        return false
    }

    func parseNumber(_ token: String) -> TOMLValue? {
        switch token {
        case "inf", "+inf": return .float(.infinity)
        case "-inf": return .float(-.infinity)
        case "nan", "+nan", "-nan": return .float(.nan)
        default: break
        }
        var body = Substring(token)
        var sign = ""
        if body.first == "+" || body.first == "-" {
            sign = body.first == "-" ? "-" : ""
            body = body.dropFirst()
        }
        if body.hasPrefix("0x") || body.hasPrefix("0o") || body.hasPrefix("0b") {
            guard sign.isEmpty else { return nil }  // TOML: no sign on non-decimal integers
            let radix = body.hasPrefix("0x") ? 16 : body.hasPrefix("0o") ? 8 : 2
            let digits = body.dropFirst(2)
            guard validUnderscores(digits), let v = Int64(digits.replacingOccurrences("_"), radix: radix) else { return nil }
            return .integer(v)
        }
        // Decimal integer or float. Split mantissa / exponent.
        let chars = Array(body)
        guard let firstChar = chars.first, firstChar.isASCII, firstChar.isNumber else { return nil }
        var idx = 0
        /// The digits and underscores from `idx` on (moving `idx` past them).
        func digitRun() -> String {
            var run = ""
            while idx < chars.count, chars[idx].isASCII, chars[idx].isNumber || chars[idx] == "_" {
                run.append(chars[idx])
                idx += 1
            }
            return run
        }
        let intPart = digitRun()
        guard validUnderscores(Substring(intPart)) else { return nil }
        let intDigits = intPart.replacingOccurrences("_")
        if intDigits.count > 1 && intDigits.hasPrefix("0") { return nil }  // no leading zeros
        if idx == chars.count {
            guard let v = Int64(sign + intDigits) else { return nil }
            return .integer(v)
        }
        var text = sign + intDigits
        if chars[idx] == "." {
            idx += 1
            let frac = digitRun()
            guard !frac.isEmpty, validUnderscores(Substring(frac)) else { return nil }
            text += "." + frac.replacingOccurrences("_")
        }
        if idx < chars.count, chars[idx] == "e" || chars[idx] == "E" {
            idx += 1
            var exp = ""
            if idx < chars.count, chars[idx] == "+" || chars[idx] == "-" {
                exp.append(chars[idx])
                idx += 1
            }
            let expDigits = digitRun()
            guard !expDigits.isEmpty, validUnderscores(Substring(expDigits)) else { return nil }
            text += "e" + exp + expDigits.replacingOccurrences("_")
        }
        guard idx == chars.count, text != sign + intDigits, let d = Double(text) else { return nil }
        return .float(d)
    }

    /// Underscores only between two digits.
    func validUnderscores(_ digits: Substring) -> Bool {
        guard !digits.isEmpty, digits.first != "_", digits.last != "_" else { return false }
        return !digits.contains("__")
    }

    // MARK: Strings

    mutating func parseBasicString() throws(TOMLError) -> String {
        advance()  // "
        var out = ""
        while true {
            guard let c = peek() else { throw err("unterminated string: expected closing `\"`") }
            switch c {
            case "\"":
                advance()
                return out
            case "\n", "\r":
                throw err("unterminated string: a basic string must close on the same line")
            case "\\":
                advance()
                out.unicodeScalars.append(try parseEscape())
            default:
                if isForbiddenControl(c) { throw err("control character U+\(hex(c.value)) in string; use an escape") }
                out.unicodeScalars.append(c)
                advance()
            }
        }
    }

    mutating func parseEscape() throws(TOMLError) -> Unicode.Scalar {
        guard let c = peek() else { throw err("unterminated escape sequence") }
        advance()
        switch c {
        case "b": return "\u{08}"
        case "t": return "\t"
        case "n": return "\n"
        case "f": return "\u{0C}"
        case "r": return "\r"
        case "\"": return "\""
        case "\\": return "\\"
        case "u": return try parseUnicodeEscape(length: 4)
        case "U": return try parseUnicodeEscape(length: 8)
        default: throw err("invalid escape sequence `\\\(printable(c))` (valid: \\b \\t \\n \\f \\r \\\" \\\\ \\uXXXX \\UXXXXXXXX)")
        }
    }

    mutating func parseUnicodeEscape(length: Int) throws(TOMLError) -> Unicode.Scalar {
        var hexDigits = ""
        for _ in 0..<length {
            guard let c = peek(), c.properties.isASCIIHexDigit else {
                throw err("a \\\(length == 4 ? "u" : "U") escape needs exactly \(length) hex digits")
            }
            hexDigits.unicodeScalars.append(c)
            advance()
        }
        guard let v = UInt32(hexDigits, radix: 16), let scalar = Unicode.Scalar(v) else {
            throw err("escape \\\(length == 4 ? "u" : "U")\(hexDigits) is not a valid Unicode scalar value")
        }
        return scalar
    }

    mutating func parseLiteralString() throws(TOMLError) -> String {
        advance()  // '
        var out = ""
        while true {
            guard let c = peek() else { throw err("unterminated literal string: expected closing `'`") }
            if c == "'" {
                advance()
                return out
            }
            if c == "\n" || c == "\r" { throw err("unterminated literal string: it must close on the same line") }
            if isForbiddenControl(c) { throw err("control character U+\(hex(c.value)) in string") }
            out.unicodeScalars.append(c)
            advance()
        }
    }

    func isForbiddenControl(_ c: Unicode.Scalar) -> Bool {
        (c.value < 0x20 && c != "\t") || c.value == 0x7F
    }

    // MARK: Whitespace, comments, lines

    func peek() -> Unicode.Scalar? { i < s.count ? s[i] : nil }

    mutating func advance() { i += 1 }

    func lookahead(_ text: String) -> Bool {
        var j = i
        for c in text.unicodeScalars {
            guard j < s.count, s[j] == c else { return false }
            j += 1
        }
        return true
    }

    mutating func skipSpaces() {
        while let c = peek(), c == " " || c == "\t" { advance() }
    }

    mutating func skipComment() throws(TOMLError) {
        advance()  // #
        while let c = peek(), c != "\n", c != "\r" {
            if isForbiddenControl(c) { throw err("control character U+\(hex(c.value)) in comment") }
            advance()
        }
    }

    mutating func consumeNewline() throws(TOMLError) {
        if peek() == "\r" {
            advance()
            guard peek() == "\n" else { throw err("a carriage return must be followed by a line feed") }
        }
        advance()
        line += 1
    }

    mutating func skipSpacesNewlinesAndComments() throws(TOMLError) {
        while let c = peek() {
            if c == " " || c == "\t" {
                advance()
            } else if c == "\n" || c == "\r" {
                try consumeNewline()
            } else if c == "#" {
                try skipComment()
            } else {
                return
            }
        }
    }

    mutating func expectEndOfLine() throws(TOMLError) {
        skipSpaces()
        guard let c = peek() else { return }
        if c == "#" { try skipComment() }
        guard let n = peek() else { return }
        guard n == "\n" || n == "\r" else {
            throw err("unexpected `\(printable(n))` after the value; one `key = value` per line")
        }
        try consumeNewline()
    }

    // MARK: Helpers

    func err(_ message: String) -> TOMLError { TOMLError(line: line, message: message) }

    /// The 1-based column (in Unicode scalars) of the current position on its line.
    var column: Int {
        var start = min(i, s.count)
        while start > 0, s[start - 1] != "\n" { start -= 1 }
        return i - start + 1
    }

    func printable(_ c: Unicode.Scalar) -> String {
        c.value < 0x20 || c.value == 0x7F ? "U+\(hex(c.value))" : String(c)
    }

    func hex(_ v: UInt32) -> String {
        let h = String(v, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, 4 - h.count)) + h
    }

    func dotted(_ path: [String]) -> String {
        path.map { seg in
            seg.unicodeScalars.allSatisfy(isBareKeyChar) && !seg.isEmpty ? seg : "\"\(seg)\""
        }.joined(separator: ".")
    }
}

extension StringProtocol {
    fileprivate func replacingOccurrences(_ target: Character) -> String {
        String(filter { $0 != target })
    }
}
