#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import GRDB
import Hashing

// `bcli batch import-python-ledger`: the Python tool's (bc-cli) per-run ledger files brought in
// as runs of kind `imported`. See docs/ledger.md ("Runs imported from the Python tool").

/// One per-run ledger file of the Python tool, as read from a private copy (the source is never
/// opened: the Python tool's own reader rewrites the files it opens).
public struct PythonLedgerFile: Sendable {
    public struct Run: Sendable {
        public var runID: String
        public var manifestPath: String?
        /// Hash-only: SHA-256 hex of the manifest file's bytes; no bytes exist.
        public var manifestHash: String?
        public var profile: String?
        public var environment: String?
        public var company: String?
        public var state: String?
        public var startedAt: String?
        public var finishedAt: String?
    }

    public struct Step: Sendable {
        public var stepID: Int64
        public var seq: Int
        public var intentTs: String
        public var method: String
        public var url: String
        /// Hash-only: SHA-256 hex of `json.dumps(data, sort_keys=True)`, not of bytes sent.
        public var bodyHash: String?
        public var outcomeTs: String?
        public var status: String?
        public var bcCorrelationID: String?
        public var errorMessage: String?
        public var rollbackURL: String?
        public var idempotencyKey: String?
    }

    /// The source path.
    public let path: String
    public var fileName: String { String(path.split(separator: "/").last ?? Substring(path)) }
    /// The copy's bytes after its `-wal` (if any) was checkpointed into it: the source's exact
    /// bytes when there was no `-wal`.
    public let bytes: [UInt8]
    /// The source had a non-empty `-wal` (a killed run): its rows were recovered into the copy.
    public let walRecovered: Bool
    /// `schema_version.version` (1 or 2), nil when the table is missing or empty.
    public let schemaVersion: Int?
    public let run: Run
    public let steps: [Step]
}

/// Why a file could not be imported.
public enum PythonLedgerError: Error, Sendable, CustomStringConvertible {
    /// The folder (or file) given does not exist.
    case folderMissing(String)
    /// Not an SQLite database, or no `run`/`step` tables of the Python tool's schema.
    case notAPythonLedger(path: String, reason: String)
    /// A Python ledger that cannot become a run here (its rows break a rule), nothing written.
    case unimportable(path: String, reason: String)
    /// Its run id is already a run of another kind in this store; nothing written.
    case collision(path: String, runID: String, kind: RunKind)
    case store(path: String, StoreError)

    public var description: String {
        switch self {
        case .folderMissing(let p):
            return "no Python ledger folder at \(p) — give the folder that holds the Python tool's <run-id>.db files (it writes them to ~/.config/bcli/batch)"
        case .notAPythonLedger(let p, let why):
            return "\(p) is not a ledger of the Python tool: \(why)"
        case .unimportable(let p, let why):
            return "\(p) cannot be imported: \(why); nothing of it was written"
        case .collision(let p, let id, let kind):
            return "\(p): run \(id) is already a \(kind.rawValue) run in this store (not an imported one) — nothing of it was written; check the file (`bcli batch state \(id)` shows the run here)"
        case .store(let p, let e):
            return "\(p): \(e.description)"
        }
    }
}

/// What happened to one file.
public enum PythonImportOutcome: Sendable {
    case imported(runID: String, steps: Int, state: RunState, source: Digest, walRecovered: Bool, record: Digest)
    /// The run is already in the store as an imported run; nothing was added. `sourceChanged`:
    /// the file's bytes now differ from those imported (the Python tool changed it since).
    case alreadyImported(runID: String, sourceChanged: Bool)
    case refused(PythonLedgerError)
}

public struct PythonImportResult: Sendable {
    public let file: String
    public let outcome: PythonImportOutcome

    public init(file: String, outcome: PythonImportOutcome) {
        self.file = file
        self.outcome = outcome
    }
}

/// An imported run's import facts (`imported_run`, `imported_step`), as its run record carries
/// them under `imported`.
public struct ImportedRunFacts: Sendable, Equatable {
    public struct Step: Sendable, Equatable {
        public var seq: Int
        public var pythonStepID: Int64
        public var pythonMethod: String
        /// Hash-only (see `PythonLedgerFile.Step.bodyHash`).
        public var pythonBodyHash: String?
    }

    public var sourceFile: String
    /// The blob holding the source file's bytes (see `PythonLedgerFile.bytes`).
    public var sourceDigest: Digest
    public var sourceWalRecovered: Bool
    public var pythonSchemaVersion: Int?
    /// Hash-only (see `PythonLedgerFile.Run.manifestHash`).
    public var pythonManifestHash: String?
    public var importedAt: String
    public var steps: [Step]

    public var json: JSONValue {
        func str(_ s: String?) -> JSONValue { s.map { .string($0) } ?? .null }
        return .object([
            "source_file": .string(sourceFile),
            "source_digest": .string(sourceDigest.description),
            "source_wal_recovered": .bool(sourceWalRecovered),
            "python_schema_version": pythonSchemaVersion.map { .number(Double($0)) } ?? .null,
            "python_manifest_hash": str(pythonManifestHash),
            "imported_at": .string(importedAt),
            "steps": .array(steps.map { s in
                .object([
                    "seq": .number(Double(s.seq)), "python_step_id": .number(Double(s.pythonStepID)),
                    "python_method": .string(s.pythonMethod), "python_body_hash": str(s.pythonBodyHash),
                ])
            }),
        ])
    }

    static func fetch(_ runID: String, _ db: Database) throws -> ImportedRunFacts? {
        guard let row = try ImportedRunRow.fetchOne(db, key: runID), let source = try? Digest(parsing: row.sourceDigest) else { return nil }
        let steps = try Row.fetchAll(db, sql: """
            SELECT s.seq, i.python_step_id, i.python_method, i.python_body_hash
            FROM imported_step i JOIN step s ON s.id = i.step_id WHERE s.run_id = ? ORDER BY s.seq
            """, arguments: [runID]).map { r in
            Step(seq: r["seq"], pythonStepID: r["python_step_id"], pythonMethod: r["python_method"], pythonBodyHash: r["python_body_hash"])
        }
        return ImportedRunFacts(sourceFile: row.sourceFile, sourceDigest: source, sourceWalRecovered: row.sourceWalRecovered,
                                pythonSchemaVersion: row.pythonSchemaVersion, pythonManifestHash: row.pythonManifestHash,
                                importedAt: row.importedAt, steps: steps)
    }
}

extension Ledger {
    /// The import facts of an `imported` run; nil for any other run.
    public func importedFacts(runID: String) throws(StoreError) -> ImportedRunFacts? {
        try read { db in try ImportedRunFacts.fetch(runID, db) }
    }
}

public enum PythonLedger {
    /// The ref that keeps an imported run's source blob live for `gc`: `refs/python-ledger/<run-id>`.
    public static let sourceRefPrefix = "refs/python-ledger/"
    public static let sourceMediaType = "application/vnd.sqlite3"
    /// `run.tool_version` of an imported run.
    public static func toolVersion(schema: Int?) -> String { "bc-cli (Python), ledger schema \(schema.map(String.init) ?? "?")" }

    /// The Python tool's ledger folder for a home folder: `~/.config/bcli/batch`.
    public static func defaultFolder(home: String) -> String { home + "/.config/bcli/batch" }

    /// Imports every `<run-id>.db` in `path` (or the one file `path` names), oldest run first (by
    /// the Python `started_at`), so imported runs join the chain in the order they ran. A file that
    /// cannot be read or imported is reported and the others still go in.
    public static func importAll(from path: String, into store: LedgerStore) throws(PythonLedgerError) -> [PythonImportResult] {
        let files: [String]
        if POSIX.isDirectory(path) {
            files = POSIX.listDirectory(path).filter { $0.hasSuffix(".db") }.sorted().map { path + "/" + $0 }
        } else if POSIX.exists(path) {
            files = [path]
        } else {
            throw .folderMissing(path)
        }
        var results: [PythonImportResult] = []
        var read: [PythonLedgerFile] = []
        for file in files {
            do { read.append(try readFile(at: file)) } catch { results.append(.init(file: file, outcome: .refused(error))) }
        }
        read.sort { ($0.run.startedAt ?? "", $0.run.runID) < ($1.run.startedAt ?? "", $1.run.runID) }
        for file in read {
            results.append(.init(file: file.path, outcome: importFile(file, into: store)))
        }
        return results
    }

    /// Reads one file through a private copy (with its `-wal` and `-shm`), recovering the WAL there.
    public static func readFile(at path: String) throws(PythonLedgerError) -> PythonLedgerFile {
        let source: [UInt8]
        do { source = try POSIX.readFile(path) } catch { throw .notAPythonLedger(path: path, reason: "cannot read it (\(error))") }
        let header = Array("SQLite format 3".utf8) + [0]
        let wal = (try? POSIX.readFile(path + "-wal")) ?? []
        guard source.starts(with: header) || (source.isEmpty && !wal.isEmpty) else {
            throw .notAPythonLedger(path: path, reason: "it is not an SQLite database")
        }
        let temp: String
        do { temp = try makeTempFolder() } catch { throw .store(path: path, error) }
        defer { removeTempFolder(temp) }
        let copy = temp + "/source.db"
        do {
            try POSIX.writeAtomically(source, to: copy, mode: 0o600)
            if !wal.isEmpty { try POSIX.writeAtomically(wal, to: copy + "-wal", mode: 0o600) }
            if !wal.isEmpty, let shm = try? POSIX.readFile(path + "-shm") { try POSIX.writeAtomically(shm, to: copy + "-shm", mode: 0o600) }
        } catch { throw .store(path: path, error) }
        let parsed: (PythonLedgerFile.Run, [PythonLedgerFile.Step], Int?)
        do {
            var config = Configuration()
            config.label = "bcli.python-ledger-copy"
            let queue = try DatabaseQueue(path: copy, configuration: config)
            // The rows of a killed run live only in its WAL: fold it into the copy's main file, so
            // the bytes kept as evidence hold every row that was read.
            try queue.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)") }
            parsed = try queue.read { db in try parse(db, path: path) }
            try queue.close()
        } catch let e as PythonLedgerError {
            throw e
        } catch let e as DatabaseError where [.SQLITE_NOTADB, .SQLITE_CORRUPT].contains(e.resultCode) {
            throw .notAPythonLedger(path: path, reason: "SQLite cannot read it (\(e.message ?? "\(e.resultCode)"))")
        } catch {
            throw .notAPythonLedger(path: path, reason: "\(error)")
        }
        let bytes: [UInt8]
        do { bytes = try POSIX.readFile(copy) } catch { throw .store(path: path, error) }
        let file = PythonLedgerFile(path: path, bytes: bytes, walRecovered: !wal.isEmpty, schemaVersion: parsed.2,
                                    run: parsed.0, steps: parsed.1)
        let stem = String(file.fileName.dropLast(3))
        guard file.run.runID == stem else {
            throw .unimportable(path: path, reason: "its run row is \(file.run.runID), but the Python tool names each file after its run (\(stem))")
        }
        guard RunID.isValid(file.run.runID) else {
            throw .unimportable(path: path, reason: "its run id \(file.run.runID) is not 32 lowercase hex")
        }
        return file
    }

    static func parse(_ db: Database, path: String) throws -> (PythonLedgerFile.Run, [PythonLedgerFile.Step], Int?) {
        func columns(_ table: String) throws -> Set<String> {
            Set(try Row.fetchAll(db, sql: "PRAGMA table_info(\(table))").compactMap { $0["name"] as String? })
        }
        let runColumns: Set<String> = ["run_id", "manifest_path", "manifest_hash", "profile", "environment", "company", "state", "started_at", "finished_at"]
        let stepColumns: Set<String> = ["step_id", "run_id", "seq", "intent_ts", "method", "url", "body_hash", "outcome_ts", "status",
                                        "bc_correlation_id", "error_message", "rollback_url"]
        let haveRun = try columns("run"), haveStep = try columns("step")
        let missing = runColumns.subtracting(haveRun).map { "run.\($0)" } + stepColumns.subtracting(haveStep).map { "step.\($0)" }
        guard missing.isEmpty else {
            throw PythonLedgerError.notAPythonLedger(path: path, reason: haveRun.isEmpty && haveStep.isEmpty
                ? "it has no run and step tables" : "it lacks \(missing.sorted().joined(separator: ", "))")
        }
        var version: Int?
        if try !columns("schema_version").isEmpty {
            version = try Row.fetchOne(db, sql: "SELECT version FROM schema_version ORDER BY version DESC LIMIT 1")
                .flatMap { Int.fromDatabaseValue($0["version"] as DatabaseValue) }
        }
        func text(_ row: Row, _ column: String) -> String? {
            let value: DatabaseValue = row[column]
            switch value.storage {
            case .null: return nil
            case .string(let s): return s
            case .int64(let i): return String(i)
            case .double(let d): return String(d)
            case .blob: return nil
            }
        }
        let runs = try Row.fetchAll(db, sql: "SELECT * FROM run")
        guard runs.count == 1, let r = runs.first, let runID = text(r, "run_id") else {
            throw PythonLedgerError.unimportable(path: path, reason: "it has \(runs.count) run rows; the Python tool writes one per file")
        }
        let run = PythonLedgerFile.Run(
            runID: runID, manifestPath: text(r, "manifest_path"), manifestHash: text(r, "manifest_hash"), profile: text(r, "profile"),
            environment: text(r, "environment"), company: text(r, "company"), state: text(r, "state"),
            startedAt: text(r, "started_at"), finishedAt: text(r, "finished_at"))
        let key = haveStep.contains("idempotency_key") ? "idempotency_key" : "NULL AS idempotency_key"
        var steps: [PythonLedgerFile.Step] = []
        for s in try Row.fetchAll(db, sql: "SELECT step.*, \(key) FROM step ORDER BY seq, step_id") {
            guard text(s, "run_id") == runID else {
                throw PythonLedgerError.unimportable(path: path, reason: "a step row belongs to run \(text(s, "run_id") ?? "null"), not \(runID)")
            }
            guard let stepID = Int64.fromDatabaseValue(s["step_id"] as DatabaseValue),
                  let seq = Int.fromDatabaseValue(s["seq"] as DatabaseValue), seq >= 1,
                  let intent = text(s, "intent_ts"), let method = text(s, "method"), let url = text(s, "url") else {
                throw PythonLedgerError.unimportable(path: path, reason: "a step row lacks its step_id, seq (>= 1), intent_ts, method or url")
            }
            steps.append(.init(stepID: stepID, seq: seq, intentTs: intent, method: method, url: url, bodyHash: text(s, "body_hash"),
                               outcomeTs: text(s, "outcome_ts"), status: text(s, "status"),
                               bcCorrelationID: text(s, "bc_correlation_id"), errorMessage: text(s, "error_message"),
                               rollbackURL: text(s, "rollback_url"), idempotencyKey: text(s, "idempotency_key")))
        }
        return (run, steps, version)
    }

    /// Imports one read file: skipped when its run is already imported, refused when its id is a
    /// run of another kind, else its source blob, rows, import facts and record in one transaction.
    public static func importFile(_ file: PythonLedgerFile, into store: LedgerStore) -> PythonImportOutcome {
        let id = file.run.runID
        do {
            if let existing = try? store.ledger.run(id) {
                guard existing.kind == .imported else { return .refused(.collision(path: file.path, runID: id, kind: existing.kind)) }
                let facts = try store.ledger.importedFacts(runID: id)
                return .alreadyImported(runID: id, sourceChanged: facts?.sourceDigest != SHA256.hash(file.bytes))
            }
            let run = try runRow(file)
            let steps = try file.steps.map { s throws(PythonLedgerError) in try stepRow(s, runID: id, path: file.path) }
            let source = try store.put(file.bytes, mediaType: sourceMediaType)
            let objects = store.objects, root = store.root
            let record: Digest = try store.ledger.queue.write { db in
                if let kind = try RunRow.fetchOne(db, key: id)?.kind {
                    throw PythonLedgerError.collision(path: file.path, runID: id, kind: RunKind(rawValue: kind) ?? .batch)
                }
                try Ledger.indexObjects([source], db)
                try run.insert(db)
                for (row, python) in zip(steps, file.steps) {
                    try row.insert(db)
                    try ImportedStepRow(stepID: db.lastInsertedRowID, pythonStepID: python.stepID, pythonMethod: python.method,
                                        pythonBodyHash: python.bodyHash).insert(db)
                }
                try ImportedRunRow(runID: id, sourceFile: file.fileName, sourceDigest: source.digest.hex,
                                   sourceWalRecovered: file.walRecovered, pythonSchemaVersion: file.schemaVersion,
                                   pythonManifestHash: file.run.manifestHash, importedAt: Timestamp.now()).insert(db)
                try Ledger.setRef(sourceRefPrefix + id, source.digest, db)
                return try LedgerStore.chainRecord(id, objects: objects, root: root, db)
            }
            let state = try store.ledger.run(id).state
            return .imported(runID: id, steps: steps.count, state: state, source: source.digest, walRecovered: file.walRecovered,
                             record: record)
        } catch let e as PythonLedgerError {
            return .refused(e)
        } catch {
            return .refused(.store(path: file.path, StoreError.classify(error, path: store.ledger.path)))
        }
    }

    /// The run row: the Python run's columns, kind `imported`, its stamped state and finish time
    /// as they are (an unfinished run stays unfinished: the one rule reads it).
    static func runRow(_ file: PythonLedgerFile) throws(PythonLedgerError) -> RunRow {
        let r = file.run
        guard let stateText = r.state, let state = RunState(rawValue: stateText) else {
            throw .unimportable(path: file.path, reason: "its run state \(r.state ?? "null") is not one the Python tool writes")
        }
        guard let startedAt = r.startedAt else { throw .unimportable(path: file.path, reason: "its run has no started_at") }
        return RunRow(id: r.runID, kind: RunKind.imported.rawValue, parentRunID: nil, name: nil, manifestDigest: nil,
                      manifestPath: r.manifestPath, paramsDigest: nil, profile: r.profile, environment: r.environment,
                      company: r.company, baseURL: nil, state: state.rawValue, startedAt: startedAt, finishedAt: r.finishedAt,
                      toolVersion: toolVersion(schema: file.schemaVersion), durability: Durability.process.rawValue,
                      recordDigest: nil, previousRecordDigest: nil, stepCount: nil)
    }

    /// A step row: the method when it is one bcli records (an unknown verb the Python tool
    /// skipped becomes `NONE`, nothing sent; the verb as written stays in `imported_step`), no
    /// blobs, no client-request-id (the Python tool sent none). A status with no outcome time
    /// gets the intent time (our rows keep the two together); `unknown` is an intent-only row.
    static func stepRow(_ s: PythonLedgerFile.Step, runID: String, path: String) throws(PythonLedgerError) -> StepRow {
        var status: StepStatus?
        if let text = s.status, text != StepStatus.unknownName {
            guard let parsed = StepStatus(rawValue: text) else {
                throw .unimportable(path: path, reason: "step \(s.seq) has status '\(text)', which the Python tool never writes")
            }
            status = parsed
        }
        let method = RecordedMethod(rawValue: s.method.uppercased())?.http.map { RecordedMethod.http($0) } ?? .noRequest
        var row = StepRow(id: nil, runID: runID, seq: s.seq, name: "step\(s.seq)", method: method.rawValue, url: s.url,
                          requestDigest: nil, requestHeadersDigest: nil, idempotencyKey: s.idempotencyKey, clientRequestID: "",
                          ifMatch: nil, preImageDigest: nil, targetStepID: nil, intentAt: s.intentTs)
        if let status {
            (row.status, row.outcomeAt) = (status.rawValue, s.outcomeTs ?? s.intentTs)
            (row.bcCorrelationID, row.errorMessage, row.rollbackURL) = (s.bcCorrelationID, s.errorMessage, s.rollbackURL)
        } else {
            row.errorMessage = s.errorMessage
        }
        return row
    }

    static func makeTempFolder() throws(StoreError) -> String {
        let base = getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp"
        var template = Array((base + "/bcli-python-ledger-XXXXXX").utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw .io(operation: "mkdtemp", path: base, errno: errno)
        }
        return String(cString: made)
    }

    static func removeTempFolder(_ path: String) {
        for name in POSIX.listDirectory(path) { unlink(path + "/" + name) }
        rmdir(path)
    }
}
