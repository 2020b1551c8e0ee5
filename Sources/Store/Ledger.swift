import Foundation
import GRDB
import Hashing

/// The ledger database: one SQLite file (`ledger.sqlite3`) holding every run's rows, the object
/// index and refs. Blobs themselves live in the `ObjectStore`; rows only name them.
///
/// Every write is its own short transaction and is committed before the call returns: an intent
/// row is on disk before the request it announces leaves the process, so a run killed at any
/// instant still tells the truth. WAL mode lets `list`/`state` read while a run writes.
public final class Ledger: Sendable {
    public let path: String
    public let durability: Durability
    let queue: DatabaseQueue

    /// Opens (creating and migrating if needed) the ledger at `path`. With `freshAllowed` false
    /// (the store has blobs, a `refs/head` file or run lock files), a database with no migrations applied is
    /// refused as damaged instead of being given a new, empty schema.
    /// The migrations this open applied (empty when the file was already current).
    public let migratedByThisOpen: Set<String>

    public init(path: String, durability: Durability = .process, readOnly: Bool = false, freshAllowed: Bool = true) throws(StoreError) {
        self.path = path
        self.durability = durability
        var config = Configuration()
        config.busyMode = .timeout(10)
        config.foreignKeysEnabled = true
        config.readonly = readOnly
        config.label = "bcli.ledger"
        let sync = durability == .full ? "FULL" : "NORMAL"
        config.prepareDatabase { db in
            // WAL and synchronous are set here, not through `journalMode = .wal`, because GRDB's
            // WAL setup forces synchronous=NORMAL and `full` durability needs FULL.
            if !readOnly { try db.execute(sql: "PRAGMA journal_mode = WAL") }
            try db.execute(sql: "PRAGMA synchronous = \(sync)")
            // A checkpoint fdatasyncs the WAL and the database even at synchronous=NORMAL; at the
            // default 1,000 pages a run paid two syncs every ~80 steps (docs/performance.md,
            // "Issue 12"). 8,192 pages (32 MiB) pays them ten times less often, and a page that
            // every step rewrites (the step table's last leaf, its indexes) is copied back once.
            // The WAL is cut back to 32 MiB after a checkpoint so it never stays larger.
            try db.execute(sql: "PRAGMA wal_autocheckpoint = \(Ledger.walAutocheckpointPages)")
            try db.execute(sql: "PRAGMA journal_size_limit = \(Ledger.walAutocheckpointPages * 4096)")
        }
        do {
            queue = try DatabaseQueue(path: path, configuration: config)
            let migrator = Schema.migrator
            let superseded = try queue.read { db in try migrator.hasBeenSuperseded(db) }
            if superseded {
                let unknown = try queue.read { db in
                    try migrator.appliedIdentifiers(db).subtracting(migrator.migrations).sorted()
                }
                throw StoreError.newerSchema(applied: unknown)
            }
            if !freshAllowed, try queue.read({ db in try migrator.appliedIdentifiers(db).isEmpty }) {
                throw StoreError.unusable(.damaged, path: path, detail: "the ledger has no tables, but the store has blobs, a refs/head file or run lock files: the ledger that recorded them was replaced")
            }
            let before = try queue.read { db in try migrator.appliedIdentifiers(db) }
            if !readOnly { try migrator.migrate(queue) }
            let after = try queue.read { db in try migrator.appliedIdentifiers(db) }
            migratedByThisOpen = after.subtracting(before)
        } catch {
            throw StoreError.classify(error, path: path)
        }
    }

    /// WAL pages between automatic checkpoints (SQLite's default is 1,000).
    static let walAutocheckpointPages = 8192

    /// Identifiers of the migrations applied to this file, oldest first.
    public func appliedMigrations() throws(StoreError) -> [String] {
        try read { db in try Schema.migrator.appliedMigrations(db) }
    }

    /// The value of a PRAGMA, for tests and `fsck` (e.g. "journal_mode", "synchronous").
    public func pragma(_ name: String) throws(StoreError) -> String? {
        try read { db in try String.fetchOne(db, sql: "PRAGMA \(name)") }
    }

    // MARK: - Writes

    /// Inserts the run row (state `running` unless told otherwise).
    public func startRun(_ run: NewRun) throws(StoreError) {
        try write { db in
            try Ledger.indexObjects([run.manifest, run.params].compactMap { $0 }, db)
            try RunRow(
                id: run.id, kind: run.kind.rawValue, parentRunID: run.parentRunID, name: run.name,
                manifestDigest: run.manifest?.digest.hex, manifestPath: run.manifestPath, paramsDigest: run.params?.digest.hex,
                profile: run.profile, environment: run.environment, company: run.company, baseURL: run.baseURL,
                state: run.state.rawValue, startedAt: Timestamp.now(), finishedAt: nil, toolVersion: run.toolVersion,
                durability: durability.rawValue, recordDigest: nil, previousRecordDigest: nil, stepCount: run.stepCount
            ).insert(db)
        }
    }

    /// Commits the intent row (and the object rows of the blobs it names) and returns the step id.
    @discardableResult
    public func writeIntent(_ intent: StepIntent) throws(StoreError) -> Int64 {
        try writeIntentStamped(intent).id
    }

    /// `writeIntent`, also returning the row's `intent_at` (stamped inside the transaction, so
    /// stamps follow commit order), so a caller that reports it need not read the row back.
    public func writeIntentStamped(_ intent: StepIntent) throws(StoreError) -> (id: Int64, intentAt: String) {
        try write { db in
            try Ledger.indexObjects([intent.request, intent.requestHeaders, intent.preImage].compactMap { $0 }, db)
            let intentAt = Timestamp.now()
            // One prepared statement per connection, as for the outcome: the record interface
            // encodes all 29 columns of a row and was a third of a step's ledger CPU.
            let row = StepRow(intent, intentAt: intentAt)
            try db.cachedStatement(sql: Ledger.intentInsertSQL).execute(arguments: [
                row.runID, row.seq, row.name, row.method, row.url, row.requestDigest, row.requestHeadersDigest,
                row.idempotencyKey, row.clientRequestID, row.ifMatch, row.preImageDigest, row.targetStepID, row.intentAt,
            ])
            return (db.lastInsertedRowID, intentAt)
        }
    }

    /// `writeIntent`'s INSERT: the intent columns in the order its arguments give them.
    static let intentInsertSQL: String = {
        typealias Key = StepRow.CodingKeys
        let columns: [Key] = [
            .runID, .seq, .name, .method, .url, .requestDigest, .requestHeadersDigest, .idempotencyKey, .clientRequestID,
            .ifMatch, .preImageDigest, .targetStepID, .intentAt,
        ]
        let names = columns.map(\.rawValue).joined(separator: ", ")
        let marks = Array(repeating: "?", count: columns.count).joined(separator: ", ")
        return "INSERT INTO \(StepRow.databaseTableName) (\(names)) VALUES (\(marks))"
    }()

    /// Commits the outcome of a step whose intent was written, with the pages it followed (a GET
    /// with `all: true`), in one transaction.
    public func writeOutcome(stepID: Int64, _ o: StepOutcome, pages: [NewStepPage] = []) throws(StoreError) {
        try write { db in
            try Ledger.indexObjects([o.response, o.responseHeaders].compactMap { $0 }, db)
            for page in pages {
                try Ledger.indexObjects([page.response, page.responseHeaders].compactMap { $0 }, db)
                try StepPageRow(stepID: stepID, page).insert(db)
            }
            // One prepared statement per connection (every step runs the same UPDATE).
            let update = try db.cachedStatement(sql: Ledger.outcomeUpdateSQL)
            try update.execute(arguments: [
                Timestamp.now(), o.status.rawValue, o.httpStatus, o.response?.digest.hex, o.responseHeaders?.digest.hex,
                o.etag, o.recordID, o.requestID, o.msCorrelationX, o.correlationRequestID, o.bcErrorCode,
                o.bcErrorMessage, o.bcCorrelationID, o.rollbackURL, o.errorMessage, o.durationMs, stepID,
            ])
            let changed = db.changesCount
            if changed != 1 { throw StoreError.invalidState("no step with id \(stepID) to record an outcome for") }
        }
    }

    /// `writeOutcome`'s UPDATE: the outcome columns in the order its arguments give them.
    static let outcomeUpdateSQL: String = {
        typealias Key = StepRow.CodingKeys
        let columns: [Key] = [
            .outcomeAt, .status, .httpStatus, .responseDigest, .responseHeadersDigest, .etag, .recordID, .requestID,
            .msCorrelationX, .correlationRequestID, .bcErrorCode, .bcErrorMessage, .bcCorrelationID, .rollbackURL,
            .errorMessage, .durationMs,
        ]
        let sets = columns.map { "\($0.rawValue) = ?" }.joined(separator: ", ")
        return "UPDATE \(StepRow.databaseTableName) SET \(sets) WHERE \(Key.id.rawValue) = ?"
    }()

    /// Notes why a sent request got no answer, leaving the step without an outcome: the write may
    /// or may not have been committed, so the step keeps reading `unknown`.
    public func noteUnresolvedOutcome(stepID: Int64, message: String) throws(StoreError) {
        try write { db in
            _ = try StepRow.filter(key: stepID).filter(StepRow.Columns.outcomeAt == nil)
                .updateAll(db, StepRow.Columns.errorMessage.set(to: message))
        }
    }

    /// Records a step that sent no request (e.g. its references could not resolve): intent and
    /// outcome in one row, status `skipped` (or as given), with the reason.
    @discardableResult
    public func writeSkipped(_ intent: StepIntent, status: StepStatus = .skipped, reason: String) throws(StoreError) -> Int64 {
        try write { db in
            let now = Timestamp.now()
            var row = StepRow(intent, intentAt: now)
            // A skipped step names no blob: nothing was sent, so nothing was stored for it.
            (row.requestDigest, row.requestHeadersDigest, row.ifMatch, row.preImageDigest) = (nil, nil, nil, nil)
            (row.outcomeAt, row.status, row.errorMessage) = (now, status.rawValue, reason)
            try row.insert(db)
            return db.lastInsertedRowID
        }
    }

    /// Records a step that was not sent because its idempotency key was committed earlier
    /// (`original`: a step of the same run, or with `idempotency: store` of an earlier run): intent
    /// and outcome in one row, status `replayed`, `target_step_id` naming the original step, and the original's record id and response blob (the step's
    /// outputs come from that response). No request, headers, HTTP status or ETag: nothing was sent.
    @discardableResult
    public func writeReplayed(_ intent: StepIntent, of original: StepRecord, note: String) throws(StoreError) -> Int64 {
        try write { db in
            let now = Timestamp.now()
            var row = StepRow(intent, intentAt: now)
            (row.requestDigest, row.requestHeadersDigest, row.ifMatch, row.preImageDigest) = (nil, nil, nil, nil)
            row.targetStepID = original.id
            (row.outcomeAt, row.status, row.errorMessage) = (now, StepStatus.replayed.rawValue, note)
            (row.recordID, row.responseDigest, row.durationMs) = (original.recordID, original.responseDigest?.hex, 0)
            try row.insert(db)
            return db.lastInsertedRowID
        }
    }

    /// Changes a step's status (rollback marks the original steps).
    public func setStepStatus(stepID: Int64, _ status: StepStatus) throws(StoreError) {
        try write { db in
            let changed = try StepRow.filter(key: stepID).updateAll(db, [
                Column(StepRow.CodingKeys.status).set(to: status.rawValue),
                StepRow.Columns.outcomeAt.set(to: StepRow.Columns.outcomeAt ?? Timestamp.now()),
            ])
            if changed != 1 { throw StoreError.invalidState("no step with id \(stepID)") }
        }
    }

    /// Re-stamps a finished run's state (e.g. `rolled_back` after a full rollback).
    public func restampRun(_ runID: String, state: RunState) throws(StoreError) {
        try write { db in
            _ = try RunRow.filter(key: runID).updateAll(db, RunRow.Columns.state.set(to: state.rawValue))
        }
    }

    /// Points a ref (e.g. `refs/head`) at a blob.
    public func setRef(_ name: String, to blob: BlobRef) throws(StoreError) {
        try write { db in
            try Ledger.indexObjects([blob], db)
            try Ledger.setRef(name, blob.digest, db)
        }
    }

    public func ref(_ name: String) throws(StoreError) -> Digest? {
        try read { db in
            try RefRow.fetchOne(db, key: name).flatMap { try? Digest(parsing: $0.digest) }
        }
    }

    /// Registers blobs in the object index (idempotent).
    public func indexObjects(_ blobs: [BlobRef]) throws(StoreError) {
        try write { db in try Ledger.indexObjects(blobs, db) }
    }

    // MARK: - Reads

    /// One run by full id, with derived state. `lockHeld` tells whether a process still runs it.
    public func run(_ id: String, lockHeld: (String) -> Bool = { _ in false }) throws(StoreError) -> RunRecord {
        let rows = try read { db in try RunQuery.fetchAll(db, sql: RunQuery.select(where: "r.id = ?"), arguments: [id]) }
        guard let row = rows.first else { throw .runNotFound(id) }
        return row.record(lockHeld: lockHeld)
    }

    /// Filters for `list`.
    public struct RunFilter: Sendable {
        public var state: RunState?
        public var kind: RunKind?
        public var since: String?
        public var limit: Int?
        public init(state: RunState? = nil, kind: RunKind? = nil, since: String? = nil, limit: Int? = nil) {
            self.state = state
            self.kind = kind
            self.since = since
            self.limit = limit
        }
    }

    /// Runs newest first, with derived states and step counts.
    ///
    /// A state filter runs in SQL (`RunQuery.derivedState`, the rule for a run no process holds),
    /// then the lock decides the unfinished candidates: `running` narrows to unfinished runs in
    /// SQL and keeps those whose lock is held; any other state drops unfinished runs whose lock is
    /// held (they are `running`). Only unfinished runs are probed, and a page is read again only
    /// when the lock check dropped rows, so `--limit` stays a database limit.
    public func runs(_ filter: RunFilter = RunFilter(), lockHeld: (String) -> Bool = { _ in false }) throws(StoreError) -> [RunRecord] {
        var conditions: [String] = []
        var args: [any DatabaseValueConvertible] = []
        if let since = filter.since { conditions.append("r.started_at >= ?"); args.append(since) }
        if let kind = filter.kind { conditions.append("r.kind = ?"); args.append(kind.rawValue) }
        switch filter.state {
        case nil: break
        case .running?:
            // Unfinished runs are `running` when their lock is held (checked below); the SQL rule
            // covers the rest (a finished row stamped `running` by no bcli, kept as stamped).
            conditions.append("(r.finished_at IS NULL OR \(RunQuery.derivedState) = 'running')")
        case let state?: conditions.append("\(RunQuery.derivedState) = ?"); args.append(state.rawValue)
        }
        let order = " ORDER BY r.started_at DESC, r.id DESC"
        var sql = RunQuery.select(where: conditions.isEmpty ? nil : conditions.joined(separator: " AND ")) + order
        guard let state = filter.state, let limit = filter.limit else {
            if let limit = filter.limit { sql += " LIMIT ?"; args.append(limit) }
            let rows = try read { db in try RunQuery.fetchAll(db, sql: sql, arguments: StatementArguments(args)) }
            let runs = rows.map { $0.record(lockHeld: lockHeld) }
            return filter.state.map { state in runs.filter { $0.state == state } } ?? runs
        }
        // With a limit: read `limit` rows; if the lock check dropped some, read on after the last
        // row seen (keyset, so each page costs only its own rows).
        conditions.append("(r.started_at < ? OR (r.started_at = ? AND r.id < ?))")
        let pageSQL = RunQuery.select(where: conditions.joined(separator: " AND ")) + order + " LIMIT ?"
        var out: [RunRecord] = []
        var rows = try read { db in try RunQuery.fetchAll(db, sql: sql + " LIMIT ?", arguments: StatementArguments(args + [limit])) }
        while true {
            for row in rows {
                let run = row.record(lockHeld: lockHeld)
                guard run.state == state else { continue }
                out.append(run)
                if out.count == limit { return out }
            }
            guard rows.count == limit, let last = rows.last else { return out }
            let (startedAt, id) = (last.run.startedAt, last.run.id)
            let pageArgs = args + [startedAt, startedAt, id, limit]
            rows = try read { db in try RunQuery.fetchAll(db, sql: pageSQL, arguments: StatementArguments(pageArgs)) }
        }
    }

    /// Resolves a full run id, a unique prefix (6 hex characters at least: older hints printed 6;
    /// `abbreviations` prints 8 or more), `latest` (the newest
    /// run, by start time) or `latest~N` (the Nth run before it), as git resolves `HEAD~N`.
    public func resolveRunID(_ text: String) throws(StoreError) -> String {
        if let back = Self.latestOffset(text) { return try latestRunID(back: back, asked: text) }
        let t = text.lowercased()
        guard t.utf8.count >= 6, t.utf8.count <= 32, RunID.isHex(t) else { throw .invalidRunID(text) }
        let ids = try read { db in
            try String.fetchAll(db, RunRow.select(RunRow.Columns.id)
                .filter(RunRow.Columns.id >= t && RunRow.Columns.id < t + "g").order(RunRow.Columns.id).limit(6))
        }
        switch ids.count {
        case 0: throw .runNotFound(text)
        case 1: return ids[0]
        default: throw .ambiguousRunID(text, candidates: ids)
        }
    }

    /// `latest` → 0, `latest~N` → N, `latest~` → 1 (git's `HEAD~`); nil when `text` is not of that
    /// form. Case-insensitive, so `LATEST` works as typed.
    public static func latestOffset(_ text: String) -> Int? {
        let t = text.lowercased()
        guard t.hasPrefix("latest") else { return nil }
        let rest = t.dropFirst("latest".count)
        if rest.isEmpty { return 0 }
        guard rest.first == "~" else { return nil }
        let digits = rest.dropFirst()
        if digits.isEmpty { return 1 }
        guard digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return Int(digits) ?? Int.max  // more runs back than any store holds: out of range, not malformed
    }

    /// The run `back` places before the newest, in `batch list`'s order (start time, then id).
    private func latestRunID(back: Int, asked: String) throws(StoreError) -> String {
        let ids = try read { db in
            try String.fetchAll(db, sql: "SELECT id FROM run ORDER BY started_at DESC, id DESC LIMIT 1 OFFSET ?", arguments: [back])
        }
        guard let id = ids.first else {
            let total = try read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM run") ?? 0 }
            throw .latestOutOfRange(asked, runs: total)
        }
        return id
    }

    /// The shortest prefix of each id, at least `minimum` characters, that starts no other run's id,
    /// as git abbreviates object names: it grows as the store fills, so a printed id keeps working.
    /// Ids not in the store are abbreviated against those that are.
    public func abbreviations(of ids: [String], minimum: Int = RunID.displayLength) throws(StoreError) -> [String: String] {
        guard !ids.isEmpty else { return [:] }
        return try read { db in
            var out: [String: String] = [:]
            let before = try db.cachedStatement(sql: "SELECT id FROM run WHERE id < ? ORDER BY id DESC LIMIT 1")
            let after = try db.cachedStatement(sql: "SELECT id FROM run WHERE id > ? ORDER BY id LIMIT 1")
            for id in ids where out[id] == nil {
                let neighbours = [try String.fetchOne(before, arguments: [id]), try String.fetchOne(after, arguments: [id])].compactMap { $0 }
                let shared = neighbours.map { Self.commonPrefixLength(id, $0) }.max() ?? 0
                out[id] = String(id.prefix(max(minimum, shared + 1)))
            }
            return out
        }
    }

    /// One id's abbreviation; the full id if the ledger cannot be read (a display never fails).
    public func abbreviation(of id: String) -> String {
        (try? abbreviations(of: [id]))?[id] ?? id
    }

    public static func commonPrefixLength(_ a: String, _ b: String) -> Int {
        zip(a.utf8, b.utf8).prefix { $0 == $1 }.count
    }

    /// A run's steps in order.
    public func steps(runID: String) throws(StoreError) -> [StepRecord] {
        try read { db in try StepRow.fetchRecords(db, StepRow.ofRun(runID)) }
    }

    /// Every compensating step (from any rollback run) that targets a step of `runID`, oldest first.
    /// Other rows name a step of another row too, and are not compensations: a `replayed` row names
    /// its original (in its own run, or with `idempotency: store` in an earlier run), a reconcile
    /// run's GET names the step it examined. So only rows of runs of kind `rollback` count.
    public func compensations(ofRun runID: String) throws(StoreError) -> [StepRecord] {
        try read { db in
            let targets = StepRow.select(StepRow.Columns.id).filter(StepRow.Columns.runID == runID)
            let rollbacks = RunRow.select(RunRow.Columns.id).filter(RunRow.Columns.kind == RunKind.rollback.rawValue)
            return try StepRow.fetchRecords(db, StepRow.filter(targets.contains(StepRow.Columns.targetStepID))
                .filter(rollbacks.contains(StepRow.Columns.runID)).order(StepRow.Columns.id))
        }
    }

    public func step(id: Int64) throws(StoreError) -> StepRecord? {
        try read { db in
            try StepRow.fetchRecord(db, id: id)
        }
    }

    /// Every indexed object (digest, size), for fsck and gc.
    public func objects() throws(StoreError) -> [BlobRef] {
        try read { db in
            try ObjectRow.order(ObjectRow.Columns.digest).fetchAll(db).compactMap(\.blob)
        }
    }

    // MARK: - Plumbing

    func write<T>(_ body: (Database) throws -> T) throws(StoreError) -> T {
        do { return try queue.write(body) } catch { throw StoreError.classify(error, path: path) }
    }

    func read<T>(_ body: (Database) throws -> T) throws(StoreError) -> T {
        do { return try queue.read(body) } catch { throw StoreError.classify(error, path: path) }
    }

    /// Indexes blobs in the caller's transaction; a blob carrying its bytes (`BlobRef.inlineBytes`)
    /// has them stored in `object_data` by the same transaction, so the row naming it and its
    /// bytes commit together or not at all. Bytes already stored are kept (the digest says they
    /// are the same).
    static func indexObjects(_ blobs: [BlobRef], _ db: Database) throws {
        guard !blobs.isEmpty else { return }
        let now = Timestamp.now()
        // Prepared once per connection: every step indexes two to four blobs. A blob named again
        // has its `created_at` moved to now, so gc's grace period counts from its last use, as a
        // file's mtime does (`ObjectStore`'s dedup touches it).
        let object = try db.cachedStatement(sql: """
            INSERT INTO object (digest, size, media_type, created_at) VALUES (?, ?, ?, ?)
            ON CONFLICT (digest) DO UPDATE SET created_at = excluded.created_at
            """)
        for b in blobs {
            try object.execute(arguments: [b.digest.hex, b.size, b.mediaType, now])
            if let bytes = b.inlineBytes {
                let data = try db.cachedStatement(sql: "INSERT OR IGNORE INTO object_data (digest, data) VALUES (?, ?)")
                try data.execute(arguments: [b.digest.hex, Data(bytes)])
            }
        }
    }

    static func setRef(_ name: String, _ digest: Digest, _ db: Database) throws {
        try RefRow(name: name, digest: digest.hex, updatedAt: Timestamp.now()).insert(db, onConflict: .replace)
    }

    /// Stamps a run's final state and finish time, and its record digests when given.
    static func stamp(_ runID: String, state: RunState, record: Digest? = nil, previous: Digest? = nil, _ db: Database) throws {
        var assignments = [RunRow.Columns.state.set(to: state.rawValue), RunRow.Columns.finishedAt.set(to: Timestamp.now())]
        if let record { assignments.append(RunRow.Columns.recordDigest.set(to: record.hex)) }
        if let previous { assignments.append(RunRow.Columns.previousRecordDigest.set(to: previous.hex)) }
        let changed = try RunRow.filter(key: runID).updateAll(db, assignments)
        if changed != 1 { throw StoreError.runNotFound(runID) }
    }
}

/// The one query behind `state` and `list`: run columns, step counts, and the derived state.
///
/// Counts and derivation are correlated subqueries over the `(run_id, seq)` index, so a query
/// touches only the steps of the runs it returns (or, with a state filter, of the runs it
/// filters): `list --limit 50` on a store of a million steps reads 50 runs' steps, not all of them.
enum RunQuery {
    /// Step rows that landed (see `RunStateRule.landedCount`): committed at some point.
    static let landedOverSteps = """
        (COALESCE(SUM(s.status IN ('committed','replayed','rolled_back','rollback_skipped','rollback_failed','reconciled_applied')), 0)
         + CASE WHEN r.kind = 'rollback' THEN COALESCE(SUM(s.status = 'skipped'), 0) ELSE 0 END)
        """

    /// `RunStateRule.derive` in SQL for a run whose lock no process holds (the lock is not in the
    /// database; `Ledger.runs` applies it), row for row in the same order. The tests prove the
    /// two agree on every combination of stamp, finished, kind, step count and step statuses.
    static let derivedState = """
        (SELECT CASE
            WHEN COALESCE(SUM(s.status IS NULL), 0) > 0 THEN 'in_doubt'
            WHEN r.state = 'rolled_back' THEN 'rolled_back'
            WHEN r.finished_at IS NOT NULL AND r.state = 'cancelled' THEN 'cancelled'
            WHEN r.step_count IS NOT NULL AND \(landedOverSteps) = r.step_count THEN 'completed'
            WHEN r.finished_at IS NULL THEN 'interrupted'
            WHEN r.step_count IS NULL THEN r.state
            WHEN \(landedOverSteps) > 0 THEN 'partially_committed'
            ELSE 'failed'
         END FROM step s WHERE s.run_id = r.id)
        """

    /// The step counts of one run, packed in one string so one index scan yields them all:
    /// total committed failed unknown skipped replayed rolled_back rollback_skipped rollback_failed
    /// reconciled_applied reconciled_not_applied.
    static let packedCounts = """
        (SELECT COUNT(*) || ' ' || COALESCE(SUM(status IN ('committed','replayed')), 0) || ' ' ||
                COALESCE(SUM(status = 'failed'), 0) || ' ' || COALESCE(SUM(status IS NULL), 0) || ' ' ||
                COALESCE(SUM(status = 'skipped'), 0) || ' ' || COALESCE(SUM(status = 'replayed'), 0) || ' ' ||
                COALESCE(SUM(status = 'rolled_back'), 0) || ' ' || COALESCE(SUM(status = 'rollback_skipped'), 0) || ' ' ||
                COALESCE(SUM(status = 'rollback_failed'), 0) || ' ' || COALESCE(SUM(status = 'reconciled_applied'), 0) || ' ' ||
                COALESCE(SUM(status = 'reconciled_not_applied'), 0)
         FROM step s WHERE s.run_id = r.id)
        """

    static func select(where condition: String?) -> String {
        """
        SELECT r.*, \(packedCounts) AS packed_counts
        FROM run r
        \(condition.map { "WHERE \($0)" } ?? "")
        """
    }

    /// A row of `select(where:)`: the run row and its step counts.
    struct Result {
        let run: RunRow
        let counts: StepCounts

        func record(lockHeld: (String) -> Bool) -> RunRecord { run.record(counts: counts, lockHeld: lockHeld) }
    }

    static func fetchAll(_ db: Database, sql: String, arguments: StatementArguments) throws -> [Result] {
        try Row.fetchAll(db, sql: sql, arguments: arguments).map { row in
            let packed = ((row["packed_counts"] as String?) ?? "").split(separator: " ").map { Int($0) ?? 0 }
            let n = packed + Array(repeating: 0, count: max(0, 11 - packed.count))
            var counts = StepCounts()
            (counts.total, counts.committed, counts.failed, counts.unknown, counts.skipped) = (n[0], n[1], n[2], n[3], n[4])
            (counts.replayed, counts.rolledBack, counts.rollbackSkipped, counts.rollbackFailed) = (n[5], n[6], n[7], n[8])
            (counts.reconciledApplied, counts.reconciledNotApplied) = (n[9], n[10])
            return Result(run: try RunRow(row: row), counts: counts)
        }
    }
}
