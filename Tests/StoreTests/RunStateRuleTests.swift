import Foundation
import GRDB
import Testing
import TestSupport
import Hashing
@testable import Store

/// One rule decides a run's state (`RunStateRule.derive`), its SQL
/// twin filters `list --state`, and a store made before the rule existed upgrades in place.
@Suite struct RunStateRuleTests {
    static func counts(_ statuses: [StepStatus?]) -> StepCounts {
        var c = StepCounts()
        c.total = statuses.count
        for s in statuses {
            switch s {
            case nil: c.unknown += 1
            case .committed?: c.committed += 1
            case .replayed?: c.committed += 1; c.replayed += 1
            case .failed?: c.failed += 1
            case .skipped?: c.skipped += 1
            case .rolledBack?: c.rolledBack += 1
            case .rollbackSkipped?: c.rollbackSkipped += 1
            case .rollbackFailed?: c.rollbackFailed += 1
            case .reconciledApplied?: c.reconciledApplied += 1
            case .reconciledNotApplied?: c.reconciledNotApplied += 1
            }
        }
        return c
    }

    static func derive(_ statuses: [StepStatus?], stamped: RunState = .running, finished: Bool = false, lock: Bool = false,
                       kind: RunKind = .batch, n: Int? = 3) -> RunState {
        RunStateRule.derive(stamped: stamped, finished: finished, lockHeld: lock, kind: kind, stepCount: n, counts: counts(statuses))
    }

    // MARK: - The table, row by row

    @Test func row1ALiveRunIsRunningWhateverItsSteps() {
        #expect(Self.derive([], lock: true) == .running)
        #expect(Self.derive([nil], lock: true) == .running)
        #expect(Self.derive([.committed, .committed, .committed], lock: true) == .running)
        // The lock means nothing once the run finished (rollback holds it while it undoes a run).
        #expect(Self.derive([.committed, .committed, .committed], stamped: .completed, finished: true, lock: true) == .completed)
    }

    @Test func row2AnUnknownStepIsInDoubtNeverFailedNorCompleted() {
        #expect(Self.derive([nil, nil, nil], stamped: .failed, finished: true) == .inDoubt)  // every write unknown
        #expect(Self.derive([.committed, .committed, nil], finished: true) == .inDoubt)
        #expect(Self.derive([.committed, nil]) == .inDoubt)                                   // killed mid-request
        #expect(Self.derive([.committed, nil], stamped: .cancelled, finished: true) == .inDoubt)
        #expect(Self.derive([.rolledBack, nil], stamped: .rolledBack) == .inDoubt)
        #expect(Self.derive([nil], n: nil) == .inDoubt)                                        // an old run too
        #expect(Self.derive([.failed, nil], stamped: .failed, finished: true, n: nil) == .inDoubt)
    }

    @Test func row3StampedRolledBackIsRolledBack() {
        #expect(Self.derive([.rolledBack, .rollbackSkipped], stamped: .rolledBack) == .rolledBack)
        #expect(Self.derive([.rolledBack, .failed], stamped: .rolledBack, finished: true) == .rolledBack)
        // Marks alone do not make a run rolled back: only `batch rollback`'s stamp does.
        #expect(Self.derive([.rolledBack, .rollbackFailed]) == .interrupted)
        #expect(Self.derive([.rolledBack, .rolledBack], n: 2) == .completed)
    }

    @Test func row4CancelledStaysCancelled() {
        #expect(Self.derive([.committed], stamped: .cancelled, finished: true) == .cancelled)
        #expect(Self.derive([.committed, .committed, .committed], stamped: .cancelled, finished: true) == .cancelled)
    }

    @Test func row5CompletedOnlyWhenEveryManifestStepLanded() {
        #expect(Self.derive([.committed, .committed, .committed], finished: true) == .completed)
        #expect(Self.derive([.committed, .replayed, .committed], finished: true) == .completed)
        // Killed after the last outcome, before the stamp: every step is in, so it is complete.
        #expect(Self.derive([.committed, .committed, .committed]) == .completed)
        // A partial rollback does not change what the run did.
        #expect(Self.derive([.rolledBack, .rollbackFailed, .rollbackSkipped], stamped: .completed, finished: true) == .completed)
        #expect(Self.derive([.committed, .committed, .skipped], finished: true) == .partiallyCommitted)
        #expect(Self.derive([], finished: true, n: 0) == .completed)
        // A rollback run's skipped compensation was a decision, not a failure.
        #expect(Self.derive([.committed, .skipped], finished: true, kind: .rollback, n: 2) == .completed)
    }

    @Test func row6AnUnfinishedDeadRunIsInterrupted() {
        #expect(Self.derive([]) == .interrupted)
        #expect(Self.derive([.committed]) == .interrupted)                  // 1 of 3 steps
        #expect(Self.derive([.committed, .committed]) == .interrupted)
        #expect(Self.derive([.failed]) == .interrupted)
        #expect(Self.derive([.skipped]) == .interrupted)
        #expect(Self.derive([.committed, .committed], n: nil) == .interrupted)  // old runs can't prove completion
        #expect(Self.derive([.rolledBack, .rollbackFailed], n: 40) == .interrupted)  // a partial rollback
    }

    @Test func row7AnOldFinishedRunKeepsItsStamp() {
        for s in [RunState.completed, .partiallyCommitted, .failed, .cancelled] {
            #expect(Self.derive([.committed], stamped: s, finished: true, n: nil) == s)
        }
    }

    @Test func rows8And9FinishedShortOfTheManifest() {
        #expect(Self.derive([.committed, .failed], finished: true) == .partiallyCommitted)
        #expect(Self.derive([.committed], finished: true) == .partiallyCommitted)  // fail-fast stopped it
        #expect(Self.derive([.failed, .skipped], finished: true) == .failed)
        #expect(Self.derive([.failed], finished: true) == .failed)
        #expect(Self.derive([], finished: true) == .failed)
    }

    // MARK: - A rollback run's stamp, row by row

    static func rollback(cancelled: Bool = false, undone: Int = 0, failed: Int = 0, skipped: Int = 0, items: Int? = nil) -> RunState {
        RunStateRule.rollbackStamp(cancelled: cancelled, items: items ?? undone + failed + skipped,
                                   undone: undone, failed: failed, skipped: skipped)
    }

    @Test func rollbackRow4ACancelledRollbackIsCancelled() {
        #expect(Self.rollback(cancelled: true, undone: 1, items: 3) == .cancelled)
        #expect(Self.rollback(cancelled: true, failed: 1, items: 3) == .cancelled)
        #expect(Self.rollback(cancelled: true, items: 2) == .cancelled)          // stopped before the first item
        #expect(Self.rollback(cancelled: true, undone: 2, items: 2) == .cancelled)  // after the last: still the stamp
    }

    @Test func rollbackRow5NoFailedCompensationIsCompleted() {
        #expect(Self.rollback(undone: 3) == .completed)
        #expect(Self.rollback(undone: 1, skipped: 2) == .completed)  // skipped by decision: owed nothing
        #expect(Self.rollback(skipped: 2) == .completed)             // e.g. every write irreversible
        #expect(Self.rollback() == .completed)                       // an empty plan
    }

    @Test func rollbackRow8SomeFailedSomeUndoneIsPartiallyCommitted() {
        #expect(Self.rollback(undone: 1, failed: 1) == .partiallyCommitted)
        #expect(Self.rollback(undone: 2, failed: 1, skipped: 1) == .partiallyCommitted)
    }

    @Test func rollbackRow9FailedWithNothingUndoneIsFailed() {
        #expect(Self.rollback(failed: 1) == .failed)
        #expect(Self.rollback(failed: 2) == .failed)
        // A skip is a decision, not something undone: it does not make the rollback partial.
        #expect(Self.rollback(failed: 1, skipped: 2) == .failed)
    }

    /// The stamp equals the rule `RollbackExecutor` wrote by hand before it used
    /// `RunStateRule`, on every count of up to 4 of each (a rollback stops early only when
    /// cancelled, so otherwise the three counts add up to the plan's items).
    @Test func rollbackStampEqualsTheFormerHandWrittenRule() {
        for cancelled in [false, true] {
            for undone in 0...4 {
                for failed in 0...4 {
                    for skipped in 0...4 {
                        for extra in cancelled ? [0, 1, 3] : [0] {
                            let former: RunState = cancelled ? .cancelled
                                : (failed == 0 ? .completed : (undone > 0 ? .partiallyCommitted : .failed))
                            let stamp = Self.rollback(cancelled: cancelled, undone: undone, failed: failed, skipped: skipped,
                                                      items: undone + failed + skipped + extra)
                            #expect(stamp == former, "cancelled \(cancelled) undone \(undone) failed \(failed) skipped \(skipped)")
                        }
                    }
                }
            }
        }
    }

    /// What `state` and `list` then read for a rollback run (no step count: rule 7 keeps the
    /// stamp), whatever its step rows, unless one is unknown or the run never finished.
    @Test func aFinishedRollbackRunReadsItsStamp() {
        for stamp in [RunState.completed, .partiallyCommitted, .failed, .cancelled] {
            #expect(Self.derive([.committed, .failed, .skipped], stamped: stamp, finished: true, kind: .rollback, n: nil) == stamp)
            #expect(Self.derive([.committed, nil], stamped: stamp, finished: true, kind: .rollback, n: nil) == .inDoubt)
        }
        #expect(Self.derive([.committed], kind: .rollback, n: nil) == .interrupted)
        #expect(Self.derive([.committed], lock: true, kind: .rollback, n: nil) == .running)
    }

    @Test func neverRunningWhenDeadNeverInterruptedOrRunningWhenFinished() {
        for combo in Self.combinations() {
            let state = RunStateRule.derive(stamped: combo.stamped, finished: combo.finished, lockHeld: false, kind: combo.kind,
                                            stepCount: combo.n, counts: Self.counts(combo.statuses))
            if combo.finished {
                #expect(state != .interrupted || combo.n == nil)
                #expect(state != .running || combo.n == nil)
            } else {
                #expect(state != .running && state != .cancelled && state != .failed && state != .partiallyCommitted)
            }
            if combo.statuses.contains(where: { $0 == nil }) { #expect(state == .inDoubt) }
            if state == .completed, let n = combo.n, combo.kind == .batch { #expect(RunStateRule.landedCount(kind: .batch, counts: Self.counts(combo.statuses)) == n) }
        }
    }

    // MARK: - SQL agrees with Swift

    struct Combination {
        var stamped: RunState
        var finished: Bool
        var kind: RunKind
        var n: Int?
        var statuses: [StepStatus?]
    }

    /// Every stamp × finished × kind × step count (nil, 0…3) × multiset of up to 3 step statuses.
    static func combinations() -> [Combination] {
        let options: [StepStatus?] = [nil] + StepStatus.allCases.map { $0 }
        var multisets: [[StepStatus?]] = [[]]
        func extend(_ prefix: [StepStatus?], from start: Int, remaining: Int) {
            guard remaining > 0 else { return }
            for i in start..<options.count {
                let next = prefix + [options[i]]
                multisets.append(next)
                extend(next, from: i, remaining: remaining - 1)
            }
        }
        extend([], from: 0, remaining: 3)
        var out: [Combination] = []
        for stamped in RunState.allCases {
            for finished in [false, true] {
                for kind in RunKind.allCases {
                    for n in [nil, 0, 1, 2, 3] as [Int?] {
                        for statuses in multisets {
                            out.append(Combination(stamped: stamped, finished: finished, kind: kind, n: n, statuses: statuses))
                        }
                    }
                }
            }
        }
        return out
    }

    /// Writes every combination as a real run row with real step rows, then checks the SQL
    /// derivation (`RunQuery.derivedState`) against `RunStateRule.derive` for a run no process
    /// holds, and `Ledger.runs(state:)` (SQL filter + lock) against the Swift rule with locks.
    @Test func sqlDerivationAgreesWithTheSwiftRuleOnEveryCombination() throws {
        let dir = TempDir()
        let store = try makeStore(dir)
        let combos = Self.combinations()
        #expect(combos.count == 9 * 2 * RunKind.allCases.count * 5 * 286)  // 286 multisets of up to 3 of 10 statuses (unknown + 9); kinds batch, rollback, imported, reconcile, resume
        var expected: [String: RunState] = [:]
        var ids: [String] = []
        try store.ledger.queue.write { db in
            let insertRun = try db.makeStatement(sql: """
                INSERT INTO run (id, kind, state, started_at, finished_at, tool_version, durability, step_count)
                VALUES (?,?,?,?,?,?,?,?)
                """)
            let insertStep = try db.makeStatement(sql: """
                INSERT INTO step (run_id, seq, name, method, url, client_request_id, intent_at, outcome_at, status)
                VALUES (?,?,?,?,?,?,?,?,?)
                """)
            for (i, c) in combos.enumerated() {
                let id = String(format: "%032x", i + 1)
                ids.append(id)
                try insertRun.execute(arguments: [
                    id, c.kind.rawValue, c.stamped.rawValue, "2026-01-01T00:00:00.000000Z",
                    c.finished ? "2026-01-01T00:00:01.000000Z" : nil, "t", "process", c.n,
                ])
                for (j, s) in c.statuses.enumerated() {
                    try insertStep.execute(arguments: [
                        id, j + 1, "s\(j + 1)", "POST", "http://x", "crid-\(i)-\(j)", "2026-01-01T00:00:00.000000Z",
                        s == nil ? nil : "2026-01-01T00:00:00.500000Z", s?.rawValue,
                    ])
                }
                expected[id] = RunStateRule.derive(stamped: c.stamped, finished: c.finished, lockHeld: false, kind: c.kind,
                                                   stepCount: c.n, counts: Self.counts(c.statuses))
            }
        }
        let sqlStates = try store.ledger.queue.read { db in
            try Row.fetchAll(db, sql: "SELECT r.id, \(RunQuery.derivedState) AS derived FROM run r").map {
                ($0["id"] as String, $0["derived"] as String?)
            }
        }
        #expect(sqlStates.count == combos.count)
        var disagreements: [String] = []
        for (id, sql) in sqlStates where sql != expected[id]?.rawValue {
            let c = combos[ids.firstIndex(of: id)!]
            disagreements.append("\(c) → SQL \(sql ?? "NULL"), Swift \(expected[id]!.rawValue)")
        }
        #expect(disagreements.isEmpty, "\(disagreements.prefix(10))")

        // Decoding (Swift over the row) agrees too, with and without a held lock.
        let held: @Sendable (String) -> Bool = { id in (Int(id.suffix(4), radix: 16) ?? 0) % 3 == 0 }
        let all = try store.ledger.runs(lockHeld: held)
        #expect(all.count == combos.count)
        for run in all {
            let c = combos[Int(run.id, radix: 16)! - 1]
            #expect(run.state == RunStateRule.derive(stamped: c.stamped, finished: c.finished, lockHeld: held(run.id), kind: c.kind,
                                                     stepCount: c.n, counts: Self.counts(c.statuses)))
            #expect(run.interrupted == (!c.finished && !held(run.id)))
        }
        // `list --state X` returns exactly the runs that read X, for every state, lock applied.
        for state in RunState.allCases {
            let listed = Set(try store.ledger.runs(.init(state: state), lockHeld: held).map(\.id))
            let want = Set(all.filter { $0.state == state }.map(\.id))
            #expect(listed == want, "list --state \(state.rawValue): \(listed.count) listed, \(want.count) read that state; e.g. \(Array(listed.symmetricDifference(want).prefix(3)).map { id in combos[Int(id, radix: 16)! - 1] })")
            let limited = try store.ledger.runs(.init(state: state, limit: 7), lockHeld: held)
            #expect(limited.count == min(7, want.count))
            #expect(limited.allSatisfy { $0.state == state })
        }
    }

    // MARK: - Through the store

    /// The runner's path: step_count recorded at start, then the state read back as steps land.
    @Test func aRunShortOfItsManifestIsNeverCompletedInTheStore() throws {
        let dir = TempDir()
        let store = try makeStore(dir)
        var row = NewRun(toolVersion: "t")
        row.stepCount = 40
        try store.ledger.startRun(row)
        #expect(try store.ledger.run(row.id).stepCount == 40)
        for seq in 1...39 { try addStep(store, run: row.id, seq: seq, status: .committed) }
        let killed = try store.run(row.id)
        #expect(killed.state == .interrupted)
        #expect(killed.interrupted)
        #expect(try store.runs(.init(state: .completed)).isEmpty)
        #expect(try store.runs(.init(state: .interrupted)).map(\.id) == [row.id])
        #expect(try store.runs(.init(state: .running)).isEmpty)
        // While a process holds its lock it is running, and only then.
        let lock = try store.lock(runID: row.id)
        #expect(try store.run(row.id).state == .running)
        #expect(try store.runs(.init(state: .running)).map(\.id) == [row.id])
        #expect(try store.runs(.init(state: .interrupted)).isEmpty)
        lock.release()
        try addStep(store, run: row.id, seq: 40, status: .committed)
        #expect(try store.run(row.id).state == .completed)
        #expect(try store.runs(.init(state: .completed)).map(\.id) == [row.id])
    }

    /// The run record names the step count; the bundle carries it; a re-import keeps it.
    @Test func stepCountIsInTheRecordAndTheBundle() throws {
        let dir = TempDir()
        let store = try makeStore(dir)
        var row = NewRun(toolVersion: "t")
        row.stepCount = 2
        row.manifest = try store.put(bytes("name: t\nsteps: []\n"), mediaType: "application/yaml")
        try store.ledger.startRun(row)
        try addStep(store, run: row.id, seq: 1, status: .committed)
        try addStep(store, run: row.id, seq: 2, status: nil)
        let state = RunStateRule.derive(stamped: .running, finished: true, lockHeld: false, kind: .batch, stepCount: 2,
                                        counts: try store.run(row.id).counts)
        #expect(state == .inDoubt)
        let digest = try store.finishRun(row.id, state: state)
        let record = try JSONValue(parsing: try store.objects.get(digest))
        #expect(record["run"]?["step_count"]?.doubleValue == 2)
        #expect(record["run"]?["state"]?.stringValue == "in_doubt")
        #expect(try StoreVerifier.verifyRun(row.id, in: store).isOK)
        #expect(try store.runs(.init(state: .inDoubt)).map(\.id) == [row.id])
        #expect(try store.runs(.init(state: .failed)).isEmpty)

        let bundle = try RunBundle.export(runID: row.id, from: store)
        let (report, parsed) = try RunBundle.verify(bytes: bundle)
        #expect(report.isOK, "\(report.problems.map(\.line))")
        let other = TempDir()
        let target = try makeStore(other)
        _ = try Importer.importVerified(try #require(parsed), into: target)
        let imported = try target.run(row.id)
        #expect(imported.stepCount == 2)
        #expect(imported.state == .inDoubt)
        #expect(try StoreVerifier.verifyRun(row.id, in: target).isOK)
        // Importing the same bundle again finds the same run.
        #expect(try Importer.importVerified(try #require(parsed), into: target).alreadyPresent)
    }
}

/// A ledger written by the schema before migration 4 (v1–v3) upgrades in place.
@Suite struct RunStateMigrationTests {
    /// The migrations as they were released, before `4-run-states-step-count`.
    static func oldMigrator() -> DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("1-core-tables") { db in try db.execute(sql: Schema.v1) }
        m.registerMigration("2-lookup-indexes") { db in try db.execute(sql: Schema.v2) }
        m.registerMigration("3-pruned-runs") { db in try db.execute(sql: Schema.v3) }
        return m
    }

    @Test func anOldStoreUpgradesAndItsRunsKeepTheirStates() throws {
        let dir = TempDir()
        let root = dir.path + "/store"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let path = root + "/" + LedgerStore.databaseName
        let (done, failed, cancelled, undone, killed, killedWithUnknown, child) =
            (RunID.generate(), RunID.generate(), RunID.generate(), RunID.generate(), RunID.generate(), RunID.generate(), RunID.generate())
        do {
            var config = Configuration()
            config.foreignKeysEnabled = true
            let old = try DatabaseQueue(path: path, configuration: config)
            try Self.oldMigrator().migrate(old)
            // The old CHECK refuses the new states: this really is the old schema.
            expectConstraint(.SQLITE_CONSTRAINT_CHECK) {
                try old.write { try $0.execute(sql: "INSERT INTO run (id, kind, state, started_at, tool_version, durability) VALUES (?, 'batch', 'in_doubt', 'x', 't', 'process')", arguments: [RunID.generate()]) }
            }
            try old.write { db in
                func run(_ id: String, _ state: String, finished: Bool, parent: String? = nil, kind: String = "batch") throws {
                    try db.execute(sql: """
                        INSERT INTO run (id, kind, parent_run_id, state, started_at, finished_at, tool_version, durability)
                        VALUES (?,?,?,?,?,?,?,?)
                        """, arguments: [id, kind, parent, state, "2026-01-01T00:00:00.000000Z", finished ? "2026-01-01T00:00:01.000000Z" : nil, "0.1.0", "process"])
                }
                func step(_ run: String, _ seq: Int, _ status: String?) throws {
                    try db.execute(sql: """
                        INSERT INTO step (run_id, seq, name, method, url, client_request_id, intent_at, outcome_at, status)
                        VALUES (?,?,?,?,?,?,?,?,?)
                        """, arguments: [run, seq, "s\(seq)", "POST", "http://x", UUID().uuidString, "2026-01-01T00:00:00.000000Z",
                                         status == nil ? nil : "2026-01-01T00:00:00.500000Z", status])
                }
                try run(done, "completed", finished: true); try step(done, 1, "committed"); try step(done, 2, "committed")
                try run(failed, "failed", finished: true); try step(failed, 1, "failed")
                try run(cancelled, "cancelled", finished: true); try step(cancelled, 1, "committed")
                try run(undone, "rolled_back", finished: true); try step(undone, 1, "rolled_back")
                try run(killed, "running", finished: false); try step(killed, 1, "committed")
                try run(killedWithUnknown, "running", finished: false); try step(killedWithUnknown, 1, "committed"); try step(killedWithUnknown, 2, nil)
                try run(child, "completed", finished: true, parent: undone, kind: "rollback")
                try step(child, 1, "committed")
                try db.execute(sql: "UPDATE step SET target_step_id = (SELECT id FROM step WHERE run_id = ?) WHERE run_id = ?", arguments: [undone, child])
            }
            try old.close()
        }

        let store = try LedgerStore(root: root)
        #expect(try store.ledger.appliedMigrations().contains("4-run-states-step-count"))
        #expect(try store.run(done).state == .completed)
        #expect(try store.run(failed).state == .failed)
        #expect(try store.run(cancelled).state == .cancelled)
        #expect(try store.run(undone).state == .rolledBack)
        #expect(try store.run(child).state == .completed)
        #expect(try store.run(child).parentRunID == undone)
        #expect(try store.run(done).stepCount == nil)
        // Unfinished old runs: no step count, so they can no longer pass for `completed`.
        #expect(try store.run(killed).state == .interrupted)
        #expect(try store.run(killedWithUnknown).state == .inDoubt)
        #expect(try store.runs(.init(state: .completed)).map(\.id).sorted() == [done, child].sorted())
        // Step rows, their links and the indexes came through; foreign keys still hold.
        #expect(try store.ledger.steps(runID: done).count == 2)
        #expect(try store.ledger.compensations(ofRun: undone).count == 1)
        try store.ledger.queue.read { db in
            #expect(try Row.fetchAll(db, sql: "PRAGMA foreign_key_check").isEmpty)
            let indexes = try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'run'")
            #expect(indexes.contains("run_started_at") && indexes.contains("run_parent"))
            #expect(try String.fetchOne(db, sql: "SELECT sql FROM sqlite_master WHERE name = 'step'")?.contains("REFERENCES run(id)") == true)
        }
        expectConstraint(.SQLITE_CONSTRAINT_FOREIGNKEY) {
            try store.ledger.queue.write { try $0.execute(sql: "DELETE FROM run WHERE id = ?", arguments: [done]) }
        }
        // New states and the step count are accepted now.
        var row = NewRun(toolVersion: "t")
        row.stepCount = 5
        row.parentRunID = done
        try store.ledger.startRun(row)
        try store.ledger.restampRun(row.id, state: .inDoubt)
        #expect(try store.run(row.id).stepCount == 5)
        // Opening again is a no-op.
        _ = try LedgerStore(root: root)
    }

    /// A run record written before `step_count` existed (no such key) still verifies byte for byte.
    @Test func anOldRecordWithoutStepCountStillVerifies() throws {
        let dir = TempDir()
        let store = try makeStore(dir)
        let id = try startRun(store)
        try addStep(store, run: id, seq: 1, status: .committed)
        // What an older bcli wrote: the same record without the `step_count` key.
        try store.ledger.write { db in try Ledger.stamp(id, state: .completed, record: nil, previous: nil, db) }
        let run = try store.ledger.run(id)
        var doc = RunRecordDocument.make(run: run, steps: try store.ledger.steps(runID: id), previous: nil).objectValue!
        var runObject = doc["run"]!.objectValue!
        #expect(runObject["step_count"] == .null)
        runObject["step_count"] = nil
        doc["run"] = .object(runObject)
        let blob = try store.put(try JSONValue.object(doc).canonicalBytes(), mediaType: RunRecordDocument.mediaType)
        try store.ledger.write { db in
            try Ledger.indexObjects([blob], db)
            try db.execute(sql: "UPDATE run SET record_digest = ? WHERE id = ?", arguments: [blob.digest.hex, id])
            try Ledger.setRef(LedgerStore.headRef, blob.digest, db)
        }
        let report = try StoreVerifier.verifyRun(id, in: store)
        #expect(report.isOK, "\(report.problems.map(\.line))")
        #expect(try StoreVerifier.verifyAll(in: store).problems.filter { $0.runID == id }.isEmpty)
    }
}
