import Hashing

/// The type of a field in a standard entity set, used for defaults and body validation.
enum FieldType: Character, Sendable {
    case string = "s", number = "n", bool = "b", guid = "g", date = "d", dateTime = "t"

    var defaultValue: JSONValue {
        switch self {
        case .string: return ""
        case .number: return 0
        case .bool: return false
        case .guid: return .string(EntitySetDefinition.emptyGUID)
        case .date: return "0001-01-01"
        case .dateTime: return "0001-01-01T00:00:00Z"
        }
    }

    var edmName: String {
        switch self {
        case .string: return "Edm.String"
        case .number: return "Edm.Decimal"
        case .bool: return "Edm.Boolean"
        case .guid: return "Edm.Guid"
        case .date: return "Edm.Date"
        case .dateTime: return "Edm.DateTimeOffset"
        }
    }

    func accepts(_ value: JSONValue) -> Bool {
        switch (self, value) {
        case (.string, .string), (.number, .number), (.bool, .bool): return true
        case (.guid, .string(let s)): return ODataLiteral.isGUID(s)
        case (.date, .string(let s)): return ODataLiteral.parseDate(s) != nil
        case (.dateTime, .string(let s)): return ODataLiteral.parseDateTime(s) != nil
        default: return false
        }
    }
}

/// One entity set the emulator serves: its fields, unique key and number series.
///
/// Why a catalog: BC rejects unknown properties and keeps `number` unique, and a manifest that
/// passes here must not break on a real tenant. Custom-API entity sets have no catalog entry and
/// accept any properties (`fields == nil`).
struct EntitySetDefinition: Sendable {
    static let emptyGUID = "00000000-0000-0000-0000-000000000000"

    /// Entity set name in URLs, e.g. `customers`.
    let name: String
    /// Entity type name, e.g. `customer` (messages say `Microsoft.NAV.customer`).
    let typeName: String
    /// Human name for "The Customer does not exist."
    let displayName: String
    /// Field unique per company and entity set (`number`, `code`), if any.
    let keyField: String?
    /// Prefix of the number series assigning a missing key (`C` → C00010, C00020, …).
    let seriesPrefix: String?
    /// Known fields and their types; `nil` for schemaless (custom API) sets.
    let fields: [String: FieldType]?
    /// For lines: the parent set and the field linking a line to its parent.
    let parent: (set: String, field: String)?
    /// For lines: the field numbered 10000, 20000, … within a parent when missing.
    let lineNumberField: String?
    /// Values BC fills in on create where the type's zero value would be wrong (`type: "Company"`).
    let defaults: [String: JSONValue]

    init(_ name: String, type typeName: String, display displayName: String, key: String? = "number",
         series: String? = nil, parent: (set: String, field: String)? = nil, lineNumber: String? = nil,
         defaults: [String: JSONValue] = [:], fields spec: String)
    {
        self.defaults = defaults
        self.name = name
        self.typeName = typeName
        self.displayName = displayName
        self.keyField = key
        self.seriesPrefix = series
        self.parent = parent
        self.lineNumberField = lineNumber
        var fields: [String: FieldType] = [:]
        for item in spec.split(whereSeparator: { $0 == " " || $0 == "\n" }) {
            let parts = item.split(separator: ":")
            fields[String(parts[0])] = FieldType(rawValue: parts[1].first!)!
        }
        self.fields = fields
    }

    /// A schemaless set of a custom API.
    init(customName name: String) {
        self.name = name
        self.typeName = name
        self.displayName = name
        self.keyField = "number"
        self.seriesPrefix = nil
        self.fields = nil
        self.parent = nil
        self.lineNumberField = nil
        self.defaults = [:]
    }

    /// A new record's fields before the body is applied: every known field at its default.
    var initialFields: [String: JSONValue] {
        guard let fields else { return [:] }
        var result: [String: JSONValue] = [:]
        for (name, type) in fields { result[name] = defaults[name] ?? type.defaultValue }
        return result
    }

    /// Fields the server owns: never read from a body (a body that sends them is not refused:
    /// they are silently ignored).
    static let serverOwned: Set<String> = ["id", "systemCreatedAt", "lastModifiedDateTime", "@odata.etag", "@odata.context"]

    /// The server's timestamps every record carries, in every entity set (custom ones included):
    /// `systemCreatedAt` (set once at insert) and `lastModifiedDateTime` (insert and every PATCH).
    static let timestamps: Set<String> = ["systemCreatedAt", "lastModifiedDateTime"]

    /// Properties every record has, in `$filter` and `$orderby` like any other, that a response
    /// would carry only when `$select` names them. None today: `systemCreatedAt` is in every
    /// answer so `batch reconcile` can tell a record created before a POST's intent from one it
    /// created (`batch diff` treats it as volatile, so identical runs still compare equal).
    static let selectOnly: Set<String> = []

    /// Whether a property may appear in `$filter`, `$select`, `$orderby`.
    func knows(_ property: String) -> Bool {
        guard let fields else { return true }
        return property == "id" || Self.timestamps.contains(property) || fields[property] != nil
    }

    func type(of property: String) -> FieldType? {
        if property == "id" { return .guid }
        if Self.timestamps.contains(property) { return .dateTime }
        return fields?[property]
    }
}

/// The standard API v2.0 entity sets the sandbox serves.
enum EntityCatalog {
    static let address = "addressLine1:s addressLine2:s city:s state:s country:s postalCode:s"

    /// A document's lines (`salesOrderLines` of `salesOrders`, …): children keyed by `documentId`,
    /// numbered by `sequence`, item lines by default; `fields` follow the fields every line has.
    static func documentLines(_ name: String, type: String, display: String, of parent: String,
                              fields: String) -> EntitySetDefinition {
        .init(name, type: type, display: display, key: nil, parent: (set: parent, field: "documentId"),
              lineNumber: "sequence", defaults: ["lineType": "Item"], fields: """
            documentId:g sequence:n itemId:g accountId:g lineType:s lineObjectNumber:s description:s
            description2:s unitOfMeasureId:g unitOfMeasureCode:s quantity:n \(fields)
            """)
    }

    /// The amount fields of a sales line (order or invoice), after the fields every line has.
    static let salesLineAmounts = """
        unitPrice:n discountAmount:n discountPercent:n discountAppliedBeforeTax:b amountExcludingTax:n
        taxCode:s taxPercent:n totalTaxAmount:n amountIncludingTax:n netAmount:n netTaxAmount:n
        netAmountIncludingTax:n shipmentDate:d
        """

    static let standard: [String: EntitySetDefinition] = {
        let sets: [EntitySetDefinition] = [
            .init("customers", type: "customer", display: "Customer", series: "C",
                  defaults: ["type": "Company", "blocked": " "], fields: """
                number:s displayName:s type:s \(address) phoneNumber:s email:s website:s salespersonCode:s
                balanceDue:n creditLimit:n taxLiable:b taxAreaId:g taxAreaDisplayName:s taxRegistrationNumber:s
                currencyId:g currencyCode:s paymentTermsId:g shipmentMethodId:g paymentMethodId:g blocked:s
                """),
            .init("vendors", type: "vendor", display: "Vendor", series: "V", defaults: ["blocked": " "], fields: """
                number:s displayName:s \(address) phoneNumber:s email:s website:s taxRegistrationNumber:s
                currencyId:g currencyCode:s irs1099Code:s paymentTermsId:g paymentMethodId:g taxLiable:b
                blocked:s balance:n
                """),
            .init("items", type: "item", display: "Item", series: "I", defaults: ["type": "Inventory"], fields: """
                number:s displayName:s displayName2:s type:s itemCategoryId:g itemCategoryCode:s blocked:b gtin:s
                inventory:n unitPrice:n priceIncludesTax:b unitCost:n taxGroupId:g taxGroupCode:s
                baseUnitOfMeasureId:g baseUnitOfMeasureCode:s generalProductPostingGroupId:g
                generalProductPostingGroupCode:s inventoryPostingGroupId:g inventoryPostingGroupCode:s
                """),
            .init("contacts", type: "contact", display: "Contact", series: "CT", defaults: ["type": "Company"], fields: """
                number:s type:s displayName:s companyNumber:s companyName:s businessRelation:s \(address)
                phoneNumber:s mobilePhoneNumber:s email:s website:s searchName:s privacyBlocked:b
                taxRegistrationNumber:s
                """),
            .init("employees", type: "employee", display: "Employee", series: "E", defaults: ["status": "Active"], fields: """
                number:s displayName:s givenName:s middleName:s surname:s jobTitle:s \(address) phoneNumber:s
                mobilePhone:s email:s personalEmail:s employmentDate:d terminationDate:d status:s birthDate:d
                statisticsGroupCode:s
                """),
            .init("salesOrders", type: "salesOrder", display: "Sales Header", series: "SO", defaults: ["status": "Draft"], fields: """
                number:s externalDocumentNumber:s orderDate:d postingDate:d customerId:g customerNumber:s
                customerName:s billToName:s billToCustomerId:g billToCustomerNumber:s shipToName:s shipToContact:s
                sellingPostalAddress:s currencyId:g currencyCode:s pricesIncludeTax:b paymentTermsId:g
                shipmentMethodId:g salesperson:s partialShipping:b requestedDeliveryDate:d discountAmount:n
                discountAppliedBeforeTax:b totalAmountExcludingTax:n totalTaxAmount:n totalAmountIncludingTax:n
                fullyShipped:b status:s phoneNumber:s email:s
                """),
            documentLines("salesOrderLines", type: "salesOrderLine", display: "Sales Line", of: "salesOrders", fields: """
                \(salesLineAmounts) shippedQuantity:n invoicedQuantity:n invoiceQuantity:n shipQuantity:n
                itemVariantId:g locationId:g
                """),
            .init("salesInvoices", type: "salesInvoice", display: "Sales Header", series: "SI", defaults: ["status": "Draft"], fields: """
                number:s externalDocumentNumber:s invoiceDate:d postingDate:d dueDate:d
                customerPurchaseOrderReference:s customerId:g customerNumber:s customerName:s billToName:s
                billToCustomerId:g billToCustomerNumber:s shipToName:s shipToContact:s currencyId:g
                currencyCode:s orderId:g orderNumber:s paymentTermsId:g shipmentMethodId:g salesperson:s
                pricesIncludeTax:b remainingAmount:n discountAmount:n discountAppliedBeforeTax:b
                totalAmountExcludingTax:n totalTaxAmount:n totalAmountIncludingTax:n status:s phoneNumber:s
                email:s
                """),
            .init("purchaseInvoices", type: "purchaseInvoice", display: "Purchase Header", series: "PI",
                  defaults: ["status": "Draft"], fields: """
                number:s invoiceDate:d postingDate:d dueDate:d vendorInvoiceNumber:s vendorId:g vendorNumber:s
                vendorName:s payToName:s payToContact:s payToVendorId:g payToVendorNumber:s shipToName:s
                shipToContact:s currencyId:g currencyCode:s orderId:g orderNumber:s pricesIncludeTax:b
                discountAmount:n discountAppliedBeforeTax:b totalAmountExcludingTax:n totalTaxAmount:n
                totalAmountIncludingTax:n status:s
                """),
            documentLines("salesInvoiceLines", type: "salesInvoiceLine", display: "Sales Line", of: "salesInvoices", fields: """
                \(salesLineAmounts) itemVariantId:g locationId:g
                """),
            documentLines("purchaseInvoiceLines", type: "purchaseInvoiceLine", display: "Purchase Line", of: "purchaseInvoices",
                           fields: """
                directUnitCost:n unitCost:n discountAmount:n discountPercent:n discountAppliedBeforeTax:b
                amountExcludingTax:n taxCode:s taxPercent:n totalTaxAmount:n amountIncludingTax:n
                invoiceDiscountAllocation:n netAmount:n netTaxAmount:n netAmountIncludingTax:n expectedReceiptDate:d
                itemVariantId:g locationId:g
                """),
            .init("journals", type: "journal", display: "Gen. Journal Batch", key: "code", fields: """
                code:s displayName:s templateDisplayName:s balancingAccountId:g balancingAccountNumber:s
                """),
            .init("journalLines", type: "journalLine", display: "Gen. Journal Line", key: nil,
                  parent: (set: "journals", field: "journalId"), lineNumber: "lineNumber",
                  defaults: ["accountType": "G/L Account"], fields: """
                journalId:g journalDisplayName:s lineNumber:n accountType:s accountId:g accountNumber:s
                postingDate:d documentNumber:s externalDocumentNumber:s amount:n description:s comment:s
                taxCode:s balanceAccountType:s balancingAccountId:g balancingAccountNumber:s
                """),
            .init("currencies", type: "currency", display: "Currency", key: "code", fields: """
                code:s displayName:s symbol:s amountDecimalPlaces:s amountRoundingPrecision:n
                """),
            .init("paymentTerms", type: "paymentTerm", display: "Payment Terms", key: "code", fields: """
                code:s displayName:s dueDateCalculation:s discountDateCalculation:s discountPercent:n
                calculateDiscountOnCreditMemos:b
                """),
        ]
        return Dictionary(uniqueKeysWithValues: sets.map { ($0.name, $0) })
    }()

    /// Child sets reachable as `parent({id})/child`.
    static func child(_ name: String, of parent: String) -> EntitySetDefinition? {
        guard let set = standard[name], set.parent?.set == parent else { return nil }
        return set
    }
}
