import BusinessCentral
import Foundation
import Hashing
import Testing
import TestSupport

@testable import Batch

@Suite("Manifest references")
struct ManifestReferenceTests {
    /// A manifest whose last step is `step`, after a `find` GET and a `create` POST.
    func template(_ step: String, params: String = "") throws -> StepTemplate {
        let m = try ManifestFixture.parse("""
            \(params)
            steps:
              - name: find
                endpoint: vendors
              - name: create
                action: post
                endpoint: purchaseInvoices
                data: {vendorInvoiceNumber: X}
            \(step)
            """)
        return try #require(m.steps.last)
    }

    let outputs: [String: JSONValue] = [
        "find": [
            ["id": "v1", "number": "20000", "balance": 1234.5, "blocked": false, "tags": ["a", "b"], "addr": ["city": "Oslo"]],
            ["id": "v2", "number": "30000", "balance": 0.1, "blocked": true, "tags": [], "addr": nil],
        ],
        "create": ["id": "inv-1", "number": "108001", "totalAmount": 1e21, "lines": [["sequence": 10000]]],
    ]

    func resolve(_ step: StepTemplate, params: [String: JSONValue] = [:]) -> Result<ResolvedStep, UnresolvedReason> {
        ReferenceResolver.resolve(step, params: ParamSet(values: params), outputs: outputs)
    }

    @Test func exactReferenceKeepsTheJSONType() throws {
        let step = try template("""
              - name: use
                action: post
                endpoint: purchaseInvoiceLines
                data:
                  documentId: ${{ steps.create.id }}
                  quantity: ${{ steps.find.0.balance }}
                  blocked: "  ${{ steps.find.1.blocked }} "
                  tags: ${{ steps.find.0.tags }}
                  address: ${{steps.find.0.addr}}
                  nothing: ${{ steps.find.1.addr }}
                  count: ${{ steps.find.length }}
                  limit: ${{ params.limit }}
            """)
        let r = try resolve(step, params: ["limit": 5]).get()
        #expect(r.data == [
            "documentId": "inv-1", "quantity": 1234.5, "blocked": true, "tags": ["a", "b"],
            "address": ["city": "Oslo"], "nothing": nil, "count": 2, "limit": 5,
        ])
    }

    @Test func embeddedReferencesInterpolateText() throws {
        let step = try template("""
              - name: use
                action: post
                endpoint: purchaseInvoiceLines
                data:
                  description: "inv ${{ steps.create.number }} of ${{ steps.find.0.number }}"
                  amounts: "${{ steps.find.0.balance }}|${{ steps.find.1.balance }}|${{ steps.create.totalAmount }}"
                  flags: "${{ steps.find.1.blocked }}/${{ steps.find.1.addr }}/${{ params.n }}"
                  json: "tags=${{ steps.find.0.tags }} addr=${{ steps.find.0.addr }}"
            """)
        let r = try resolve(step, params: ["n": 10000]).get()
        #expect(r.data?["description"] == "inv 108001 of 20000")
        #expect(r.data?["amounts"] == "1234.5|0.1|1e+21")
        #expect(r.data?["flags"] == "true/null/10000")
        #expect(r.data?["json"] == #"tags=["a","b"] addr={"city":"Oslo"}"#)
    }

    @Test func idEndpointAndQueryResolve() throws {
        let step = try template("""
              - name: lines
                endpoint: purchaseInvoices(${{ steps.create.id }})/purchaseInvoiceLines
                params:
                  filter: "sequence ge ${{ steps.create.lines.0.sequence }}"
                  select: "sequence, ${{ params.field }}"
                  top: ${{ params.top }}
                  skip: ${{ steps.find.length }}
                  orderby: [sequence desc, description]
                  expand: ${{ params.expand }}
            """)
        let r = try resolve(step, params: ["field": "description", "top": "5", "expand": "dimensionSetLines"]).get()
        #expect(r.method == .get)
        #expect(r.endpoint == "purchaseInvoices(inv-1)/purchaseInvoiceLines")
        #expect(r.query == ODataQuery(filter: "sequence ge 10000", select: "sequence,description", top: 5, skip: 2,
                                      orderby: "sequence desc,description", expand: "dimensionSetLines"))
        #expect(r.query.queryItems.map(\.name) == ["$filter", "$select", "$top", "$skip", "$orderby", "$expand"])
        #expect(r.preImage == false)
    }

    @Test func patchResolvesWithPreImage() throws {
        let step = try template("""
              - name: fix
                action: patch
                endpoint: vendors
                id: ${{ steps.find.1.id }}
                etag: W/"abc"
                idempotency_key: fix-${{ steps.find.1.number }}
                data: {blocked: false}
            """)
        let r = try resolve(step).get()
        #expect(r.id == "v2")
        #expect(r.etag == "W/\"abc\"")
        #expect(r.idempotencyKey == "fix-30000")
        #expect(r.preImage == true)
        let optOut = try template("""
              - name: fix
                action: delete
                endpoint: vendors
                id: ${{ steps.find.1.id }}
                pre_image: false
            """)
        #expect(try resolve(optOut).get().preImage == false)
    }

    @Test func pathWalkErrors() throws {
        func reason(_ ref: String) throws -> String {
            let step = try template("""
                  - name: use
                    action: post
                    endpoint: x
                    data: {v: "${{ \(ref) }}"}
                """)
            switch resolve(step) {
            case .success(let r): return "resolved: \(String(describing: r.data))"
            case .failure(let e): return e.description
            }
        }
        #expect(try reason("steps.find.5.id") == "cannot resolve data.v ${{ steps.find.5.id }}: index 5 out of range (step 'find' output is a list with 2 items)")
        #expect(try reason("steps.find.first.id") == "cannot resolve data.v ${{ steps.find.first.id }}: expected a numeric index or 'length' for a list, got 'first' (step 'find' output is a list)")
        #expect(try reason("steps.find.0.numbr") == "cannot resolve data.v ${{ steps.find.0.numbr }}: step 'find' output at '0' has no field 'numbr' (did you mean 'number'?). Available fields: 'addr', 'balance', 'blocked', 'id', 'number', 'tags'")
        #expect(try reason("steps.find.0.number.x") == "cannot resolve data.v ${{ steps.find.0.number.x }}: cannot traverse into string with key 'x' (step 'find' output at '0.number' is string)")
        #expect(try reason("steps.find.0.tags.length") == "resolved: Optional(Hashing.JSONValue.object([\"v\": Hashing.JSONValue.number(2.0)]))")
        #expect(try reason("params.missing") == "cannot resolve data.v ${{ params.missing }}: param 'missing' has no value; pass --set missing=<value>")
    }

    @Test func missingStepOutputIsAReasonNotACrash() throws {
        let step = try template("""
              - name: use
                action: patch
                endpoint: purchaseInvoices
                id: ${{ steps.create.id }}
                data: {a: 1}
            """)
        let r = ReferenceResolver.resolve(step, params: ParamSet(values: [:]), outputs: ["find": []])
        guard case .failure(let reason) = r else { Issue.record("expected failure"); return }
        #expect(reason.field == "id")
        #expect(reason.reference == "${{ steps.create.id }}")
        #expect(reason.description == "cannot resolve id ${{ steps.create.id }}: step 'create' has no output (it failed, was skipped, or has not run)")
    }

    @Test func resolvedIDMustBeOnePathComponent() throws {
        let step = try template("""
              - name: use
                action: delete
                endpoint: vendors
                id: ${{ params.id }}
            """)
        for (value, message) in [("../companies", "id '../companies' contains '/'"), ("", "id '' is empty")] as [(JSONValue, String)] {
            guard case .failure(let reason) = resolve(step, params: ["id": value]) else { Issue.record("expected failure"); continue }
            #expect(reason.message == message)
        }
        guard case .failure(let reason) = resolve(step, params: ["id": ["a": 1]]) else { Issue.record("expected failure"); return }
        #expect(reason.message == "resolved to object; expected a string or number")
        #expect(try resolve(step, params: ["id": 42]).get().id == "42")
    }

    @Test func templatedMethodIsCheckedAtRunTime() throws {
        let step = try template("""
              - name: use
                action: ${{ params.verb }}
                endpoint: vendors
                id: v1
                data: {blocked: true}
            """, params: "params:\n  verb: patch")
        #expect(step.method == .template("${{ params.verb }}"))
        #expect(step.method.mayWrite)
        #expect(try resolve(step, params: ["verb": "PATCH"]).get().method == .patch)
        guard case .failure(let r1) = resolve(step, params: ["verb": "put"]) else { Issue.record("expected failure"); return }
        #expect(r1.description == "cannot resolve action ${{ params.verb }}: resolved to 'put'; expected get, post, patch or delete")
        guard case .failure(let r2) = resolve(step, params: ["verb": "get"]) else { Issue.record("expected failure"); return }
        #expect(r2.message == "'data' is not sent by a get step (remove data:, or use action: post or action: patch)")
    }

    @Test func writeGateCountsTemplatedMethods() throws {
        let m = try ManifestFixture.parse("""
            params: {verb: get}
            steps:
              - endpoint: customers
              - action: ${{ params.verb }}
                endpoint: customers
              - action: delete
                endpoint: customers
                id: abc
            """)
        #expect(writesIn(m).map(\.seq) == [2, 3])
    }

    @Test func dataMayBeOneReference() throws {
        let step = try template("""
              - name: copy
                action: post
                endpoint: vendors
                data: ${{ steps.find.0.addr }}
            """)
        #expect(try resolve(step).get().data == ["city": "Oslo"])
        let bad = try template("""
              - name: copy
                action: post
                endpoint: vendors
                data: ${{ steps.find.0.tags }}
            """)
        guard case .failure(let r) = resolve(bad) else { Issue.record("expected failure"); return }
        #expect(r.message == "resolved to array; data must be an object")
    }

    @Test func referenceOutputs() throws {
        let collection = ResolvedStep(seq: 1, name: "f", method: .get, endpointPath: try EndpointPath.parse("vendors").get(),
                                      id: nil, data: nil, query: ODataQuery(), etag: nil, idempotencyKey: nil, preImage: false)
        #expect(ReferenceResolver.referenceOutput(for: collection, responseBody: ["@odata.context": "x", "value": [["id": "1"]]]) == [["id": "1"]])
        let single = ResolvedStep(seq: 1, name: "f", method: .get, endpointPath: try EndpointPath.parse("vendors").get(),
                                  id: "1", data: nil, query: ODataQuery(), etag: nil, idempotencyKey: nil, preImage: false)
        #expect(ReferenceResolver.referenceOutput(for: single, responseBody: ["id": "1"]) == ["id": "1"])
        let delete = ResolvedStep(seq: 1, name: "f", method: .delete, endpointPath: try EndpointPath.parse("vendors").get(),
                                  id: "1", data: nil, query: ODataQuery(), etag: nil, idempotencyKey: nil, preImage: true)
        #expect(ReferenceResolver.referenceOutput(for: delete, responseBody: nil) == [:])
    }

    @Test func referencesCarryLocations() throws {
        let m = try ManifestFixture.parse("""
            steps:
              - name: find
                endpoint: vendors
              - action: post
                endpoint: purchaseInvoices
                data:
                  vendorId: ${{ steps.find.0.id }}
                  note: "for ${{ steps.find.0.number }} and ${{ steps.find.0.id }}"
            """)
        let refs = m.steps[1].references
        #expect(refs.map(\.dottedPath) == ["steps.find.0.id", "steps.find.0.number", "steps.find.0.id"])
        #expect(refs.map { "\($0.location.line):\($0.location.column)" } == ["7:17", "8:18", "8:49"])
        #expect(m.steps[1].dependencies == ["find"])
    }
}
