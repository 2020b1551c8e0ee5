import Foundation
import GRDB
import Hashing
import Testing
import TestSupport

/// `bcli batch import-python-ledger` through the real binary, on ledgers written here in the
/// Python tool's schema (its DDL and inserts): import, list, state, verify --all, import again.
@Suite struct ImportPythonLedgerCommandTests {
    static let finished = "0123456789abcdef0123456789abcdef"
    static let killed = "1123456789abcdef0123456789abcdef"

    static func writeLedger(_ folder: String, runID: String, started: String, finish: String?, killed: Bool) throws {
        let live = killed ? folder + "/.live" : folder
        try FileManager.default.createDirectory(atPath: live, withIntermediateDirectories: true)
        let path = live + "/\(runID).db"
        let queue = try DatabaseQueue(path: path)
        try queue.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA journal_mode=WAL")
            try db.execute(sql: """
                CREATE TABLE IF NOT EXISTS run (run_id TEXT PRIMARY KEY, manifest_path TEXT, manifest_hash TEXT, profile TEXT,
                    environment TEXT, company TEXT, state TEXT CHECK (state IN (
                    'planned','running','partially_committed','completed','failed','cancelled','rolled_back')),
                    started_at TEXT, finished_at TEXT);
                CREATE TABLE IF NOT EXISTS step (step_id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL REFERENCES run(run_id),
                    seq INTEGER NOT NULL, intent_ts TEXT NOT NULL, method TEXT NOT NULL, url TEXT NOT NULL, body_hash TEXT,
                    outcome_ts TEXT, status TEXT, bc_correlation_id TEXT, error_message TEXT, rollback_url TEXT, idempotency_key TEXT);
                CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY);
                INSERT INTO schema_version (version) VALUES (2);
                """)
            try db.execute(sql: "INSERT INTO run (run_id, manifest_path, manifest_hash, profile, environment, company, state, started_at) VALUES (?, '/m.yaml', ?, 'sandbox', 'production', '', 'running', ?)",
                           arguments: [runID, String(repeating: "ab", count: 32), started])
            try db.execute(sql: "INSERT INTO step (run_id, seq, intent_ts, method, url, body_hash, idempotency_key) VALUES (?, 1, ?, 'POST', 'http://x/customers', ?, 'k-1')",
                           arguments: [runID, started, String(repeating: "cd", count: 32)])
            try db.execute(sql: "UPDATE step SET outcome_ts = ?, status = 'committed', rollback_url = 'http://x/customers(1)' WHERE step_id = 1", arguments: [started])
            try db.execute(sql: "INSERT INTO step (run_id, seq, intent_ts, method, url) VALUES (?, 2, ?, 'GET', 'http://x/customers(1)')",
                           arguments: [runID, started])
            if let finish {
                try db.execute(sql: "UPDATE step SET outcome_ts = ?, status = 'committed' WHERE step_id = 2", arguments: [started])
                try db.execute(sql: "UPDATE run SET state = ?, finished_at = ? WHERE run_id = ?", arguments: [finish, started, runID])
            }
        }
        if killed {
            for suffix in ["", "-wal", "-shm"] where FileManager.default.fileExists(atPath: path + suffix) {
                try FileManager.default.copyItem(atPath: path + suffix, toPath: folder + "/\(runID).db" + suffix)
            }
        }
        try queue.close()
        if killed { try FileManager.default.removeItem(atPath: live) }
    }

    @Test func importListStateVerifyAndImportAgain() throws {
        try requireBinary(Paths.bcli)
        let dir = TempDir()
        let folder = dir.path + "/py"
        let store = dir.path + "/store"
        try Self.writeLedger(folder, runID: Self.finished, started: "2026-12-02T03:30:01.000000Z", finish: "completed", killed: false)
        try Self.writeLedger(folder, runID: Self.killed, started: "2026-12-02T03:30:02.000000Z", finish: nil, killed: true)
        #expect(FileManager.default.fileExists(atPath: folder + "/\(Self.killed).db-wal"))

        let first = try bcli(["batch", "import-python-ledger", folder, "--store", store, "--format", "json"])
        #expect(first.status == 0, "\(first.stderr)")
        let report = try JSONValue(parsing: Array(first.stdout))
        #expect(report["format_version"]?.doubleValue == 1)
        #expect(report["imported"]?.doubleValue == 2 && report["already"]?.doubleValue == 0)
        #expect(report["files"]?.arrayValue?.compactMap { $0["result"]?.stringValue } == ["imported", "imported"])

        let list = try bcli(["batch", "list", "--store", store, "--format", "json"])
        #expect(list.status == 0, "\(list.stderr)")
        let runs = try #require(try JSONValue(parsing: Array(list.stdout))["runs"]?.arrayValue)
        #expect(runs.compactMap { $0["id"]?.stringValue } == [Self.killed, Self.finished])
        #expect(runs.allSatisfy { $0["kind"]?.stringValue == "imported" })
        #expect(runs.compactMap { $0["state"]?.stringValue } == ["in_doubt", "completed"])

        let state = try bcli(["batch", "state", Self.killed, "--store", store, "--format", "json"])
        #expect(state.status == 0, "\(state.stderr)")
        let steps = try #require(try JSONValue(parsing: Array(state.stdout))["steps"]?.arrayValue)
        #expect(steps.compactMap { $0["status"]?.stringValue } == ["committed", "unknown"])
        #expect(steps.first?["idempotency_key"]?.stringValue == "k-1")

        let verify = try bcli(["batch", "verify", "--all", "--store", store, "--format", "json"])
        #expect(verify.status == 0, "\(verify.out)\(verify.stderr)")
        let v = try JSONValue(parsing: Array(verify.stdout))
        #expect(v["ok"] == .bool(true))
        #expect(v["chain"]?.arrayValue?.count == 2)
        let hashOnly = v["hash_only"]?.arrayValue ?? []
        #expect(hashOnly.count == 4 && hashOnly.allSatisfy { $0["detail"]?.stringValue?.hasPrefix("hash only, no bytes") == true })
        #expect(v["problems"]?.arrayValue?.isEmpty == true)

        let again = try bcli(["batch", "import-python-ledger", folder, "--store", store])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.stderr.contains("0 imported, 2 already imported, 0 refused"))
        let listAgain = try bcli(["batch", "list", "--store", store, "--format", "json"])
        #expect(listAgain.stdout == list.stdout)

        let missing = try bcli(["batch", "import-python-ledger", dir.path + "/nope", "--store", store])
        #expect(missing.status == 4)
        try dir.write("bad/x.db", "not a database, only text")
        let bad = try bcli(["batch", "import-python-ledger", dir.path + "/bad", "--store", store])
        #expect(bad.status == 5, "\(bad.stderr)")
    }
}
