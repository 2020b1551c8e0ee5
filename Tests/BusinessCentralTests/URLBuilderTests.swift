import Testing
import TestSupport

@testable import BusinessCentral

@Suite struct URLBuilderTests {
    static let company = "11111111-2222-3333-4444-555555555555"
    static let profile = Profile(
        name: "prod", tenantID: "contoso", environment: "production", companyID: company)
    static let root = "https://api.businesscentral.dynamics.com/v2.0/contoso/production/api/v2.0/companies(\(company))"

    @Test func standardEntityURLs() throws {
        #expect(try URLBuilder.apiRoot(profile: Self.profile) == "https://api.businesscentral.dynamics.com/v2.0/contoso/production/api/v2.0")
        #expect(try URLBuilder.entityURL(profile: Self.profile, entitySet: "customers") == "\(Self.root)/customers")
        #expect(try URLBuilder.entityURL(profile: Self.profile, entitySet: "customers", recordID: "5d115c9c-44e3-ea11-bb43-000d3a2feca1")
            == "\(Self.root)/customers(5d115c9c-44e3-ea11-bb43-000d3a2feca1)")
    }

    @Test func customAPIRoute() throws {
        var custom = Self.profile
        custom.apiPublisher = "contoso"
        custom.apiGroup = "finance"
        custom.apiVersion = "v1.0"
        #expect(try URLBuilder.entityURL(profile: custom, entitySet: "budgets", recordID: "B-1")
            == "https://api.businesscentral.dynamics.com/v2.0/contoso/production/api/contoso/finance/v1.0/companies(\(Self.company))/budgets(B-1)")
        // An explicit route wins over the profile's.
        #expect(try URLBuilder.entityURL(profile: custom, entitySet: "customers", route: .standard) == "\(Self.root)/customers")
        #expect(try URLBuilder.entityURL(profile: Self.profile, entitySet: "x", route: .custom(publisher: "p", group: "g", version: "v2"))
            .contains("/api/p/g/v2/companies("))
    }

    @Test func actions() throws {
        #expect(try URLBuilder.actionURL(profile: Self.profile, target: "salesInvoices(5d115c9c-44e3-ea11-bb43-000d3a2feca1)/Microsoft.NAV.post")
            == "\(Self.root)/salesInvoices(5d115c9c-44e3-ea11-bb43-000d3a2feca1)/Microsoft.NAV.post")
        #expect(try URLBuilder.actionURL(profile: Self.profile, target: "Microsoft.NAV.runBatch") == "\(Self.root)/Microsoft.NAV.runBatch")
        #expect(try URLBuilder.boundActionURL(profile: Self.profile, entitySet: "salesOrders", recordID: "SO1", action: "Microsoft.NAV.shipAndInvoice")
            == "\(Self.root)/salesOrders(SO1)/Microsoft.NAV.shipAndInvoice")
        #expect(URLBuilder.isActionTarget("Microsoft.NAV.post"))
        #expect(!URLBuilder.isActionTarget("customers"))

        for bad in ["salesInvoices(../x)/Microsoft.NAV.post", "salesInvoices/Microsoft.NAV.post", "post", "Ns..post",
                    "salesInvoices(1)/post", "a(1)/Ns.a/b", "bad name(1)/Ns.post"] {
            #expect(throws: URLBuildError.self, "\(bad)") { try URLBuilder.actionURL(profile: Self.profile, target: bad) }
        }
    }

    /// Ids that are single path segments pass unchanged; everything else is refused.
    @Test(arguments: [
        "5d115c9c-44e3-ea11-bb43-000d3a2feca1", "5D115C9C-44E3-EA11-BB43-000D3A2FECA1", "C00030", "10000",
        "SO-1001", "item_1", "'ABC'", "a:b", "x@y", "1.5",
    ])
    func goodIDs(id: String) throws {
        let url = try URLBuilder.entityURL(profile: Self.profile, entitySet: "customers", recordID: id)
        #expect(url == "\(Self.root)/customers(\(id))")
    }

    @Test(arguments: [
        ("", "is empty"), (".", "relative"), ("..", "relative"), ("a/b", "`/`"), ("a\\b", "`\\`"),
        ("1?$filter=x", "`?`"), ("x#y", "`#`"), ("%2F", "`%`"), ("a b", "whitespace"), ("a\tb", "whitespace"),
        (" lead", "whitespace"), ("nl\n", "whitespace"), ("\u{00A0}nbsp", "whitespace"), ("ctl\u{01}", "control"),
        ("../../companies", "`/`"),
    ])
    func badIDs(id: String, phrase: String) {
        do {
            let url = try URLBuilder.entityURL(profile: Self.profile, entitySet: "customers", recordID: id)
            Issue.record("\(id.debugDescription) was accepted: \(url)")
        } catch {
            guard case .invalidPathComponent(let what, let value, let reason) = error else {
                Issue.record("wrong error \(error)")
                return
            }
            #expect(what == "record id")
            #expect(value == id)
            #expect(reason.contains(phrase), "\(reason)")
        }
    }

    @Test func nonASCIIIdsArePercentEncoded() throws {
        #expect(try URLBuilder.entityURL(profile: Self.profile, entitySet: "items", recordID: "Müller\"x")
            == "\(Self.root)/items(M%C3%BCller%22x)")
    }

    @Test(arguments: ["customers/x", "", "customers(1)", "../x", "1abc", "a b", "cust.omers", "cust?x"])
    func badEntitySets(name: String) {
        #expect(throws: URLBuildError.invalidEntitySet(name)) {
            try URLBuilder.entityURL(profile: Self.profile, entitySet: name)
        }
    }

    @Test func profileValuesAreValidatedToo() {
        var p = Self.profile
        p.environment = "prod/../other"
        #expect(throws: URLBuildError.invalidPathComponent(what: "environment", value: "prod/../other", reason: "contains `/` (it must be a single path segment)")) {
            try URLBuilder.entityURL(profile: p, entitySet: "customers")
        }
        var noCompany = Self.profile
        noCompany.companyID = nil
        #expect(throws: URLBuildError.missingCompanyID(profile: "prod")) {
            try URLBuilder.entityURL(profile: noCompany, entitySet: "customers")
        }
        #expect(throws: URLBuildError.missingBaseURL(profile: "sandbox")) {
            try URLBuilder.entityURL(profile: BuiltinProfiles.sandbox(environment: [:]), entitySet: "customers")
        }
    }

    @Test func queryStringEncoding() {
        #expect(URLBuilder.queryString() == "")
        #expect(URLBuilder.queryString(filter: "", select: nil) == "")
        #expect(URLBuilder.queryString(top: 5) == "?$top=5")
        #expect(URLBuilder.queryString(
            filter: "displayName eq 'A&B = C+D #1?' and balance gt 100",
            select: "number,displayName", top: 10, skip: 20, orderby: "displayName desc", expand: "customerFinancialDetails")
            == "?$filter=displayName%20eq%20'A%26B%20%3D%20C%2BD%20%231%3F'%20and%20balance%20gt%20100"
            + "&$select=number,displayName&$top=10&$skip=20&$orderby=displayName%20desc&$expand=customerFinancialDetails")
        #expect(ODataQuery.encodeValue("100%; ü") == "100%25%3B%20%C3%BC")
        #expect(ODataQuery.encodeValue("a(b)/c:d@e!$*,'") == "a(b)/c:d@e!$*,'")
        #expect(ODataQuery(filter: "x", top: 1).isEmpty == false)
    }

    @Test func baseURLRules() {
        #expect(BaseURL.problem("https://api.businesscentral.dynamics.com") == nil)
        #expect(BaseURL.problem("http://127.0.0.1:8080") == nil)
        #expect(BaseURL.problem("http://localhost:1") == nil)
        #expect(BaseURL.problem("http://[::1]:1") == nil)
        #expect(BaseURL.problem("http://10.0.0.1") != nil)
        #expect(BaseURL.problem("https://user:pw@host") != nil)
        #expect(BaseURL.problem("not a url") != nil)
    }
}
