import Foundation
import Hashing
import Testing
import TestSupport
@testable import Sandbox

/// `$filter` nesting (parentheses, `not`) is bounded with an error naming the
/// limit and the position; long `and`/`or` chains parse to shallow trees that validate and evaluate
/// without deep recursion.
@Suite struct FilterDepthTests {
    static let deep = 200_000
    static let limit = FilterParser.maximumNestingDepth

    func expectTooDeep(_ text: String, at position: Int, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            _ = try FilterParser.parse(text)
            Issue.record("accepted", sourceLocation: sourceLocation)
        } catch {
            #expect(error.status.code == 400, "\(error)", sourceLocation: sourceLocation)
            let message = error.message
            #expect(message.contains("more than \(Self.limit) levels"), "\(message)", sourceLocation: sourceLocation)
            #expect(message.contains("at position \(position)"), "\(message)", sourceLocation: sourceLocation)
        }
    }

    @Test("200,000 nested parentheses are a 400, not a crash")
    func deepParentheses() {
        expectTooDeep(String(repeating: "(", count: Self.deep) + "a eq 1" + String(repeating: ")", count: Self.deep), at: Self.limit)
    }

    @Test("200,000 nested 'not's are a 400, not a crash")
    func deepNot() {
        expectTooDeep(String(repeating: "not ", count: Self.deep) + "a eq 1", at: 4 * Self.limit)
    }

    @Test("nesting up to the limit is accepted")
    func atTheLimit() throws {
        let e = try FilterParser.parse(String(repeating: "(", count: Self.limit) + "a eq 1" + String(repeating: ")", count: Self.limit))
        #expect(e == .compare(property: "a", .eq, .number(1)))
        var n = try FilterParser.parse(String(repeating: "not ", count: Self.limit) + "a eq 1")
        var nots = 0
        while case .not(let inner) = n { nots += 1; n = inner }
        #expect(nots == Self.limit)
    }

    @Test("a chain of 40,000 'and's and 'or's parses, validates and evaluates without deep recursion")
    func longChain() throws {
        let terms = 20_000
        let text = Array(repeating: "creditLimit ge 0", count: terms).joined(separator: " and ")
            + " or " + Array(repeating: "displayName eq 'x'", count: terms).joined(separator: " or ")
        let e = try FilterParser.parse(text)
        #expect(e.properties.count == 2 * terms)
        #expect(FilterEvaluator.matches(e, ["creditLimit": 5, "displayName": "y"]))
        #expect(!FilterEvaluator.matches(e, ["creditLimit": -1, "displayName": "y"]))
        #expect(FilterEvaluator.matches(e, ["creditLimit": -1, "displayName": "x"]))
    }

    @Test("over HTTP: a deep $filter and a JSON body nested 200,000 deep are 400s naming the limit")
    func overHTTP() async throws {
        try await Harness.with { h in
            let n = 2 * Self.limit
            let filter = String(repeating: "(", count: n) + "displayName eq 'x'" + String(repeating: ")", count: n)
            let encoded = filter.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
            let r = try await h.get("customers?$filter=\(encoded)")
            #expect(r.status == 400, "\(r.text)")
            #expect(r.text.contains("more than \(Self.limit) levels"), "\(r.text)")

            let body = String(repeating: "{\"a\":", count: Self.deep) + "1" + String(repeating: "}", count: Self.deep)
            let p = try await h.send(.POST, h.url("customers"), rawBody: Array(body.utf8), headers: ["Content-Type": "application/json"])
            #expect(p.status == 400, "\(p.text.prefix(300))")
            #expect(p.text.contains("nesting deeper than \(JSONValue.maximumNestingDepth) levels"), "\(p.text.prefix(300))")
            #expect(try await h.journal().isEmpty)
        }
    }
}
