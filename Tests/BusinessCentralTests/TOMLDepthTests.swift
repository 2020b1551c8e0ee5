import Testing
import TestSupport

@testable import BusinessCentral

/// TOML nesting is bounded (`TOMLParser.maximumNestingDepth`), with an error
/// naming the limit, the line and the column, instead of a stack overflow.
@Suite struct TOMLDepthTests {
    static let deep = 200_000

    func expectTooDeep(_ text: String, line: Int, column: Int, what: String, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            _ = try TOMLParser.parse(text)
            Issue.record("accepted", sourceLocation: sourceLocation)
        } catch {
            #expect(error.line == line, "\(error)", sourceLocation: sourceLocation)
            #expect(error.message.contains("deeper than \(TOMLParser.maximumNestingDepth)"), "\(error)", sourceLocation: sourceLocation)
            #expect(error.message.contains(what), "\(error)", sourceLocation: sourceLocation)
            #expect(error.message.contains("column \(column)"), "\(error)", sourceLocation: sourceLocation)
        }
    }

    @Test("an array nested 200,000 deep is an error, not a crash")
    func deepArray() {
        let text = "x = " + String(repeating: "[", count: Self.deep) + "1" + String(repeating: "]", count: Self.deep) + "\n"
        expectTooDeep(text, line: 1, column: 4 + 513, what: "arrays")
    }

    @Test("an array nested 200,000 deep over many lines names the line")
    func deepArrayOverLines() {
        let text = "# c\nx = " + String(repeating: "[\n", count: Self.deep) + "1" + String(repeating: "]", count: Self.deep) + "\n"
        expectTooDeep(text, line: 2 + 512, column: 1, what: "arrays")
    }

    @Test("a dotted key of 200,000 parts is an error, not a crash")
    func deepDottedKey() {
        let text = "a" + String(repeating: ".a", count: Self.deep) + " = 1\n"
        expectTooDeep(text, line: 1, column: 2 * 512 + 1, what: "key")
    }

    @Test("a table header of 200,000 parts is an error, not a crash")
    func deepHeader() {
        let text = "[a" + String(repeating: ".a", count: Self.deep) + "]\n"
        expectTooDeep(text, line: 1, column: 2 * 512 + 2, what: "key")
    }

    @Test("nesting up to the limit is accepted")
    func atTheLimit() throws {
        let n = TOMLParser.maximumNestingDepth
        let table = try TOMLParser.parse("x = " + String(repeating: "[", count: n) + "1" + String(repeating: "]", count: n) + "\n")
        var value = try #require(table["x"])
        var depth = 0
        while case .array(let items) = value { depth += 1; value = items[0] }
        #expect(depth == n)
        let dotted = try TOMLParser.parse((1...n).map { _ in "a" }.joined(separator: ".") + " = 1\n")
        #expect(dotted["a"] != nil)
    }
}
