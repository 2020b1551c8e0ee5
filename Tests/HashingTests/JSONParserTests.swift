import Foundation
import Testing

@testable import Hashing

/// One input the parser must reject, with a fragment of the message it must give.
struct RejectCase: CustomTestStringConvertible, Sendable {
    let name: String
    let bytes: [UInt8]
    let message: String
    /// Expected (line, column) where it matters.
    let position: (line: Int, column: Int)?

    init(_ name: String, _ text: String, _ message: String, at position: (Int, Int)? = nil) {
        self.init(name, Array(text.utf8), message, at: position)
    }

    init(_ name: String, _ bytes: [UInt8], _ message: String, at position: (Int, Int)? = nil) {
        self.name = name
        self.bytes = bytes
        self.message = message
        self.position = position.map { (line: $0.0, column: $0.1) }
    }

    var testDescription: String { name }
}

private func bytes(_ prefix: String, _ raw: [UInt8], _ suffix: String) -> [UInt8] {
    Array(prefix.utf8) + raw + Array(suffix.utf8)
}

let rejectCases: [RejectCase] = [
    RejectCase("empty input", "", "empty input", at: (1, 1)),
    RejectCase("only whitespace", " \n\t ", "empty input", at: (2, 3)),
    RejectCase("duplicate key", "{\"a\":1,\"a\":2}", "duplicate key \"a\" in object", at: (1, 8)),
    RejectCase("duplicate key after unescaping", #"{"a":1,"\u0061":2}"#, "duplicate key \"a\"", at: (1, 8)),
    RejectCase("duplicate key on a later line", "{\n  \"x\": 1,\n  \"y\": {\"k\": 1,\n   \"k\": 2}\n}", "duplicate key \"k\"", at: (4, 4)),
    RejectCase("canonically equivalent keys", "{\"\u{C5}\":1,\"A\u{30A}\":2}", "canonically equivalent"),
    RejectCase("invalid UTF-8 overlong C0 AF", bytes("[\"", [0xC0, 0xAF], "\"]"), "overlong", at: (1, 3)),
    RejectCase("invalid UTF-8 overlong E0 80 AF", bytes("\"", [0xE0, 0x80, 0xAF], "\""), "overlong"),
    RejectCase("invalid UTF-8 overlong F0 80 80 AF", bytes("\"", [0xF0, 0x80, 0x80, 0xAF], "\""), "overlong"),
    RejectCase("UTF-8-encoded surrogate ED A0 80", bytes("\"", [0xED, 0xA0, 0x80], "\""), "surrogate", at: (1, 2)),
    RejectCase("code point above U+10FFFF", bytes("\"", [0xF4, 0x90, 0x80, 0x80], "\""), "above U+10FFFF"),
    RejectCase("truncated 2-byte sequence", bytes("\"", [0xC3], "\""), "truncated"),
    RejectCase("truncated 3-byte sequence at end", bytes("\"", [0xE2, 0x82], ""), "truncated"),
    RejectCase("lone continuation byte", bytes("\"a", [0x80], "\""), "continuation byte", at: (1, 3)),
    RejectCase("byte FF", bytes("\"", [0xFF], "\""), "never appears in UTF-8"),
    RejectCase("non-ASCII outside a string", bytes("[", [0xC3, 0xA9], "]"), "unexpected byte 0xC3"),
    RejectCase("byte order mark", bytes("", [0xEF, 0xBB, 0xBF], "{}"), "byte order mark", at: (1, 1)),
    RejectCase("lone high surrogate escape", #"["\ud83d"]"#, "unpaired high surrogate", at: (1, 3)),
    RejectCase("lone low surrogate escape", #"["\ude02x"]"#, "unpaired low surrogate"),
    RejectCase("high surrogate then non-surrogate", #""\ud83d\u0041""#, "not followed by a low surrogate"),
    RejectCase("two high surrogates", #""\ud83d\ud83d""#, "not followed by a low surrogate"),
    RejectCase("leading zero", "[01]", "leading zeros", at: (1, 2)),
    RejectCase("negative leading zero", "-012", "leading zeros"),
    RejectCase("trailing comma in array", "[1,2,]", "unexpected ']'", at: (1, 6)),
    RejectCase("trailing comma in object", "{\"a\":1,}", "trailing comma", at: (1, 8)),
    RejectCase("raw tab in string", "\"a\tb\"", "control character U+0009", at: (1, 3)),
    RejectCase("raw newline in string", "[\"a\nb\"]", "control character U+000A", at: (1, 4)),
    RejectCase("raw NUL in string", bytes("\"", [0x00], "\""), "control character U+0000"),
    RejectCase("trailing garbage", "{} x", "unexpected 'x', expected end of input", at: (1, 4)),
    RejectCase("two values", "1 2", "expected end of input", at: (1, 3)),
    RejectCase("huge exponent overflow", "[1e400]", "out of the range", at: (1, 2)),
    RejectCase("negative overflow", "-1.8e308", "out of the range"),
    RejectCase("absurd exponent", "1e99999999999999999999", "out of the range"),
    RejectCase("NaN literal", "NaN", "unexpected 'N'"),
    RejectCase("Infinity literal", "[-Infinity]", "a digit after '-'"),
    RejectCase("plus sign", "+1", "unexpected '+'"),
    RejectCase("bare decimal point", "[.5]", "unexpected '.'"),
    RejectCase("missing fraction digits", "1.", "a digit after the decimal point"),
    RejectCase("missing exponent digits", "1e+", "a digit in the exponent"),
    RejectCase("hex number", "0x10", "a delimiter after the number"),
    RejectCase("line comment", "[1 // one\n]", "unexpected '/'"),
    RejectCase("block comment", "/* c */ 1", "unexpected '/'"),
    RejectCase("single quotes", "['a']", "unexpected '''"),
    RejectCase("unquoted key", "{a:1}", "a string (object member name)"),
    RejectCase("missing colon", "{\"a\" 1}", "':' after object member name"),
    RejectCase("missing comma", "[1 2]", "',' or ']'"),
    RejectCase("unterminated string", "\"abc", "unterminated string", at: (1, 1)),
    RejectCase("unterminated array", "[1,", "unexpected end of input"),
    RejectCase("unterminated object", "{\"a\":1", "',' or '}'"),
    RejectCase("invalid escape", #""\x41""#, "invalid escape"),
    RejectCase("short unicode escape", #""\u12""#, "invalid \\u escape"),
    RejectCase("misspelt literal", "[tru]", "did you mean 'true'"),
    RejectCase("literal running on", "nullx", "a delimiter after 'null'"),
    RejectCase("capitalised literal", "True", "unexpected 'T'"),
    RejectCase("too deep", String(repeating: "[", count: 513) + String(repeating: "]", count: 513), "nesting deeper than 512", at: (1, 513)),
    RejectCase("too deep objects", String(repeating: "{\"a\":", count: 513) + "1" + String(repeating: "}", count: 513), "nesting deeper than 512"),
]

@Suite("JSON parser")
struct JSONParserTests {
    @Test("rejects invalid input with a located error", arguments: rejectCases)
    func rejects(_ c: RejectCase) {
        do {
            let value = try JSONValue(parsing: c.bytes)
            Issue.record("\(c.name): accepted as \(value)")
        } catch {
            #expect(error.message.contains(c.message), "\(c.name): message was: \(error.message)")
            #expect(error.description.hasPrefix("invalid JSON at line \(error.line), column \(error.column): "))
            if let position = c.position {
                #expect(error.line == position.line && error.column == position.column,
                        "\(c.name): at \(error.line):\(error.column), expected \(position.line):\(position.column)")
            }
            #expect(error.offset >= 0 && error.offset <= c.bytes.count)
        }
    }

    @Test("error fields and description")
    func errorFields() {
        #expect(throws: JSONParseError(message: "duplicate key \"a\" in object", offset: 12, line: 3, column: 3)) {
            try JSONValue(parsing: "{\n\"a\": 1,\n  \"a\": 2}")
        }
        let error = JSONParseError(message: "duplicate key \"a\" in object", offset: 20, line: 3, column: 7)
        #expect(error.description == "invalid JSON at line 3, column 7: duplicate key \"a\" in object")
    }

    @Test("accepts valid input", arguments: [
        ("null", JSONValue.null), ("true", true), (" false ", false), ("0", 0), ("-0", .number(-0.0)),
        ("\r\n\t[ ]\n", []), ("{}", [:]), ("\"\"", ""), ("1E2", 100), ("1e-2", 0.01), ("-1.5e+3", -1500),
        ("0.1", 0.1), ("123456789012345678901234567890", 1.2345678901234568e29),
        ("2.2250738585072014e-308", 2.2250738585072014e-308), ("4.9e-324", .number(.leastNonzeroMagnitude)),
        ("1e-400", 0), ("1.7976931348623157e308", .number(.greatestFiniteMagnitude)),
        ("9007199254740993", 9007199254740992), ("0.30000000000000004", .number(0.1 + 0.2)),
        (#""\"\\\/\b\f\n\r\t\u0000\u00e9\u20AC\ud83d\ude02""#, .string("\"\\/\u{8}\u{C}\n\r\t\u{0}é€😂")),
        ("\"\u{7F}é€😂\u{10FFFF}\"", .string("\u{7F}é€😂\u{10FFFF}")),
        (#"{"a":[1,{"b":null}],"c":"d","":{}}"#, ["a": [1, ["b": nil]], "c": "d", "": [:]]),
        (#"{"a":1,"A":2,"a ":3}"#, ["a": 1, "A": 2, "a ": 3]),
        ("[1,[2,[3,[]]]]", [1, [2, [3, []]]]),
    ] as [(String, JSONValue)])
    func accepts(text: String, expected: JSONValue) throws {
        let fromString = try JSONValue(parsing: text)
        #expect(fromString == expected)
        #expect(try JSONValue(parsing: Array(text.utf8)) == expected)
        #expect(try JSONValue(parsing: Data(text.utf8)) == expected)
        #expect(try JSONValue(parsing: text.utf8.lazy.map { $0 }) == expected)  // non-contiguous path too
    }

    @Test("-0 keeps its sign when parsed")
    func negativeZero() throws {
        let value = try #require(try JSONValue(parsing: "-0.0").doubleValue)
        #expect(value == 0 && value.sign == .minus)
    }

    @Test("numbers are correctly rounded on both the fast and the slow path")
    func rounding() throws {
        let samples: [Double] = [
            0.1, 0.2, 1.0 / 3, 123.456, 1e22, 1e23, 8.98846567431158e307, Double(bitPattern: 0x000F_FFFF_FFFF_FFFF),
            9007199254740992, 4.35, 0.000001, 3.0e-5, 1234567890.12345, .leastNonzeroMagnitude, 1.7976931348623157e308,
        ]
        for d in samples {
            for text in [d.description, String(format: "%.17g", d), String(format: "%.25e", d)] {
                #expect(try JSONValue(parsing: text) == .number(Double(text)!), "\(text)")
            }
        }
    }

    @Test("nesting up to 512 levels is accepted")
    func deepNesting() throws {
        let text = String(repeating: "[", count: 512) + "7" + String(repeating: "]", count: 512)
        var value = try JSONValue(parsing: text)
        var depth = 0
        while case .array(let a) = value {
            depth += 1
            value = a[0]
        }
        #expect(depth == 512 && value == 7)
    }

    @Test("a large document parses and round-trips")
    func largeDocument() throws {
        var text = "["
        for i in 0..<20_000 {
            if i > 0 { text += "," }
            text += #"{"id":\#(i),"name":"item \#(i) é😂","price":\#(Double(i) * 1.1),"tags":["a","b\n"],"ok":\#(i % 2 == 0)}"#
        }
        text += "]"
        let value = try JSONValue(parsing: text)
        #expect(value.arrayValue?.count == 20_000)
        #expect(value.arrayValue?[19_999]["id"] == 19_999)
        let canonical = try value.canonicalBytes()
        #expect(try JSONValue(parsing: canonical) == value)
    }
}
