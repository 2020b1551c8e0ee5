import Foundation
import Hashing
import Testing
import TestSupport
@testable import Sandbox

@Suite("Entity CRUD with Business Central semantics")
struct CRUDTests {
    @Test("POST creates with a server GUID, weak ETag in body and header, timestamp and Location")
    func createAssignsServerFields() async throws {
        try await Harness.with { h in
            let response = try await h.send(.POST, h.url("customers"), json: [
                "displayName": "Adatum", "id": "11111111-1111-1111-1111-111111111111",
                "lastModifiedDateTime": "1999-01-01T00:00:00Z", "@odata.etag": "W/\"forged\"",
            ])
            #expect(response.status == 201)
            let entity = response.json
            let id = try #require(entity.id)
            #expect(ODataLiteral.isGUID(id))
            #expect(id != "11111111-1111-1111-1111-111111111111")
            let etag = try #require(entity.etag)
            #expect(etag.hasPrefix("W/\"") && etag != "W/\"forged\"")
            #expect(response.header("ETag") == etag)
            #expect(entity["lastModifiedDateTime"]?.stringValue?.hasPrefix("1999") == false)
            #expect(entity["lastModifiedDateTime"]?.stringValue?.hasSuffix("Z") == true)
            #expect(entity["displayName"] == "Adatum")
            #expect(entity["number"] == "C00010")
            #expect(entity["balanceDue"] == 0)  // defaults filled like BC
            #expect(entity["type"] == "Company")
            #expect(entity["blocked"] == " ")
            #expect(response.header("Location")?.hasSuffix("customers(\(id))") == true)
            let fetched = try await h.get("customers(\(id))")
            #expect(fetched.status == 200)
            #expect(fetched.header("ETag") == etag)
            #expect(fetched.json.etag == etag)
        }
    }

    @Test("missing numbers come from per-set series: C00010, C00020 …, V00010, I00010")
    func numberSeries() async throws {
        try await Harness.with { h in
            var numbers: [JSONValue?] = []
            numbers.append(try await h.create("customers", ["displayName": "A"])["number"])
            numbers.append(try await h.create("customers", ["displayName": "B", "number": ""])["number"])
            numbers.append(try await h.create("customers", ["displayName": "C", "number": "C00030"])["number"])
            numbers.append(try await h.create("customers", ["displayName": "D"])["number"])  // skips a taken one
            numbers.append(try await h.create("vendors", ["displayName": "V"])["number"])
            numbers.append(try await h.create("items", ["displayName": "I"])["number"])
            #expect(numbers == ["C00010", "C00020", "C00030", "C00040", "V00010", "I00010"])
        }
    }

    @Test("a duplicate number is 400 Internal_EntityWithSameKeyExists, on POST and on PATCH")
    func duplicateNumber() async throws {
        try await Harness.with { h in
            try await h.create("customers", ["number": "K1", "displayName": "one"])
            let second = try await h.create("customers", ["number": "K2", "displayName": "two"])
            let duplicate = try await h.send(.POST, h.url("customers"), json: ["number": "K1"])
            #expect(duplicate.status == 400)
            #expect(duplicate.errorCode == "Internal_EntityWithSameKeyExists")
            let rename = try await h.send(.PATCH, h.url("customers(\(second.id!))"), json: ["number": "K1"],
                                          headers: ["If-Match": second.etag!])
            #expect(rename.status == 400)
            #expect(rename.errorCode == "Internal_EntityWithSameKeyExists")
            // the same number in another entity set is fine
            try await h.create("vendors", ["number": "K1"])
            try await h.create("journals", ["code": "GENERAL"])
            #expect(try await h.send(.POST, h.url("journals"), json: ["code": "GENERAL"]).errorCode == "Internal_EntityWithSameKeyExists")
        }
    }

    @Test("PATCH needs If-Match: missing → 400, stale → 409, current or * → 200 with a new ETag")
    func patchIfMatch() async throws {
        try await Harness.with { h in
            let created = try await h.create("customers", ["displayName": "Old"])
            let id = created.id!, etag1 = created.etag!
            let missing = try await h.send(.PATCH, h.url("customers(\(id))"), json: ["displayName": "X"])
            #expect(missing.status == 400)
            #expect(missing.errorCode == "BadRequest_InvalidToken")

            let ok = try await h.send(.PATCH, h.url("customers(\(id))"), json: ["displayName": "New", "id": "bogus"],
                                      headers: ["If-Match": etag1])
            #expect(ok.status == 200)
            #expect(ok.json["displayName"] == "New")
            #expect(ok.json.id == id)
            let etag2 = try #require(ok.json.etag)
            #expect(etag2 != etag1)
            #expect(ok.header("ETag") == etag2)

            let stale = try await h.send(.PATCH, h.url("customers(\(id))"), json: ["displayName": "Y"],
                                         headers: ["If-Match": etag1])
            #expect(stale.status == 409)
            #expect(stale.errorCode == "Request_EntityChanged")
            #expect(try await h.get("customers(\(id))").json["displayName"] == "New")

            let star = try await h.send(.PATCH, h.url("customers(\(id))"), json: ["displayName": "Star"],
                                        headers: ["If-Match": "*"])
            #expect(star.status == 200)
            #expect(star.json.etag != etag2)
        }
    }

    @Test("DELETE needs If-Match too, answers 204, and the record is then 404 Internal_RecordNotFound")
    func deleteIfMatch() async throws {
        try await Harness.with { h in
            let created = try await h.create("items", ["displayName": "Bolt"])
            let id = created.id!
            #expect(try await h.send(.DELETE, h.url("items(\(id))")).errorCode == "BadRequest_InvalidToken")
            let stale = try await h.send(.DELETE, h.url("items(\(id))"), headers: ["If-Match": "W/\"JzE7MTswMDsn\""])
            #expect(stale.status == 409)
            #expect(stale.errorCode == "Request_EntityChanged")
            let deleted = try await h.send(.DELETE, h.url("items(\(id))"), headers: ["If-Match": created.etag!])
            #expect(deleted.status == 204)
            #expect(deleted.body.isEmpty)
            let gone = try await h.get("items(\(id))")
            #expect(gone.status == 404)
            #expect(gone.errorCode == "Internal_RecordNotFound")
            let again = try await h.send(.DELETE, h.url("items(\(id))"), headers: ["If-Match": "*"])
            #expect(again.status == 404)
            let patch = try await h.send(.PATCH, h.url("items(\(id))"), json: ["displayName": "x"], headers: ["If-Match": "*"])
            #expect(patch.status == 404)
            #expect(patch.errorCode == "Internal_RecordNotFound")
        }
    }

    @Test("bodies: invalid JSON, non-object, unknown property and wrong type are 400 BadRequest")
    func bodyValidation() async throws {
        try await Harness.with { h in
            let invalid = try await h.send(.POST, h.url("customers"), rawBody: Array("{\"displayName\": ".utf8),
                                           headers: ["Content-Type": "application/json"])
            #expect(invalid.status == 400)
            #expect(invalid.errorCode == "BadRequest")
            #expect(try await h.send(.POST, h.url("customers"), json: ["a", "b"]).errorCode == "BadRequest")
            let unknown = try await h.send(.POST, h.url("customers"), json: ["displayNam": "typo"])
            #expect(unknown.status == 400)
            #expect(unknown.json["error"]?["message"]?.stringValue?.contains("'displayNam' does not exist") == true)
            #expect(try await h.send(.POST, h.url("customers"), json: ["creditLimit": "lots"]).status == 400)
            #expect(try await h.send(.POST, h.url("customers"), json: ["currencyId": "not-a-guid"]).status == 400)
        }
    }

    @Test("errors carry BC's shape with the correlation id; every response carries request-id and ms-correlation-x")
    func errorShapeAndCorrelationHeaders() async throws {
        try await Harness.with { h in
            let response = try await h.get("customers(00000000-0000-0000-0000-00000000abcd)",
                                           headers: ["client-request-id": "step-42"])
            #expect(response.status == 404)
            let requestID = try #require(response.header("request-id"))
            #expect(response.header("ms-correlation-x") == requestID)
            #expect(response.header("client-request-id") == "step-42")
            let error = try #require(response.json["error"]?.objectValue)
            #expect(Set(error.keys) == ["code", "message"])
            let message = try #require(error["message"]?.stringValue)
            #expect(message.hasSuffix("CorrelationId: \(requestID)."))

            let ok = try await h.send(.GET, "\(h.baseURL)/_sandbox/health", auth: false)
            #expect(ok.header("request-id") != nil && ok.header("ms-correlation-x") != nil)
            #expect(ok.header("client-request-id") == nil)
            let created = try await h.send(.POST, h.url("customers"), json: ["displayName": "x"],
                                           headers: ["client-request-id": "abc"])
            #expect(created.header("client-request-id") == "abc")
            #expect(created.header("request-id") != requestID)
        }
    }

    @Test("malformed keys are 400, unknown methods 405, Prefer: return-no-content 204")
    func keysMethodsPrefer() async throws {
        try await Harness.with { h in
            #expect(try await h.get("customers(12)").status == 400)
            #expect(try await h.send(.PUT, h.url("customers")).status == 405)
            #expect(try await h.send(.POST, h.url("customers(00000000-0000-0000-0000-000000000001)"), json: [:]).status == 405)
            let quiet = try await h.send(.POST, h.url("customers"), json: ["displayName": "q"],
                                         headers: ["Prefer": "return-no-content"])
            #expect(quiet.status == 204)
            #expect(quiet.header("ETag")?.hasPrefix("W/") == true)
        }
    }

    @Test("document lines live under their document and are numbered 10000, 20000")
    func lines() async throws {
        try await Harness.with { h in
            let order = try await h.create("salesOrders", ["customerNumber": "C00010"])
            #expect(order["number"] == "SO00010")
            let orderID = order.id!
            let line1 = try await h.create("salesOrders(\(orderID))/salesOrderLines", ["description": "one", "quantity": 2])
            let line2 = try await h.create("salesOrderLines", ["documentId": .string(orderID), "description": "two"])
            #expect(line1["sequence"] == 10000)
            #expect(line2["sequence"] == 20000)
            #expect(line1["documentId"] == .string(orderID))
            let listed = try await h.get("salesOrders(\(orderID))/salesOrderLines")
            #expect(listed.values.count == 2)
            #expect(try await h.get("salesOrders(\(EntitySetDefinition.emptyGUID))/salesOrderLines").status == 404)
            #expect(try await h.send(.POST, h.url("salesOrderLines"), json: ["description": "orphan"]).status == 400)
            #expect(try await h.get("customers(\(orderID))/salesOrderLines").status == 404)
        }
    }

    @Test("every listed standard entity set accepts a POST and lists it back")
    func allEntitySets() async throws {
        try await Harness.with { h in
            let journal = try await h.create("journals", ["code": "J1", "displayName": "Journal"])
            for set in ["customers", "vendors", "items", "contacts", "employees", "salesOrders", "salesInvoices",
                        "purchaseInvoices", "currencies", "paymentTerms"]
            {
                let body: JSONValue = ["currencies", "paymentTerms"].contains(set) ? ["code": "X1"] : ["displayName": "x"]
                let created = try await h.create(set, set == "salesOrders" || set == "salesInvoices" || set == "purchaseInvoices" ? [:] : body)
                #expect(try await h.get(set).values.map(\.id) == [created.id], "\(set)")
            }
            try await h.create("journals(\(journal.id!))/journalLines", ["amount": 10.5, "postingDate": "2024-05-01"])
            #expect(try await h.get("journalLines").values.first?["lineNumber"] == 10000)
        }
    }
}
