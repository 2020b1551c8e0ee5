import Foundation
import Hashing
import Testing
import TestSupport
@testable import Sandbox

/// `systemCreatedAt` and `lastModifiedDateTime`: server-owned, strictly ordered, filterable.
/// `systemCreatedAt` is answered only when `$select` names it.
@Suite("Timestamps: systemCreatedAt and lastModifiedDateTime")
struct TimestampTests {
    /// `2024-05-01T12:34:56.789Z`: BC's form, UTC, milliseconds.
    static func isBCTimestamp(_ value: JSONValue?) -> Bool {
        guard let text = value?.stringValue, text.count == 24 else { return false }
        return text.wholeMatch(of: /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z/) != nil
            && ODataLiteral.parseDateTime(text) != nil
    }

    static func created(_ entity: JSONValue) -> String { entity["systemCreatedAt"]?.stringValue ?? "" }
    static func modified(_ entity: JSONValue) -> String { entity["lastModifiedDateTime"]?.stringValue ?? "" }

    /// GETs `url` (a full URL, entity or collection) with `$select=` the `fields` plus both timestamps.
    static func stamped(_ h: Harness, _ url: String, _ fields: [String] = []) async throws -> TestResponse {
        let select = (fields + ["systemCreatedAt", "lastModifiedDateTime"]).joined(separator: ",")
        let response = try await h.send(.GET, url + "?$select=" + select)
        try #require(response.status == 200, "\(url): \(response.text)")
        return response
    }

    /// The record at `entityPath` with its timestamps.
    static func record(_ h: Harness, _ entityPath: String) async throws -> JSONValue {
        try await stamped(h, h.url(entityPath), ["id", "number"]).json
    }

    /// GETs `set` with `options` (percent-encoded here) and returns the `number`s, requiring a 200.
    static func numbers(_ h: Harness, _ options: String, set: String = "customers") async throws -> [String] {
        let encoded = options.addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed)!
            .replacingOccurrences(of: "'", with: "%27").replacingOccurrences(of: "+", with: "%2B")
        let response = try await h.send(.GET, h.url(set) + "?" + encoded)
        try #require(response.status == 200, "\(options): \(response.text)")
        return response.values.compactMap { $0["number"]?.stringValue }
    }

    @Test("a created record has both timestamps, equal, in BC's form; values sent in the body are ignored")
    func createdRecordCarriesBoth() async throws {
        try await Harness.with { h in
            let response = try await h.send(.POST, h.url("customers"), json: [
                "displayName": "Stamped", "systemCreatedAt": "1999-01-01T00:00:00Z",
                "lastModifiedDateTime": "1999-01-01T00:00:00Z",
            ])
            #expect(response.status == 201, "\(response.text)")
            let posted = response.json
            #expect(Self.isBCTimestamp(posted["systemCreatedAt"]), "in every answer: \(posted)")
            #expect(posted["systemCreatedAt"]?.stringValue != "1999-01-01T00:00:00Z")
            #expect(Self.isBCTimestamp(posted["lastModifiedDateTime"]))
            #expect(try await h.get("customers(\(posted.id!))").json["systemCreatedAt"] == posted["systemCreatedAt"])
            let entity = try await Self.record(h, "customers(\(posted.id!))")
            #expect(Self.isBCTimestamp(entity["systemCreatedAt"]), "\(entity)")
            #expect(Self.created(entity) == Self.modified(entity))
            #expect(!Self.created(entity).hasPrefix("1999"))
            #expect(Self.modified(entity) == Self.modified(posted))
        }
    }

    @Test("records created one after another have strictly increasing systemCreatedAt, concurrent ones distinct ones")
    func strictlyOrdered() async throws {
        try await Harness.with { h in
            for i in 0..<40 { try await h.create("customers", ["displayName": .string("seq \(i)")]) }
            let stamps = try await Self.stamped(h, h.url("customers"), ["displayName"]).values.map(Self.created)
            #expect(stamps.count == 40)
            #expect(stamps.allSatisfy { Self.isBCTimestamp(.string($0)) })
            for (a, b) in zip(stamps, stamps.dropFirst()) {
                #expect(a < b, "\(a) is not before \(b)")
                #expect(ODataLiteral.parseDateTime(a)! < ODataLiteral.parseDateTime(b)!)
            }
            // concurrent creations: no two share a time, and the list (in insert order) is increasing
            try await withThrowingTaskGroup(of: Void.self) { group in
                for i in 0..<20 {
                    group.addTask { _ = try await h.create("vendors", ["displayName": .string("par \(i)")]) }
                }
                try await group.waitForAll()
            }
            let vendors = try await Self.stamped(h, h.url("vendors")).values.map(Self.created)
            #expect(vendors.count == 20)
            #expect(Set(vendors).count == 20)
            #expect(vendors == vendors.sorted())
            #expect(vendors.first! > stamps.last!)
        }
    }

    @Test("PATCH keeps systemCreatedAt and moves lastModifiedDateTime forward")
    func patchMovesOnlyLastModified() async throws {
        try await Harness.with { h in
            let posted = try await h.create("customers", ["displayName": "before"])
            let created = try await Self.record(h, "customers(\(posted.id!))")
            var etag = created.etag!
            var previous = Self.modified(created)
            for name in ["after", "again", "and again"] {
                let response = try await h.send(.PATCH, h.url("customers(\(created.id!))"),
                                                json: ["displayName": .string(name), "systemCreatedAt": "2001-01-01T00:00:00Z"],
                                                headers: ["If-Match": etag])
                #expect(response.status == 200, "\(response.text)")
                #expect(Self.created(try await Self.record(h, "customers(\(created.id!))")) == Self.created(created))
                #expect(Self.modified(response.json) > previous)
                previous = Self.modified(response.json)
                etag = response.json.etag!
            }
            let fetched = try await Self.record(h, "customers(\(created.id!))")
            #expect(Self.created(fetched) == Self.created(created))
            #expect(Self.modified(fetched) == previous)
            #expect(Self.modified(fetched) > Self.created(fetched))
            // the journal's times are the writes' times
            let journal = try await h.journal()
            #expect(journal.first?["time"]?.stringValue == Self.created(created))
            #expect(journal.last?["time"]?.stringValue == previous)
        }
    }

    @Test("$filter on systemCreatedAt: eq ne gt ge lt le, with and without fractional seconds, with and")
    func filterOperators() async throws {
        try await Harness.with { h in
            for n in 1...5 { try await h.create("customers", ["number": .string("T\(n)"), "displayName": "x"]) }
            let stamps = try await Self.stamped(h, h.url("customers")).values.map(Self.created)
            let t3 = stamps[2], t5 = stamps[4]
            #expect(try await Self.numbers(h, "$filter=systemCreatedAt ge \(t3)") == ["T3", "T4", "T5"])
            #expect(try await Self.numbers(h, "$filter=systemCreatedAt le \(t3)") == ["T1", "T2", "T3"])
            #expect(try await Self.numbers(h, "$filter=systemCreatedAt gt \(t3)") == ["T4", "T5"])
            #expect(try await Self.numbers(h, "$filter=systemCreatedAt lt \(t3)") == ["T1", "T2"])
            #expect(try await Self.numbers(h, "$filter=systemCreatedAt eq \(t3)") == ["T3"])
            #expect(try await Self.numbers(h, "$filter=systemCreatedAt ne \(t3)") == ["T1", "T2", "T4", "T5"])
            #expect(try await Self.numbers(h, "$filter=systemCreatedAt gt \(t3) and systemCreatedAt lt \(t5)") == ["T4"])
            #expect(try await Self.numbers(h, "$filter=displayName eq 'x' and systemCreatedAt ge \(t5)") == ["T5"])
            // whole seconds, an offset, and a date
            #expect(try await Self.numbers(h, "$filter=systemCreatedAt ge 2000-01-01T00:00:00Z").count == 5)
            #expect(try await Self.numbers(h, "$filter=systemCreatedAt lt 2000-01-01T00:00:00Z") == [])
            #expect(try await Self.numbers(h, "$filter=systemCreatedAt gt 2000-01-01T00:00:00+01:00").count == 5)
            #expect(try await Self.numbers(h, "$filter=systemCreatedAt ge 2000-01-01").count == 5)
            // a reconcile-style window: created no earlier than two minutes before the first one
            let first = ODataLiteral.parseDateTime(stamps[0])!
            let window = Timestamp.format(millis: Int((first - 120) * 1000))
            #expect(try await Self.numbers(h, "$filter=displayName eq 'x' and systemCreatedAt ge \(window)").count == 5)
            // lastModifiedDateTime compares the same way
            #expect(try await Self.numbers(h, "$filter=lastModifiedDateTime ge \(t3)") == ["T3", "T4", "T5"])
            // a literal of another type is a 400, as for any DateTime property
            let wrong = try await h.send(.GET, h.url("customers") + "?$filter=systemCreatedAt%20eq%20%27x%27")
            #expect(wrong.status == 400)
        }
    }

    @Test("$select and $orderby know systemCreatedAt")
    func selectAndOrder() async throws {
        try await Harness.with { h in
            for n in 1...3 { try await h.create("customers", ["number": .string("S\(n)")]) }
            let selected = try await h.send(.GET, h.url("customers") + "?$select=number,systemCreatedAt")
            #expect(selected.status == 200, "\(selected.text)")
            let first = try #require(selected.values.first?.objectValue)
            #expect(Set(first.keys) == ["number", "systemCreatedAt", "@odata.etag"])
            let all = try await h.send(.GET, h.url("customers") + "?$select=*")
            #expect(all.values.first?["systemCreatedAt"] != nil)
            #expect(all.values.first?["lastModifiedDateTime"] != nil)
            let id = try #require(all.values.first?.id)
            let one = try await h.send(.GET, h.url("customers(\(id))") + "?$select=systemCreatedAt")
            #expect(one.json["systemCreatedAt"]?.stringValue == first["systemCreatedAt"]?.stringValue)
            #expect(try await Self.numbers(h, "$orderby=systemCreatedAt desc") == ["S3", "S2", "S1"])
        }
    }

    @Test("lines and custom-API records carry the timestamps too, filterable")
    func linesAndCustomSets() async throws {
        try await Harness.with { h in
            let order = try await Self.record(h, "salesOrders(\(try await h.create("salesOrders", ["customerNumber": "C1"]).id!))")
            let lines = "salesOrders(\(order.id!))/salesOrderLines"
            try await h.create(lines, ["description": "one"])
            try await h.create(lines, ["description": "two"])
            let stampedLines = try await Self.stamped(h, h.url(lines), ["description"]).values
            let line1 = stampedLines[0], line2 = stampedLines[1]
            #expect(Self.isBCTimestamp(line1["systemCreatedAt"]))
            #expect(Self.created(line1) > Self.created(order))
            #expect(Self.created(line2) > Self.created(line1))
            let later = try await h.send(.GET, h.url(lines) + "?$filter=systemCreatedAt%20gt%20\(Self.created(line1))")
            #expect(later.status == 200, "\(later.text)")
            #expect(later.values.map { $0["description"] } == ["two"])

            let custom = "\(h.baseURL)/v2.0/sandbox/production/api/contoso/app1/v1.0/companies(\(SandboxDefaults.companyID))/widgets"
            let posted = try await h.send(.POST, custom, json: ["number": "W1", "systemCreatedAt": "1999-01-01T00:00:00Z"])
            #expect(posted.status == 201, "\(posted.text)")
            let made = try await Self.stamped(h, custom + "(\(posted.json.id!))", ["number"])
            #expect(Self.isBCTimestamp(made.json["systemCreatedAt"]))
            #expect(Self.created(made.json) > Self.created(line2))
            let found = try await h.send(.GET, custom + "?$filter=systemCreatedAt%20ge%20\(Self.created(made.json))")
            #expect(found.values.map { $0["number"] } == ["W1"])
        }
    }

    @Test("a --data folder written before records had systemCreatedAt loads: old records get their lastModifiedDateTime")
    func oldDataFolderLoads() async throws {
        let dir = TempDir("bcli-sandbox-timestamps")
        let configuration = SandboxConfiguration(dataDirectory: dir.path)
        let old = try await Harness.with(configuration) { h in
            try await h.create("customers", ["number": "OLD1", "displayName": "From an older sandbox"])
        }
        // Turn the folder into what an older sandbox wrote: `entity` without `created_at`, no `clock`.
        let legacyTime = "2020-03-04T05:06:07.089Z"
        do {
            let store = try EntityStore(dataDirectory: dir.path)
            try await store.writer.write { db in
                try db.execute(sql: """
                    CREATE TABLE entity_legacy (
                        seq INTEGER PRIMARY KEY AUTOINCREMENT,
                        company_id TEXT NOT NULL,
                        entity_set TEXT NOT NULL,
                        id TEXT NOT NULL,
                        key_value TEXT,
                        parent_id TEXT,
                        body BLOB NOT NULL,
                        etag TEXT NOT NULL,
                        last_modified TEXT NOT NULL,
                        UNIQUE (company_id, entity_set, id)
                    );
                    INSERT INTO entity_legacy (seq, company_id, entity_set, id, key_value, parent_id, body, etag, last_modified)
                        SELECT seq, company_id, entity_set, id, key_value, parent_id, body, etag, last_modified FROM entity;
                    DROP TABLE entity;
                    ALTER TABLE entity_legacy RENAME TO entity;
                    CREATE UNIQUE INDEX entity_key ON entity (company_id, entity_set, key_value) WHERE key_value IS NOT NULL;
                    DROP TABLE clock;
                    """)
                try db.execute(sql: "UPDATE entity SET last_modified = ? WHERE id = ?", arguments: [legacyTime, old.id!])
            }
        }
        try await Harness.with(configuration) { h in
            let fetched = try await Self.stamped(h, h.url("customers(\(old.id!))"))
            #expect(fetched.json["systemCreatedAt"]?.stringValue == legacyTime)
            #expect(fetched.json["lastModifiedDateTime"]?.stringValue == legacyTime)
            #expect(fetched.json.etag == old.etag)
            #expect(try await Self.numbers(h, "$filter=systemCreatedAt lt 2021-01-01T00:00:00Z") == ["OLD1"])
            let next = try await h.create("customers", ["number": "NEW1"])
            #expect(Self.created(try await Self.record(h, "customers(\(next.id!))")) > legacyTime)
            #expect(try await Self.numbers(h, "$filter=systemCreatedAt ge 2021-01-01T00:00:00Z") == ["NEW1"])
        }
    }
}
