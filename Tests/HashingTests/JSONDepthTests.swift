import Testing
@testable import Hashing

/// The JSON parser is iterative and stops at `maximumNestingDepth` with an
/// error naming the limit, line and column; the encoders that recurse over values only ever see
/// values that deep.
@Suite struct JSONDepthTests {
    static let deep = 200_000

    func expectTooDeep(_ text: String, column: Int, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            _ = try JSONValue(parsing: text)
            Issue.record("accepted", sourceLocation: sourceLocation)
        } catch {
            #expect(error.message.contains("nesting deeper than \(JSONValue.maximumNestingDepth) levels"), "\(error)", sourceLocation: sourceLocation)
            #expect(error.line == 1 && error.column == column, "\(error)", sourceLocation: sourceLocation)
            #expect(error.description.contains("line 1, column \(column)"), sourceLocation: sourceLocation)
        }
    }

    @Test("arrays nested 200,000 deep")
    func deepArrays() {
        expectTooDeep(String(repeating: "[", count: Self.deep) + String(repeating: "]", count: Self.deep), column: 513)
    }

    @Test("objects nested 200,000 deep")
    func deepObjects() {
        expectTooDeep(String(repeating: "{\"a\":", count: Self.deep) + "1" + String(repeating: "}", count: Self.deep), column: 5 * 512 + 1)
    }

    @Test("mixed nesting 200,000 deep, never closed")
    func deepUnclosed() {
        expectTooDeep(String(repeating: "[{\"a\":", count: Self.deep / 2), column: 3 * 512 + 1)
    }

    @Test("a value at the limit encodes, pretty-prints and compares")
    func atTheLimit() throws {
        let n = JSONValue.maximumNestingDepth
        let text = String(repeating: "[{\"a\":", count: n / 2) + "1" + String(repeating: "}]", count: n / 2)
        let value = try JSONValue(parsing: text)
        #expect(try value.canonicalString() == text)
        #expect(try JSONValue(parsing: value.prettyPrinted()) == value)
    }
}
