import Foundation
import Hashing
import Testing
import TestSupport
@testable import Sandbox

@Suite("URL shapes: standard API with and without tenant, custom APIs, companies")
struct RoutesTests {
    @Test("GET companies lists the seeded company, with and without the tenant segment")
    func companies() async throws {
        try await Harness.with { h in
            for root in ["\(h.baseURL)/v2.0/sandbox/production/api/v2.0", "\(h.baseURL)/v2.0/production/api/v2.0"] {
                let response = try await h.send(.GET, "\(root)/companies")
                #expect(response.status == 200)
                let company = try #require(response.values.first)
                #expect(company.id == SandboxDefaults.companyID)
                #expect(company["name"]?.stringValue == SandboxDefaults.companyName)
                #expect(response.json["@odata.context"]?.stringValue?.hasSuffix("/$metadata#companies") == true)
            }
            let single = try await h.send(.GET, h.companyRoot)
            #expect(single.status == 200)
            #expect(single.json.id == SandboxDefaults.companyID)
            // percent-encoded parentheses work as well
            let encoded = h.companyRoot.replacingOccurrences(of: "(", with: "%28").replacingOccurrences(of: ")", with: "%29")
            #expect(try await h.send(.GET, encoded + "/customers").status == 200)
        }
    }

    @Test("records are shared between the tenant and tenant-less URL forms and ?company=")
    func sameDataAcrossShapes() async throws {
        try await Harness.with { h in
            let created = try await h.create("customers", ["displayName": "Shared"])
            let noTenant = "\(h.baseURL)/v2.0/production/api/v2.0/companies(\(SandboxDefaults.companyID))/customers(\(created.id!))"
            #expect(try await h.send(.GET, noTenant).json["displayName"] == "Shared")
            let byQuery = "\(h.baseURL)/v2.0/production/api/v2.0/customers?company=\(SandboxDefaults.companyID)"
            #expect(try await h.send(.GET, byQuery).values.count == 1)
            #expect(try await h.send(.GET, "\(h.baseURL)/v2.0/production/api/v2.0/customers").status == 400)
        }
    }

    @Test("unknown entity sets, routes, companies, tenants and environments are 404")
    func notFound() async throws {
        try await Harness.with { h in
            let unknownSet = try await h.get("customerz")
            #expect(unknownSet.status == 404)
            #expect(unknownSet.errorCode == "BadRequest_NotFound")
            #expect(unknownSet.json["error"]?["message"]?.stringValue?.contains("'customerz'") == true)
            #expect(try await h.send(.GET, "\(h.baseURL)/nothing/here").status == 404)
            #expect(try await h.send(.GET, "\(h.baseURL)/v2.0/sandbox/staging/api/v2.0/companies").status == 404)
            #expect(try await h.send(.GET, "\(h.baseURL)/v2.0/other/production/api/v2.0/companies").status == 404)
            let company = try await h.send(.GET, "\(h.baseURL)/v2.0/production/api/v2.0/companies(\(EntitySetDefinition.emptyGUID))/customers")
            #expect(company.status == 404)
            #expect(try await h.get("customers(\(EntitySetDefinition.emptyGUID))/defaultDimensions").status == 404)
        }
    }

    @Test("custom APIs /api/{publisher}/{group}/{version}/ keep their own schemaless sets")
    func customAPI() async throws {
        try await Harness.with { h in
            let root = "\(h.baseURL)/v2.0/sandbox/production/api/contoso/app1/v1.0/companies(\(SandboxDefaults.companyID))"
            let created = try await h.send(.POST, "\(root)/widgets", json: ["number": "W-1", "colour": "red", "size": 3])
            #expect(created.status == 201)
            #expect(created.json["colour"] == "red")
            let id = try #require(created.json.id)
            #expect(try await h.send(.POST, "\(root)/widgets", json: ["number": "W-1"]).errorCode == "Internal_EntityWithSameKeyExists")
            let patched = try await h.send(.PATCH, "\(root)/widgets(\(id))", json: ["size": 4], headers: ["If-Match": created.json.etag!])
            #expect(patched.json["size"] == 4)
            #expect(try await h.send(.GET, "\(root)/widgets?$filter=colour eq 'red'".addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed)!).values.count == 1)
            // the standard API does not see them
            #expect(try await h.get("widgets").status == 404)
            #expect(try await h.send(.GET, "\(h.baseURL)/v2.0/sandbox/production/api/contoso/app1/v1.0/companies").status == 200)
        }
    }
}
