import Foundation
import GRDB
import Hashing
import Testing
import TestSupport
@testable import Store

/// Ledgers in the Python tool's (bc-cli 0.8.2) schema, written here with SQLite exactly as its
/// ledger module does (the DDL and inserts below are its own), then imported.
enum PythonLedgerFixture {
    static let states = "'planned','running','partially_committed','completed','failed','cancelled','rolled_back'"

    static func ddl(version: Int) -> String {
        """
        CREATE TABLE IF NOT EXISTS run (
                        run_id        TEXT PRIMARY KEY,
                        manifest_path TEXT,
                        manifest_hash TEXT,
                        profile       TEXT,
                        environment   TEXT,
                        company       TEXT,
                        state         TEXT CHECK (state IN (
                            \(states)
                        )),
                        started_at    TEXT,
                        finished_at   TEXT
                    );
        CREATE TABLE IF NOT EXISTS step (
                        step_id           INTEGER PRIMARY KEY AUTOINCREMENT,
                        run_id            TEXT NOT NULL REFERENCES run(run_id),
                        seq               INTEGER NOT NULL,
                        intent_ts         TEXT NOT NULL,
                        method            TEXT NOT NULL,
                        url               TEXT NOT NULL,
                        body_hash         TEXT,
                        outcome_ts        TEXT,
                        status            TEXT,
                        bc_correlation_id TEXT,
                        error_message     TEXT,
                        rollback_url      TEXT\(version >= 2 ? ",\n                idempotency_key   TEXT" : "")
                    );
        CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY);
        INSERT INTO schema_version (version) VALUES (\(version));
        """
    }

    struct Step {
        var seq: Int
        var method: String
        var url: String
        var bodyHash: String? = nil
        var status: String? = nil
        var error: String? = nil
        var rollbackURL: String? = nil
        var key: String? = nil
    }

    /// Writes `<folder>/<runID>.db` as the Python tool does: WAL, start_run, write_intent and
    /// write_outcome per step, finish_run unless `finish` is nil. With `killed`, the files are
    /// copied out while the connection is still open (the rows are only in the `-wal`).
    @discardableResult
    static func write(folder: String, runID: String, version: Int = 2, startedAt: String, finish: String?,
                      steps: [Step], killed: Bool = false) throws -> String {
        let path = (killed ? folder + "/.live" : folder) + "/\(runID).db"
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let queue = try DatabaseQueue(path: path)
        try queue.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA journal_mode=WAL")
            try db.execute(sql: "PRAGMA synchronous=NORMAL")
            try db.execute(sql: "PRAGMA foreign_keys=ON")
            try db.execute(sql: ddl(version: version))
            try db.execute(sql: """
                INSERT INTO run (run_id, manifest_path, manifest_hash, profile, environment, company, state, started_at)
                VALUES (?, ?, ?, ?, ?, ?, 'running', ?)
                """, arguments: [runID, "/home/u/m.yaml", String(repeating: "ab", count: 32), "sandbox", "production", "", startedAt])
            for s in steps {
                let ts = "2026-12-02T03:30:5\(s.seq % 10).000000Z"
                if version >= 2 {
                    try db.execute(sql: "INSERT INTO step (run_id, seq, intent_ts, method, url, body_hash, idempotency_key) VALUES (?, ?, ?, ?, ?, ?, ?)",
                                   arguments: [runID, s.seq, ts, s.method, s.url, s.bodyHash, s.key])
                } else {
                    try db.execute(sql: "INSERT INTO step (run_id, seq, intent_ts, method, url, body_hash) VALUES (?, ?, ?, ?, ?, ?)",
                                   arguments: [runID, s.seq, ts, s.method, s.url, s.bodyHash])
                }
                let stepID = db.lastInsertedRowID
                if let status = s.status {
                    try db.execute(sql: "UPDATE step SET outcome_ts = ?, status = ?, bc_correlation_id = ?, error_message = ?, rollback_url = ? WHERE step_id = ?",
                                   arguments: [ts, status == "rolled_back" ? "committed" : status, nil as String?, s.error, s.rollbackURL, stepID])
                    if status == "rolled_back" {
                        try db.execute(sql: "UPDATE step SET status = ? WHERE step_id = ?", arguments: [status, stepID])
                    }
                }
            }
            if let finish {
                try db.execute(sql: "UPDATE run SET state = ?, finished_at = ? WHERE run_id = ?",
                               arguments: [finish, "2026-12-02T03:31:00.000000Z", runID])
            }
        }
        guard killed else {
            try queue.close()
            return path
        }
        // SIGKILL: the process dies with the connection open; its files are what is left.
        let out = folder + "/\(runID).db"
        for suffix in ["", "-wal", "-shm"] where FileManager.default.fileExists(atPath: path + suffix) {
            try FileManager.default.copyItem(atPath: path + suffix, toPath: out + suffix)
        }
        try queue.close()
        try FileManager.default.removeItem(atPath: folder + "/.live")
        return out
    }

    static let url = "http://127.0.0.1:8080/v2.0/production/api/v2.0/companies(c1)/customers"
    static let finishedID = "0123456789abcdef0123456789abcdef"
    static let killedID = "1123456789abcdef0123456789abcdef"
    static let v1ID = "2123456789abcdef0123456789abcdef"
    static let rolledBackID = "3123456789abcdef0123456789abcdef"

    /// Four ledgers: finished (with idempotency keys, a failed and a skipped `put`), killed
    /// (intent-only row, rows only in the WAL), schema v1 (no idempotency_key), rolled back.
    static func writeAll(_ folder: String) throws {
        let hash = String(repeating: "cd", count: 32)
        try write(folder: folder, runID: finishedID, startedAt: "2026-12-02T03:30:01.000000Z", finish: "partially_committed", steps: [
            Step(seq: 1, method: "POST", url: url, bodyHash: hash, status: "committed", rollbackURL: url + "(r1)", key: "k-1"),
            Step(seq: 3, method: "PATCH", url: url + "(r1)", bodyHash: hash, status: "failed", error: "missing id"),
            Step(seq: 4, method: "PUT", url: url, status: "skipped", error: "unknown action 'put'"),
        ])
        try write(folder: folder, runID: killedID, startedAt: "2026-12-02T03:30:02.000000Z", finish: nil, steps: [
            Step(seq: 1, method: "POST", url: url, bodyHash: hash, status: "committed", rollbackURL: url + "(r2)"),
            Step(seq: 2, method: "GET", url: url),
        ], killed: true)
        try write(folder: folder, runID: v1ID, version: 1, startedAt: "2026-12-02T03:30:03.000000Z", finish: "completed", steps: [
            Step(seq: 1, method: "GET", url: url, status: "committed"),
        ])
        try write(folder: folder, runID: rolledBackID, startedAt: "2026-12-02T03:30:04.000000Z", finish: "rolled_back", steps: [
            Step(seq: 1, method: "POST", url: url, bodyHash: hash, status: "rolled_back", rollbackURL: url + "(r3)"),
        ])
    }

    static func hashes(_ folder: String) throws -> [String: Digest] {
        var out: [String: Digest] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: folder) {
            out[name] = try SHA256.hash(fileAt: folder + "/" + name).digest
        }
        return out
    }
}

@Suite struct PythonLedgerImportTests {
    typealias F = PythonLedgerFixture

    @Test func importsEveryRunWithItsRowsStatesAndHashes() throws {
        let dir = TempDir()
        let folder = dir.path + "/py"
        try F.writeAll(folder)
        #expect(FileManager.default.fileExists(atPath: folder + "/\(F.killedID).db-wal"))
        let before = try F.hashes(folder)
        let store = try makeStore(dir)
        let results = try PythonLedger.importAll(from: folder, into: store)
        #expect(try F.hashes(folder) == before, "the source files are never changed")

        // Oldest first, all imported.
        #expect(results.map { URL(fileURLWithPath: $0.file).lastPathComponent } == [F.finishedID, F.killedID, F.v1ID, F.rolledBackID].map { $0 + ".db" })
        for r in results {
            guard case .imported = r.outcome else { Issue.record("\(r.file): \(r.outcome)"); continue }
        }

        let finished = try store.run(F.finishedID)
        #expect(finished.kind == .imported)
        #expect(finished.stampedState == .partiallyCommitted && finished.state == .partiallyCommitted)
        #expect(finished.finishedAt == "2026-12-02T03:31:00.000000Z" && finished.startedAt == "2026-12-02T03:30:01.000000Z")
        #expect(finished.manifestPath == "/home/u/m.yaml" && finished.manifestDigest == nil && finished.profile == "sandbox")
        let steps = try store.ledger.steps(runID: F.finishedID)
        #expect(steps.map(\.seq) == [1, 3, 4])
        #expect(steps.map(\.statusName) == ["committed", "failed", "skipped"])
        #expect(steps.map(\.method.rawValue) == ["POST", "PATCH", "NONE"])
        #expect(steps[0].idempotencyKey == "k-1" && steps[0].rollbackURL == F.url + "(r1)")
        #expect(steps[1].errorMessage == "missing id")
        #expect(steps.allSatisfy { $0.digests.isEmpty }, "no bodies exist, so no blob is named")
        let facts = try #require(try store.ledger.importedFacts(runID: F.finishedID))
        #expect(facts.pythonManifestHash == String(repeating: "ab", count: 32))
        #expect(facts.steps.map(\.pythonMethod) == ["POST", "PATCH", "PUT"])
        #expect(facts.steps.map(\.pythonBodyHash) == [String(repeating: "cd", count: 32), String(repeating: "cd", count: 32), nil])
        #expect(facts.pythonSchemaVersion == 2 && !facts.sourceWalRecovered)
        // The source's exact bytes are kept (no WAL: the file as it is).
        #expect(facts.sourceDigest == before["\(F.finishedID).db"])
        #expect(try store.objects.get(facts.sourceDigest) == Array(try Data(contentsOf: URL(fileURLWithPath: folder + "/\(F.finishedID).db"))))

        // Killed: the rows came from the WAL; the intent-only row reads unknown, the run in_doubt.
        let killed = try store.run(F.killedID)
        #expect(killed.finishedAt == nil && killed.stampedState == .running)
        #expect(killed.state == .inDoubt && killed.interrupted)
        #expect(try store.ledger.steps(runID: F.killedID).map(\.statusName) == ["committed", "unknown"])
        #expect(try store.ledger.importedFacts(runID: F.killedID)?.sourceWalRecovered == true)

        // Schema v1: no idempotency_key column.
        let v1 = try store.run(F.v1ID)
        #expect(v1.state == .completed && v1.toolVersion.contains("schema 1"))
        #expect(try store.ledger.steps(runID: F.v1ID).first?.idempotencyKey == nil)

        // Rolled back.
        #expect(try store.run(F.rolledBackID).state == .rolledBack)
        #expect(try store.ledger.steps(runID: F.rolledBackID).map(\.statusName) == ["rolled_back"])

        // Every imported run has a record on the chain, oldest first.
        let records = try [F.finishedID, F.killedID, F.v1ID, F.rolledBackID].map { try #require(try store.run($0).recordDigest) }
        #expect(try store.ledger.ref(LedgerStore.headRef) == records.last)
        #expect(try store.run(F.killedID).previousRecordDigest == records[0])

        // verify: clean, with the hash-only values reported as such, never as missing.
        let report = try StoreVerifier.verifyAll(in: store)
        #expect(report.isOK, "\(report.problems.map(\.line))")
        #expect(report.chain.count == 4)
        #expect(!report.hashOnly.isEmpty && report.hashOnly.allSatisfy { $0.kind == .hashOnly && $0.detail.hasPrefix("hash only, no bytes") })
        // finished: manifest + 2 body hashes; killed: manifest + 1; v1: manifest; rolled back: manifest + 1.
        #expect(report.hashOnly.count == 3 + 2 + 1 + 2)
        #expect(!report.problems.contains { $0.kind == .missing })
        let one = try StoreVerifier.verifyRun(F.finishedID, in: store)
        #expect(one.isOK && one.hashOnly.count == 3)
    }

    @Test func importingTwiceAddsNothing() throws {
        let dir = TempDir()
        let folder = dir.path + "/py"
        try F.writeAll(folder)
        let store = try makeStore(dir)
        _ = try PythonLedger.importAll(from: folder, into: store)
        let head = try store.ledger.ref(LedgerStore.headRef)
        let objects = try store.ledger.objects()
        let again = try PythonLedger.importAll(from: folder, into: store)
        #expect(again.count == 4)
        for r in again {
            guard case .alreadyImported(_, let changed) = r.outcome else { Issue.record("\(r.file): \(r.outcome)"); continue }
            #expect(!changed)
        }
        #expect(try store.ledger.ref(LedgerStore.headRef) == head)
        #expect(try store.ledger.objects() == objects)
        #expect(try store.runs().count == 4)
    }

    @Test func aRunIDOfAnotherKindIsRefusedWithNothingWritten() throws {
        let dir = TempDir()
        let folder = dir.path + "/py"
        let store = try makeStore(dir)
        var run = NewRun(toolVersion: "test")
        run.id = F.finishedID
        try store.ledger.startRun(run)
        try store.finishRun(run.id, state: .completed)
        try F.write(folder: folder, runID: F.finishedID, startedAt: "2026-12-02T03:30:01.000000Z", finish: "completed",
                    steps: [.init(seq: 1, method: "GET", url: F.url, status: "committed")])
        let head = try store.ledger.ref(LedgerStore.headRef)
        let results = try PythonLedger.importAll(from: folder, into: store)
        guard case .refused(.collision(_, let id, let kind))? = results.first?.outcome else {
            Issue.record("expected a collision, got \(results)")
            return
        }
        #expect(id == F.finishedID && kind == .batch)
        #expect(try store.run(F.finishedID).kind == .batch)
        #expect(try store.ledger.steps(runID: F.finishedID).isEmpty)
        #expect(try store.ledger.importedFacts(runID: F.finishedID) == nil)
        #expect(try store.ledger.ref(LedgerStore.headRef) == head)
    }

    @Test func aFileThatIsNotAPythonLedgerIsRefusedAndTheOthersStillImported() throws {
        let dir = TempDir()
        let folder = dir.path + "/py"
        try F.write(folder: folder, runID: F.v1ID, version: 1, startedAt: "2026-12-02T03:30:03.000000Z", finish: "completed",
                    steps: [.init(seq: 1, method: "GET", url: F.url, status: "committed")])
        try dir.write("py/notes.db", "this is not a database, just text that is long enough to not be empty")
        let other = try DatabaseQueue(path: folder + "/4123456789abcdef0123456789abcdef.db")
        try other.write { try $0.execute(sql: "CREATE TABLE t (x)") }
        try other.close()
        let store = try makeStore(dir)
        let results = try PythonLedger.importAll(from: folder, into: store)
        #expect(results.count == 3)
        let refused = results.compactMap { r -> String? in
            if case .refused(.notAPythonLedger(let path, _)) = r.outcome { return URL(fileURLWithPath: path).lastPathComponent }
            return nil
        }
        #expect(Set(refused) == ["notes.db", "4123456789abcdef0123456789abcdef.db"])
        #expect(try store.run(F.v1ID).kind == .imported)
    }

    @Test func aMissingFolderIsReported() throws {
        let dir = TempDir()
        let store = try makeStore(dir)
        #expect(throws: PythonLedgerError.self) { try PythonLedger.importAll(from: dir.path + "/nope", into: store) }
    }

    @Test func anEditedImportFactIsARowChange() throws {
        let dir = TempDir()
        let folder = dir.path + "/py"
        try F.writeAll(folder)
        let store = try makeStore(dir)
        _ = try PythonLedger.importAll(from: folder, into: store)
        try store.ledger.write { db in
            try db.execute(sql: "UPDATE imported_step SET python_body_hash = ? WHERE python_body_hash IS NOT NULL",
                           arguments: [String(repeating: "ee", count: 32)])
        }
        let report = try StoreVerifier.verifyRun(F.finishedID, in: store)
        #expect(report.problems.contains { $0.kind == .rowChanged && $0.subject == "imported" })
    }
}
