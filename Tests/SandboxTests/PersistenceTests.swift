import Foundation
import Hashing
import Testing
import TestSupport
@testable import Sandbox

@Suite("State under --data survives restarts and is shared between servers")
struct PersistenceTests {
    @Test("a restarted server sees the records, ETags, series, journal and tokens of the previous one")
    func restart() async throws {
        let dir = TempDir("bcli-sandbox-tests")
        let directory = dir.path
        let configuration = SandboxConfiguration(dataDirectory: directory)
        let (created, token) = try await Harness.with(configuration) { h in
            (try await h.create("customers", ["displayName": "Durable"]), h.token)
        }
        #expect(FileManager.default.fileExists(atPath: directory + "/sandbox.sqlite3"))
        try await Harness.with(configuration) { h in
            let fetched = try await h.get("customers(\(created.id!))")
            #expect(fetched.status == 200)
            #expect(fetched.json.etag == created.etag)
            #expect(fetched.json["displayName"] == "Durable")
            let next = try await h.create("customers", ["displayName": "Next"])
            #expect(next["number"] == "C00020")
            #expect(try await h.journal().count == 2)
            var old = h
            old.token = token
            #expect(try await old.get("customers").status == 200)
        }
        // without --data nothing is kept
        let empty = try await Harness.with { h in try await h.get("customers").values.isEmpty }
        #expect(empty)
    }

    @Test("two servers on one data folder see each other's writes and keep numbers unique")
    func twoServers() async throws {
        let dir = TempDir("bcli-sandbox-tests")
        let directory = dir.path
        let configuration = SandboxConfiguration(dataDirectory: directory)
        try await Harness.with(configuration) { a in
            try await Harness.with(configuration) { b in
                let fromA = try await a.create("customers", ["displayName": "A"])
                #expect(try await b.get("customers(\(fromA.id!))").status == 200)
                let fromB = try await b.create("customers", ["displayName": "B"])
                #expect(fromB["number"] == "C00020")
                let stale = try await a.send(.PATCH, a.url("customers(\(fromA.id!))"), json: ["displayName": "A2"],
                                             headers: ["If-Match": fromA.etag!])
                #expect(stale.status == 200)
                let conflict = try await b.send(.PATCH, b.url("customers(\(fromA.id!))"), json: ["displayName": "B2"],
                                                headers: ["If-Match": fromA.etag!])
                #expect(conflict.status == 409)
            }
        }
    }

    @Test("concurrent POSTs all commit with distinct ids and numbers")
    func concurrentWrites() async throws {
        try await Harness.with { h in
            let created = try await withThrowingTaskGroup(of: JSONValue.self) { group in
                for i in 0..<24 { group.addTask { try await h.create("customers", ["displayName": .string("P\(i)")]) } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(Set(created.compactMap(\.id)).count == 24)
            #expect(Set(created.compactMap { $0["number"]?.stringValue }).count == 24)
            #expect(try await h.get("customers").values.count == 24)
            #expect(try await h.journal().count == 24)
        }
    }
}
