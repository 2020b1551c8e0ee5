import Foundation
import Hashing
import PostgresNIO
import Store
import Testing
import TestSupport
@testable import Hub

/// Push and pull against a real PostgreSQL (one fresh database per test).
@Suite("Hub: push and pull against PostgreSQL", .enabled(if: PG.available, PG.skipReason))
struct HubPushPullTests {
    /// Push two runs, pull them into another store: the bundle the hub gives back is the bytes
    /// `export` wrote, and the pulled runs verify.
    @Test func pushPullRoundTripIsByteIdentical() async throws {
        try await TestHub.with { hub in
            let a = hub.dir.path + "/a", b = hub.dir.path + "/b"
            let ids = try await hub.makeRuns(store: a, count: 2)
            let push = try await bcliAsync(["batch", "push", "--store", a], env: hub.env)
            #expect(push.status == 0, "\(push.stderr)")
            #expect(push.out.split(separator: "\n").map(String.init) == ids)
            #expect(!push.stderr.contains(hub.pusherPassword))

            let store = try LedgerStore(root: a)
            try await hub.session(asPusher: true, checkSchema: true) { s in
                for id in ids {
                    let run = try await HubPull.resolve(id, s)
                    let (bytes, _) = try await HubPull.bundle(run, s)
                    #expect(bytes == (try RunBundle.export(runID: id, from: store)), "run \(id): the hub's bundle differs from export's")
                }
            }

            let pull = try await bcliAsync(["batch", "pull", "--store", b], env: hub.env)
            #expect(pull.status == 0, "\(pull.stderr)")
            #expect(pull.out.split(separator: "\n").map(String.init) == ids)
            for id in ids {
                let verify = try await bcliAsync(["batch", "verify", id, "--store", b], env: hub.env)
                #expect(verify.status == 0, "verify \(id) in the pulled store: \(verify.out) \(verify.stderr)")
                let there = try await bcliAsync(["batch", "show", id, "--store", a], env: hub.env)
                let here = try await bcliAsync(["batch", "show", id, "--store", b], env: hub.env)
                #expect(here.status == 0 && here.stdout == there.stdout, "the pulled manifest bytes differ")
            }
            // `export` of a pulled run writes the bytes the pushing machine exported.
            let pulled = try LedgerStore(root: b)
            for id in ids {
                #expect(try RunBundle.export(runID: id, from: pulled) == (try RunBundle.export(runID: id, from: store)), "run \(id): export after pull differs")
            }
            // Pulling again writes nothing.
            let again = try await bcliAsync(["batch", "pull", "--store", b], env: hub.env)
            #expect(again.status == 0 && again.out.isEmpty, "\(again.stderr)")
        }
    }

    /// Pushing again is a no-op: nothing printed, nothing added, the head unmoved.
    @Test func rePushIsANoOp() async throws {
        try await TestHub.with { hub in
            let a = hub.dir.path + "/a"
            let ids = try await hub.makeRuns(store: a, count: 2)
            let first = try await bcliAsync(["batch", "push", "--store", a], env: hub.env)
            #expect(first.status == 0, "\(first.stderr)")
            let blobs = try await hub.count("SELECT count(*) FROM bcli_hub.blob")
            let second = try await bcliAsync(["batch", "push", "--store", a], env: hub.env)
            #expect(second.status == 0 && second.out.isEmpty, "\(second.stderr)")
            let named = try await bcliAsync(["batch", "push", "origin", ids[0], "--store", a], env: hub.env)
            #expect(named.status == 0 && named.out.isEmpty && named.stderr.contains("already"), "\(named.stderr)")
            #expect(try await hub.count("SELECT count(*) FROM bcli_hub.blob") == blobs)
            #expect(try await hub.count("SELECT count(*) FROM bcli_hub.run") == 2)
            #expect(try await hub.count("SELECT seq FROM bcli_hub.head") == 2)
        }
    }

    /// Two stores push the same manifest: its blob is stored once, named by both runs.
    @Test func identicalBlobsAreStoredOnce() async throws {
        try await TestHub.with { hub in
            let a = hub.dir.path + "/a", b = hub.dir.path + "/b"
            let idA = try await hub.makeRuns(store: a, count: 1)[0]
            let idB = try await hub.makeRuns(store: b, count: 1)[0]
            for store in [a, b] {
                let r = try await bcliAsync(["batch", "push", "--store", store], env: hub.env)
                #expect(r.status == 0, "\(r.stderr)")
            }
            let manifest = try #require(try LedgerStore(root: a).run(idA).manifestDigest)
            #expect(try LedgerStore(root: b).run(idB).manifestDigest == manifest)
            #expect(try await hub.count("SELECT count(*) FROM bcli_hub.blob WHERE digest = '\(manifest.hex)'") == 1)
            #expect(try await hub.count("SELECT count(*) FROM bcli_hub.run_blob WHERE digest = '\(manifest.hex)'") == 2)
            #expect(try await hub.count("SELECT count(*) FROM bcli_hub.chain") == 2)
        }
    }

    /// PostgreSQL itself stops a pusher from changing what was pushed (grants), and the triggers
    /// stop even the hub's owner.
    @Test func pusherCannotAlterAPushedRun() async throws {
        try await TestHub.with { hub in
            let a = hub.dir.path + "/a"
            let id = try await hub.makeRuns(store: a, count: 1)[0]
            let push = try await bcliAsync(["batch", "push", "--store", a], env: hub.env)
            #expect(push.status == 0, "\(push.stderr)")
            let attacks = [
                "UPDATE bcli_hub.run SET state = 'completed' WHERE id = '\(id)'",
                "DELETE FROM bcli_hub.run WHERE id = '\(id)'",
                "UPDATE bcli_hub.blob SET media_type = 'x'",
                "DELETE FROM bcli_hub.blob",
                "DELETE FROM bcli_hub.run_blob",
                "UPDATE bcli_hub.chain SET record_digest = record_digest",
                "DELETE FROM bcli_hub.chain",
                "TRUNCATE bcli_hub.chain CASCADE",
                "UPDATE bcli_hub.head SET seq = 0, entry_digest = NULL",
                "DELETE FROM bcli_hub.head",
                "DELETE FROM bcli_hub.schema_migration",
                "INSERT INTO bcli_hub.schema_migration (version, name) VALUES (99, 'x')",
                "DROP TABLE bcli_hub.run CASCADE",
                "ALTER TABLE bcli_hub.run DISABLE TRIGGER USER",
            ]
            // Each refusal is the specific one: the pusher meets the grants (or, where it holds a
            // grant, the trigger); the owner meets the append-only triggers. Both are SQLSTATE 42501.
            for asPusher in [true, false] {
                for sql in attacks where asPusher || !sql.hasPrefix("DROP") && !sql.hasPrefix("ALTER") && !sql.hasPrefix("INSERT") {
                    let error = await #expect(throws: HubError.self, "\(asPusher ? "pusher" : "owner"): \(sql) was allowed") {
                        try await hub.session(asPusher: asPusher) { s in try await s.query(PostgresQuery(unsafeSQL: sql)) }
                    }
                    let text = error?.description ?? ""
                    #expect(error?.sqlState == "42501", "\(sql): \(text)")
                    let expected: [String]
                    if sql.hasPrefix("UPDATE bcli_hub.head") { expected = ["the head only advances by one"] }
                    else if asPusher { expected = ["permission denied", "must be owner"] }
                    else { expected = ["is refused: the hub is append-only"] }
                    #expect(expected.contains { text.contains($0) }, "\(asPusher ? "pusher" : "owner"): \(sql): \(text)")
                }
            }
            // A chain entry that does not follow the head is refused even with the right grants.
            let notFollowing = await #expect(throws: HubError.self) {
                try await hub.session(asPusher: true) { s in
                    try await s.query("INSERT INTO bcli_hub.chain (seq, run_id, record_digest, previous_entry, entry_digest) SELECT 7, run_id, record_digest, previous_entry, entry_digest FROM bcli_hub.chain")
                }
            }
            #expect(notFollowing?.sqlState == "23514" && notFollowing?.description.contains("does not follow the head") == true,
                    "\(String(describing: notFollowing))")
            #expect(try await hub.count("SELECT count(*) FROM bcli_hub.run WHERE state <> 'completed' OR state = 'completed'") == 1)
            #expect(try await hub.count("SELECT seq FROM bcli_hub.head") == 1)
            // Still pullable and verified after the attempts.
            let pull = try await bcliAsync(["batch", "pull", "--store", hub.dir.path + "/b"], env: hub.env)
            #expect(pull.status == 0 && pull.out.contains(id), "\(pull.stderr)")
        }
    }

    /// A hub migrated by a newer bcli is refused with a clear error (exit 9); an uninitialised one too.
    @Test func olderBcliRefusesANewerHub() async throws {
        try await TestHub.with(initialised: false) { hub in
            let a = hub.dir.path + "/a"
            _ = try await hub.makeRuns(store: a, count: 1)
            let none = try await bcliAsync(["batch", "push", "--store", a], env: hub.env)
            #expect(none.status == 9 && none.stderr.contains("remote init"), "\(none.status) \(none.stderr)")
            try await hub.initialise()
            try await hub.session { s in
                try await s.query("INSERT INTO bcli_hub.schema_migration (version, name) VALUES (\(HubSchema.currentVersion + 1), 'from-the-future')")
            }
            for args in [["batch", "push", "--store", a], ["batch", "pull", "--store", hub.dir.path + "/b"], ["batch", "remote", "init", "admin"]] {
                let r = try await bcliAsync(args, env: hub.env)
                #expect(r.status == 9 && r.stderr.contains("newer than this bcli") && r.stderr.contains("upgrade bcli"), "\(args): \(r.status) \(r.stderr)")
            }
            #expect(try await hub.count("SELECT count(*) FROM bcli_hub.run") == 0)
        }
    }

    /// Pushes SIGKILLed at random moments, then run again: every run is in the hub exactly once,
    /// on one unbroken chain.
    @Test func killedPushThenRerunLeavesEachRunOnce() async throws {
        try await TestHub.with { hub in
            let a = hub.dir.path + "/a"
            let ids = try await hub.makeRuns(store: a, count: 6)
            // Each round: a push is SIGKILLed a random moment after it pushed a run (so inside the
            // next run's blob uploads or its transaction), or at a random moment from its start.
            for round in 0..<4 {
                let delay = Double.random(in: 0...(round % 2 == 0 ? 0.06 : 0.4))
                try await offload {
                    let child = try ChildProcess(Paths.bcli, ["batch", "push", "--store", a], env: hub.env)
                    if round % 2 == 0 { child.waitForStdoutLines(1) }
                    Thread.sleep(forTimeInterval: delay)
                    child.kill(SIGKILL)
                    _ = try child.wait()
                }
            }
            let partial = try await hub.count("SELECT count(*) FROM bcli_hub.run")
            #expect(partial == (try await hub.count("SELECT seq FROM bcli_hub.head")), "a run is visible without its chain entry")
            let last = try await bcliAsync(["batch", "push", "--store", a], env: hub.env)
            #expect(last.status == 0, "\(last.stderr)")
            #expect(try await hub.count("SELECT count(*) FROM bcli_hub.run") == 6)
            #expect(try await hub.count("SELECT count(*) FROM bcli_hub.chain") == 6)
            #expect(try await hub.count("SELECT count(DISTINCT run_id) FROM bcli_hub.chain") == 6)
            #expect(try await hub.count("SELECT seq FROM bcli_hub.head") == 6)
            // The chain links: each entry names the one before it; the head names the last.
            try await hub.session { s in
                let runs = try await HubPull.runs(s)
                #expect(Set(runs.map(\.id)) == Set(ids))
                #expect(runs.map(\.seq) == [1, 2, 3, 4, 5, 6])
                for (previous, run) in zip([nil] + runs.map(\.entryDigest), runs) { #expect(run.previousEntry == previous) }
                let head = try await s.query("SELECT entry_digest FROM bcli_hub.head").first!.decode(String.self)
                #expect(head == runs.last?.entryDigest)
                for run in runs { _ = try await HubPull.bundle(run, s) }
            }
            // The auditor's check agrees: every blob, the whole chain, every run.
            let verify = try await bcliAsync(["batch", "verify", "--remote", "origin", "--all"], env: hub.env)
            #expect(verify.status == 0 && verify.stderr.contains("6 run(s)"), "\(verify.status) \(verify.out) \(verify.stderr)")
        }
    }

    /// Three stores push at once; the head's row lock serialises them into one chain with every
    /// run once (HubConcurrencyTests does it with 8 processes × 50 runs).
    @Test func concurrentPushersSerializeOnTheHead() async throws {
        try await TestHub.with { hub in
            let stores = (0..<3).map { hub.dir.path + "/s\($0)" }
            var ids: [String] = []
            for store in stores { ids += try await hub.makeRuns(store: store, count: 2) }
            try await withThrowingTaskGroup(of: Completed.self) { group in
                for store in stores { group.addTask { try await bcliAsync(["batch", "push", "--store", store], env: hub.env) } }
                for try await r in group { #expect(r.status == 0, "\(r.stderr)") }
            }
            try await hub.session { s in
                let runs = try await HubPull.runs(s)
                #expect(runs.map(\.seq) == Array(1...6))
                #expect(Set(runs.map(\.id)) == Set(ids))
                for (previous, run) in zip([nil] + runs.map(\.entryDigest), runs) { #expect(run.previousEntry == previous) }
            }
        }
    }
}
