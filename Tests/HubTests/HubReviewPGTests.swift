import Foundation
import Hashing
import PostgresNIO
import Store
import Testing
import TestSupport
@testable import Hub

/// The review's attacks and ordering cases against a real PostgreSQL.
@Suite("Hub: review fixes against PostgreSQL", .enabled(if: PG.available, PG.skipReason))
struct HubReviewPGTests {
    /// A pusher that may create objects somewhere puts its own `<>(bigint,bigint)` first on its
    /// search_path: the triggers run with search_path = pg_catalog, pg_temp and still refuse.
    @Test func triggersIgnoreTheCallersSearchPath() async throws {
        try await TestHub.with { hub in
            let a = hub.dir.path + "/a"
            _ = try await hub.makeRuns(store: a, count: 1)
            let push = try await bcliAsync(["batch", "push", "--store", a], env: hub.env)
            #expect(push.status == 0, "\(push.stderr)")
            try await hub.session { s in try await s.query(PostgresQuery(unsafeSQL: "GRANT CREATE ON DATABASE \(hub.database) TO \(hub.pusher)")) }
            let error = await #expect(throws: HubError.self) {
                try await hub.session(asPusher: true) { s in
                    for sql in [
                        "CREATE SCHEMA evil",
                        "CREATE FUNCTION evil.never(bigint, bigint) RETURNS boolean LANGUAGE sql IMMUTABLE AS 'SELECT false'",
                        "CREATE OPERATOR evil.<> (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = evil.never)",
                        "SET search_path = evil, pg_catalog",
                        "UPDATE bcli_hub.head SET seq = 0, entry_digest = NULL",
                    ] { try await s.query(PostgresQuery(unsafeSQL: sql)) }
                }
            }
            #expect(error?.sqlState == "42501" && error?.description.contains("the head only advances by one") == true, "\(String(describing: error))")
            #expect(try await hub.count("SELECT seq FROM bcli_hub.head") == 1)
        }
    }

    /// A pusher adds a run and its chain entry but leaves the head behind: refused at commit, and
    /// pushes go on working.
    @Test func chainEntryWithoutHeadAdvanceIsRefusedAtCommit() async throws {
        try await TestHub.with { hub in
            let a = hub.dir.path + "/a"
            let ids = try await hub.makeRuns(store: a, count: 2)
            let store = try LedgerStore(root: a)
            let payload = try RunPayload.load(runID: ids[0], from: store)
            let error = await #expect(throws: HubError.self) {
                try await hub.session(asPusher: true) { s in
                    _ = try await HubPush.upload(payload.blobs, s)
                    try await s.transaction {
                        _ = try await HubPush.appendRun(payload, headSeq: 0, headEntry: nil, s)
                    }
                }
            }
            #expect(error?.sqlState == "23514" && error?.description.contains("the head was not advanced") == true, "\(String(describing: error))")
            #expect(try await hub.count("SELECT count(*) FROM bcli_hub.chain") == 0)
            let push = try await bcliAsync(["batch", "push", "--store", a], env: hub.env)
            #expect(push.status == 0 && push.out.split(separator: "\n").map(String.init) == ids, "\(push.status) \(push.stderr)")
            #expect(try await hub.count("SELECT seq FROM bcli_hub.head") == 2)
        }
    }

    /// The trigger compares the entry's previous_record_digest with the run row's.
    @Test func entryMustCarryTheRunsPreviousRecord() async throws {
        try await TestHub.with { hub in
            let a = hub.dir.path + "/a"
            let ids = try await hub.makeRuns(store: a, count: 1)
            let payload = try RunPayload.load(runID: ids[0], from: try LedgerStore(root: a))
            let error = await #expect(throws: HubError.self) {
                try await hub.session(asPusher: true) { s in
                    _ = try await HubPush.upload(payload.blobs, s)
                    try await s.transaction {
                        let index = SHA256.hash(payload.index).hex, runRow = SHA256.hash(payload.runRow).hex
                        let steps = SHA256.hash(payload.stepsRow).hex
                        let forged = String(repeating: "ab", count: 32)
                        let entry = try ChainEntry.bytes(seq: 1, runID: ids[0], record: payload.recordHex, previousRecord: forged,
                                                         index: index, runRow: runRow, stepsRow: steps, previousEntry: nil)
                        let entryHex = SHA256.hash(entry).hex
                        try await HubPush.insertBlob(entryHex, entry, nil, s)
                        try await s.query("""
                            INSERT INTO bcli_hub.run (id, record_digest, previous_record_digest, bundle_index_digest, run_row_digest,
                              steps_row_digest, kind, state, started_at, finished_at)
                            VALUES (\(ids[0]), \(payload.recordHex), \(payload.bundle.previousRecordDigest?.hex), \(index), \(runRow), \(steps),
                              'batch', 'completed', '', '')
                            """)
                        try await s.query("INSERT INTO bcli_hub.chain (seq, run_id, record_digest, previous_entry, entry_digest) VALUES (1, \(ids[0]), \(payload.recordHex), NULL, \(entryHex))")
                        try await s.query("UPDATE bcli_hub.head SET seq = 1, entry_digest = \(entryHex) WHERE id = 1")
                    }
                }
            }
            #expect(error?.sqlState == "23514" && error?.description.contains("does not describe run") == true, "\(String(describing: error))")
            #expect(try await hub.count("SELECT count(*) FROM bcli_hub.run") == 0)
        }
    }

    /// Pull checks the link: an entry (consistent with its own row) that names as previous
    /// something other than the entry before it is refused — here forged by the superuser with
    /// the triggers off.
    @Test func pullChecksTheChainLink() async throws {
        try await TestHub.with { hub in
            let a = hub.dir.path + "/a"
            let ids = try await hub.makeRuns(store: a, count: 2)
            let push = try await bcliAsync(["batch", "push", "--store", a], env: hub.env)
            #expect(push.status == 0, "\(push.stderr)")
            try await hub.session { s in
                let run = try await HubPull.resolve(ids[1], s)
                let bogus = run.indexDigest  // a blob, but not entry 1
                let entry = try ChainEntry.bytes(seq: 2, runID: run.id, record: run.recordDigest, previousRecord: run.previousRecordDigest,
                                                 index: run.indexDigest, runRow: run.runRowDigest, stepsRow: run.stepsRowDigest, previousEntry: bogus)
                let hex = SHA256.hash(entry).hex
                try await HubPush.insertBlob(hex, entry, nil, s)
                try await s.query("SET session_replication_role = replica")
                try await s.query("UPDATE bcli_hub.chain SET previous_entry = \(bogus), entry_digest = \(hex) WHERE seq = 2")
                try await s.query("UPDATE bcli_hub.head SET entry_digest = \(hex)")
            }
            let pull = try await bcliAsync(["batch", "pull", "origin", ids[1], "--store", hub.dir.path + "/b"], env: hub.env)
            #expect(pull.status == 1 && pull.stderr.contains("as previous, but entry 1 is"), "\(pull.status) \(pull.stderr)")
            #expect(pull.out.isEmpty)
        }
    }

    /// Named runs go in finish order with their parents first; pull of a child brings its parent,
    /// and pull of everything takes parents before children whatever the chain order.
    @Test func parentsTravelFirst() async throws {
        try await TestHub.with { hub in
            let a = hub.dir.path + "/a"
            let ids = try await hub.makeRuns(store: a, count: 2)
            let rb = try await bcliAsync(["batch", "rollback", ids[0], "--yes", "-p", "sandbox", "--store", a], env: hub.env)
            #expect(rb.status == 0, "\(rb.stderr)")
            let store = try LedgerStore(root: a)
            let child = try #require(try store.runs().first { $0.parentRunID == ids[0] }).id

            // Named in reverse order, the child before its parent: the hub gets them in finish order.
            let push = try await bcliAsync(["batch", "push", "origin", child, ids[1]], env: hub.env.merging(["BCLI_STORE": a]) { $1 })
            #expect(push.status == 0, "\(push.stderr)")
            #expect(push.out.split(separator: "\n").map(String.init) == [ids[0], ids[1], child], "\(push.out)")
            #expect(push.stderr.contains("needs run \(ids[0])"), "\(push.stderr)")

            // Pull the child alone: its parent comes along, first.
            let pull = try await bcliAsync(["batch", "pull", "origin", String(child.prefix(12)), "--store", hub.dir.path + "/b"], env: hub.env)
            #expect(pull.status == 0 && pull.out.split(separator: "\n").map(String.init) == [ids[0], child], "\(pull.status) \(pull.out) \(pull.stderr)")
        }
    }

    @Test func pullAllTakesParentsBeforeChildren() async throws {
        try await TestHub.with { hub in
            let a = hub.dir.path + "/a"
            let ids = try await hub.makeRuns(store: a, count: 1)
            let rb = try await bcliAsync(["batch", "rollback", ids[0], "--yes", "-p", "sandbox", "--store", a], env: hub.env)
            #expect(rb.status == 0, "\(rb.stderr)")
            let store = try LedgerStore(root: a)
            let child = try #require(try store.runs().first { $0.parentRunID == ids[0] }).id
            // A hub where the child came first (an older bcli, or the library used directly).
            try await hub.session(asPusher: true) { s in
                _ = try await HubPush.push(runID: child, from: store, session: s)
                _ = try await HubPush.push(runID: ids[0], from: store, session: s)
            }
            let pull = try await bcliAsync(["batch", "pull", "--store", hub.dir.path + "/b"], env: hub.env)
            #expect(pull.status == 0 && pull.out.split(separator: "\n").map(String.init) == [ids[0], child], "\(pull.status) \(pull.stderr)")
        }
    }
}
