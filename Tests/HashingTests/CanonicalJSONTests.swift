import Foundation
import Testing

@testable import Hashing

/// The RFC 8785 vectors copied from /work/shared/vectors/jcs, located next to this file.
enum JCSFixtures {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/jcs", isDirectory: true)

    static func names() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("input").path)
            .filter { $0.hasSuffix(".json") }.sorted()
    }

    static func input(_ name: String) throws -> [UInt8] {
        Array(try Data(contentsOf: root.appendingPathComponent("input").appendingPathComponent(name)))
    }

    static func output(_ name: String) throws -> [UInt8] {
        Array(try Data(contentsOf: root.appendingPathComponent("output").appendingPathComponent(name)))
    }
}

@Suite("RFC 8785 canonical JSON")
struct CanonicalJSONTests {
    @Test("there are vectors to run")
    func vectorsExist() throws {
        #expect(try JCSFixtures.names() == [
            "arrays.json", "french.json", "structures.json", "unicode.json", "values.json", "weird.json",
        ])
    }

    @Test("every input vector canonicalises byte-equal to its output", arguments: try JCSFixtures.names())
    func vector(name: String) throws {
        let value = try JSONValue(parsing: JCSFixtures.input(name))
        let expected = try JCSFixtures.output(name)
        let got = try value.canonicalBytes()
        #expect(got == expected, "\(name): got \(String(decoding: got, as: UTF8.self))")
        #expect(try value.canonicalString() == String(decoding: expected, as: UTF8.self))
    }

    @Test("canonical output parses back to the same value and is a fixed point", arguments: try JCSFixtures.names())
    func roundTripAndIdempotence(name: String) throws {
        let value = try JSONValue(parsing: JCSFixtures.input(name))
        let canonical = try value.canonicalBytes()
        let reparsed = try JSONValue(parsing: canonical)
        #expect(reparsed == value)
        #expect(try reparsed.canonicalBytes() == canonical)
        // Scalars are kept exactly (Swift's == on String ignores normalisation, bytes do not).
        #expect(try JSONValue(parsing: reparsed.prettyPrinted()).canonicalBytes() == canonical)
    }

    @Test("every line of numbers.txt formats as ECMAScript Number.prototype.toString")
    func numbers() throws {
        let text = try String(contentsOf: JCSFixtures.root.appendingPathComponent("numbers.txt"), encoding: .utf8)
        var checked = 0
        var failures: [String] = []
        var failureCount = 0
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            guard let comma = line.firstIndex(of: ","),
                let bits = UInt64(line[..<comma], radix: 16)
            else {
                Issue.record("malformed line in numbers.txt: \(line)")
                continue
            }
            let expected = line[line.index(after: comma)...]
            let value = Double(bitPattern: bits)
            let got = ECMAScriptNumber.format(value)
            checked += 1
            if got != expected {
                failureCount += 1
                if failures.count < 10 {
                    failures.append("hex \(line[..<comma]) expected \(expected) got \(got)")
                }
                continue
            }
            // Also through the encoder, and back through the parser (shortest digits round-trip).
            if case let parsed? = try? JSONValue(parsing: got), parsed != .number(value) {
                failureCount += 1
                if failures.count < 10 { failures.append("hex \(line[..<comma]): \(got) does not parse back") }
            }
        }
        #expect(checked > 120_000, "numbers.txt has \(checked) lines, expected ~120,000")
        #expect(failureCount == 0, "\(failureCount) of \(checked) numbers wrong; first: \(failures.joined(separator: "; "))")
    }

    @Test("ECMAScript layout at the boundaries", arguments: [
        (0.0, "0"), (-0.0, "0"), (1.0, "1"), (-1.5, "-1.5"), (1e20, "100000000000000000000"),
        (1e21, "1e+21"), (1.5e-7, "1.5e-7"), (1e-6, "0.000001"), (1e-7, "1e-7"),
        (123456789012345680000.0, "123456789012345680000"), (0.1 + 0.2, "0.30000000000000004"),
        (Double.leastNonzeroMagnitude, "5e-324"), (Double.greatestFiniteMagnitude, "1.7976931348623157e+308"),
        (9007199254740993.0, "9007199254740992"), (-1e300, "-1e+300"), (1e15, "1000000000000000"),
        (12.5e-5, "0.000125"), (4.5, "4.5"),
    ])
    func layout(value: Double, expected: String) {
        #expect(ECMAScriptNumber.format(value) == expected)
    }

    @Test("NaN and Infinity cannot be canonicalised", arguments: [Double.nan, .infinity, -.infinity])
    func nonFinite(value: Double) {
        let json: JSONValue = ["a": [.number(value)]]
        // NaN is not equal to itself, so the case is matched and its value compared by hand.
        func isTheValue(_ error: CanonicalJSONError?) -> Bool {
            guard case .nonFiniteNumber(let d)? = error else { return false }
            return value.isNaN ? d.isNaN : d == value
        }
        let fromBytes = #expect(throws: CanonicalJSONError.self) { try json.canonicalBytes() }
        #expect(isTheValue(fromBytes), "\(String(describing: fromBytes))")
        let fromString = #expect(throws: CanonicalJSONError.self) { try json.canonicalString() }
        #expect(isTheValue(fromString), "\(String(describing: fromString))")
        #expect(fromString?.description.contains("only finite numbers") == true)
    }

    @Test("names sort by UTF-16 code units, not by Unicode scalars")
    func utf16Order() throws {
        // U+10000 is the pair D800 DC00 in UTF-16, so it sorts before U+FFFF (and U+E000),
        // although as a scalar (and in UTF-8) it is larger.
        let json: JSONValue = ["\u{FFFF}": 1, "\u{10000}": 2, "\u{E000}": 3, "\u{D7FF}": 4, "a": 5, "": 6]
        let canonical = try json.canonicalString()
        #expect(canonical == "{\"\":6,\"a\":5,\"\u{D7FF}\":4,\"\u{10000}\":2,\"\u{E000}\":3,\"\u{FFFF}\":1}")
        #expect("\u{FFFF}" < "\u{10000}")  // Swift's own order is different: that is the trap
    }

    @Test("utf16Precedes agrees with comparing UTF-16 code units")
    func utf16PrecedesMatchesReference() {
        let samples = [
            "", "a", "b", "ab", "a\u{0}", "\u{7F}", "\u{80}", "é", "e\u{301}", "\u{7FF}", "\u{800}",
            "\u{D7FF}", "\u{E000}", "\u{EFFF}", "\u{F000}", "\u{FB33}", "\u{FFFF}", "\u{10000}",
            "\u{1F602}", "\u{10FFFF}", "a\u{FFFF}", "a\u{10000}", "\u{10000}a", "\u{FFFF}a", "€", "ö",
        ]
        for a in samples {
            for b in samples {
                let reference = a.utf16.lexicographicallyPrecedes(b.utf16)
                #expect(CanonicalJSON.utf16Precedes(a, b) == reference, "\(Array(a.unicodeScalars)) vs \(Array(b.unicodeScalars))")
            }
        }
    }

    @Test("strings are escaped as ECMAScript JSON.stringify does")
    func stringEscaping() throws {
        let s = "\u{0}\u{1}\u{8}\u{9}\u{A}\u{B}\u{C}\u{D}\u{1F} \"\\/\u{7F}€😂"
        let expected = "\"\\u0000\\u0001\\b\\t\\n\\u000b\\f\\r\\u001f \\\"\\\\/\u{7F}€😂\""
        #expect(try JSONValue.string(s).canonicalString() == expected)
        #expect(try JSONValue(parsing: expected) == .string(s))
    }

    @Test("unnormalised Unicode is kept byte for byte")
    func noNormalisation() throws {
        let value = try JSONValue(parsing: "[\"A\\u030a\",\"\u{C5}\"]")
        #expect(try value.canonicalBytes() == Array("[\"A\u{30A}\",\"\u{C5}\"]".utf8))
    }

    @Test("numbers and nesting in a canonical document")
    func document() throws {
        let value = try JSONValue(parsing: #" { "b" : [ 1.0 , -0 , 1E3, 2e-7, 1e21 ], "a": {"z": null, "y": true} } "#)
        #expect(try value.canonicalString() == #"{"a":{"y":true,"z":null},"b":[1,0,1000,2e-7,1e+21]}"#)
    }

    @Test("pretty printing a small nested value")
    func prettyPrinted() throws {
        let value = try JSONValue(parsing: #"{"b":[1,2.5,{"x":"y\n"}],"a":{},"c":[],"d":null,"\u00e9":1e21}"#)
        let expected = """
            {
              "a": {},
              "b": [
                1,
                2.5,
                {
                  "x": "y\\n"
                }
              ],
              "c": [],
              "d": null,
              "é": 1e+21
            }
            """
        #expect(value.prettyPrinted() == expected)
        #expect(JSONValue.number(3).prettyPrinted() == "3")
        #expect(JSONValue.number(.nan).prettyPrinted() == "NaN")
    }
}
