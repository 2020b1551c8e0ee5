import AsyncHTTPClient
import Foundation
import NIOCore
import Testing
import TestSupport
import Hashing
import Store

/// `bcli batch rollback` against a sandbox: records come back to their pre-run field values,
/// conflicts are never overwritten without --force, and a killed rollback finishes on retry
/// without ever deleting the same record twice.
@Suite struct RollbackTests {
    static let seedManifest = """
        name: seed
        steps:
          - {name: keep, action: post, endpoint: customers, data: {displayName: Keep Me, email: keep@x.example}}
          - {name: doomed, action: post, endpoint: customers, data: {displayName: Doomed, email: doomed@x.example}}
        """

    static let changeManifest = """
        name: change
        params:
          keep: {required: true}
          doomed: {required: true}
        steps:
          - {name: add, action: post, endpoint: customers, data: {displayName: Added}}
          - {name: edit, action: patch, endpoint: customers, id: "${{ params.keep }}", data: {displayName: Renamed, email: new@x.example}}
          - {name: edit_again, action: patch, endpoint: customers, id: "${{ params.keep }}", data: {email: newer@x.example}}
          - {name: remove, action: delete, endpoint: customers, id: "${{ params.doomed }}"}
        """

    struct Scenario {
        let sandbox: LiveSandbox
        let dir: TempDir
        let env: [String: String]
        let keep: String
        let doomed: String
        let keepBefore: JSONValue
        let doomedBefore: JSONValue
        let runID: String
        let addedID: String
    }

    func customer(_ sandbox: LiveSandbox, _ id: String) async throws -> (status: Int, body: JSONValue) {
        let (status, json) = try await sandbox.send("GET", sandbox.entityURL("customers", id: id))
        return (status, json)
    }

    func patchBehindTheLedgersBack(_ sandbox: LiveSandbox, _ id: String, _ body: String) async throws {
        #expect(try await sandbox.send("PATCH", sandbox.entityURL("customers", id: id), body: body).status == 200)
    }

    /// Seeds two customers, then runs a manifest that creates one, patches one twice and deletes one.
    func withScenario(faults: [String] = [], _ body: (Scenario) async throws -> Void) async throws {
        try await withSandbox(faults: faults) { sandbox in try await body(try await scenario(sandbox)) }
    }

    func scenario(_ sandbox: LiveSandbox) async throws -> Scenario {
        let dir = TempDir("bcli-rollback")
        let env = sandbox.env(store: dir.path + "/store")
        let seed = try await bcliAsync(["batch", "run", "-p", "sandbox", try writeManifest(dir, "seed.yaml", Self.seedManifest), "--format", "json"], env: env)
        #expect(seed.status == 0, "\(seed.stderr)")
        let seeded = try JSONValue(parsing: [UInt8](seed.stdout))["steps"]?.arrayValue ?? []
        let keep = try #require(seeded.first?["record_id"]?.stringValue)
        let doomed = try #require(seeded.last?["record_id"]?.stringValue)
        let keepBefore = try await customer(sandbox, keep).body
        let doomedBefore = try await customer(sandbox, doomed).body
        let change = try await bcliAsync(["batch", "run", "-p", "sandbox", try writeManifest(dir, "change.yaml", Self.changeManifest),
                                          "--set", "keep=\(keep)", "--set", "doomed=\(doomed)", "--format", "json"], env: env)
        #expect(change.status == 0, "\(change.stderr)")
        let out = try JSONValue(parsing: [UInt8](change.stdout))
        let runID = try #require(out["run_id"]?.stringValue)
        let added = try #require(out["steps"]?.arrayValue?.first?["record_id"]?.stringValue)
        return Scenario(sandbox: sandbox, dir: dir, env: env, keep: keep, doomed: doomed, keepBefore: keepBefore,
                        doomedBefore: doomedBefore, runID: runID, addedID: added)
    }

    static let compared = ["displayName", "email", "phoneNumber", "number", "addressLine1", "city"]

    @Test func rollbackRestoresPreRunValues() async throws {
        try requireBinary(Paths.bcli)
        try await withScenario { s in
            let dry = try await bcliAsync(["batch", "rollback", s.runID, "--dry-run", "--recreate-deleted"], env: s.env)
            #expect(dry.status == 0, "\(dry.stderr)")
            #expect(dry.out.contains("Plan: 1 to delete, 2 to restore, 1 to re-create, 0 irreversible."))
            let journalBefore = try await s.sandbox.journal().count

            // Non-interactive without --yes: refused before any request.
            let refused = try await bcliAsync(["batch", "rollback", s.runID], env: s.env)
            #expect(refused.status == 8)
            #expect(try await s.sandbox.journal().count == journalBefore)

            let r = try await bcliAsync(["batch", "rollback", s.runID, "--yes", "--recreate-deleted", "--format", "json"], env: s.env)
            #expect(r.status == 0, "\(r.stderr)")
            let result = try JSONValue(parsing: [UInt8](r.stdout))
            #expect(result["run_state"]?.stringValue == "rolled_back")
            #expect(result["format_version"] == 1)

            // Every touched record: created → gone; patched → pre-run fields; deleted → re-created (new id).
            #expect(try await customer(s.sandbox, s.addedID).status == 404)
            let keepAfter = try await customer(s.sandbox, s.keep).body
            for field in Self.compared { #expect(keepAfter[field] == s.keepBefore[field], "\(field)") }
            #expect(try await customer(s.sandbox, s.doomed).status == 404)
            let newID = try #require(result["results"]?.arrayValue?.first { $0["name"]?.stringValue == "remove" }?["new_record_id"]?.stringValue)
            let recreated = try await customer(s.sandbox, newID).body
            for field in Self.compared { #expect(recreated[field] == s.doomedBefore[field], "\(field)") }

            // The rollback is a run of its own with intent/outcome rows pointing at the originals.
            let store = try LedgerStore(root: s.dir.path + "/store")
            let rollbackID = try #require(result["rollback_run_id"]?.stringValue)
            let rollbackRun = try store.run(rollbackID)
            #expect(rollbackRun.kind == .rollback)
            #expect(rollbackRun.parentRunID == s.runID)
            let compensations = try store.ledger.steps(runID: rollbackID)
            #expect(compensations.map(\.method) == [.post, .patch, .patch, .delete])
            #expect(compensations.allSatisfy { $0.status == .committed && $0.targetStepID != nil && $0.ifMatch != "*" })
            #expect(try store.ledger.steps(runID: s.runID).allSatisfy { $0.status == .rolledBack })
            #expect(try store.run(s.runID).state == .rolledBack)

            // A second rollback has nothing to do: exit 0, nothing sent, no rollback run recorded.
            let count = try await s.sandbox.journal().count
            let runs = try store.runs().count
            let again = try await bcliAsync(["batch", "rollback", s.runID, "--yes", "--recreate-deleted"], env: s.env)
            #expect(again.status == 0, "\(again.stderr)")
            #expect(again.stderr.contains("already fully rolled back; nothing to do"))
            let json = try await bcliAsync(["batch", "rollback", s.runID, "--yes", "--format", "json"], env: s.env)
            #expect(json.status == 0, "\(json.stderr)")
            let document = try JSONValue(parsing: [UInt8](json.stdout))
            #expect(document["nothing_to_do"] == true && document["run_id"]?.stringValue == s.runID && document["format_version"] == 1)
            #expect(try await s.sandbox.journal().count == count)
            #expect(try store.runs().count == runs)
        }
    }

    @Test func conflictIsNotOverwrittenUnlessForced() async throws {
        try requireBinary(Paths.bcli)
        try await withScenario { s in
            try await patchBehindTheLedgersBack(s.sandbox, s.keep, #"{"displayName":"Someone Else"}"#)
            let r = try await bcliAsync(["batch", "rollback", s.runID, "--yes"], env: s.env)
            #expect(r.status == 1)
            #expect(r.stderr.contains("conflict"))
            #expect(try await customer(s.sandbox, s.keep).body["displayName"] == "Someone Else")  // not overwritten
            #expect(try await customer(s.sandbox, s.addedID).status == 404)                        // the rest went on
            let store = try LedgerStore(root: s.dir.path + "/store")
            let steps = try store.ledger.steps(runID: s.runID)
            #expect(steps.first { $0.name == "edit_again" }?.status == .rollbackFailed)
            #expect(steps.first { $0.name == "add" }?.status == .rolledBack)
            #expect(steps.first { $0.name == "remove" }?.status == .rollbackSkipped)  // no --recreate-deleted
            #expect(try store.run(s.runID).state != .rolledBack)

            // Retrying retries only what is left; --force overwrites and says so in the ledger.
            let forced = try await bcliAsync(["batch", "rollback", s.runID, "--yes", "--force", "--format", "json"], env: s.env)
            #expect(forced.status == 0, "\(forced.stderr)")
            let result = try JSONValue(parsing: [UInt8](forced.stdout))
            #expect(result["results"]?.arrayValue?.map { $0["name"]?.stringValue ?? "" } == ["remove", "edit_again", "edit"])
            let keepAfter = try await customer(s.sandbox, s.keep).body
            #expect(keepAfter["displayName"] == s.keepBefore["displayName"])
            #expect(keepAfter["email"] == s.keepBefore["email"])
            let rollbackID = try #require(result["rollback_run_id"]?.stringValue)
            #expect(try store.ledger.steps(runID: rollbackID).filter { $0.method == .patch }.allSatisfy { $0.ifMatch == "*" })
        }
    }

    /// SIGKILL during a rollback, then rollback again: it finishes the rest and never sends a
    /// DELETE twice for the same record.
    @Test func killedRollbackFinishesWithoutDoubleDeletes() async throws {
        try requireBinary(Paths.bcli)
        try await withSandbox(latency: "30") { sandbox in
            let dir = TempDir("bcli-rollback-kill")
            let env = sandbox.env(store: dir.path + "/store")
            var text = "name: many\nsteps:\n"
            for i in 1...30 { text += "  - {name: c\(i), action: post, endpoint: customers, data: {displayName: \"R \(i)\"}}\n" }
            let run = try await bcliAsync(["batch", "run", "-p", "sandbox", try writeManifest(dir, "many.yaml", text), "--format", "json"], env: env)
            #expect(run.status == 0)
            let runID = try #require(try JSONValue(parsing: [UInt8](run.stdout))["run_id"]?.stringValue)
            for _ in 0..<3 {
                try await killAfter(lines: Int.random(in: 3...12), args: ["batch", "rollback", runID, "--yes"], env: env)
            }
            let finish = try await bcliAsync(["batch", "rollback", runID, "--yes"], env: env)
            #expect(finish.status == 0, "\(finish.stderr)")
            let deletes = try await sandbox.journal().filter { $0["method"]?.stringValue == "DELETE" }
            let ids = deletes.compactMap { $0["entity_id"]?.stringValue }
            #expect(ids.count == 30)
            #expect(Set(ids).count == ids.count, "a record was deleted twice")
            let store = try LedgerStore(root: dir.path + "/store")
            #expect(try store.run(runID).state == .rolledBack)
        }
    }
}
