import Testing
import TestSupport

@testable import BusinessCentral

@Suite struct TOMLParserTests {
    @Test func parsesTheSupportedSubset() throws {
        let text = """
            # top comment
            title = "bcli"   # trailing comment
            literal = 'C:\\path\\no escapes'
            escapes = "tab\\tquote\\"back\\\\slash\\u00e9\\U0001F600"
            int = 42
            negative = -17
            plus = +3
            underscored = 1_000_000
            hex = 0xFF
            octal = 0o17
            binary = 0b101
            float = 3.25
            exponent = 6.02e23
            negexp = 1E-3
            infinity = -inf
            yes = true
            no = false
            "quoted key" = 1
            'literal key' = 2
            dotted.inner = "x"
            list = [1, 2, 3,]
            strings = [
              "a",  # comment inside an array
              'b',
            ]
            nested = [[1, 2], ["x"]]
            empty = []

            [defaults]
            profile = "prod"

            [profiles.prod]
            tenant_id = "t"

            [profiles."with space"]
            x = 1

            [ profiles . 'dotted.name' ]
            y = 2
            """
        let root = try TOMLParser.parse(text)
        #expect(root["title"] == .string("bcli"))
        #expect(root["literal"] == .string("C:\\path\\no escapes"))
        #expect(root["escapes"] == .string("tab\tquote\"back\\slash\u{e9}\u{1F600}"))
        #expect(root["int"] == .integer(42))
        #expect(root["negative"] == .integer(-17))
        #expect(root["plus"] == .integer(3))
        #expect(root["underscored"] == .integer(1_000_000))
        #expect(root["hex"] == .integer(255))
        #expect(root["octal"] == .integer(15))
        #expect(root["binary"] == .integer(5))
        #expect(root["float"] == .float(3.25))
        #expect(root["exponent"] == .float(6.02e23))
        #expect(root["negexp"] == .float(0.001))
        #expect(root["infinity"] == .float(-.infinity))
        #expect(root["yes"] == .boolean(true))
        #expect(root["no"] == .boolean(false))
        #expect(root["quoted key"] == .integer(1))
        #expect(root["literal key"] == .integer(2))
        guard case .table(let dotted) = root["dotted"] else { Issue.record("dotted key did not make a table"); return }
        #expect(dotted["inner"] == .string("x"))
        #expect(root["list"] == .array([.integer(1), .integer(2), .integer(3)]))
        #expect(root["strings"] == .array([.string("a"), .string("b")]))
        #expect(root["nested"] == .array([.array([.integer(1), .integer(2)]), .array([.string("x")])]))
        #expect(root["empty"] == .array([]))

        guard case .table(let profiles) = root["profiles"] else { Issue.record("no profiles table"); return }
        #expect(profiles.keys == ["prod", "with space", "dotted.name"])
        guard case .table(let prod) = profiles["prod"] else { Issue.record("no prod"); return }
        #expect(prod["tenant_id"] == .string("t"))
        #expect(prod.line(of: "tenant_id") == 33)
        #expect(root.line(of: "title") == 2)
    }

    @Test func acceptsCRLFAndEmptyDocuments() throws {
        #expect(try TOMLParser.parse("").keys.isEmpty)
        #expect(try TOMLParser.parse("# only a comment\n\n").keys.isEmpty)
        let root = try TOMLParser.parse("a = 1\r\nb = \"x\"\r\n")
        #expect(root["b"] == .string("x"))
        #expect(root.line(of: "b") == 2)
    }

    /// Each unsupported or invalid construct: the line it is on, and a phrase of the message.
    @Test(arguments: [
        ("a = 1\nb = \"\"\"multi\nline\"\"\"\n", 2, "multi-line strings"),
        ("a = 1\n\nb = '''x'''\n", 3, "multi-line literal strings"),
        ("when = 1979-05-27T07:32:00Z\n", 1, "dates and times"),
        ("x = 1\nday = 1979-05-27\n", 2, "dates and times"),
        ("t = 07:32:00\n", 1, "dates and times"),
        ("a = 1\npoint = { x = 1, y = 2 }\n", 2, "inline tables"),
        ("[[products]]\nname = \"x\"\n", 1, "arrays of tables"),
        ("a = 1\na = 2\n", 2, "duplicate key `a`"),
        ("[t]\nx = 1\n[t]\ny = 2\n", 3, "defined more than once"),
        ("a = \"unterminated\n", 1, "unterminated string"),
        ("a = 'open\n", 1, "unterminated literal string"),
        ("a = \"bad \\q escape\"\n", 1, "invalid escape"),
        ("a = bareword\n", 1, "strings must be quoted"),
        ("a = 1 b = 2\n", 1, "one `key = value` per line"),
        ("\n\nkey value\n", 3, "expected `=`"),
        ("a = \n", 1, "expected a value"),
        ("a = 012\n", 1, "invalid value `012`"),
        ("a = 1__0\n", 1, "invalid value"),
        ("a = [1, 2\n", 2, "unterminated array"),
        ("a = [1 2]\n", 1, "expected `,` or `]`"),
        ("[t\n", 1, "expected `]`"),
        ("a = 1\na.b = 2\n", 2, "already defined as a value"),
        ("a = 99999999999999999999\n", 1, "invalid value"),
        ("a = \"x\"\n\rb = 1\n", 2, "carriage return"),
    ])
    func rejectsWithLineNumber(input: String, line: Int, phrase: String) throws {
        do {
            let parsed = try TOMLParser.parse(input)
            Issue.record("expected an error for \(input.debugDescription), got \(parsed)")
        } catch {
            #expect(error.line == line, "\(error)")
            #expect(error.message.contains(phrase), "\(error)")
            #expect(error.description.hasPrefix("line \(line): "))
        }
    }
}
