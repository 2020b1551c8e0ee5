import BusinessCentral
import Testing

@testable import Batch

/// `allowed_endpoints`, `allowed_categories` and `disable_standard_api` as a policy on the whole manifest.
@Suite struct PolicyGateTests {
    static let steps: [(seq: Int, name: String, endpoint: String)] = [
        (1, "c", "customers"),
        (2, "v", "vendors"),
        (3, "lines", "salesOrders(${{ steps.o.id }})/salesOrderLines"),
        (4, "post", "purchaseInvoices(${{ steps.p.id }})/Microsoft.NAV.post"),
        (5, "unbound", "Microsoft.NAV.doSomething"),
        (6, "custom", "myWidgets"),
    ]

    func profile(endpoints: [String] = [], categories: [String] = [], disableStandard: Bool = false, custom: Bool = false) -> Profile {
        var p = Profile(name: "p", tenantID: "t", environment: "e")
        p.allowedEndpoints = endpoints
        p.allowedCategories = categories
        p.disableStandardAPI = disableStandard
        if custom {
            p.apiPublisher = "contoso"
            p.apiGroup = "app"
            p.apiVersion = "v1.0"
        }
        return p
    }

    func refused(_ p: Profile) -> [Int] { PolicyGate.check(Self.steps, profile: p).map(\.seq) }

    @Test func noPolicyAllowsEverything() {
        #expect(refused(profile()).isEmpty)
    }

    @Test func categoriesAlone() {
        // sales: customers, salesOrders/salesOrderLines; purchasing: vendors, purchaseInvoices.
        #expect(refused(profile(categories: ["Sales"])) == [2, 4, 5, 6])
        #expect(refused(profile(categories: ["sales", "purchasing"])) == [5, 6])
    }

    @Test func endpointsAlone() {
        #expect(refused(profile(endpoints: ["customers", "MYWIDGETS"])) == [2, 3, 4, 5])
        #expect(refused(profile(endpoints: ["salesOrders", "salesOrderLines", "Microsoft.NAV.doSomething"])) == [1, 2, 4, 6])
    }

    @Test func eitherListAllows() {
        #expect(refused(profile(endpoints: ["vendors"], categories: ["sales"])) == [4, 5, 6])
        let refusal = PolicyGate.check(Self.steps, profile: profile(endpoints: ["vendors"], categories: ["sales"]))[0]
        #expect(refusal.reason == .notAllowed(entitySet: "purchaseInvoices", category: .purchasing))
        #expect(refusal.description.contains("purchaseInvoices (category purchasing) is not in allowed_endpoints or allowed_categories"))
    }

    @Test func disableStandardAPIRefusesEveryStepWithoutACustomAPI() {
        #expect(refused(profile(disableStandard: true)) == [1, 2, 3, 4, 5, 6])
        #expect(refused(profile(endpoints: ["customers"], disableStandard: true)) == [1, 2, 3, 4, 5, 6])
        #expect(refused(profile(disableStandard: true, custom: true)).isEmpty)
        #expect(refused(profile(endpoints: ["myWidgets"], disableStandard: true, custom: true)) == [1, 2, 3, 4, 5])
        let message = PolicyGate.message(PolicyGate.check(Self.steps, profile: profile(disableStandard: true)), profile: "p")
        #expect(message.contains("6 step(s) are outside profile 'p''s endpoint policy"))
        #expect(message.contains("names no custom API"))
    }

    @Test func aReferencedEntitySetCannotBeCheckedBeforeTheRun() {
        let steps = [(seq: 1, name: "x", endpoint: "${{ params.set }}")]
        #expect(PolicyGate.check(steps, profile: profile(categories: ["sales"])).map(\.reason) == [.notKnownBeforeRun])
        #expect(PolicyGate.check(steps, profile: profile()).isEmpty)
    }

    @Test func catalogue() {
        #expect(StandardCatalogue.entries.count == 79)
        #expect(StandardCatalogue.category(of: "CUSTOMERS") == .sales)
        #expect(StandardCatalogue.category(of: "timeRegistrationEntries") == .hr)
        #expect(StandardCatalogue.category(of: "nope") == nil)
        let counts = Dictionary(grouping: StandardCatalogue.entries, by: \.1).mapValues(\.count)
        #expect(counts == [.financials: 12, .purchasing: 14, .sales: 21, .setup: 18, .dimensions: 4, .hr: 2, .inventory: 7, .projects: 1])
    }
}
