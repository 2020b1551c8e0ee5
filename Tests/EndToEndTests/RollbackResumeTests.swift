import AsyncHTTPClient
import Foundation
import Hashing
import NIOCore
import Store
import Testing
import TestSupport

/// A killed rollback can always finish. The `If-Match` chain runs across every
/// committed compensation of a record in every earlier rollback run; a failed compensation of a
/// record stops the older compensations of that record; a record the run created and deleted
/// needs no compensation; a compensating DELETE answered 404 counts only once a GET confirms it.
@Suite struct RollbackResumeTests {
    static let company = "4d1f3c2a-5b6e-4f70-8a91-b2c3d4e5f601"
    let helpers = RollbackTests()

    /// Runs `bcli` and SIGKILLs it once the sandbox holds one of its requests (the `hold` fault),
    /// so the kill lands at an exact point, not after a guessed delay.
    /// Returns false when bcli finished without sending that many requests.
    @discardableResult
    func killWhileHeld(_ sandbox: LiveSandbox, args: [String], env: [String: String], mustHold: Bool = true) async throws -> Bool {
        let (child, held) = try await bcliUntilHeld(sandbox, args, env: env)
        if !held {
            #expect(!mustHold, "bcli exited before its request was held")
            _ = try await child.finish()
            return false
        }
        child.kill()
        #expect(try await child.finish().reason == .uncaughtSignal)
        return true
    }

    /// Clears the faults (which lets a held request go on) and waits until nothing is in flight.
    func clearFaultsAndSettle(_ sandbox: LiveSandbox) async throws {
        #expect(try await sandbox.setFaults([]) == 200)
        while true {
            let state = try await sandbox.faultState()
            if state["held"] == 0, state["in_flight"]?.objectValue?.isEmpty ?? true { break }
            await Task.yield()
        }
    }

    func runManifest(_ dir: TempDir, _ env: [String: String], _ text: String, set: [String] = []) async throws -> JSONValue {
        var args = ["batch", "run", "-p", "sandbox", try writeManifest(dir, "m-\(UUID().uuidString.prefix(6)).yaml", text), "--format", "json"]
        for s in set { args += ["--set", s] }
        let r = try await bcliAsync(args, env: env)
        #expect(r.status == 0, "\(r.stderr)")
        return try JSONValue(parsing: [UInt8](r.stdout))
    }

    func deletedIDs(_ sandbox: LiveSandbox) async throws -> [String] {
        try await sandbox.journal().filter { $0["method"] == "DELETE" }.compactMap { $0["entity_id"]?.stringValue }
    }

    // MARK: - The ETag chain across a killed rollback

    /// The rollback restores A (new ETag), then is SIGKILLed while the DELETE of C is held. The
    /// next rollback must DELETE A with the ETag the committed restore got back, not the one the
    /// run recorded (before the fix: 409 Request_EntityChanged on every later rollback).
    @Test func killedRollbackResumesWithTheETagOfItsCommittedCompensation() async throws {
        try requireBinary(Paths.bcli)
        try await withSandbox { sandbox in
            let dir = TempDir("bcli-issue8-chain")
            let env = sandbox.env(store: dir.path + "/store")
            let seed = try await runManifest(dir, env, """
                name: seed
                steps:
                  - {name: keep, action: post, endpoint: customers, data: {displayName: Keep Me, email: keep@x.example}}
                """)
            let keep = try #require(seed["steps"]?.arrayValue?[0]["record_id"]?.stringValue)
            let keepBefore = try await helpers.customer(sandbox, keep).body
            let out = try await runManifest(dir, env, """
                name: chain
                params:
                  keep: {required: true}
                steps:
                  - {name: add_a, action: post, endpoint: customers, data: {displayName: Alpha}}
                  - {name: edit_keep, action: patch, endpoint: customers, id: "${{ params.keep }}", data: {displayName: Renamed, email: new@x.example}}
                  - {name: add_c, action: post, endpoint: customers, data: {displayName: Charlie}}
                  - {name: edit_a, action: patch, endpoint: customers, id: "${{ steps.add_a.id }}", data: {displayName: Alpha Two}}
                """, set: ["keep=\(keep)"])
            let runID = try #require(out["run_id"]?.stringValue)
            let a = try #require(out["steps"]?.arrayValue?[0]["record_id"]?.stringValue)
            let c = try #require(out["steps"]?.arrayValue?[2]["record_id"]?.stringValue)

            // Plan, newest first: ~ edit_a, - add_c, ~ edit_keep, - add_a. Hold the first DELETE (C):
            // by then the restore of A has committed with a new ETag.
            #expect(try await sandbox.setFaults(["hold:method=DELETE,nth=1"]) == 200)
            try await killWhileHeld(sandbox, args: ["batch", "rollback", runID, "--yes"], env: env)
            try await clearFaultsAndSettle(sandbox)

            let finish = try await bcliAsync(["batch", "rollback", runID, "--yes", "--format", "json"], env: env)
            #expect(finish.status == 0, "\(finish.stderr)\n\(finish.out)")
            #expect(try await helpers.customer(sandbox, a).status == 404, "the created record A stayed on the server")
            #expect(try await helpers.customer(sandbox, c).status == 404)
            let keepAfter = try await helpers.customer(sandbox, keep).body
            for field in RollbackTests.compared { #expect(keepAfter[field] == keepBefore[field], "\(field)") }
            let ids = try await deletedIDs(sandbox)
            #expect(Set(ids) == [a, c])
            #expect(ids.count == 2, "a record was deleted twice")
            let store = try LedgerStore(root: dir.path + "/store")
            #expect(try store.run(runID).state == .rolledBack)
            // A third rollback has nothing left to do: exit 0, and it says so.
            let again = try await bcliAsync(["batch", "rollback", runID, "--yes"], env: env)
            #expect(again.status == 0)
            #expect(again.stderr.contains("nothing to do"))
        }
    }

    // MARK: - A failed compensation stops the older ones of the same record

    @Test func failedRestoreStopsTheOlderDeleteOfTheSameRecord() async throws {
        try requireBinary(Paths.bcli)
        try await withSandbox { sandbox in
            let dir = TempDir("bcli-issue8-503")
            let env = sandbox.env(store: dir.path + "/store")
            let out = try await runManifest(dir, env, """
                name: create-and-edit
                steps:
                  - {name: add_a, action: post, endpoint: customers, data: {displayName: Alpha}}
                  - {name: add_b, action: post, endpoint: customers, data: {displayName: Bravo}}
                  - {name: edit_a, action: patch, endpoint: customers, id: "${{ steps.add_a.id }}", data: {displayName: Alpha Two}}
                """)
            let runID = try #require(out["run_id"]?.stringValue)
            let a = try #require(out["steps"]?.arrayValue?[0]["record_id"]?.stringValue)
            let b = try #require(out["steps"]?.arrayValue?[1]["record_id"]?.stringValue)

            #expect(try await sandbox.setFaults(["unavailable:method=PATCH,retry-after=0"]) == 200)
            let first = try await bcliAsync(["batch", "rollback", runID, "--yes", "--format", "json"], env: env)
            #expect(first.status == 1, "\(first.stderr)")
            #expect(try await helpers.customer(sandbox, a).status == 200, "A was deleted although its restore failed")
            #expect(try await helpers.customer(sandbox, b).status == 404, "the other record's compensation goes on")
            #expect(try await deletedIDs(sandbox) == [b])
            let store = try LedgerStore(root: dir.path + "/store")
            let steps = try store.ledger.steps(runID: runID)
            #expect(steps.first { $0.name == "edit_a" }?.status == .rollbackFailed)
            #expect(steps.first { $0.name == "add_a" }?.status != .rolledBack)
            let result = try JSONValue(parsing: [UInt8](first.stdout))
            let addA = result["results"]?.arrayValue?.first { $0["name"] == "add_a" }
            #expect(addA?["message"]?.stringValue?.contains("edit_a") == true, "\(String(describing: addA))")

            try await clearFaultsAndSettle(sandbox)
            let second = try await bcliAsync(["batch", "rollback", runID, "--yes"], env: env)
            #expect(second.status == 0, "\(second.stderr)\n\(second.out)")
            #expect(try await helpers.customer(sandbox, a).status == 404)
            #expect(try await deletedIDs(sandbox) == [b, a])
            #expect(try store.run(runID).state == .rolledBack)
        }
    }

    // MARK: - Created and deleted by the run itself

    @Test func recordCreatedAndDeletedByTheRunNeedsNoCompensation() async throws {
        try requireBinary(Paths.bcli)
        try await withSandbox { sandbox in
            let dir = TempDir("bcli-issue8-ephemeral")
            let env = sandbox.env(store: dir.path + "/store")
            let out = try await runManifest(dir, env, """
                name: ephemeral
                steps:
                  - {name: make, action: post, endpoint: customers, data: {displayName: Ephemeral}}
                  - {name: tweak, action: patch, endpoint: customers, id: "${{ steps.make.id }}", data: {displayName: Ephemeral Two}}
                  - {name: unmake, action: delete, endpoint: customers, id: "${{ steps.make.id }}"}
                  - {name: other, action: post, endpoint: customers, data: {displayName: Lasting}}
                """)
            let runID = try #require(out["run_id"]?.stringValue)
            let other = try #require(out["steps"]?.arrayValue?[3]["record_id"]?.stringValue)

            let dry = try await bcliAsync(["batch", "rollback", runID, "--dry-run", "--recreate-deleted"], env: env)
            #expect(dry.status == 0, "\(dry.stderr)")
            for name in ["make", "tweak", "unmake"] {
                #expect(dry.out.split(separator: "\n").contains { $0.contains(" \(name):") && $0.contains("nothing to undo") },
                        "step \(name) is not shown as nothing to undo:\n\(dry.out)")
            }
            #expect(dry.out.contains("Plan: 1 to delete, 0 to restore, 0 to re-create, 0 irreversible, 3 with nothing to undo."), "\(dry.out)")

            let journalBefore = try await sandbox.journal().count
            let r = try await bcliAsync(["batch", "rollback", runID, "--yes", "--recreate-deleted"], env: env)
            #expect(r.status == 0, "\(r.stderr)\n\(r.out)")
            let journal = try await sandbox.journal()
            #expect(journal.count == journalBefore + 1, "only the DELETE of `other` is sent")
            #expect(journal.last?["method"] == "DELETE")
            #expect(journal.last?["entity_id"]?.stringValue == other)
            let (status, found) = try await sandbox.send("GET", sandbox.entityURL("customers") + "?$filter=startswith(displayName,'Ephemeral')")
            #expect(status == 200)
            #expect(found["value"]?.arrayValue?.isEmpty == true, "--recreate-deleted brought back a record that did not exist before the run")
            let store = try LedgerStore(root: dir.path + "/store")
            #expect(try store.run(runID).state == .rolledBack)
        }
    }

    // MARK: - A compensating DELETE answered 404

    @Test func deleteAnswered404IsConfirmedByAGetRecordedAsEvidence() async throws {
        try requireBinary(Paths.bcli)
        try await withSandbox { sandbox in
            let dir = TempDir("bcli-issue8-404")
            let env = sandbox.env(store: dir.path + "/store")
            let out = try await runManifest(dir, env, """
                name: one
                steps:
                  - {name: add_a, action: post, endpoint: customers, data: {displayName: Alpha}}
                """)
            let runID = try #require(out["run_id"]?.stringValue)
            let a = try #require(out["steps"]?.arrayValue?[0]["record_id"]?.stringValue)
            // Someone deletes it behind the ledger's back.
            #expect(try await sandbox.send("DELETE", sandbox.entityURL("customers", id: a)).0 == 204)

            let r = try await bcliAsync(["batch", "rollback", runID, "--yes", "--format", "json"], env: env)
            #expect(r.status == 0, "\(r.stderr)\n\(r.out)")
            let result = try JSONValue(parsing: [UInt8](r.stdout))
            #expect(result["results"]?.arrayValue?.first?["status"] == "rolled_back")
            let store = try LedgerStore(root: dir.path + "/store")
            let rollbackID = try #require(result["rollback_run_id"]?.stringValue)
            let original = try #require(try store.ledger.steps(runID: runID).first)
            #expect(original.status == .rolledBack)
            let steps = try store.ledger.steps(runID: rollbackID)
            #expect(steps.map(\.method) == [.delete, .get])
            #expect(steps.first?.httpStatus == 404)
            let evidence = try #require(steps.last)
            #expect(evidence.targetStepID == original.id)
            #expect(evidence.httpStatus == 404)
            #expect(evidence.url.hasSuffix("customers(\(a))"))
            let body = try #require(evidence.responseDigest)
            let stored = try JSONValue(parsing: try store.objects.get(body))
            #expect(stored["error"]?["code"] != nil, "the GET's 404 answer is stored")
            #expect(try store.run(runID).state == .rolledBack)
        }
    }
    // MARK: - Patched, then deleted by the run

    /// Same root as the create-then-delete case: a restore PATCH of a record the run deleted
    /// afterwards can only answer 404. Without --recreate-deleted it is not reversible (nothing is
    /// sent); with it, the re-creation carries the pre-run values and the restore is folded in.
    @Test func restoreOfARecordTheRunDeletedAfterwardsIsFoldedIntoTheRecreation() async throws {
        try requireBinary(Paths.bcli)
        try await withSandbox { sandbox in
            let dir = TempDir("bcli-issue8-patch-delete")
            let env = sandbox.env(store: dir.path + "/store")
            let seed = try await runManifest(dir, env, """
                name: seed
                steps:
                  - {name: doomed, action: post, endpoint: customers, data: {displayName: Before, email: before@x.example}}
                """)
            let doomed = try #require(seed["steps"]?.arrayValue?[0]["record_id"]?.stringValue)
            let before = try await helpers.customer(sandbox, doomed).body
            let out = try await runManifest(dir, env, """
                name: patch-then-delete
                params:
                  doomed: {required: true}
                steps:
                  - {name: edit, action: patch, endpoint: customers, id: "${{ params.doomed }}", data: {displayName: After, email: after@x.example}}
                  - {name: remove, action: delete, endpoint: customers, id: "${{ params.doomed }}"}
                """, set: ["doomed=\(doomed)"])
            let runID = try #require(out["run_id"]?.stringValue)

            let journalBefore = try await sandbox.journal().count
            let plain = try await bcliAsync(["batch", "rollback", runID, "--yes"], env: env)
            #expect(plain.status == 0, "\(plain.stderr)\n\(plain.out)")
            #expect(plain.out.contains("the run deleted this record afterwards"), "\(plain.out)")
            #expect(try await sandbox.journal().count == journalBefore, "a restore of a deleted record was sent")

            let r = try await bcliAsync(["batch", "rollback", runID, "--yes", "--recreate-deleted", "--format", "json"], env: env)
            #expect(r.status == 0, "\(r.stderr)\n\(r.out)")
            let journal = try await sandbox.journal()
            #expect(journal.count == journalBefore + 1)
            #expect(journal.last?["method"] == "POST")
            let result = try JSONValue(parsing: [UInt8](r.stdout))
            let newID = try #require(result["results"]?.arrayValue?.first { $0["name"] == "remove" }?["new_record_id"]?.stringValue)
            let recreated = try await helpers.customer(sandbox, newID).body
            #expect(recreated["displayName"] == before["displayName"])
            #expect(recreated["email"] == before["email"])
            let store = try LedgerStore(root: dir.path + "/store")
            #expect(try store.ledger.steps(runID: runID).allSatisfy { $0.status == .rolledBack })
            #expect(try store.run(runID).state == .rolledBack)
        }
    }
    // MARK: - Killed at every request

    /// For every request a rollback sends, SIGKILL it while that request is held, then kill the
    /// next rollback at the same point, then finish: every record ends in its pre-run state, no
    /// record is deleted twice, and the run reads rolled_back.
    @Test(arguments: 1...6)
    func rollbackKilledAtEveryRequestFinishes(point: Int) async throws {
        try requireBinary(Paths.bcli)
        try await withSandbox { sandbox in
            let dir = TempDir("bcli-issue8-every")
            let env = sandbox.env(store: dir.path + "/store")
            let seed = try await runManifest(dir, env, """
                name: seed
                steps:
                  - {name: keep, action: post, endpoint: customers, data: {displayName: Keep, email: keep@x.example}}
                """)
            let keep = try #require(seed["steps"]?.arrayValue?[0]["record_id"]?.stringValue)
            let keepBefore = try await helpers.customer(sandbox, keep).body
            let out = try await runManifest(dir, env, """
                name: busy
                params:
                  keep: {required: true}
                steps:
                  - {name: add_a, action: post, endpoint: customers, data: {displayName: Alpha}}
                  - {name: edit_a, action: patch, endpoint: customers, id: "${{ steps.add_a.id }}", data: {displayName: Alpha Two}}
                  - {name: edit_keep, action: patch, endpoint: customers, id: "${{ params.keep }}", data: {displayName: Kept Two}}
                  - {name: add_b, action: post, endpoint: customers, data: {displayName: Bravo}}
                  - {name: edit_a_again, action: patch, endpoint: customers, id: "${{ steps.add_a.id }}", data: {email: a3@x.example}}
                  - {name: edit_keep_again, action: patch, endpoint: customers, id: "${{ params.keep }}", data: {email: k3@x.example}}
                """, set: ["keep=\(keep)"])
            let runID = try #require(out["run_id"]?.stringValue)
            let a = try #require(out["steps"]?.arrayValue?[0]["record_id"]?.stringValue)
            let b = try #require(out["steps"]?.arrayValue?[3]["record_id"]?.stringValue)

            // The plan sends 6 requests; the second rollback may have fewer left than `point`.
            for round in 0..<2 {
                #expect(try await sandbox.setFaults(["hold:nth=\(point)"]) == 200)
                try await killWhileHeld(sandbox, args: ["batch", "rollback", runID, "--yes"], env: env, mustHold: round == 0)
                try await clearFaultsAndSettle(sandbox)
            }
            let finish = try await bcliAsync(["batch", "rollback", runID, "--yes"], env: env)
            #expect([0, 8].contains(finish.status), "\(finish.stderr)\n\(finish.out)")
            #expect(try await helpers.customer(sandbox, a).status == 404)
            #expect(try await helpers.customer(sandbox, b).status == 404)
            let keepAfter = try await helpers.customer(sandbox, keep).body
            for field in RollbackTests.compared { #expect(keepAfter[field] == keepBefore[field], "\(field)") }
            let ids = try await deletedIDs(sandbox)
            #expect(ids.count == Set(ids).count, "a record was deleted twice: \(ids)")
            let store = try LedgerStore(root: dir.path + "/store")
            #expect(try store.run(runID).state == .rolledBack)
        }
    }
    /// A record the run created and patched, deleted by someone since: its restore PATCH answers
    /// 404, a GET confirms it is gone, and since the record did not exist before the run there is
    /// nothing to restore; its DELETE is confirmed the same way. Before: 404 on every rollback.
    @Test func restoreOfACreatedRecordThatIsGoneIsConfirmedNotRetriedForever() async throws {
        try requireBinary(Paths.bcli)
        try await withSandbox { sandbox in
            let dir = TempDir("bcli-issue8-gone")
            let env = sandbox.env(store: dir.path + "/store")
            let out = try await runManifest(dir, env, """
                name: create-edit
                steps:
                  - {name: add_a, action: post, endpoint: customers, data: {displayName: Alpha}}
                  - {name: edit_a, action: patch, endpoint: customers, id: "${{ steps.add_a.id }}", data: {displayName: Alpha Two}}
                """)
            let runID = try #require(out["run_id"]?.stringValue)
            let a = try #require(out["steps"]?.arrayValue?[0]["record_id"]?.stringValue)
            #expect(try await sandbox.send("DELETE", sandbox.entityURL("customers", id: a)).0 == 204)

            let r = try await bcliAsync(["batch", "rollback", runID, "--yes", "--format", "json"], env: env)
            #expect(r.status == 0, "\(r.stderr)\n\(r.out)")
            let store = try LedgerStore(root: dir.path + "/store")
            #expect(try store.ledger.steps(runID: runID).allSatisfy { $0.status == .rolledBack })
            #expect(try store.run(runID).state == .rolledBack)
            let rollbackID = try #require(try JSONValue(parsing: [UInt8](r.stdout))["rollback_run_id"]?.stringValue)
            let rows = try store.ledger.steps(runID: rollbackID)
            #expect(rows.map(\.method) == [.patch, .get, .delete, .get])
            #expect(rows.allSatisfy { $0.httpStatus == 404 })
        }
    }
}
