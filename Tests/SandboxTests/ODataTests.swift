import Foundation
import Hashing
import Testing
import TestSupport
@testable import Sandbox

/// Seeds five customers and returns the harness-relative query helper.
private func seed(_ h: Harness) async throws {
    let rows: [JSONValue] = [
        ["number": "C1", "displayName": "alpha", "creditLimit": 100, "taxLiable": true, "city": "Oslo"],
        ["number": "C2", "displayName": "Bravo", "creditLimit": 250.5, "taxLiable": false, "city": "Bergen"],
        ["number": "C3", "displayName": "charlie", "creditLimit": 250.5, "taxLiable": true, "city": "Oslo"],
        ["number": "C4", "displayName": "delta o'hara", "creditLimit": 0, "taxLiable": false, "city": ""],
        ["number": "C5", "displayName": "Echo", "creditLimit": 1000, "taxLiable": true, "city": "Bergen"],
    ]
    for row in rows { try await h.create("customers", row) }
}

private func query(_ h: Harness, _ options: String) async throws -> TestResponse {
    let encoded = options.addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed)!
        .replacingOccurrences(of: "'", with: "%27").replacingOccurrences(of: "+", with: "%2B")
    return try await h.send(.GET, h.url("customers") + "?" + encoded)
}

private func numbers(_ h: Harness, _ options: String) async throws -> [String] {
    let response = try await query(h, options)
    try #require(response.status == 200, "\(options): \(response.text)")
    return response.values.compactMap { $0["number"]?.stringValue }
}

@Suite("OData query options")
struct ODataTests {
    @Test("$filter comparison operators on strings, numbers and booleans")
    func comparisons() async throws {
        try await Harness.with { h in
            try await seed(h)
            #expect(try await numbers(h, "$filter=number eq 'C2'") == ["C2"])
            #expect(try await numbers(h, "$filter=number ne 'C2'") == ["C1", "C3", "C4", "C5"])
            #expect(try await numbers(h, "$filter=creditLimit gt 250.5") == ["C5"])
            #expect(try await numbers(h, "$filter=creditLimit ge 250.5") == ["C2", "C3", "C5"])
            #expect(try await numbers(h, "$filter=creditLimit lt 100") == ["C4"])
            #expect(try await numbers(h, "$filter=creditLimit le 100") == ["C1", "C4"])
            #expect(try await numbers(h, "$filter=taxLiable eq true") == ["C1", "C3", "C5"])
            #expect(try await numbers(h, "$filter=displayName eq 'delta o''hara'") == ["C4"])
            #expect(try await numbers(h, "$filter=100 lt creditLimit") == ["C2", "C3", "C5"])
            #expect(try await numbers(h, "$filter=creditLimit eq -1") == [])
        }
    }

    @Test("$filter and/or/not with parentheses, and string functions")
    func logic() async throws {
        try await Harness.with { h in
            try await seed(h)
            #expect(try await numbers(h, "$filter=city eq 'Oslo' and taxLiable eq true") == ["C1", "C3"])
            #expect(try await numbers(h, "$filter=city eq 'Oslo' or creditLimit gt 500") == ["C1", "C3", "C5"])
            #expect(try await numbers(h, "$filter=(city eq 'Oslo' or city eq 'Bergen') and creditLimit ge 250.5") == ["C2", "C3", "C5"])
            #expect(try await numbers(h, "$filter=city eq 'Oslo' or (city eq 'Bergen' and creditLimit ge 1000)") == ["C1", "C3", "C5"])
            #expect(try await numbers(h, "$filter=not (city eq 'Oslo')") == ["C2", "C4", "C5"])
            #expect(try await numbers(h, "$filter=startswith(displayName,'ch') or contains(displayName,'ravo')") == ["C2", "C3"])
        }
    }

    @Test("$filter GUID, date and date-time literals")
    func typedLiterals() async throws {
        try await Harness.with { h in
            try await seed(h)
            let all = try await query(h, "$orderby=number")
            let second = try #require(all.values.dropFirst().first)
            let id = try #require(second.id)
            #expect(try await numbers(h, "$filter=id eq \(id)") == ["C2"])
            #expect(try await numbers(h, "$filter=id eq \(id.uppercased())") == ["C2"])
            #expect(try await numbers(h, "$filter=lastModifiedDateTime gt 2000-01-01T00:00:00Z").count == 5)
            #expect(try await numbers(h, "$filter=lastModifiedDateTime lt 2000-01-01T00:00:00.5+01:00") == [])
            #expect(try await numbers(h, "$filter=lastModifiedDateTime ge 2000-01-01").count == 5)
            try await h.create("employees", ["displayName": "E1", "birthDate": "1980-05-01"])
            try await h.create("employees", ["displayName": "E2", "birthDate": "1990-12-31"])
            let employees = try await h.send(.GET, h.url("employees") + "?$filter=birthDate%20gt%201985-01-01")
            #expect(employees.values.map { $0["displayName"] } == ["E2"])
            #expect(try await query(h, "$filter=id eq '\(id)'").status == 400)  // a GUID is not a string
            #expect(try await query(h, "$filter=creditLimit eq 'x'").status == 400)
        }
    }

    @Test("$select keeps the chosen fields and @odata.etag; also on a single entity")
    func select() async throws {
        try await Harness.with { h in
            try await seed(h)
            let response = try await query(h, "$select=number,displayName&$filter=number eq 'C1'")
            let entity = try #require(response.values.first?.objectValue)
            #expect(Set(entity.keys) == ["number", "displayName", "@odata.etag"])
            let id = try #require(try await query(h, "$top=1").values.first?.id)
            let single = try await h.get("customers(\(id))?$select=city")
            #expect(Set(single.json.objectValue.map { Array($0.keys) } ?? []) == ["city", "@odata.etag", "@odata.context"])
            #expect(try await query(h, "$select=nope").status == 400)
        }
    }

    @Test("$top, $skip, $orderby with several keys and directions, $count=true, and combinations")
    func pagingOrderingCount() async throws {
        try await Harness.with { h in
            try await seed(h)
            #expect(try await numbers(h, "$top=2") == ["C1", "C2"])
            #expect(try await numbers(h, "$skip=3") == ["C4", "C5"])
            #expect(try await numbers(h, "$skip=1&$top=2") == ["C2", "C3"])
            #expect(try await numbers(h, "$orderby=number desc") == ["C5", "C4", "C3", "C2", "C1"])
            #expect(try await numbers(h, "$orderby=displayName") == ["C1", "C2", "C3", "C4", "C5"])  // case-insensitive
            #expect(try await numbers(h, "$orderby=creditLimit desc,number asc") == ["C5", "C2", "C3", "C1", "C4"])
            #expect(try await numbers(h, "$orderby=city,creditLimit desc") == ["C4", "C5", "C2", "C3", "C1"])
            let counted = try await query(h, "$filter=taxLiable eq true&$orderby=creditLimit desc&$skip=1&$top=1&$count=true&$select=number")
            #expect(counted.json["@odata.count"] == 3)
            #expect(counted.values.map { $0["number"] } == ["C3"])
            #expect(try await query(h, "$count=false").json["@odata.count"] == nil)
        }
    }

    @Test("unsupported or malformed options are 400, never ignored")
    func rejected() async throws {
        try await Harness.with { h in
            try await seed(h)
            for options in ["$expand=salesOrderLines", "$search=x", "$fitler=number eq 'C1'", "$skiptoken=5", "$apply=x",
                            "$top=-1", "$top=x", "$skip=1.5", "$count=yes", "$orderby=number sideways",
                            "$filter=number eq", "$filter=number eq 'C1' and", "$filter=(number eq 'C1'",
                            "$filter=nope eq 1", "$filter=number has 'x'", "$filter=length(number) eq 2",
                            "$filter=number eq 'unterminated", "$top=1&$top=2", "$orderby=missing"]
            {
                let response = try await query(h, options)
                #expect(response.status == 400, "\(options) → \(response.status)")
                #expect(response.errorCode == "BadRequest", "\(options)")
            }
            #expect(try await h.get("customers(\(EntitySetDefinition.emptyGUID))?$top=1").status == 400)
            // non-$ parameters other than company are not OData options
            #expect(try await query(h, "tenant=x").status == 200)
        }
    }

    @Test("filter parser builds the right tree")
    func parserUnit() throws {
        let e = try FilterParser.parse("a eq 1 or b eq 'x' and not (c lt 2024-01-02)")
        #expect(e == .or(.compare(property: "a", .eq, .number(1)),
                         .and(.compare(property: "b", .eq, .string("x")),
                              .not(.compare(property: "c", .lt, .date("2024-01-02"))))))
        #expect(try FilterParser.parse("id eq 4D1F3C2A-5B6E-4F70-8A91-B2C3D4E5F601")
            == .compare(property: "id", .eq, .guid(SandboxDefaults.companyID)))
        #expect(try FilterParser.parse("x ge -2.5e1") == .compare(property: "x", .ge, .number(-25)))
        #expect(try FilterParser.parse("t eq 1970-01-01T00:01:00Z") == .compare(property: "t", .eq, .dateTime(60)))
        #expect(try FilterParser.parse("t eq 1970-01-01T01:00:00+01:00") == .compare(property: "t", .eq, .dateTime(0)))
        let error = #expect(throws: SandboxAPIError.self) { try FilterParser.parse("a eq eq 1") }
        #expect(error?.status == .badRequest)
        #expect(error?.code == "BadRequest")
        #expect(error?.message == "Syntax error in $filter: unexpected keyword 'eq'.")
    }
}
