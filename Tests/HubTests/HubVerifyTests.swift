import Foundation
import PostgresNIO
import Testing
import TestSupport
@testable import Hub

/// `batch verify --remote` against a real PostgreSQL: a clean hub, a blob and a chain entry
/// rewritten by a superuser with the checks disabled, and the JSON shape.
@Suite("Hub: verify --remote against PostgreSQL", .enabled(if: PG.available, PG.skipReason))
struct HubVerifyTests {
    /// No local store is needed (BCLI_STORE names a folder that does not exist).
    static func env(_ hub: TestHub) -> [String: String] {
        hub.env.merging(["BCLI_STORE": hub.dir.path + "/no-such-store"]) { _, new in new }
    }

    static func pushed(_ hub: TestHub, count: Int) async throws -> [String] {
        let a = hub.dir.path + "/a"
        let ids = try await hub.makeRuns(store: a, count: count)
        let push = try await bcliAsync(["batch", "push", "--store", a], env: hub.env)
        #expect(push.status == 0, "\(push.stderr)")
        return ids
    }

    @Test func cleanHubVerifies() async throws {
        try await TestHub.with { hub in
            let ids = try await Self.pushed(hub, count: 3)
            let all = try await bcliAsync(["batch", "verify", "--remote", "origin"], env: Self.env(hub))
            #expect(all.status == 0 && all.out.isEmpty, "\(all.status) \(all.out) \(all.stderr)")
            #expect(all.stderr.contains("3 run(s)") && all.stderr.contains("chain of 3"), "\(all.stderr)")
            let explicit = try await bcliAsync(["batch", "verify", "--remote", "origin", "--all"], env: Self.env(hub))
            #expect(explicit.status == 0, "\(explicit.stderr)")
            let one = try await bcliAsync(["batch", "verify", "--remote", "origin", String(ids[1].prefix(10))], env: Self.env(hub))
            #expect(one.status == 0 && one.stderr.contains("run \(ids[1])"), "\(one.status) \(one.stderr)")
            let unknown = try await bcliAsync(["batch", "verify", "--remote", "origin", "abcdef0123"], env: Self.env(hub))
            #expect(unknown.status == 4, "\(unknown.status) \(unknown.stderr)")
            let noRemote = try await bcliAsync(["batch", "verify", "--remote", "nope"], env: Self.env(hub))
            #expect(noRemote.status == 2, "\(noRemote.status) \(noRemote.stderr)")
        }
    }

    @Test func emptyHubAndUninitialisedHub() async throws {
        try await TestHub.with(initialised: false) { hub in
            let none = try await bcliAsync(["batch", "verify", "--remote", "origin"], env: Self.env(hub))
            #expect(none.status == 9, "\(none.status) \(none.stderr)")
            try await hub.initialise()
            let empty = try await bcliAsync(["batch", "verify", "--remote", "origin"], env: Self.env(hub))
            #expect(empty.status == 0, "\(empty.status) \(empty.stderr)")
        }
    }

    @Test func corruptedBlobIsNamed() async throws {
        try await TestHub.with { hub in
            let ids = try await Self.pushed(hub, count: 2)
            // A blob only the first run names (not one of its bundle's JSON members).
            let found = try await hub.session { s in
                try await s.query("""
                    SELECT rb.digest FROM bcli_hub.run_blob rb JOIN bcli_hub.blob b ON b.digest = rb.digest
                    JOIN bcli_hub.run r ON r.id = rb.run_id
                    WHERE rb.run_id = \(ids[0]) AND b.size > 0
                      AND rb.digest NOT IN (r.bundle_index_digest, r.run_row_digest, r.steps_row_digest, r.record_digest)
                    ORDER BY b.size DESC LIMIT 1
                    """).first.map { try $0.decode(String.self) }
            }
            let victim = try #require(found)
            try await hub.session { s in
                for sql in [
                    "ALTER TABLE bcli_hub.blob DISABLE TRIGGER ALL",
                    "ALTER TABLE bcli_hub.blob DROP CONSTRAINT blob_digest_is_sha256",
                    "UPDATE bcli_hub.blob SET data = set_byte(data, 0, (get_byte(data, 0) + 1) % 256) WHERE digest = '\(victim)'",
                ] { try await s.query(PostgresQuery(unsafeSQL: sql)) }
            }
            let all = try await bcliAsync(["batch", "verify", "--remote", "origin"], env: Self.env(hub))
            #expect(all.status == 1, "\(all.status) \(all.stderr)")
            #expect(all.out.contains("corrupt") && all.out.contains("sha256:\(victim)"), "\(all.out)")
            let one = try await bcliAsync(["batch", "verify", "--remote", "origin", ids[0]], env: Self.env(hub))
            #expect(one.status == 1 && one.out.contains("sha256:\(victim)"), "\(one.status) \(one.out) \(one.stderr)")
            let other = try await bcliAsync(["batch", "verify", "--remote", "origin", ids[1]], env: Self.env(hub))
            #expect(other.status == 0 || other.out.contains(victim), "\(other.status) \(other.out)")
        }
    }

    @Test func rewrittenChainEntryIsFound() async throws {
        try await TestHub.with { hub in
            let ids = try await Self.pushed(hub, count: 3)
            // The superuser points entry 2 at another (existing) blob as its previous entry.
            try await hub.session { s in
                for sql in [
                    "ALTER TABLE bcli_hub.chain DISABLE TRIGGER ALL",
                    "UPDATE bcli_hub.chain SET previous_entry = (SELECT entry_digest FROM bcli_hub.chain WHERE seq = 3) WHERE seq = 2",
                ] { try await s.query(PostgresQuery(unsafeSQL: sql)) }
            }
            let all = try await bcliAsync(["batch", "verify", "--remote", "origin"], env: Self.env(hub))
            #expect(all.status == 1, "\(all.status) \(all.stderr)")
            #expect(all.out.contains("chain-broken") && all.out.contains("chain entry 2"), "\(all.out)")
            let one = try await bcliAsync(["batch", "verify", "--remote", "origin", ids[1]], env: Self.env(hub))
            #expect(one.status == 1 && one.out.contains("chain-broken"), "\(one.status) \(one.out) \(one.stderr)")
        }
    }

    @Test func headRewrittenIsFound() async throws {
        try await TestHub.with { hub in
            _ = try await Self.pushed(hub, count: 2)
            try await hub.session { s in
                for sql in [
                    "ALTER TABLE bcli_hub.head DISABLE TRIGGER ALL",
                    "UPDATE bcli_hub.head SET seq = 1, entry_digest = (SELECT entry_digest FROM bcli_hub.chain WHERE seq = 1)",
                ] { try await s.query(PostgresQuery(unsafeSQL: sql)) }
            }
            let all = try await bcliAsync(["batch", "verify", "--remote", "origin"], env: Self.env(hub))
            #expect(all.status == 1 && all.out.contains("head"), "\(all.status) \(all.out) \(all.stderr)")
        }
    }

    @Test func jsonShape() async throws {
        try await TestHub.with { hub in
            _ = try await Self.pushed(hub, count: 2)
            let clean = try await bcliAsync(["batch", "verify", "--remote", "origin", "--format", "json"], env: Self.env(hub))
            #expect(clean.status == 0, "\(clean.stderr)")
            let json = try #require(try JSONSerialization.jsonObject(with: Data(clean.out.utf8)) as? [String: Any])
            #expect(json["format_version"] as? Int == 1)
            #expect(json["ok"] as? Bool == true)
            #expect(json["runs_checked"] as? Int == 2)
            #expect((json["chain"] as? [String])?.count == 2)
            #expect((json["problems"] as? [Any])?.isEmpty == true)
            #expect((json["subject"] as? String)?.hasPrefix("hub origin") == true, "\(json)")

            try await hub.session { s in
                for sql in [
                    "ALTER TABLE bcli_hub.chain DISABLE TRIGGER ALL",
                    "UPDATE bcli_hub.chain SET previous_entry = entry_digest WHERE seq = 2",
                ] { try await s.query(PostgresQuery(unsafeSQL: sql)) }
            }
            let bad = try await bcliAsync(["batch", "verify", "--remote", "origin", "--format", "json"], env: Self.env(hub))
            #expect(bad.status == 1, "\(bad.stderr)")
            let report = try #require(try JSONSerialization.jsonObject(with: Data(bad.out.utf8)) as? [String: Any])
            #expect(report["ok"] as? Bool == false)
            let problems = try #require(report["problems"] as? [[String: Any]])
            #expect(problems.contains { $0["kind"] as? String == "chain-broken" }, "\(problems)")
        }
    }
}
