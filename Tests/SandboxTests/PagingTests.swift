import Foundation
import Hashing
import Testing
import TestSupport
@testable import Sandbox

/// Seeds seven customers P1…P7 (in that order); odd ones live in Oslo, even ones in Bergen.
private func seedSeven(_ h: Harness) async throws {
    for n in 1...7 {
        try await h.create("customers", ["number": .string("P\(n)"), "displayName": .string("Customer \(n)"),
                                         "city": .string(n % 2 == 1 ? "Oslo" : "Bergen")])
    }
}

/// A collection URL with its options encoded the way a client would (`'` and `+` escaped).
private func collectionURL(_ h: Harness, _ options: String, set: String = "customers") -> String {
    guard !options.isEmpty else { return h.url(set) }
    let encoded = options.addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed)!
        .replacingOccurrences(of: "'", with: "%27").replacingOccurrences(of: "+", with: "%2B")
    return h.url(set) + "?" + encoded
}

/// A collection URL from name/value pairs, each value escaped whole (for values holding `&` or `=`).
private func collectionURL(_ h: Harness, pairs: [(String, String)]) -> String {
    h.url("customers") + "?" + pairs.map { APIHandler.queryEncode($0.0) + "=" + APIHandler.queryEncode($0.1) }.joined(separator: "&")
}

/// Every page of a GET, following `@odata.nextLink` as it is with the same headers.
private func pages(_ h: Harness, _ url: String, headers: [String: String] = [:]) async throws -> [TestResponse] {
    var result: [TestResponse] = []
    var next: String? = url
    while let link = next {
        let response = try await h.send(.GET, link, headers: headers)
        try #require(response.status == 200, "GET \(link): \(response.status) \(response.text)")
        result.append(response)
        next = response.json["@odata.nextLink"]?.stringValue
        try #require(result.count <= 20, "nextLinks do not end")
    }
    return result
}

private func numbers(_ page: TestResponse) -> [String] { page.values.compactMap { $0["number"]?.stringValue } }

private let prefer3 = ["Prefer": "odata.maxpagesize=3"]

@Suite("Server-driven paging (Prefer: odata.maxpagesize, @odata.nextLink, $skiptoken)")
struct PagingTests {
    @Test("maxpagesize=3 over 7 items: pages of 3, 3, 1 with nextLinks, all items once and in order")
    func followsNextLinks() async throws {
        try await Harness.with { h in
            try await seedSeven(h)
            let first = try await h.send(.GET, h.url("customers"), headers: prefer3)
            #expect(first.status == 200)
            #expect(first.values.count == 3)
            #expect(first.header("Preference-Applied") == "odata.maxpagesize=3")
            let link = try #require(first.json["@odata.nextLink"]?.stringValue)
            #expect(link == h.url("customers") + "?$skiptoken=offset-3")

            let all = try await pages(h, h.url("customers"), headers: prefer3)
            #expect(all.map(\.values.count) == [3, 3, 1])
            #expect(all.flatMap(numbers) == ["P1", "P2", "P3", "P4", "P5", "P6", "P7"])
            #expect(all.last?.json["@odata.nextLink"] == nil)
            #expect(all.allSatisfy { $0.header("Preference-Applied") == "odata.maxpagesize=3" })
            #expect(all.allSatisfy { $0.json["@odata.context"]?.stringValue?.hasSuffix("/customers") == true })
        }
    }

    @Test("$filter, $orderby and $select are kept across pages; values with quotes, spaces and + survive")
    func keepsOptions() async throws {
        try await Harness.with { h in
            try await seedSeven(h)
            try await h.create("customers", ["number": "Q1", "displayName": "a+b & c=d", "city": "Oslo"])
            let url = collectionURL(h, pairs: [("$filter", "city eq 'Oslo' and displayName ne 'a+b & c=d'"),
                                                ("$orderby", "number desc"), ("$select", "number,displayName")])
            let all = try await pages(h, url, headers: ["Prefer": "odata.maxpagesize=2"])
            #expect(all.map(\.values.count) == [2, 2])
            #expect(all.flatMap(numbers) == ["P7", "P5", "P3", "P1"])
            for page in all {
                for item in page.values {
                    #expect(Set(item.objectValue?.keys.map { $0 } ?? []) == ["number", "displayName", "@odata.etag"])
                }
            }
            let link = try #require(all[0].json["@odata.nextLink"]?.stringValue)
            #expect(link.hasPrefix(h.url("customers") + "?$filter=city%20eq%20%27Oslo%27%20and%20displayName%20ne%20%27a%2Bb%20%26%20c%3Dd%27&$orderby=number%20desc&$select=number,displayName&$skiptoken=offset-2"))

            // a value that must not split: the Q1 customer is found through a nextLink too
            let plus = try await pages(h, collectionURL(h, pairs: [("$filter", "displayName eq 'a+b & c=d' or city eq 'Oslo'")]),
                                       headers: ["Prefer": "odata.maxpagesize=4"])
            #expect(plus.flatMap(numbers) == ["P1", "P3", "P5", "P7", "Q1"])
        }
    }

    @Test("$top limits the total across pages; $skip applies once; the nextLink carries what is still owed")
    func topAndSkip() async throws {
        try await Harness.with { h in
            try await seedSeven(h)
            let top = try await pages(h, collectionURL(h, "$top=5"), headers: prefer3)
            #expect(top.map(numbers) == [["P1", "P2", "P3"], ["P4", "P5"]])
            let link = try #require(top[0].json["@odata.nextLink"]?.stringValue)
            #expect(link == h.url("customers") + "?$top=2&$skiptoken=offset-3")

            let exact = try await pages(h, collectionURL(h, "$top=6"), headers: prefer3)
            #expect(exact.map(numbers) == [["P1", "P2", "P3"], ["P4", "P5", "P6"]])

            let skipTop = try await pages(h, collectionURL(h, "$skip=1&$top=5"), headers: prefer3)
            #expect(skipTop.map(numbers) == [["P2", "P3", "P4"], ["P5", "P6"]])
            let skipLink = try #require(skipTop[0].json["@odata.nextLink"]?.stringValue)
            #expect(!skipLink.contains("$skip="))

            let skip = try await pages(h, collectionURL(h, "$skip=2"), headers: prefer3)
            #expect(skip.map(numbers) == [["P3", "P4", "P5"], ["P6", "P7"]])

            let small = try await pages(h, collectionURL(h, "$top=2"), headers: prefer3)
            #expect(small.map(numbers) == [["P1", "P2"]])
            #expect(small[0].json["@odata.nextLink"] == nil)

            let beyond = try await pages(h, collectionURL(h, "$skip=9"), headers: prefer3)
            #expect(beyond.map(\.values.count) == [0])
        }
    }

    @Test("$count=true gives the total matching count on every page")
    func countOnEveryPage() async throws {
        try await Harness.with { h in
            try await seedSeven(h)
            let all = try await pages(h, collectionURL(h, "$count=true"), headers: prefer3)
            #expect(all.count == 3)
            #expect(all.allSatisfy { $0.json["@odata.count"] == 7 })
            let filtered = try await pages(h, collectionURL(h, "$count=true&$filter=city eq 'Oslo'&$top=3"),
                                           headers: ["Prefer": "odata.maxpagesize=2"])
            #expect(filtered.map(numbers) == [["P1", "P3"], ["P5"]])
            #expect(filtered.allSatisfy { $0.json["@odata.count"] == 4 })
        }
    }

    @Test("the server's page size applies without Prefer (SandboxConfiguration.maxPageSize) and caps a larger Prefer")
    func serverDefaultPageSize() async throws {
        var configuration = SandboxConfiguration()
        configuration.maxPageSize = 2
        try await Harness.with(configuration) { h in
            try await seedSeven(h)
            let all = try await pages(h, h.url("customers"))
            #expect(all.map(\.values.count) == [2, 2, 2, 1])
            #expect(all.flatMap(numbers) == ["P1", "P2", "P3", "P4", "P5", "P6", "P7"])
            #expect(all.allSatisfy { $0.header("Preference-Applied") == nil })
            let larger = try await pages(h, h.url("customers"), headers: ["Prefer": "odata.maxpagesize=5"])
            #expect(larger.map(\.values.count) == [2, 2, 2, 1])
            #expect(larger.allSatisfy { $0.header("Preference-Applied") == "odata.maxpagesize=2" })
        }
        var roomy = SandboxConfiguration()
        roomy.maxPageSize = 6
        try await Harness.with(roomy) { h in
            try await seedSeven(h)
            let smaller = try await pages(h, h.url("customers"), headers: ["Prefer": "odata.maxpagesize=5"])
            #expect(smaller.map(\.values.count) == [5, 2])
            #expect(smaller.allSatisfy { $0.header("Preference-Applied") == "odata.maxpagesize=5" })
        }
        #expect(SandboxConfiguration().maxPageSize == 20_000)
    }

    @Test("a $skiptoken the sandbox did not issue is 400 in BC's error shape")
    func badSkipToken() async throws {
        try await Harness.with { h in
            try await seedSeven(h)
            for token in ["5", "", "offset-", "offset-x", "offset--1", "offset-+1", "offset-1.5", "Offset-1",
                          "offset-99999999999999999999999"]
            {
                let response = try await h.send(.GET, h.url("customers") + "?$skiptoken=" + APIHandler.queryEncode(token))
                #expect(response.status == 400, "\(token) → \(response.status)")
                #expect(response.errorCode == "BadRequest", "\(token)")
                #expect(response.json["error"]?["message"]?.stringValue?.contains("CorrelationId:") == true)
            }
            let twice = try await h.send(.GET, h.url("customers") + "?$skiptoken=offset-1&$skiptoken=offset-2")
            #expect(twice.status == 400)
            // a token the sandbox issued is accepted without Prefer too (the server's page size then applies)
            let issued = try await h.send(.GET, h.url("customers") + "?$skiptoken=offset-5")
            #expect(numbers(issued) == ["P6", "P7"])
        }
    }

    @Test("an invalid odata.maxpagesize is ignored; other preferences and several Prefer lines work")
    func invalidPreferenceIgnored() async throws {
        try await Harness.with { h in
            try await seedSeven(h)
            for prefer in ["odata.maxpagesize=0", "odata.maxpagesize=-1", "odata.maxpagesize=abc", "odata.maxpagesize=2.5",
                           "odata.maxpagesize", "odata.maxpagesize=", "odata.maxpagesize=99999999999999999999999",
                           "odata.maxpagesize=x, odata.maxpagesize=3", "maxpagesize=3"]
            {
                let response = try await h.send(.GET, h.url("customers"), headers: ["Prefer": prefer])
                #expect(response.status == 200, "\(prefer)")
                #expect(response.values.count == 7, "\(prefer)")
                #expect(response.json["@odata.nextLink"] == nil, "\(prefer)")
                #expect(response.header("Preference-Applied") == nil, "\(prefer)")
            }
            for prefer in ["return-no-content, odata.maxpagesize=3", "ODATA.MaxPageSize = 3 ", "odata.maxpagesize=\"3\"",
                           "odata.maxpagesize=3, odata.maxpagesize=5", "odata.maxpagesize=3;x=y"]
            {
                let response = try await h.send(.GET, h.url("customers"), headers: ["Prefer": prefer])
                #expect(response.values.count == 3, "\(prefer)")
                #expect(response.header("Preference-Applied") == "odata.maxpagesize=3", "\(prefer)")
            }
            // writes keep return-no-content when maxpagesize rides along
            let created = try await h.send(.POST, h.url("customers"), json: ["displayName": "quiet"],
                                           headers: ["Prefer": "odata.maxpagesize=3, return-no-content"])
            #expect(created.status == 204)
            #expect(created.header("Preference-Applied") == "return-no-content")
        }
    }

    @Test("$skiptoken on a single entity is 400; entity GETs are unchanged by Prefer")
    func entityGet() async throws {
        try await Harness.with { h in
            try await seedSeven(h)
            let first = try #require(try await h.get("customers?$top=1").values.first?.id)
            let refused = try await h.get("customers(\(first))?$skiptoken=offset-1")
            #expect(refused.status == 400)
            #expect(refused.errorCode == "BadRequest")
            let entity = try await h.get("customers(\(first))", headers: prefer3)
            #expect(entity.status == 200)
            #expect(entity.json["number"] == "P1")
            #expect(entity.json["@odata.nextLink"] == nil)
            #expect(entity.header("Preference-Applied") == nil)
        }
    }

    @Test("?company= and child collections page too, keeping their parameters")
    func companyParameterAndChildren() async throws {
        try await Harness.with { h in
            try await seedSeven(h)
            let root = "\(h.baseURL)/v2.0/\(SandboxDefaults.tenant)/\(SandboxDefaults.environment)/api/v2.0/customers"
            let url = root + "?company=\(SandboxDefaults.companyID)&$top=4"
            let all = try await pages(h, url, headers: prefer3)
            #expect(all.map(numbers) == [["P1", "P2", "P3"], ["P4"]])
            let link = try #require(all[0].json["@odata.nextLink"]?.stringValue)
            #expect(link == root + "?company=\(SandboxDefaults.companyID)&$top=1&$skiptoken=offset-3")

            let order = try await h.create("salesOrders", ["customerNumber": "P1"])
            let orderID = try #require(order.id)
            for n in 1...3 {
                try await h.create("salesOrders(\(orderID))/salesOrderLines", ["description": .string("line \(n)")])
            }
            let lines = try await pages(h, h.url("salesOrders(\(orderID))/salesOrderLines"),
                                        headers: ["Prefer": "odata.maxpagesize=2"])
            #expect(lines.map(\.values.count) == [2, 1])
            #expect(lines.flatMap { $0.values.compactMap { $0["description"]?.stringValue } } == ["line 1", "line 2", "line 3"])
        }
    }

    @Test("bcli sandbox serve --max-page-size N pages without Prefer; N < 1 is refused with a clear error",
          .enabled(if: FileManager.default.isExecutableFile(atPath: Paths.bcli),
                   "build the CLI first: swift build --product bcli (looked for \(Paths.bcli))"))
    func maxPageSizeFlag() async throws {
        for bad in ["0", "-3", "many"] {
            let refused = try await bcliAsync(["sandbox", "serve", "--port", "0", "--max-page-size", bad], timeout: 60)
            #expect(refused.status != 0, "--max-page-size \(bad)")
            #expect(refused.stderr.contains("max-page-size"), "--max-page-size \(bad): \(refused.stderr)")
        }
        let child = try ChildProcess(Paths.bcli, ["sandbox", "serve", "--port", "0", "--no-demo-data",
                                                  "--max-page-size", "2", "--log-level", "warning"])
        do {
            var h = Harness(server: try SandboxServer(configuration: .init()), baseURL: try await child.firstStdoutLine())
            h.token = try await h.fetchToken()
            for n in 1...3 { try await h.create("customers", ["number": .string("P\(n)")]) }
            let all = try await pages(h, h.url("customers"))
            #expect(all.map(numbers) == [["P1", "P2"], ["P3"]])
        } catch {
            child.kill(SIGTERM)
            _ = try? await child.finish()
            throw error
        }
        child.kill(SIGTERM)
        #expect(try await child.finish().status == 0)
    }

    @Test("Prefer and skip-token parsing, and nextLink encoding, as units")
    func units() {
        #expect(PreferHeader.maxPageSize([]) == nil)
        #expect(PreferHeader.maxPageSize(["respond-async", "odata.maxpagesize=7"]) == 7)
        #expect(PreferHeader.maxPageSize(["odata.maxpagesize=0", "odata.maxpagesize=7"]) == nil)
        #expect(SkipToken.offset(SkipToken.token(offset: 42)) == 42)
        #expect(SkipToken.offset("42") == nil)
        for text in ["a+b & c=d", "it's", "ümlaut 100%", "x?y#z", "number desc,displayName"] {
            let encoded = APIHandler.queryEncode(text)
            #expect(!encoded.contains(" ") && !encoded.contains("+") && !encoded.contains("&") && !encoded.contains("#"))
            #expect(FormDecoding.percentDecode(encoded, plusIsSpace: true) == text)
        }
        var options = QueryOptions()
        options.top = 4
        let page = options.page((1...7).map { ["n": .number(Double($0))] }, pageSize: 3)
        #expect(page.items.count == 3)
        #expect(page.count == 7)
        #expect(page.next == QueryOptions.NextPage(offset: 3, top: 1))
    }
}
