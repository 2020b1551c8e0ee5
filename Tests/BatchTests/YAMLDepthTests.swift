import Foundation
import Hashing
import Testing
import TestSupport

@testable import Batch

/// YAML (manifests, params files, `--set` values) nests at most
/// `YAMLDocument.maximumNestingDepth` lists/mappings; deeper is a diagnostic naming the limit and
/// the line and column, never a crash, for flow (`[[[[`) and block (`- - - -`) nesting alike.
@Suite struct YAMLDepthTests {
    static let deep = 200_000
    static let limit = YAMLDocument.maximumNestingDepth

    static func manifest(data: String) -> String {
        "steps:\n  - action: post\n    endpoint: customers\n    data:\n      x: \(data)\n"
    }

    func onlyDepthDiagnostic(_ yaml: String, line: Int, column: Int? = nil, sourceLocation: Testing.SourceLocation = #_sourceLocation) {
        let diagnostics = ManifestFixture.diagnostics(yaml)
        #expect(diagnostics.count == 1, "\(diagnostics.map(\.brief))", sourceLocation: sourceLocation)
        guard let d = diagnostics.first else { return }
        #expect(d.message.contains("nested deeper than \(Self.limit) levels"), "\(d.brief)", sourceLocation: sourceLocation)
        #expect(d.line == line, "\(d.brief)", sourceLocation: sourceLocation)
        if let column { #expect(d.column == column, "\(d.brief)", sourceLocation: sourceLocation) }
    }

    @Test("flow nesting 200,000 deep is a diagnostic, not a crash")
    func deepFlow() {
        let flow = String(repeating: "[", count: Self.deep) + "1" + String(repeating: "]", count: Self.deep)
        onlyDepthDiagnostic(Self.manifest(data: flow), line: 5)
    }

    @Test("block nesting 200,000 deep is a diagnostic, not a crash")
    func deepBlock() {
        let block = "\n        " + String(repeating: "- ", count: Self.deep) + "1"
        onlyDepthDiagnostic(Self.manifest(data: block), line: 6)
    }

    @Test("nesting just over the limit names the limit and the exact place")
    func justOverTheLimit() {
        // The root mapping, steps, the step and data are 4 levels; x's value starts level 5.
        let n = Self.limit - 4 + 1
        let flow = String(repeating: "[", count: n) + "1" + String(repeating: "]", count: n)
        onlyDepthDiagnostic(Self.manifest(data: flow), line: 5, column: 9 + n)
    }

    @Test("nesting up to the limit is accepted")
    func atTheLimit() throws {
        let n = Self.limit - 4
        let flow = String(repeating: "[", count: n) + "1" + String(repeating: "]", count: n)
        let m = try ManifestFixture.parse(Self.manifest(data: flow))
        #expect(m.steps.count == 1)
    }

    @Test("a --set value nested 200,000 deep is refused with the limit")
    func deepSetValue() {
        let raw = String(repeating: "[", count: Self.deep) + String(repeating: "]", count: Self.deep)
        switch ParamSet.parseSetValue(raw) {
        case .success: Issue.record("accepted")
        case .failure(let e): #expect(e.message.contains("nested deeper than \(Self.limit) levels"), "\(e.message)")
        }
    }

    @Test("a params file nested 200,000 deep is a diagnostic")
    func deepParamsFile() throws {
        let dir = TempDir("bcli-manifest-tests")
        let params = try ManifestFixture.write("a: " + String(repeating: "{b: ", count: Self.deep) + "1" + String(repeating: "}", count: Self.deep) + "\n",
                                              to: "p.yaml", in: dir)
        let diagnostics = ManifestFixture.prepareDiagnostics("params:\n  a: {}\nsteps:\n  - endpoint: customers\n", paramsFile: params)
        #expect(diagnostics.contains { $0.message.contains("nested deeper than \(Self.limit) levels") && $0.line == 1 },
                "\(diagnostics.map(\.brief))")
    }
}

/// Depth reached through aliases counts too, and the check itself is bounded.
@Suite struct YAMLAliasDepthTests {
    @Test("a chain of 600 aliases is too deep")
    func aliasChain() {
        var yaml = "      a0: &a0 [1]\n"
        for i in 1...600 { yaml += "      a\(i): &a\(i) [*a\(i - 1)]\n" }
        let ds = ManifestFixture.diagnostics("steps:\n  - action: post\n    endpoint: items\n    data:\n" + yaml)
        #expect(ds.count == 1, "\(ds.map(\.brief))")
        #expect(ds.first?.message.contains("nested deeper than \(YAMLDocument.maximumNestingDepth) levels") == true, "\(ds.map(\.brief))")
    }

    @Test("an alias bomb of 10^10 values is refused quickly")
    func aliasBomb() {
        var yaml = "      a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
        for i in 1...9 { yaml += "      a\(i): &a\(i) [" + Array(repeating: "*a\(i - 1)", count: 10).joined(separator: ", ") + "]\n" }
        let start = ContinuousClock.now
        let ds = ManifestFixture.diagnostics("steps:\n  - action: post\n    endpoint: items\n    data:\n" + yaml)
        #expect(ds.contains { $0.message.contains("too many values") }, "\(ds.map(\.brief))")
        #expect(ContinuousClock.now - start < .seconds(30))
    }
}
