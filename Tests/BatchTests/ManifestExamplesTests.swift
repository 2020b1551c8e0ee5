import Foundation
import Hashing
import Testing
import TestSupport

@testable import Batch

@Suite("Manifest examples")
struct ManifestExamplesTests {
    func example(_ name: String) -> String {
        ManifestFixture.repositoryRoot.appendingPathComponent("examples/\(name)").path
    }

    @Test func quickstartLoads() throws {
        let (m, params) = try ManifestLoader.prepare(path: example("quickstart.yaml"), paramsFile: nil, sets: [])
        #expect(m.name == "quickstart")
        #expect(m.steps.map(\.name) == ["create_alpine", "create_coho", "create_fabrikam", "update_coho", "read_back"])
        #expect(m.steps.map(\.method) == [.literal(.post), .literal(.post), .literal(.post), .literal(.patch), .literal(.get)])
        #expect(m.steps[3].id == "${{ steps.create_coho.id }}")
        #expect(m.steps[3].dependencies == ["create_coho"])
        #expect(m.writeSteps.count == 4)
        #expect(params.values.isEmpty)
        let read = try ReferenceResolver.resolve(m.steps[4], params: params, outputs: [:]).get()
        #expect(read.query.filter?.hasPrefix("displayName eq 'Alpine Ski House' or displayName eq") == true)
        #expect(read.query.select == "id,number,displayName,email,phoneNumber")
    }

    @Test func chainedPurchaseInvoiceLoadsAndResolves() throws {
        let (m, params) = try ManifestLoader.prepare(path: example("chained-purchase-invoice.yaml"), paramsFile: nil,
                                                     sets: ["vendor_invoice_number=INV-1"])
        #expect(m.steps.count == 5)
        #expect(params.values["vendor_number"] == "20000")
        let vendors: JSONValue = [["id": "v-guid", "number": "20000", "displayName": "First Up Consultants"]]
        let invoice = try ReferenceResolver.resolve(m.steps[1], params: params, outputs: ["find_vendor": vendors]).get()
        #expect(invoice.data == ["vendorId": "v-guid", "vendorNumber": "20000", "vendorInvoiceNumber": "INV-1",
                                 "invoiceDate": "2025-01-31", "postingDate": "2025-01-31"])
        #expect(invoice.idempotencyKey == "purchase-invoice-20000-INV-1")
        let line = try ReferenceResolver.resolve(m.steps[2], params: params,
                                                 outputs: ["find_vendor": vendors, "create_invoice": ["id": "inv-guid"]]).get()
        #expect(line.endpoint == "purchaseInvoices(inv-guid)/purchaseInvoiceLines")
        #expect(line.endpointPath.segments.map(\.entitySet) == ["purchaseInvoices", "purchaseInvoiceLines"])
        #expect(line.data?["description"] == "Desks for First Up Consultants invoice INV-1")
        #expect(line.data?["quantity"] == 4)
        #expect(line.data?["unitCost"] == 780.7)
    }

    @Test func paramsDrivenLoadsWithRequiredParam() throws {
        let (m, params) = try ManifestLoader.prepare(path: example("params-driven.yaml"), paramsFile: nil,
                                                     sets: ["customer_name=Trey Research", "city=Oslo"])
        #expect(m.params.map(\.name) == ["customer_name", "city", "credit_limit", "max_results"])
        #expect(m.params.map(\.required) == [true, true, false, false])  // long form defaults to required; a default satisfies it
        let create = try ReferenceResolver.resolve(m.steps[0], params: params, outputs: [:]).get()
        #expect(create.data == ["displayName": "Trey Research", "city": "Oslo", "creditLimit": 5000, "email": "ap@Oslo.example"])
        let find = try ReferenceResolver.resolve(m.steps[1], params: params, outputs: [:]).get()
        #expect(find.query.filter == "city eq 'Oslo'")
        #expect(find.query.top == 10)
    }

    @Test func paramsDrivenWithoutRequiredParamFails() {
        let path = example("params-driven.yaml")
        let error = #expect(throws: ManifestError.self) {
            _ = try ManifestLoader.prepare(path: path, paramsFile: nil, sets: [])
        }
        #expect(error?.diagnostics.map(\.message) == ["required param 'customer_name' has no value"])  // city has a default
    }
}
