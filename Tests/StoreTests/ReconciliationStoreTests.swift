import Foundation
import GRDB
import Hashing
import Testing
import TestSupport
@testable import Store

/// Migrations 8 and 9 and `Ledger.writeReconciliation`: an unknown step gets a decided status
/// only with a reconciliation row beside it, the run's state follows, and `verify` accepts exactly
/// those changes to a finished run.
@Suite struct ReconciliationStoreTests {
    /// A run with steps 1 committed, 2 unknown (POST), 3 unknown (DELETE), finished in_doubt.
    static func inDoubtRun(_ store: LedgerStore) throws -> (runID: String, post: Int64, delete: Int64) {
        var run = NewRun(toolVersion: "t")
        run.stepCount = 3
        run.manifest = try store.put(Array("steps: []\n".utf8), mediaType: "application/yaml")
        try store.ledger.startRun(run)
        _ = try addStep(store, run: run.id, seq: 1, status: .committed)
        let post = try addStep(store, run: run.id, seq: 2, status: nil)
        let delete = try addStep(store, run: run.id, seq: 3, status: nil, method: "DELETE")
        _ = try store.finishRun(run.id, state: .running)
        return (run.id, post, delete)
    }

    static func reconcileRun(_ store: LedgerStore, parent: String) throws -> String {
        var run = NewRun(toolVersion: "t")
        run.kind = .reconcile
        run.parentRunID = parent
        try store.ledger.startRun(run)
        return run.id
    }

    @Test func anUpgradedStoreKeepsItsRowsAndTakesTheNewStatusesAndKinds() throws {
        let dir = TempDir()
        let path = dir.path + "/old.sqlite3"
        let old = try DatabaseQueue(path: path)
        try Schema.migrator.migrate(old, upTo: "7-step-pages")
        let runID = RunID.generate(), rollbackID = RunID.generate()
        try old.write { db in
            for (id, kind, parent) in [(runID, "batch", nil), (rollbackID, "rollback", runID)] as [(String, String, String?)] {
                try db.execute(sql: "INSERT INTO run (id, kind, parent_run_id, state, started_at, tool_version, durability, step_count) VALUES (?, ?, ?, 'running', '2026-01-01T00:00:00.000000Z', '0.0.1', 'process', 2)", arguments: [id, kind, parent])
            }
            try db.execute(sql: "INSERT INTO step (id, run_id, seq, name, method, url, client_request_id, intent_at, outcome_at, status) VALUES (7, ?, 1, 'a', 'GET', 'u', 'c1', 't', 't', 'committed')", arguments: [runID])
            try db.execute(sql: "INSERT INTO step (id, run_id, seq, name, method, url, client_request_id, intent_at) VALUES (8, ?, 2, 'b', 'POST', 'u', 'c2', 't')", arguments: [runID])
            try db.execute(sql: "INSERT INTO step (id, run_id, seq, name, method, url, client_request_id, intent_at, outcome_at, status, target_step_id) VALUES (9, ?, 1, 'undo', 'DELETE', 'u', 'c3', 't', 't', 'committed', 7)", arguments: [rollbackID])
            try db.execute(sql: "INSERT INTO step_page (step_id, page, url) VALUES (7, 1, 'u'), (7, 2, 'u2')")
        }
        try old.close()
        let ledger = try Ledger(path: path)
        #expect(try ledger.appliedMigrations().suffix(3) == ["8-recovery-kinds-statuses", "9-reconciliation", "10-inline-objects"])
        let steps = try ledger.steps(runID: runID)
        #expect(steps.map(\.id) == [7, 8])
        #expect(steps[0].pages.count == 2)
        #expect(try ledger.steps(runID: rollbackID).first?.targetStepID == 7)
        #expect(try ledger.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM pragma_foreign_key_check") } == 0)
        let indexes = try ledger.read { db in try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name IN ('run','step') AND name NOT LIKE 'sqlite_%' ORDER BY name") }
        #expect(indexes == ["run_parent", "run_started_at", "step_client_request_id", "step_idempotency_key", "step_target"])
        // The new kinds and statuses are accepted; an unknown one is still refused.
        var reconcile = NewRun(toolVersion: "t")
        reconcile.kind = .reconcile
        reconcile.parentRunID = runID
        try ledger.startRun(reconcile)
        try ledger.writeReconciliation(NewReconciliation(reconcileRunID: reconcile.id, targetStepID: 8, decision: .applied,
                                                         rule: "post.one-match", detail: "found"))
        #expect(try ledger.step(id: 8)?.status == .reconciledApplied)
        #expect(throws: (any Error).self) {
            try ledger.write { db in try db.execute(sql: "UPDATE step SET status = 'reconciled' WHERE id = 7") }
        }
    }

    @Test func appliedAndNotAppliedDecideTheStepUndecidableLeavesItUnknown() throws {
        let dir = TempDir()
        let store = try makeStore(dir)
        let (runID, post, delete) = try Self.inDoubtRun(store)
        #expect(try store.run(runID).state == .inDoubt)
        let rec = try Self.reconcileRun(store, parent: runID)

        var undecided = NewReconciliation(reconcileRunID: rec, targetStepID: delete, decision: .undecidable,
                                          rule: "delete.no-pre-image", detail: "nothing proves it existed")
        undecided.candidates = []
        try store.ledger.writeReconciliation(undecided)
        #expect(try store.ledger.step(id: delete)?.status == nil)

        let record = try store.put(Array(#"{"id":"r-1","number":"C1"}"#.utf8), mediaType: "application/json")
        var applied = NewReconciliation(reconcileRunID: rec, targetStepID: post, decision: .applied, rule: "post.one-match", detail: "one match")
        (applied.recordID, applied.etag, applied.record, applied.rollbackURL) = ("r-1", "W/\"7\"", record, "http://127.0.0.1/x(r-1)")
        try store.ledger.writeReconciliation(applied)
        let step = try #require(try store.ledger.step(id: post))
        #expect(step.status == .reconciledApplied)
        #expect(step.outcomeAt != nil)
        #expect((step.recordID, step.etag, step.rollbackURL) == ("r-1", "W/\"7\"", "http://127.0.0.1/x(r-1)"))
        // A decided step is never decided again.
        #expect(throws: StoreError.self) {
            try store.ledger.writeReconciliation(NewReconciliation(reconcileRunID: rec, targetStepID: post, decision: .notApplied, rule: "x", detail: "y"))
        }
        #expect(try store.run(runID).state == .inDoubt)  // the DELETE is still unknown

        let second = try Self.reconcileRun(store, parent: runID)
        try store.ledger.writeReconciliation(NewReconciliation(reconcileRunID: second, targetStepID: delete, decision: .notApplied,
                                                               rule: "delete.still-there", detail: "still there"))
        let run = try store.run(runID)
        #expect(run.counts.reconciledApplied == 1)
        #expect(run.counts.reconciledNotApplied == 1)
        #expect(run.state == .partiallyCommitted)
        let all = try store.ledger.reconciliations(ofSteps: [post, delete])
        #expect(all.map(\.decision) == [.undecidable, .applied, .notApplied])
        #expect(try store.ledger.children(of: runID) == [rec, second])
        #expect(try store.ledger.runs(Ledger.RunFilter(state: .partiallyCommitted)).map(\.id) == [runID])
    }

    @Test func verifyAcceptsAReconciledFinishedRunButNotAnEditedStatus() throws {
        let dir = TempDir()
        let store = try makeStore(dir)
        let (runID, post, delete) = try Self.inDoubtRun(store)
        let rec = try Self.reconcileRun(store, parent: runID)
        var applied = NewReconciliation(reconcileRunID: rec, targetStepID: post, decision: .applied, rule: "post.one-match", detail: "one")
        (applied.recordID, applied.record) = ("r-9", try store.put(Array(#"{"id":"r-9"}"#.utf8), mediaType: "application/json"))
        try store.ledger.writeReconciliation(applied)
        _ = try store.finishRun(rec, state: .completed)
        let clean = try StoreVerifier.verifyAll(in: store)
        #expect(clean.problems.isEmpty, "\(clean.problems)")

        // A status edited by hand (no reconciliation) is reported, as is an edited decision.
        try store.ledger.write { db in
            try db.execute(sql: "UPDATE step SET status = 'reconciled_not_applied', outcome_at = 'x' WHERE id = ?", arguments: [delete])
        }
        let edited = try StoreVerifier.verifyAll(in: store)
        #expect(edited.problems.contains { $0.detail.contains("no reconcile run decided it") }, "\(edited.problems)")
        // A decided step edited to another status (not_applied → committed) is a row change too.
        try store.ledger.write { db in
            try db.execute(sql: "UPDATE step SET status = 'committed' WHERE id = ?", arguments: [post])
        }
        let flipped = try StoreVerifier.verifyAll(in: store)
        #expect(flipped.problems.contains { $0.subject.contains("status") && $0.detail.contains("record \"unknown\"") }, "\(flipped.problems)")
        try store.ledger.write { db in try db.execute(sql: "UPDATE reconciliation SET detail = 'changed'") }
        let changed = try StoreVerifier.verifyAll(in: store)
        #expect(changed.problems.contains { $0.subject == "reconciliations" }, "\(changed.problems)")
    }
}
