import Hashing

/// A few records in the spirit of BC's CRONUS demo company, so the examples (find vendor 20000,
/// buy item 1896-S) run against a fresh sandbox. Seeded once, never journaled, never overwritten.
enum DemoData {
    static let vendors: [[String: JSONValue]] = [
        ["number": "10000", "displayName": "Fabrikam, Inc.", "city": "Atlanta", "country": "US"],
        ["number": "20000", "displayName": "First Up Consultants", "city": "Chicago", "country": "US"],
        ["number": "30000", "displayName": "Graphic Design Institute", "city": "Atlanta", "country": "US"],
        ["number": "40000", "displayName": "Wide World Importers", "city": "Miami", "country": "US"],
    ]

    static let items: [[String: JSONValue]] = [
        ["number": "1896-S", "displayName": "ATHENS Desk", "unitPrice": 1000.8, "unitCost": 780.7, "inventory": 10],
        ["number": "1900-S", "displayName": "PARIS Guest Chair, black", "unitPrice": 192.8, "unitCost": 150.4, "inventory": 25],
        ["number": "1906-S", "displayName": "ATHENS Mobile Pedestal", "unitPrice": 281.4, "unitCost": 219.5, "inventory": 12],
    ]

    static func seed(_ store: EntityStore, company: String) async throws {
        for (name, records) in [("vendors", vendors), ("items", items)] {
            guard let definition = EntityCatalog.standard[name] else { continue }
            try await store.seed(company: company, setKey: name, definition: definition, records: records)
        }
    }
}
