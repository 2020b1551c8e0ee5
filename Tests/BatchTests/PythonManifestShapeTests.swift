import BusinessCentral
import Foundation
import Hashing
import Testing

@testable import Batch

/// Manifests in the shapes the Python tool (bc-cli 0.8.2) reads — its built-in packs and its docs
/// — validate, and mean what docs/manifest.md says: query options on the step, `description`,
/// `version`, a quoted `top`, `endpoint: entitySet(<id>)`, `method:`, an undeclared `--set` key.
/// These manifests are our own, written in those shapes.
@Suite("Python tool manifest shapes")
struct PythonManifestShapeTests {
    static let profile = Profile(name: "p", tenantID: "t", environment: "production", companyID: "c-1",
                                 baseURL: "https://bc.example")

    /// The URL each step would be sent to (as `--dry-run` shows it), with `outputs` for references.
    static func urls(_ manifest: Manifest, sets: [String] = [], outputs: [String: JSONValue] = [:]) throws -> [String] {
        let params = try ParamSet.layer(manifest: manifest, paramsFile: nil, sets: sets)
        return try StepPreview.all(manifest, params: params, outputs: outputs, profile: profile).map { preview in
            guard case .resolved(_, let url, _) = preview.outcome else { throw PreviewError(step: preview.template.name) }
            return try url.get()
        }
    }

    struct PreviewError: Error { let step: String }

    static let company = "https://bc.example/v2.0/t/production/api/v2.0/companies(c-1)"

    /// The starter pack's shape: a params block with required params, query options on the steps,
    /// descriptions and a version.
    static let packShape = """
        name: "Weekly snapshot"
        description: "Read-only report"
        version: 3
        params:
          cutoff:
            description: "ISO date"
            required: true
        steps:
          - name: recent_invoices
            description: "Invoices posted since the cutoff"
            action: get
            endpoint: salesInvoices
            filter: "postingDate ge ${{ params.cutoff }}"
            select: "number,postingDate,customerNumber"
            orderby: "postingDate desc"
            top: 100
          - name: top_customers
            action: get
            endpoint: customers
            filter: "balanceDue gt 0"
            select: [number, displayName]
            orderby: balanceDue desc
            top: "25"
            expand: paymentTerm
        """

    @Test func stepLevelQueryOptionsMeanTheSameAsUnderParams() throws {
        let m = try ManifestFixture.parse(Self.packShape)
        #expect(m.description == "Read-only report")
        #expect(m.version == "3")
        #expect(m.steps[0].description == "Invoices posted since the cutoff")
        #expect(m.steps[1].description == nil)
        #expect(m.steps[1].query.top == .literal(25))
        #expect(m.steps[1].query.select == "number,displayName")

        let underParams = try ManifestFixture.parse("""
            params:
              cutoff: {required: true}
            steps:
              - name: recent_invoices
                endpoint: salesInvoices
                params:
                  filter: "postingDate ge ${{ params.cutoff }}"
                  select: "number,postingDate,customerNumber"
                  orderby: "postingDate desc"
                  top: 100
              - name: top_customers
                endpoint: customers
                params: {filter: "balanceDue gt 0", select: [number, displayName], orderby: balanceDue desc, top: 25, expand: paymentTerm}
            """)
        let sets = ["cutoff=2026-04-01"]
        let expected = [
            "\(Self.company)/salesInvoices?$filter=postingDate%20ge%202026-04-01&$select=number,postingDate,customerNumber&$top=100&$orderby=postingDate%20desc",
            "\(Self.company)/customers?$filter=balanceDue%20gt%200&$select=number,displayName&$top=25&$orderby=balanceDue%20desc&$expand=paymentTerm",
        ]
        #expect(try Self.urls(m, sets: sets) == expected)
        #expect(try Self.urls(underParams, sets: sets) == expected)
    }

    @Test func stepLevelAndParamsOptionsCombineWhenTheyDiffer() throws {
        let m = try ManifestFixture.parse("""
            steps:
              - endpoint: vendors
                top: 1
                params: {select: "id,number"}
            """)
        #expect(try Self.urls(m) == ["\(Self.company)/vendors?$select=id,number&$top=1"])
    }

    @Test func oneOptionGivenBothWaysNamesTheStepLevelOneToRemove() {
        let ds = ManifestFixture.diagnostics("""
            steps:
              - name: vendors
                endpoint: vendors
                top: 1
                params:
                  top: "2"
                  select: "id,number"
            """)
        #expect(ds.map(\.brief) == ["4:5 step 1 gives 'top' twice: on the step and under params:"])
        #expect(ds.first?.fix == "remove the step-level top: (the Python tool ignores it and uses params: top)")
    }

    @Test func stepLevelOptionsOnAWriteAreRefusedLikeParams() {
        let ds = ManifestFixture.diagnostics("""
            steps:
              - action: post
                endpoint: customers
                data: {displayName: X}
                top: 1
            """)
        #expect(ds.map(\.brief) == ["5:5 query params (filter, select, …) only apply to get steps, not post"])
    }

    @Test func aQuotedNumberIsAWholeNumberAndTextIsStillRefused() throws {
        let m = try ManifestFixture.parse("""
            steps:
              - {name: a, endpoint: vendors, params: {top: "2", skip: "10"}}
              - {name: b, endpoint: vendors, top: "50"}
            """)
        #expect(m.steps[0].query.top == .literal(2))
        #expect(m.steps[0].query.skip == .literal(10))
        #expect(m.steps[1].query.top == .literal(50))
        let ds = ManifestFixture.diagnostics("steps:\n  - {endpoint: vendors, top: \"ten\"}\n")
        #expect(ds.map(\.brief) == ["2:30 'top' must be a whole number of at least 0, found the string 'ten'"])
    }

    @Test func descriptionAndVersionAreTextOrNumbers() throws {
        let m = try ManifestFixture.parse("version: \"0.1.0\"\ndescription: >-\n  two\n  lines\nsteps:\n  - endpoint: vendors\n")
        #expect(m.version == "0.1.0")
        #expect(m.description == "two lines")
        let ds = ManifestFixture.diagnostics("description: [a]\nsteps:\n  - endpoint: vendors\n    description: {x: 1}\n")
        #expect(ds.map(\.brief) == ["1:14 'description' must be a string, found a list", "4:18 'description' must be a string, found a mapping"])
    }

    @Test func anEndpointWithAKeyIsTheEntitySetAndTheID() throws {
        let m = try ManifestFixture.parse("""
            steps:
              - name: vendors
                endpoint: vendors
                params: {top: 1}
              - name: one
                endpoint: "vendors(${{ steps.vendors.0.id }})"
              - name: lines
                endpoint: "purchaseInvoices(p-1)/purchaseInvoiceLines(l-2)"
              - name: change
                method: PATCH
                endpoint: customers(c-9)
                data: {phoneNumber: "555"}
              - name: gone
                action: delete
                endpoint: customers(c-9)
            """)
        #expect(m.steps[1].endpoint == "vendors")
        #expect(m.steps[1].id == "${{ steps.vendors.0.id }}")
        #expect(m.steps[1].dependencies == ["vendors"])
        #expect(m.steps[2].endpoint == "purchaseInvoices(p-1)/purchaseInvoiceLines")
        #expect(m.steps[2].id == "l-2")
        #expect(m.steps[3].method == .literal(.patch))
        #expect((m.steps[3].endpoint, m.steps[3].id) == ("customers", "c-9"))
        let urls = try Self.urls(m, outputs: ["vendors": [["id": "v-1"]]])
        #expect(urls == [
            "\(Self.company)/vendors?$top=1", "\(Self.company)/vendors(v-1)",
            "\(Self.company)/purchaseInvoices(p-1)/purchaseInvoiceLines(l-2)",
            "\(Self.company)/customers(c-9)", "\(Self.company)/customers(c-9)",
        ])
    }

    @Test func aTemplatedEndpointThatResolvesToOneRecordIsSplitAtRunTime() throws {
        let m = try ManifestFixture.parse("params: {ep: x}\nsteps:\n  - endpoint: ${{ params.ep }}\n")
        #expect(try Self.urls(m, sets: ["ep=customers(c-1)"]) == ["\(Self.company)/customers(c-1)"])
    }

    @Test func keyedEndpointErrors() {
        #expect(ManifestFixture.diagnostics("steps:\n  - {endpoint: customers(abc), id: abc}\n").map(\.brief)
                == ["2:16 step 1 gives the record id twice: in endpoint 'customers(abc)' and in id:"])
        #expect(ManifestFixture.diagnostics("steps:\n  - {action: post, endpoint: customers(abc), data: {a: 1}}\n").map(\.brief)
                == ["2:30 post step 'step_1' addresses a single record (endpoint 'customers(abc)'), but post creates a record and BC assigns its id"])
        #expect(ManifestFixture.diagnostics("steps:\n  - {endpoint: \"customers(a/b)\"}\n").count == 1)
        #expect(ManifestFixture.diagnostics("steps:\n  - {endpoint: \"customers()\"}\n").map(\.brief)
                == ["2:16 key '' in endpoint 'customers()' is empty"])
    }

    @Test func actionAndMethodTogetherNameMethodAsTheOneToRemove() {
        let ds = ManifestFixture.diagnostics("steps:\n  - {action: post, method: patch, endpoint: customers, data: {a: 1}}\n")
        #expect(ds.map(\.brief) == ["2:20 step 1 declares both 'action' and 'method' with different values"])
        #expect(ds.first?.fix == "keep one of them: remove method: (they mean the same; the Python tool reads action: when both are given)")
    }

    @Test func otherValidationStays() {
        #expect(ManifestFixture.diagnostics("steps:\n  - {endpoint: vendors, fliter: x}\n").map(\.brief)
                == ["2:25 unknown step key 'fliter' (did you mean 'filter'?)"])
        #expect(ManifestFixture.diagnostics("verison: 1\nsteps:\n  - endpoint: vendors\n").map(\.brief)
                == ["1:1 unknown top-level key 'verison' (did you mean 'version'?)"])
        #expect(ManifestFixture.diagnostics("steps:\n  - {endpoint: vendors, params: {top: 1, fitler: 2}}\n").map(\.brief)
                == ["2:42 unknown query option key 'fitler' (did you mean 'filter'?)"])
    }

    @Test func anUndeclaredSetKeyIsAcceptedWithAWarning() throws {
        let yaml = "params:\n  cutoff: {required: true}\nsteps:\n  - {endpoint: vendors, filter: \"d ge ${{ params.cutoff }}\"}\n"
        let (_, params) = try ManifestLoader.prepare(bytes: Array(yaml.utf8), path: "m.yaml", paramsFile: nil,
                                                     sets: ["cutoff=2026-01-01", "cutof=2026-02-01", "other=1"])
        #expect(params.values == ["cutoff": "2026-01-01", "cutof": "2026-02-01", "other": 1])
        #expect(params.warnings.map(\.description) == [
            "--set: warning: param 'cutof' is not declared by m.yaml (did you mean 'cutoff'?); it is accepted, but no step can use it\n  fix: write cutoff instead of cutof",
            "--set: warning: param 'other' is not declared by m.yaml; it is accepted, but no step can use it\n  fix: declare it under params: in the manifest, or drop --set other",
        ])
        // Without a params: block any key is accepted silently, as before.
        let (_, open) = try ManifestLoader.prepare(bytes: Array("steps:\n  - endpoint: vendors\n".utf8), path: "m.yaml",
                                                   paramsFile: nil, sets: ["x=1"])
        #expect(open.warnings.isEmpty)
    }
}
