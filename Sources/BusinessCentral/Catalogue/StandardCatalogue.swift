/// The categories of Business Central's standard API v2.0 entity sets.
public enum EntityCategory: String, Sendable, CaseIterable {
    case financials, purchasing, sales, setup, dimensions, hr, inventory, projects
}

/// The standard API v2.0 catalogue: each entity set and its category, as the Python tool's
/// built-in registry lists them (79 entity sets). `allowed_categories` is checked against it.
///
/// Why a table in code: the categories are the Python tool's grouping, not something the API
/// reports; users write `allowed_categories = ["sales"]` with these names.
public enum StandardCatalogue {
    /// The category of `entitySet` (matched ignoring case), nil when it is not a standard entity set.
    public static func category(of entitySet: String) -> EntityCategory? {
        byLowercasedName[entitySet.lowercased()]
    }

    static let byLowercasedName: [String: EntityCategory] = Dictionary(
        uniqueKeysWithValues: entries.map { ($0.0.lowercased(), $0.1) })

    /// (entity set, category), in the Python tool's order.
    public static let entries: [(String, EntityCategory)] = [
        ("accounts", .financials),
        ("accountingPeriods", .financials),
        ("agedAccountsPayables", .purchasing),
        ("agedAccountsReceivables", .sales),
        ("applyVendorEntries", .purchasing),
        ("attachments", .setup),
        ("balanceSheets", .financials),
        ("bankAccounts", .financials),
        ("cashFlowStatements", .financials),
        ("companies", .setup),
        ("companyInformation", .setup),
        ("contacts", .sales),
        ("contactsInformation", .sales),
        ("countriesRegions", .setup),
        ("currencies", .setup),
        ("currencyExchangeRates", .setup),
        ("customerContacts", .sales),
        ("customerFinancialDetails", .sales),
        ("customerPaymentJournals", .sales),
        ("customerPayments", .sales),
        ("customerReturnReasons", .sales),
        ("customerSales", .sales),
        ("customers", .sales),
        ("defaultDimensions", .dimensions),
        ("dimensionSetLines", .dimensions),
        ("dimensionValues", .dimensions),
        ("dimensions", .dimensions),
        ("disputeStatus", .setup),
        ("documentAttachments", .setup),
        ("employees", .hr),
        ("fixedAssetLocations", .inventory),
        ("fixedAssets", .inventory),
        ("generalLedgerEntries", .financials),
        ("generalLedgerSetup", .financials),
        ("generalProductPostingGroups", .setup),
        ("incomeStatements", .financials),
        ("inventoryPostingGroups", .setup),
        ("itemCategories", .inventory),
        ("itemLedgerEntries", .inventory),
        ("itemVariants", .inventory),
        ("items", .inventory),
        ("journalLines", .financials),
        ("journals", .financials),
        ("locations", .inventory),
        ("opportunities", .sales),
        ("paymentMethods", .setup),
        ("paymentTerms", .setup),
        ("pdfDocument", .setup),
        ("pictures", .setup),
        ("projects", .projects),
        ("purchaseCreditMemoLines", .purchasing),
        ("purchaseCreditMemos", .purchasing),
        ("purchaseInvoiceLines", .purchasing),
        ("purchaseInvoices", .purchasing),
        ("purchaseOrderLines", .purchasing),
        ("purchaseOrders", .purchasing),
        ("purchaseReceiptLines", .purchasing),
        ("purchaseReceipts", .purchasing),
        ("retainedEarningsStatements", .financials),
        ("salesCreditMemoLines", .sales),
        ("salesCreditMemos", .sales),
        ("salesInvoiceLines", .sales),
        ("salesInvoices", .sales),
        ("salesOrderLines", .sales),
        ("salesOrders", .sales),
        ("salesQuoteLines", .sales),
        ("salesQuotes", .sales),
        ("salesShipmentLines", .sales),
        ("salesShipments", .sales),
        ("shipmentMethods", .setup),
        ("taxAreas", .setup),
        ("taxGroups", .setup),
        ("timeRegistrationEntries", .hr),
        ("trialBalances", .financials),
        ("unitsOfMeasure", .setup),
        ("vendorPaymentJournals", .purchasing),
        ("vendorPayments", .purchasing),
        ("vendorPurchases", .purchasing),
        ("vendors", .purchasing),
    ]
}
