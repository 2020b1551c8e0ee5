import Foundation
import Hashing
import Store
import Testing
import TestSupport

/// `batch reconcile` and `batch resume` through the real binary against a sandbox whose faults
/// make chosen steps unknown: a write that landed (`drop`) or did not (`lose`).
@Suite struct RecoveryTests {
    static func run(_ args: [String], _ env: [String: String]) async throws -> Completed {
        try await bcliAsync(args, env: env)
    }

    @Test func aDroppedPostIsReconciledAppliedAndResumeSendsWhatWasLeft() async throws {
        try requireBinary(Paths.bcli)
        try await withSandbox(faults: ["drop:method=POST,nth=2"]) { sandbox in
            let dir = TempDir("bcli-recover")
            let env = sandbox.env(store: dir.path + "/store")
            let path = try writeManifest(dir, "m.yaml", """
                name: recover
                steps:
                  - {name: c1, action: post, endpoint: customers, data: {displayName: R c1, city: Oslo}}
                  - {name: c2, action: post, endpoint: customers, data: {displayName: R c2, city: Oslo}}
                  - {name: p1, action: patch, endpoint: customers, id: "${{ steps.c1.id }}", data: {city: Bergen}}
                  - {name: p2, action: patch, endpoint: customers, id: "${{ steps.c2.id }}", data: {city: Bergen}}
                  - {name: v1, action: post, endpoint: vendors, data: {number: RV1, displayName: R vendor}}
                  - {name: d2, action: delete, endpoint: customers, id: "${{ steps.c2.id }}"}
                """)
            let first = try await Self.run(["batch", "run", "-p", "sandbox", path], env)
            #expect(first.status != 0)
            let id = try #require(runID(fromStderr: first.stderr), "\(first.stderr)")
            let store = try LedgerStore(root: dir.path + "/store")
            #expect(try store.run(id).state == .inDoubt)
            #expect(try store.ledger.steps(runID: id).map(\.statusName) == ["committed", "unknown", "committed", "skipped", "committed", "skipped"])
            #expect(try await sandbox.journal().count == 4)

            // Resume refuses while a step is unknown, and names the way forward.
            let refused = try await Self.run(["batch", "resume", id], env)
            #expect(refused.status == 8, "\(refused.stderr)")
            #expect(refused.stderr.contains("bcli batch reconcile \(id)"), "\(refused.stderr)")

            // Reconcile: the dropped POST landed; its record is found by its fields and time.
            let dry = try await Self.run(["batch", "reconcile", id, "--dry-run", "--format", "json"], env)
            #expect(dry.status == 0, "\(dry.stderr)")
            let dryDoc = try JSONValue(parsing: [UInt8](dry.stdout))
            #expect(dryDoc["dry_run"] == true)
            #expect(dryDoc["steps"]?.arrayValue?.first?["decision"] == "applied")
            #expect(try store.ledger.step(id: store.ledger.steps(runID: id)[1].id)?.status == nil)  // nothing recorded
            let reconciled = try await Self.run(["batch", "reconcile", id], env)
            #expect(reconciled.status == 0, "\(reconciled.stderr)")
            #expect(reconciled.out.contains("step 2 c2 POST: applied [post.one-match]"), "\(reconciled.out)")
            let c2 = try store.ledger.steps(runID: id)[1]
            #expect(c2.status == .reconciledApplied)
            let created = try await sandbox.journal()[1]
            #expect(c2.recordID != nil)
            #expect(created["path"]?.stringValue?.contains("customers") == true)
            #expect(try store.run(id).state == .partiallyCommitted)

            // Resume sends only p2 and d2, with c2's id from the reconciled record.
            let resumed = try await Self.run(["batch", "resume", id], env)
            #expect(resumed.status == 0, "\(resumed.stdout)\(resumed.stderr)")
            #expect(resumed.out.contains("Step 4/6 PATCH customers"), "\(resumed.out)")
            #expect(resumed.out.contains("Step 6/6 DELETE customers"), "\(resumed.out)")
            #expect(!resumed.out.contains("Step 1/6"), "\(resumed.out)")
            let journal = try await sandbox.journal()
            #expect(journal.count == 6)
            let tail = journal.suffix(2).map { "\($0["method"]?.stringValue ?? "") \($0["path"]?.stringValue ?? "")" }
            #expect(tail.allSatisfy { $0.contains(c2.recordID!) }, "\(tail)")
            let resumeRun = try #require(try store.ledger.children(of: id).last)
            let child = try store.run(resumeRun)
            #expect(child.kind == .resume)
            #expect(child.parentRunID == id)
            #expect(child.state == .completed)

            // state names the resume; nothing is left; the whole store verifies.
            let state = try await Self.run(["batch", "state", id], env)
            #expect(state.out.contains("resumed by \(resumeRun) (completed)"), "\(state.out)")
            let again = try await Self.run(["batch", "resume", id], env)
            #expect(again.status == 0)
            #expect(again.stderr.contains("nothing to resume"), "\(again.stderr)")
            let verify = try await Self.run(["batch", "verify", "--all"], env)
            #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")

            // Rolling back both: the resume run first, then the original, whose reconciled POST
            // is undone like a committed one (its record URL came from the reconcile).
            let undoResume = try await Self.run(["batch", "rollback", resumeRun, "--yes"], env)
            #expect(undoResume.status == 0, "\(undoResume.out)\(undoResume.stderr)")
            let plan = try await Self.run(["batch", "rollback", id, "--dry-run"], env)
            #expect(plan.out.contains("step 2"), "\(plan.out)")
            let undo = try await Self.run(["batch", "rollback", id, "--yes"], env)
            #expect(undo.status == 0, "\(undo.out)\(undo.stderr)")
            let left = try await sandbox.send("GET", sandbox.entityURL("customers"))
            let names = left.json["value"]?.arrayValue?.compactMap { $0["displayName"]?.stringValue } ?? []
            #expect(!names.contains { $0.hasPrefix("R c") }, "\(names)")
        }
    }

    @Test func aLostPatchIsNotAppliedAndResumeSendsItOnce() async throws {
        try requireBinary(Paths.bcli)
        try await withSandbox(faults: ["lose:method=PATCH,nth=1"]) { sandbox in
            let dir = TempDir("bcli-recover-lost")
            let env = sandbox.env(store: dir.path + "/store")
            let path = try writeManifest(dir, "m.yaml", """
                name: lost
                steps:
                  - {name: c1, action: post, endpoint: customers, data: {displayName: L c1, city: Oslo}}
                  - {name: p1, action: patch, endpoint: customers, id: "${{ steps.c1.id }}", data: {city: Bergen}}
                  - {name: g1, action: get, endpoint: customers, id: "${{ steps.c1.id }}"}
                """)
            let first = try await Self.run(["batch", "run", "-p", "sandbox", path], env)
            let id = try #require(runID(fromStderr: first.stderr), "\(first.stderr)")
            #expect(try await sandbox.journal().count == 1)
            // Another environment (same company ids) is refused before anything is asked.
            let elsewhere = try await Self.run(["batch", "reconcile", id], env.merging(["BCLI_ENVIRONMENT": "sandbox-copy"]) { $1 })
            #expect(elsewhere.status == 8, "\(elsewhere.stderr)")
            #expect(elsewhere.stderr.contains("ran in environment production"), "\(elsewhere.stderr)")
            let reconciled = try await Self.run(["batch", "reconcile", id, "--format", "json"], env)
            #expect(reconciled.status == 0, "\(reconciled.stderr)")
            let doc = try JSONValue(parsing: [UInt8](reconciled.stdout))
            #expect(doc["steps"]?.arrayValue?.first?["decision"] == "not_applied")
            #expect(doc["steps"]?.arrayValue?.first?["rule"] == "patch.unchanged")
            #expect(doc["format_version"] == 1)
            // -f json: one document on stdout, whatever the mode.
            let planned = try await Self.run(["batch", "resume", id, "--dry-run", "-f", "json"], env)
            let plan = try JSONValue(parsing: [UInt8](planned.stdout))
            #expect(plan["format_version"] == 1)
            #expect(plan["owed"]?.arrayValue?.compactMap { $0["seq"]?.doubleValue } == [2])
            let resumed = try await Self.run(["batch", "resume", id], env)
            #expect(resumed.status == 0, "\(resumed.stdout)\(resumed.stderr)")
            #expect(resumed.out.contains("Step 2/3 PATCH customers"))
            let nothing = try await Self.run(["batch", "resume", id, "-f", "json"], env)
            #expect(try JSONValue(parsing: [UInt8](nothing.stdout))["owed"]?.arrayValue?.isEmpty == true, "\(nothing.out)")
            #expect(!resumed.out.contains("Step 3/3"), "the GET was done: \(resumed.out)")
            let journal = try await sandbox.journal()
            #expect(journal.map { $0["method"]?.stringValue ?? "" } == ["POST", "PATCH"])
        }
    }

    /// A write to a record whose earlier PATCH is unknown is not sent (it would destroy the
    /// evidence reconcile needs); reconcile decides the PATCH, resume sends both.
    @Test func aWriteToARecordLeftInDoubtWaitsForReconcile() async throws {
        try requireBinary(Paths.bcli)
        try await withSandbox(faults: ["lose:method=PATCH,nth=1"]) { sandbox in
            let dir = TempDir("bcli-recover-record")
            let env = sandbox.env(store: dir.path + "/store")
            let path = try writeManifest(dir, "m.yaml", """
                name: record
                steps:
                  - {name: c1, action: post, endpoint: customers, data: {displayName: D c1}}
                  - {name: p1, action: patch, endpoint: customers, id: "${{ steps.c1.id }}", data: {city: Bergen}}
                  - {name: d1, action: delete, endpoint: customers, id: "${{ steps.c1.id }}"}
                """)
            let first = try await Self.run(["batch", "run", "-p", "sandbox", path], env)
            let id = try #require(runID(fromStderr: first.stderr), "\(first.stderr)")
            let store = try LedgerStore(root: dir.path + "/store")
            let steps = try store.ledger.steps(runID: id)
            #expect(steps.map(\.statusName) == ["committed", "unknown", "skipped"])
            #expect(steps[2].errorMessage?.contains("step 2 wrote this record and its outcome is unknown") == true, "\(steps[2].errorMessage ?? "")")
            #expect(try await sandbox.journal().count == 1)
            let both = try await Self.run(["batch", "resume", id, "--reconcile"], env)
            #expect(both.status == 0, "\(both.out)\(both.stderr)")
            #expect(both.out.contains("step 2 p1 PATCH: not applied [patch.unchanged]"), "\(both.out)")
            #expect(try await sandbox.journal().map { $0["method"]?.stringValue ?? "" } == ["POST", "PATCH", "DELETE"])
        }
    }

    /// Two resumes of one family never run at once: the second is refused while the first holds
    /// the family's lock (here, with its write held by the sandbox); so is a reconcile.
    @Test func aSecondResumeOfTheSameFamilyIsRefusedWhileOneRuns() async throws {
        try requireBinary(Paths.bcli)
        try await withSandbox(faults: ["lose:method=POST,nth=1"]) { sandbox in
            let dir = TempDir("bcli-recover-lock")
            let env = sandbox.env(store: dir.path + "/store")
            let path = try writeManifest(dir, "m.yaml", """
                name: locked
                steps:
                  - {name: c1, action: post, endpoint: customers, data: {displayName: K c1}}
                  - {name: c2, action: post, endpoint: customers, data: {displayName: K c2}}
                """)
            let first = try await Self.run(["batch", "run", "-p", "sandbox", path], env)
            let id = try #require(runID(fromStderr: first.stderr), "\(first.stderr)")
            #expect(try await Self.run(["batch", "reconcile", id], env).status == 0)
            try await sandbox.setFaults(["hold:nth=1,method=POST"])
            let (child, held) = try await bcliUntilHeld(sandbox, ["batch", "resume", id], env: env)
            #expect(held)
            let second = try await Self.run(["batch", "resume", id], env)
            #expect(second.status == 8, "\(second.stderr)")
            #expect(second.stderr.contains("by another process"), "\(second.stderr)")
            let reconcile = try await Self.run(["batch", "reconcile", id], env)
            #expect(reconcile.status == 8, "\(reconcile.stderr)")
            try await sandbox.setFaults([])
            let done = try await offload { try child.wait(timeout: 60) }
            #expect(done.status == 0, "\(done.stderr)")
            #expect(try await sandbox.journal().count == 2)
        }
    }

    /// Two identical POSTs, the second lost: the search finds the first step's record, which is
    /// not the second's to claim — undecidable, never "applied" (the second would never be sent).
    @Test func aRecordAnotherStepCreatedIsNotClaimed() async throws {
        try requireBinary(Paths.bcli)
        try await withSandbox(faults: ["lose:method=POST,nth=2"]) { sandbox in
            let dir = TempDir("bcli-recover-claim")
            let env = sandbox.env(store: dir.path + "/store")
            let path = try writeManifest(dir, "m.yaml", """
                name: twins
                steps:
                  - {name: a, action: post, endpoint: customers, data: {displayName: Twin, city: Oslo}}
                  - {name: b, action: post, endpoint: customers, data: {displayName: Twin, city: Oslo}}
                """)
            let first = try await Self.run(["batch", "run", "-p", "sandbox", path], env)
            let id = try #require(runID(fromStderr: first.stderr), "\(first.stderr)")
            let r = try await Self.run(["batch", "reconcile", id, "--format", "json"], env)
            #expect(r.status == 1, "\(r.out)\(r.stderr)")
            let step = try JSONValue(parsing: [UInt8](r.stdout))["steps"]?.arrayValue?.first
            #expect(step?["decision"] == "undecidable")
            #expect(step?["rule"] == "post.claimed", "\(r.out)")
            let store = try LedgerStore(root: dir.path + "/store")
            #expect(try store.ledger.steps(runID: id).map(\.statusName) == ["committed", "unknown"])
        }
    }

    @Test func resumeRefusesAnotherManifestAndReconcilesWhenAsked() async throws {
        try requireBinary(Paths.bcli)
        try await withSandbox(faults: ["drop:method=DELETE,nth=1"]) { sandbox in
            let dir = TempDir("bcli-recover-both")
            let env = sandbox.env(store: dir.path + "/store")
            let text = """
                name: both
                steps:
                  - {name: c1, action: post, endpoint: customers, data: {displayName: B c1}}
                  - {name: d1, action: delete, endpoint: customers, id: "${{ steps.c1.id }}"}
                  - {name: c2, action: post, endpoint: customers, data: {displayName: B c2}}
                """
            let path = try writeManifest(dir, "m.yaml", text)
            let first = try await Self.run(["batch", "run", "-p", "sandbox", path], env)
            let id = try #require(runID(fromStderr: first.stderr), "\(first.stderr)")
            let other = try writeManifest(dir, "other.yaml", text + "\n# edited\n")
            let differs = try await Self.run(["batch", "resume", id, "--manifest", other, "--reconcile"], env)
            #expect(differs.status == 8, "\(differs.stderr)")
            #expect(differs.stderr.contains("ran sha256:"), "\(differs.stderr)")
            let both = try await Self.run(["batch", "resume", id, "--manifest", path, "--reconcile"], env)
            #expect(both.status == 0, "\(both.out)\(both.stderr)")
            #expect(both.out.contains("step 2 d1 DELETE: applied [delete.gone]"), "\(both.out) \(both.stderr)")
            #expect(both.stderr.contains("nothing to resume"), "\(both.stderr)")
            #expect(try await sandbox.journal().count == 3)
            let store = try LedgerStore(root: dir.path + "/store")
            #expect(try store.run(id).state == .completed)
        }
    }
}

/// A reconciled run and its reconcile run travel in bundles: imported into another store (the
/// original first), the decisions, the reconciled status and the found record come along, and
/// the other store verifies clean.
@Suite struct RecoveryBundleTests {
    @Test func aReconcileRunExportsAndImportsWithItsDecisions() async throws {
        try requireBinary(Paths.bcli)
        try await withSandbox(faults: ["drop:method=POST,nth=1"]) { sandbox in
            let dir = TempDir("bcli-recover-bundle")
            let env = sandbox.env(store: dir.path + "/store")
            let path = try writeManifest(dir, "m.yaml", """
                name: bundled
                steps:
                  - {name: c1, action: post, endpoint: customers, data: {displayName: Q c1, city: Oslo}}
                """)
            let first = try await bcliAsync(["batch", "run", "-p", "sandbox", path], env: env)
            let id = try #require(runID(fromStderr: first.stderr), "\(first.stderr)")
            let reconciled = try await bcliAsync(["batch", "reconcile", id], env: env)
            #expect(reconciled.status == 0, "\(reconciled.stderr)")
            let store = try LedgerStore(root: dir.path + "/store")
            let rec = try #require(try store.ledger.children(of: id).first)
            for (run, file) in [(id, "a.tar"), (rec, "b.tar")] {
                let e = try await bcliAsync(["batch", "export", run, "-o", dir.path + "/" + file], env: env)
                #expect(e.status == 0, "\(e.stderr)")
                let v = try await bcliAsync(["batch", "verify", "--bundle", dir.path + "/" + file], env: ["BCLI_STORE": dir.path + "/none"])
                #expect(v.status == 0, "\(v.out) \(v.stderr)")
            }
            let other = ["BCLI_STORE": dir.path + "/other"]
            for file in ["a.tar", "b.tar", "b.tar"] {  // the second import of b adds nothing
                let i = try await bcliAsync(["batch", "import", dir.path + "/" + file], env: other)
                #expect(i.status == 0, "\(file): \(i.stderr)")
            }
            let there = try LedgerStore(root: dir.path + "/other")
            let step = try #require(try there.ledger.steps(runID: id).first)
            #expect(step.status == .reconciledApplied)
            #expect(try there.ledger.reconciliations(ofSteps: [step.id]).map(\.rule) == ["post.one-match"])
            let verify = try await bcliAsync(["batch", "verify", "--all"], env: other)
            #expect(verify.status == 0, "\(verify.out) \(verify.stderr)")
        }
    }
}
