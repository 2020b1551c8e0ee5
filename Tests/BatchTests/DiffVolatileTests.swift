import Hashing
import Testing
import TestSupport

@testable import Batch

/// What `batch diff` ignores by default, and that `--include-volatile` shows it.
@Suite struct DiffVolatileTests {
    static let idA = "5d1f3c2a-5b6e-4f70-8a91-b2c3d4e5f601"
    static let idB = "9e8d7c6b-0000-4f70-8a91-b2c3d4e5f602"

    var options: JSONDiffOptions {
        JSONDiffOptions(volatileA: VolatileFields(serverIDs: [Self.idA]), volatileB: VolatileFields(serverIDs: [Self.idB.uppercased()]))
    }

    @Test func etagTimestampAndIDsAreIgnored() {
        let a: JSONValue = ["@odata.etag": "W/\"1\"", "lastModifiedDateTime": "2026-01-01T00:00:00Z", "id": .string(Self.idA),
                            "systemId": "s1", "email": "a@x", "lines": [["id": "l1", "@odata.etag": "e"]]]
        let b: JSONValue = ["@odata.etag": "W/\"2\"", "lastModifiedDateTime": "2026-02-01T00:00:00Z", "id": .string(Self.idB),
                            "systemId": "s2", "email": "a@x", "lines": [["id": "l2", "@odata.etag": "f"]]]
        #expect(JSONDiff.diff(a, b, options: options).isEmpty)
        var all = options
        all.ignoreVolatile = false
        #expect(Set(JSONDiff.diff(a, b, options: all).map(\.path)) == [
            "/@odata.etag", "/lastModifiedDateTime", "/id", "/systemId", "/lines/0/id", "/lines/0/@odata.etag",
        ])
    }

    @Test func valuesEqualToAServerGeneratedIDAreIgnored() {
        // A sales order pointing at the customer each run created.
        let a: JSONValue = ["customerId": .string(Self.idA), "note": .string("for \(Self.idA)"), "other": "x"]
        let b: JSONValue = ["customerId": .string(Self.idB), "note": .string("for \(Self.idB)"), "other": "y"]
        #expect(JSONDiff.diff(a, b, options: options).map(\.path) == ["/other"])
        // An id the run did not generate is data.
        let c: JSONValue = ["customerId": "11111111-2222-3333-4444-555555555555", "note": .string("for \(Self.idB)"), "other": "x"]
        #expect(JSONDiff.diff(a, c, options: options).map(\.path) == ["/customerId"])
    }

    @Test func correlationIDsInErrorMessagesAreIgnored() {
        let a: JSONValue = ["error": ["code": "X", "message": "The record already exists. CorrelationId: 0a1b2c3d-0000-4000-8000-000000000001."]]
        let b: JSONValue = ["error": ["code": "X", "message": "The record already exists. CorrelationId: ffffffff-0000-4000-8000-000000000002."]]
        #expect(JSONDiff.diff(a, b).isEmpty)
        #expect(JSONDiff.diff(a, b, options: JSONDiffOptions(ignoreVolatile: false)).map(\.path) == ["/error/message"])
        let c: JSONValue = ["error": ["code": "X", "message": "Another message. CorrelationId: ffffffff-0000-4000-8000-000000000002."]]
        #expect(JSONDiff.diff(a, c).map(\.path) == ["/error/message"])
    }

    @Test func normaliseReplacesOnlyServerIDs() {
        let v = VolatileFields(serverIDs: [Self.idA])
        #expect(v.normalise("customers(\(Self.idA.uppercased()))?$filter=x") == "customers({server-id})?$filter=x")
        #expect(v.normalise("customers(11111111-2222-3333-4444-555555555555)") == "customers(11111111-2222-3333-4444-555555555555)")
        #expect(v.normalise(Self.idA) == VolatileFields.idPlaceholder)
        #expect(v.normalise("x\(Self.idA)0") == "x\(Self.idA)0")  // part of a longer hex run: not an id token
        #expect(VolatileFields.serverIDs(postResponses: [["id": "AbC", "systemId": "d"], ["x": 1]]) == ["abc", "d"])
    }

    @Test func urlsCompareBelowTheCompanyWithServerIDsNormalised() {
        let a = "http://127.0.0.1:1/v2.0/t/e/api/v2.0/companies(c1)/customers(\(Self.idA))"
        let b = "http://127.0.0.1:2/v2.0/t/e/api/v2.0/companies(c1)/customers(\(Self.idB))"
        #expect(URLShape.belowCompany(a, base: nil) == "customers(\(Self.idA))")
        #expect(URLShape.belowCompany("customers", base: "http://x") == "customers")
        let comparer = StepComparer(options: options, ignoreVolatile: true, baseA: nil, baseB: nil, bIsRun: true)
        #expect(comparer.normalisedURL(a, base: nil, volatile: options.volatileA) == comparer.normalisedURL(b, base: nil, volatile: options.volatileB))
        let strict = StepComparer(options: options, ignoreVolatile: false, baseA: nil, baseB: nil, bIsRun: true)
        #expect(strict.normalisedURL(a, base: nil, volatile: options.volatileA) != strict.normalisedURL(b, base: nil, volatile: options.volatileB))
    }

    @Test func baseURLPrefixesAreContextNotData() {
        var o = JSONDiffOptions(contextPrefixes: ("http://127.0.0.1:1", "http://127.0.0.1:2"))
        let a: JSONValue = ["@odata.context": "http://127.0.0.1:1/v2.0/$metadata#customers"]
        let b: JSONValue = ["@odata.context": "http://127.0.0.1:2/v2.0/$metadata#customers"]
        #expect(JSONDiff.diff(a, b, options: o).isEmpty)
        o.contextPrefixes = nil
        #expect(JSONDiff.diff(a, b, options: o).count == 1)
    }
}
