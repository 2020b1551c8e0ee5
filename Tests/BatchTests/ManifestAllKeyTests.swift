import Foundation
import Testing

@testable import Batch

/// `all: true` on a get of a collection: follow `@odata.nextLink` to the last page.
@Suite struct ManifestAllKeyTests {
    func messages(_ yaml: String) -> [String] { ManifestFixture.diagnostics(yaml).map(\.message) }

    @Test func allOnAGetOfACollectionIsKeptAndResolved() throws {
        let manifest = try ManifestFixture.parse("""
            steps:
              - name: everyone
                action: get
                endpoint: customers
                filter: "blocked eq ' '"
                all: true
              - name: first
                endpoint: customers
            """)
        #expect(manifest.steps.map(\.all) == [true, false])
        guard case .success(let resolved) = ReferenceResolver.resolve(manifest.steps[0], params: ParamSet(values: [:]), outputs: [:]) else {
            Issue.record("did not resolve"); return
        }
        #expect(resolved.all)
    }

    @Test func allOnAWriteIsRefusedWithTheFix() {
        let m = messages("""
            steps:
              - action: post
                endpoint: customers
                data: {displayName: A}
                all: true
            """)
        #expect(m == ["'all' (follow @odata.nextLink to the last page) applies only to get steps, not post"])
    }

    @Test func allOnAGetOfOneRecordIsRefused() {
        let m = messages("""
            steps:
              - endpoint: customers(0f0e0d0c-0000-0000-0000-000000000001)
                all: true
            """)
        #expect(m == ["'all' pages a collection, but get step 'step_1' reads one record"])
    }

    @Test func allMustBeABoolean() {
        let m = messages("""
            steps:
              - endpoint: customers
                all: everything
            """)
        #expect(m.count == 1)
        #expect(m.first?.contains("'all'") == true)
    }

    @Test(arguments: ["paginate", "all_pages", "follow_next_link"])
    func otherSpellingsSuggestAll(key: String) {
        let m = messages("""
            steps:
              - endpoint: customers
                \(key): true
            """)
        #expect(m == ["unknown step key '\(key)' (did you mean 'all'?)"])
    }
}
