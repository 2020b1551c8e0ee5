import Foundation
import GRDB
import Testing
import TestSupport
import Hashing
@testable import Store

@Suite struct LedgerSchemaTests {
    @Test func pragmasPerDurability() throws {
        let dir = TempDir()
        let process = try Ledger(path: dir.path + "/p.sqlite3", durability: .process)
        #expect(try process.pragma("journal_mode") == "wal")
        #expect(try process.pragma("synchronous") == "1")  // NORMAL
        #expect(try process.pragma("foreign_keys") == "1")
        let full = try Ledger(path: dir.path + "/f.sqlite3", durability: .full)
        #expect(try full.pragma("synchronous") == "2")  // FULL
        // Checkpoints (two fdatasyncs each, even at NORMAL) every 8,192 WAL pages, not SQLite's
        // 1,000, and the WAL cut back to 32 MiB after one (docs/performance.md, "Issue 12").
        for ledger in [process, full] {
            #expect(try ledger.pragma("wal_autocheckpoint") == "8192")
            #expect(try ledger.pragma("journal_size_limit") == "\(8192 * 4096)")
        }
    }

    @Test func tablesAndMigrations() throws {
        let dir = TempDir()
        let ledger = try Ledger(path: dir.path + "/l.sqlite3")
        #expect(try ledger.appliedMigrations() == ["1-core-tables", "2-lookup-indexes", "3-pruned-runs", "4-run-states-step-count", "5-refs-head-file", "6-imported-runs", "7-step-pages", "8-recovery-kinds-statuses", "9-reconciliation", "10-inline-objects"])
        let tables = try ledger.read { db in
            try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
        }
        #expect(tables == ["grdb_migrations", "imported_run", "imported_step", "object", "object_data", "pruned_run", "reconciliation", "ref", "run", "step", "step_page"])
    }

    @Test(arguments: ["bogus", "RUNNING", ""])
    func runStateCheckConstraint(state: String) throws {
        let dir = TempDir()
        let store = try makeStore(dir)
        expectConstraint(.SQLITE_CONSTRAINT_CHECK) {
            try store.ledger.queue.write { db in
                try db.execute(sql: "INSERT INTO run (id, kind, state, started_at, tool_version, durability) VALUES (?, 'batch', ?, 'now', 't', 'process')",
                               arguments: [RunID.generate(), state])
            }
        }
    }

    @Test func kindAndIdAndDigestChecks() throws {
        let dir = TempDir()
        let store = try makeStore(dir)
        let insert = "INSERT INTO run (id, kind, state, started_at, tool_version, durability) VALUES (?, ?, 'running', 'now', 't', 'process')"
        expectConstraint(.SQLITE_CONSTRAINT_CHECK) { try store.ledger.queue.write { try $0.execute(sql: insert, arguments: [RunID.generate(), "replay"]) } }
        expectConstraint(.SQLITE_CONSTRAINT_CHECK) { try store.ledger.queue.write { try $0.execute(sql: insert, arguments: ["../../etc", "batch"]) } }
        expectConstraint(.SQLITE_CONSTRAINT_CHECK) {
            try store.ledger.queue.write {
                try $0.execute(sql: "INSERT INTO object (digest, size, created_at) VALUES (?, 1, 'now')", arguments: [String(repeating: "A", count: 64)])
            }
        }
        // Every state in the enum is accepted.
        for state in RunState.allCases {
            try store.ledger.queue.write { try $0.execute(sql: insert.replacingOccurrences(of: "'running'", with: "'\(state.rawValue)'"), arguments: [RunID.generate(), "batch"]) }
        }
    }

    @Test func stepStatusCheckAndForeignKeys() throws {
        let dir = TempDir()
        let store = try makeStore(dir)
        let run = try startRun(store)
        let id = try addStep(store, run: run, seq: 1, status: nil)
        expectConstraint(.SQLITE_CONSTRAINT_CHECK) {
            try store.ledger.queue.write { try $0.execute(sql: "UPDATE step SET status = 'done', outcome_at = 'x' WHERE id = ?", arguments: [id]) }
        }
        // A row may not name a blob the object index does not know.
        expectConstraint(.SQLITE_CONSTRAINT_FOREIGNKEY) {
            try store.ledger.queue.write {
                try $0.execute(sql: "UPDATE step SET response_digest = ? WHERE id = ?", arguments: [String(repeating: "0", count: 64), id])
            }
        }
        // A step must belong to a run.
        var orphan = StepIntent(runID: RunID.generate(), seq: 1, name: "x", method: "GET", url: "u")
        orphan.clientRequestID = "c"
        expectDatabaseError(containing: "FOREIGN KEY constraint failed") { try store.ledger.writeIntent(orphan) }
    }

    @Test func duplicateRunIDIsRefused() throws {
        let dir = TempDir()
        let store = try makeStore(dir)
        var run = NewRun(toolVersion: "t")
        try store.ledger.startRun(run)
        run.name = "again"
        expectDatabaseError(containing: "UNIQUE constraint failed: run.id") { try store.ledger.startRun(run) }
    }

    /// Forward-only migration from an older schema file: rows written at schema 1 survive.
    @Test func migratesFromAnOlderSchemaFile() throws {
        let dir = TempDir()
        let path = dir.path + "/old.sqlite3"
        let old = try DatabaseQueue(path: path)
        try Schema.migrator.migrate(old, upTo: "1-core-tables")
        let runID = RunID.generate()
        try old.write { db in
            try db.execute(sql: "INSERT INTO run (id, kind, state, started_at, finished_at, tool_version, durability) VALUES (?, 'batch', 'completed', '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:01.000000Z', '0.0.1', 'process')", arguments: [runID])
            try db.execute(sql: "INSERT INTO step (run_id, seq, name, method, url, client_request_id, intent_at, outcome_at, status) VALUES (?, 1, 'a', 'GET', 'u', 'c', 't', 't', 'committed')", arguments: [runID])
        }
        try old.close()
        let ledger = try Ledger(path: path)
        #expect(try ledger.appliedMigrations() == ["1-core-tables", "2-lookup-indexes", "3-pruned-runs", "4-run-states-step-count", "5-refs-head-file", "6-imported-runs", "7-step-pages", "8-recovery-kinds-statuses", "9-reconciliation", "10-inline-objects"])
        let run = try ledger.run(runID)
        #expect(run.state == .completed)
        #expect(try ledger.steps(runID: runID).count == 1)
        let indexes = try ledger.read { db in try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'index' AND name = 'step_client_request_id'") }
        #expect(indexes == ["step_client_request_id"])
    }

    @Test func refusesAStoreFromANewerBcli() throws {
        let dir = TempDir()
        let path = dir.path + "/new.sqlite3"
        _ = try Ledger(path: path)
        let q = try DatabaseQueue(path: path)
        try q.write { try $0.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('9-from-the-future')") }
        try q.close()
        do {
            _ = try Ledger(path: path)
            Issue.record("a newer schema must be refused")
        } catch {
            guard case .newerSchema(let unknown) = error else { Issue.record("\(error)"); return }
            #expect(unknown == ["9-from-the-future"])
            #expect(error.description.contains("upgrade bcli"))
        }
    }
}

@Suite struct LedgerWriteReadTests {
    @Test func intentThenOutcome() throws {
        let dir = TempDir()
        let store = try makeStore(dir)
        let run = try startRun(store)
        var intent = StepIntent(runID: run, seq: 1, name: "create", method: "POST", url: "http://x/customers")
        let req = try store.put(bytes("{\"a\":1}"), mediaType: "application/json")
        intent.request = req
        intent.idempotencyKey = "k1"
        let stepID = try store.ledger.writeIntent(intent)
        // Intent committed: visible from a second connection before any outcome.
        let other = try Ledger(path: store.ledger.path)
        let before = try other.steps(runID: run)
        #expect(before.count == 1)
        #expect(before[0].status == nil)
        #expect(before[0].statusName == "unknown")
        #expect(before[0].requestDigest == req.digest)
        #expect(before[0].clientRequestID == intent.clientRequestID)
        var o = StepOutcome(status: .committed)
        o.httpStatus = 201
        o.etag = "W/\"1\""
        o.recordID = "abc"
        o.requestID = "rid"
        o.bcErrorCode = nil
        o.response = try store.put(bytes("{\"id\":\"abc\"}"), mediaType: "application/json")
        o.rollbackURL = "http://x/customers(abc)"
        try store.ledger.writeOutcome(stepID: stepID, o)
        let after = try other.steps(runID: run)[0]
        #expect(after.status == .committed)
        #expect(after.httpStatus == 201)
        #expect(after.etag == "W/\"1\"")
        #expect(after.rollbackURL == "http://x/customers(abc)")
        #expect(after.outcomeAt != nil)
        #expect(after.idempotencyKey == "k1")
        #expect(after.digests.map(\.role) == ["request", "response"])
    }

    /// `writeOutcome` runs one prepared UPDATE whose columns are listed apart from its
    /// arguments: every outcome field must land in its own column, none shifted or dropped.
    @Test func everyOutcomeFieldLandsInItsColumn() throws {
        let dir = TempDir()
        let store = try makeStore(dir)
        let run = try startRun(store)
        for seq in 1...2 {  // twice: the second write reuses the cached statement
            let id = try addStep(store, run: run, seq: seq, status: nil)
            var o = StepOutcome(status: seq == 1 ? .committed : .failed)
            o.httpStatus = 200 + seq
            o.response = try store.put(bytes("{\"r\":\(seq)}"), mediaType: "application/json")
            o.responseHeaders = try store.put(bytes("[[\"h\",\"\(seq)\"]]"), mediaType: "application/json")
            (o.etag, o.recordID, o.requestID, o.msCorrelationX) = ("e\(seq)", "rec\(seq)", "req\(seq)", "msx\(seq)")
            (o.correlationRequestID, o.bcErrorCode, o.bcErrorMessage) = ("corr\(seq)", "code\(seq)", "msg\(seq)")
            (o.bcCorrelationID, o.rollbackURL, o.errorMessage, o.durationMs) = ("bcc\(seq)", "http://x(\(seq))", "err\(seq)", 10 + seq)
            try store.ledger.writeOutcome(stepID: id, o)
            let s = try #require(try store.ledger.step(id: id))
            #expect(s.status == o.status && s.httpStatus == 200 + seq && s.outcomeAt != nil)
            #expect(s.responseDigest == o.response?.digest && s.responseHeadersDigest == o.responseHeaders?.digest)
            #expect([s.etag, s.recordID, s.requestID, s.msCorrelationX] == ["e\(seq)", "rec\(seq)", "req\(seq)", "msx\(seq)"])
            #expect([s.correlationRequestID, s.bcErrorCode, s.bcErrorMessage] == ["corr\(seq)", "code\(seq)", "msg\(seq)"])
            #expect([s.bcCorrelationID, s.rollbackURL, s.errorMessage] == ["bcc\(seq)", "http://x(\(seq))", "err\(seq)"])
            #expect(s.durationMs == 10 + seq)
        }
    }

    @Test func outcomeForUnknownStepIsAnError() throws {
        let dir = TempDir()
        let store = try makeStore(dir)
        expectStoreError(.invalidState("no step with id 999 to record an outcome for")) {
            try store.ledger.writeOutcome(stepID: 999, StepOutcome(status: .committed))
        }
    }

    @Test func skippedStepsCarryTheReason() throws {
        let dir = TempDir()
        let store = try makeStore(dir)
        let run = try startRun(store)
        try store.ledger.writeSkipped(StepIntent(runID: run, seq: 1, name: "a", method: "POST", url: "customers"),
                                      reason: "Reference to failed step 'x'")
        let s = try store.ledger.steps(runID: run)[0]
        #expect(s.status == .skipped)
        #expect(s.errorMessage == "Reference to failed step 'x'")
        #expect(s.requestDigest == nil)
    }

    @Test func resolveRunIDPrefixes() throws {
        let dir = TempDir()
        let store = try makeStore(dir)
        var a = NewRun(toolVersion: "t"); a.id = "aaaaaa" + String(repeating: "1", count: 26)
        var b = NewRun(toolVersion: "t"); b.id = "aaaaaa" + String(repeating: "2", count: 26)
        try store.ledger.startRun(a)
        try store.ledger.startRun(b)
        #expect(try store.ledger.resolveRunID("aaaaaa1") == a.id)
        #expect(try store.ledger.resolveRunID(b.id) == b.id)
        #expect(try store.ledger.resolveRunID("AAAAAA2") == b.id)
        expectStoreError(.ambiguousRunID("aaaaaa", candidates: [a.id, b.id])) { _ = try store.ledger.resolveRunID("aaaaaa") }
        expectStoreError(.invalidRunID("aaaaa")) { _ = try store.ledger.resolveRunID("aaaaa") }  // too short
        expectStoreError(.runNotFound("bbbbbbb")) { _ = try store.ledger.resolveRunID("bbbbbbb") }
        expectStoreError(.invalidRunID("aaaaaa/../")) { _ = try store.ledger.resolveRunID("aaaaaa/../") }
    }

    @Test func listNewestFirstWithFilters() throws {
        let dir = TempDir()
        let store = try makeStore(dir)
        var ids: [String] = []
        for i in 0..<5 {
            var r = NewRun(toolVersion: "t")
            r.id = String(format: "%012x", 1000 + i) + String(repeating: "0", count: 20)
            r.stepCount = 1
            try store.ledger.startRun(r)
            try store.ledger.queue.write { try $0.execute(sql: "UPDATE run SET started_at = ? WHERE id = ?", arguments: ["2026-0\(i + 1)-01T00:00:00.000000Z", r.id]) }
            ids.append(r.id)
            _ = try addStep(store, run: r.id, seq: 1, status: .committed)
            if i % 2 == 0 { try store.finishRun(r.id, state: .completed) }
        }
        let all = try store.runs()
        #expect(all.map(\.id) == ids.reversed())
        #expect(all[0].counts.total == 1)
        #expect(all[0].counts.committed == 1)
        #expect(try store.runs(.init(limit: 2)).map(\.id) == Array(ids.reversed().prefix(2)))
        #expect(try store.runs(.init(since: "2026-04-01T00:00:00.000000Z")).map(\.id) == [ids[4], ids[3]])
        // Unfinished runs with all steps committed derive `completed` and match the filter too.
        #expect(try store.runs(.init(state: .completed)).count == 5)
        #expect(try store.runs(.init(state: .failed)).isEmpty)
    }
}

/// The derivation through a real store (the rule itself is tested row by row in
/// `RunStateRuleTests`): what an unfinished or finished run reads from its rows and its lock.
@Suite struct RunStateDerivationTests {
    func derive(_ statuses: [StepStatus?], finish: RunState? = nil, lock: Bool = false, stepCount: Int? = nil,
                restamp: RunState? = nil) throws -> RunRecord {
        let dir = TempDir()
        let store = try makeStore(dir)
        var row = NewRun(toolVersion: "test")
        row.stepCount = stepCount
        try store.ledger.startRun(row)
        let run = row.id
        var held: RunLock?
        if lock { held = try store.lock(runID: run) }
        for (i, s) in statuses.enumerated() {
            let id = try addStep(store, run: run, seq: i + 1, status: s == .rolledBack || s == .rollbackSkipped ? .committed : s)
            if let s, s == .rolledBack || s == .rollbackSkipped { try store.ledger.setStepStatus(stepID: id, s) }
        }
        if let finish { try store.finishRun(run, state: finish) }
        if let restamp { try store.ledger.restampRun(run, state: restamp) }
        let record = try store.run(run)
        _ = held
        return record
    }

    @Test func anOldFinishedRunKeepsItsStampUnlessAStepIsUnknown() throws {
        let r = try derive([.committed, .failed], finish: .failed)
        #expect(r.state == .failed)
        #expect(!r.interrupted)
        #expect(try derive([.committed, nil], finish: .failed).state == .inDoubt)
    }

    @Test func noStepsIsRunningWhileLocked() throws {
        let r = try derive([], lock: true)
        #expect(r.state == .running)
        #expect(!r.interrupted)
    }

    @Test func noStepsWithoutLockIsInterrupted() throws {
        let r = try derive([])
        #expect(r.state == .interrupted)
        #expect(r.interrupted)
    }

    @Test func rolledBackTakesTheRollbacksStamp() throws {
        #expect(try derive([.rolledBack, .rollbackSkipped], restamp: .rolledBack).state == .rolledBack)
        #expect(try derive([.rolledBack, .rollbackSkipped]).state == .interrupted)
    }

    /// The SIGKILL shape: a committed step, then an intent with no outcome, no finished_at.
    @Test func committedPlusIntentOnlyIsInDoubt() throws {
        let r = try derive([.committed, nil])
        #expect(r.state == .inDoubt)
        #expect(r.finishedAt == nil)
        #expect(r.interrupted)
        #expect(r.counts.unknown == 1)
    }

    @Test func anUnfinishedRunShortOfItsStepsIsInterrupted() throws {
        #expect(try derive([.committed, .failed]).state == .interrupted)
        #expect(try derive([.committed, .committed], stepCount: 3).state == .interrupted)
        #expect(try derive([.failed, .failed]).state == .interrupted)
        #expect(try derive([.skipped]).state == .interrupted)
    }

    @Test func completedNeedsEveryManifestStep() throws {
        #expect(try derive([.committed, .committed], stepCount: 2).state == .completed)
        #expect(try derive([.replayed, .committed], stepCount: 2).state == .completed)
        #expect(try derive([.committed, .skipped], stepCount: 2).state == .interrupted)
        #expect(try derive([.committed, .committed]).state == .interrupted)  // no step count: cannot prove it
    }

    @Test func onlyIntentsIsInDoubt() throws {
        let r = try derive([nil])
        #expect(r.state == .inDoubt)
        #expect(r.interrupted)
        let locked = try derive([nil], lock: true)
        #expect(locked.state == .running)
        #expect(!locked.interrupted)
        #expect(try derive([.failed, nil]).state == .inDoubt)
    }
}

@Suite struct RunRecordChainTests {
    @Test func finishedRunsChainLikeCommits() throws {
        let dir = TempDir()
        let store = try makeStore(dir)
        let first = try startRun(store, name: "first")
        _ = try addStep(store, run: first, seq: 1, status: .committed)
        let d1 = try store.finishRun(first, state: .completed)
        let second = try startRun(store, name: "second")
        _ = try addStep(store, run: second, seq: 1, status: .failed)
        let d2 = try store.finishRun(second, state: .failed)
        #expect(try store.ledger.ref(LedgerStore.headRef) == d2)
        let r1 = try store.run(first)
        let r2 = try store.run(second)
        #expect(r1.recordDigest == d1)
        #expect(r1.previousRecordDigest == nil)
        #expect(r2.previousRecordDigest == d1)
        let doc = try JSONValue(parsing: try store.objects.get(d2))
        #expect(doc["previous_record"]?.stringValue == d1.description)
        #expect(doc["run"]?["id"]?.stringValue == second)
        #expect(doc["run"]?["state"]?.stringValue == "failed")
        #expect(doc["steps"]?.arrayValue?.count == 1)
        // The record is stored as canonical bytes: re-encoding gives the same digest.
        #expect(SHA256.hash(try doc.canonicalBytes()) == d2)
    }

    @Test func runLockIsExclusiveAndReleased() throws {
        let dir = TempDir()
        let store = try makeStore(dir)
        let run = try startRun(store)
        let lock = try store.lock(runID: run)
        #expect(RunLock.isHeld(store: store.root, runID: run))
        expectStoreError(.runLocked(run)) { _ = try store.lock(runID: run) }
        lock.release()
        #expect(!RunLock.isHeld(store: store.root, runID: run))
        _ = try store.lock(runID: run)
    }
}
