import Foundation
import Testing

@testable import Batch

/// `reconcile_by:` on a post: the fields whose values (from the body sent) find the record it
/// created when its outcome is unknown.
@Suite struct ManifestReconcileByTests {
    func messages(_ yaml: String) -> [String] { ManifestFixture.diagnostics(yaml).map(\.message) }

    @Test func aListOnAPostIsKept() throws {
        let manifest = try ManifestFixture.parse("""
            steps:
              - name: order
                action: post
                endpoint: salesOrders
                data: {externalDocumentNumber: PO-7, customerNumber: "10000"}
                reconcile_by: [externalDocumentNumber, customerNumber]
              - name: plain
                action: post
                endpoint: customers
                data: {displayName: A}
            """)
        #expect(manifest.steps[0].reconcileBy == ["externalDocumentNumber", "customerNumber"])
        #expect(manifest.steps[1].reconcileBy == nil)
    }

    @Test func aSingleStringIsAListOfOne() throws {
        let manifest = try ManifestFixture.parse("""
            steps:
              - action: post
                endpoint: customers
                data: {displayName: A, email: a@example.com}
                reconcile_by: email
            """)
        #expect(manifest.steps[0].reconcileBy == ["email"])
    }

    @Test func aFieldWhoseValueIsAReferenceIsAccepted() throws {
        let manifest = try ManifestFixture.parse("""
            params: {doc: {default: PO-1}}
            steps:
              - action: post
                endpoint: salesOrders
                data: {externalDocumentNumber: "${{ params.doc }}"}
                reconcile_by: [externalDocumentNumber]
            """)
        #expect(manifest.steps[0].reconcileBy == ["externalDocumentNumber"])
    }

    @Test func dataThatIsOneReferenceIsNotCheckedStatically() throws {
        let manifest = try ManifestFixture.parse("""
            steps:
              - name: src
                endpoint: customers
                id: "5d115c9c-44e3-ea11-bb43-000d3a2feca1"
              - action: post
                endpoint: customers
                data: ${{ steps.src }}
                reconcile_by: [number]
            """)
        #expect(manifest.steps[1].reconcileBy == ["number"])
    }

    @Test(arguments: ["get", "patch", "delete"])
    func onAnotherMethodItIsRefusedWithTheFix(method: String) {
        let extra = method == "get" ? "" : "\n    id: \"5d115c9c-44e3-ea11-bb43-000d3a2feca1\""
        let data = method == "patch" ? "\n    data: {displayName: B}" : ""
        let diagnostics = ManifestFixture.diagnostics("""
            steps:
              - action: \(method)
                endpoint: customers\(extra)\(data)
                reconcile_by: [number]
            """)
        #expect(diagnostics.map(\.message) == ["'reconcile_by' (the fields that find the record a post created) applies only to post steps, not \(method)"])
        #expect(diagnostics.first?.fix.hasPrefix("remove reconcile_by:") == true)
        #expect(diagnostics.first?.line == 5 + (extra.isEmpty ? 0 : 1) + (data.isEmpty ? 0 : 1) - 1)
    }

    @Test func onAPostToAnActionItIsRefused() {
        let m = messages("""
            steps:
              - action: post
                endpoint: salesInvoices(5d115c9c-44e3-ea11-bb43-000d3a2feca1)/Microsoft.NAV.post
                reconcile_by: [number]
            """)
        #expect(m == ["'reconcile_by' finds the record a post created, but post step 'step_1' calls action 'Microsoft.NAV.post', which creates no record to look up"])
    }

    @Test func aFieldNotInDataIsRefusedWithAGuess() {
        let m = messages("""
            steps:
              - action: post
                endpoint: salesOrders
                data: {externalDocumentNumber: PO-7}
                reconcile_by: [externalDocumentNumbr]
            """)
        #expect(m == ["'reconcile_by' field 'externalDocumentNumbr' is not in the data of post step 'step_1' (did you mean 'externalDocumentNumber'?)"])
    }

    @Test func aPostWithoutDataHasNoFieldToKeyOn() {
        let m = messages("""
            steps:
              - action: post
                endpoint: customers
                reconcile_by: number
            """)
        #expect(m == ["'reconcile_by' field 'number' is not in the data of post step 'step_1'"])
    }

    @Test func aFieldThatIsNotAScalarIsRefused() {
        let m = messages("""
            steps:
              - action: post
                endpoint: customers
                data: {displayName: A, address: {city: Oslo}}
                reconcile_by: [address]
            """)
        #expect(m == ["'reconcile_by' field 'address' of post step 'step_1' is not a single value in data"])
    }

    @Test func badValuesAreRefused() {
        let cases: [(String, String)] = [
            ("[]", "'reconcile_by' is empty"),
            ("{number: true}", "'reconcile_by' must be a field name or a list of field names, found a mapping"),
            ("[\"\"]", "a 'reconcile_by' field name is empty"),
            ("[\"${{ params.f }}\"]", "a 'reconcile_by' field name cannot contain a reference"),
            ("[address.city]", "'reconcile_by' field 'address.city' is not a field name (letters, digits and _)"),
            ("[number, number]", "'reconcile_by' lists 'number' twice"),
            ("[true]", "'reconcile_by item' must be a string, found boolean 'true'"),
            ("null", "'reconcile_by' must be a string, found null 'null'"),
        ]
        for (value, expected) in cases {
            let m = messages("""
                steps:
                  - action: post
                    endpoint: customers
                    data: {number: C1}
                    reconcile_by: \(value)
                """)
            #expect(m == [expected], "reconcile_by: \(value)")
        }
    }

    @Test(arguments: ["reconcile_key", "match_by", "reconcile-by", "reconcileby"])
    func otherSpellingsSuggestReconcileBy(key: String) {
        let m = messages("""
            steps:
              - action: post
                endpoint: customers
                data: {number: C1}
                \(key): [number]
            """)
        #expect(m == ["unknown step key '\(key)' (did you mean 'reconcile_by'?)"])
    }
}
