import GRDB

/// The ledger's schema as forward-only migrations.
///
/// Migrations are never edited once released: a change is a new migration appended to the
/// list. A store that has migrations this build does not know was written by a newer bcli and
/// is refused rather than guessed at.
enum Schema {
    /// The run states migration 1 allowed. Frozen: a migration's SQL never changes once released,
    /// so new states are added by a later migration (4), not by growing this list.
    static let v1RunStates = "'planned','running','partially_committed','completed','failed','cancelled','rolled_back'"
    /// The run states migration 4 allows (every `RunState`). Frozen like `v1RunStates`.
    static let v4RunStates = v1RunStates + ",'in_doubt','interrupted'"
    /// The step statuses migration 1 allowed. Frozen like `v1RunStates` (migration 8 adds the
    /// reconcile statuses by rebuilding `step`).
    static let v1StepStatuses = "'committed','failed','skipped','replayed','rolled_back','rollback_skipped','rollback_failed'"
    /// The step statuses migration 8 allows (every `StepStatus`). Frozen.
    static let v8StepStatuses = v1StepStatuses + ",'reconciled_applied','reconciled_not_applied'"
    /// The run kinds migration 1 allowed. Frozen like `v1RunStates` (migration 4 kept them;
    /// migration 6 adds `imported`).
    static let v1RunKinds = "'batch','rollback'"

    /// A CHECK that a column holds a bare 64-hex digest (or NULL).
    static func digestCheck(_ column: String) -> String {
        "CHECK (\(column) IS NULL OR (length(\(column)) = 64 AND \(column) NOT GLOB '*[^0-9a-f]*'))"
    }

    static let v1 = """
        CREATE TABLE object (
            digest TEXT PRIMARY KEY \(digestCheck("digest")),
            size INTEGER NOT NULL CHECK (size >= 0),
            media_type TEXT,
            created_at TEXT NOT NULL
        ) WITHOUT ROWID;

        CREATE TABLE run (
            id TEXT PRIMARY KEY CHECK (length(id) = 32 AND id NOT GLOB '*[^0-9a-f]*'),
            kind TEXT NOT NULL CHECK (kind IN (\(v1RunKinds))),
            parent_run_id TEXT REFERENCES run(id),
            name TEXT,
            manifest_digest TEXT REFERENCES object(digest) \(digestCheck("manifest_digest")),
            manifest_path TEXT,
            params_digest TEXT REFERENCES object(digest) \(digestCheck("params_digest")),
            profile TEXT,
            environment TEXT,
            company TEXT,
            base_url TEXT,
            state TEXT NOT NULL CHECK (state IN (\(v1RunStates))),
            started_at TEXT NOT NULL,
            finished_at TEXT,
            tool_version TEXT NOT NULL,
            durability TEXT NOT NULL CHECK (durability IN ('process','full')),
            record_digest TEXT REFERENCES object(digest) \(digestCheck("record_digest")),
            previous_record_digest TEXT \(digestCheck("previous_record_digest"))
        );

        CREATE TABLE step (
            id INTEGER PRIMARY KEY,
            run_id TEXT NOT NULL REFERENCES run(id),
            seq INTEGER NOT NULL CHECK (seq >= 1),
            name TEXT NOT NULL,
            method TEXT NOT NULL,
            url TEXT NOT NULL,
            request_digest TEXT REFERENCES object(digest) \(digestCheck("request_digest")),
            request_headers_digest TEXT REFERENCES object(digest) \(digestCheck("request_headers_digest")),
            idempotency_key TEXT,
            client_request_id TEXT NOT NULL,
            if_match TEXT,
            pre_image_digest TEXT REFERENCES object(digest) \(digestCheck("pre_image_digest")),
            target_step_id INTEGER REFERENCES step(id),
            intent_at TEXT NOT NULL,
            outcome_at TEXT,
            status TEXT CHECK (status IS NULL OR status IN (\(v1StepStatuses))),
            http_status INTEGER,
            response_digest TEXT REFERENCES object(digest) \(digestCheck("response_digest")),
            response_headers_digest TEXT REFERENCES object(digest) \(digestCheck("response_headers_digest")),
            etag TEXT,
            record_id TEXT,
            request_id TEXT,
            ms_correlation_x TEXT,
            correlation_request_id TEXT,
            bc_error_code TEXT,
            bc_error_message TEXT,
            bc_correlation_id TEXT,
            rollback_url TEXT,
            error_message TEXT,
            duration_ms INTEGER,
            UNIQUE (run_id, seq),
            CHECK ((outcome_at IS NULL) = (status IS NULL))
        );

        CREATE TABLE ref (
            name TEXT PRIMARY KEY,
            digest TEXT NOT NULL REFERENCES object(digest) \(digestCheck("digest")),
            updated_at TEXT NOT NULL
        ) WITHOUT ROWID;
        """

    static let v2 = """
        CREATE INDEX run_started_at ON run (started_at);
        CREATE INDEX run_parent ON run (parent_run_id) WHERE parent_run_id IS NOT NULL;
        CREATE INDEX step_client_request_id ON step (client_request_id);
        CREATE INDEX step_idempotency_key ON step (idempotency_key) WHERE idempotency_key IS NOT NULL;
        CREATE INDEX step_target ON step (target_step_id) WHERE target_step_id IS NOT NULL;
        """

    /// Runs removed by `batch gc --prune-runs-older-than`: their step and run rows are gone, but
    /// their run records stay (this table keeps them referenced), so the chain of records from
    /// `refs/head` still verifies and names every run that ever finished.
    static let v3 = """
        CREATE TABLE pruned_run (
            id TEXT PRIMARY KEY CHECK (length(id) = 32 AND id NOT GLOB '*[^0-9a-f]*'),
            record_digest TEXT NOT NULL REFERENCES object(digest) \(digestCheck("record_digest")),
            pruned_at TEXT NOT NULL
        ) WITHOUT ROWID;
        """

    /// The run states `in_doubt` and `interrupted`, and `run.step_count` (the manifest's step
    /// count, recorded at start; NULL for runs recorded before: they derive as before).
    ///
    /// SQLite cannot change a CHECK constraint in place, so `run` is rebuilt (create the new
    /// table, copy, drop, rename, re-create its indexes). GRDB runs this migration with foreign
    /// keys off (`foreignKeyChecks: .deferred`, the default) and runs `PRAGMA foreign_key_check`
    /// before it commits, so `step.run_id` and `run.parent_run_id` keep pointing at the same rows
    /// and the migration rolls back whole if any would not.
    static let v4 = """
        CREATE TABLE run_v4 (
            id TEXT PRIMARY KEY CHECK (length(id) = 32 AND id NOT GLOB '*[^0-9a-f]*'),
            kind TEXT NOT NULL CHECK (kind IN ('batch','rollback')),
            parent_run_id TEXT REFERENCES run(id),
            name TEXT,
            manifest_digest TEXT REFERENCES object(digest) \(digestCheck("manifest_digest")),
            manifest_path TEXT,
            params_digest TEXT REFERENCES object(digest) \(digestCheck("params_digest")),
            profile TEXT,
            environment TEXT,
            company TEXT,
            base_url TEXT,
            state TEXT NOT NULL CHECK (state IN (\(v4RunStates))),
            started_at TEXT NOT NULL,
            finished_at TEXT,
            tool_version TEXT NOT NULL,
            durability TEXT NOT NULL CHECK (durability IN ('process','full')),
            record_digest TEXT REFERENCES object(digest) \(digestCheck("record_digest")),
            previous_record_digest TEXT \(digestCheck("previous_record_digest")),
            step_count INTEGER CHECK (step_count IS NULL OR step_count >= 0)
        );
        INSERT INTO run_v4 (id, kind, parent_run_id, name, manifest_digest, manifest_path, params_digest, profile,
            environment, company, base_url, state, started_at, finished_at, tool_version, durability, record_digest,
            previous_record_digest)
        SELECT id, kind, parent_run_id, name, manifest_digest, manifest_path, params_digest, profile,
            environment, company, base_url, state, started_at, finished_at, tool_version, durability, record_digest,
            previous_record_digest
        FROM run;
        DROP TABLE run;
        ALTER TABLE run_v4 RENAME TO run;
        CREATE INDEX run_started_at ON run (started_at);
        CREATE INDEX run_parent ON run (parent_run_id) WHERE parent_run_id IS NOT NULL;
        """

    /// Runs imported from the Python tool's ledger (`batch import-python-ledger`): run kind
    /// `imported` in the `run.kind` CHECK (`run` is rebuilt exactly as migration 4 did it: create
    /// `run_v6`, copy every column, drop, rename, re-create the indexes; GRDB runs it with foreign
    /// keys off and `PRAGMA foreign_key_check` before commit), and two side tables for what the
    /// Python tool recorded that has no place in `run`/`step`:
    ///
    /// - `imported_run`: the source file's name, the blob holding its bytes (`source_digest`, a
    ///   real blob), whether a `-wal` was recovered into the copy, the Python ledger's schema
    ///   version and `python_manifest_hash` (its stamped state is `run.state`);
    /// - `imported_step`: the Python row id, its method as written, and `python_body_hash`.
    ///
    /// `python_manifest_hash` and `python_body_hash` are **hash-only values**: SHA-256 hex the
    /// Python tool computed (of the manifest file; of `json.dumps(data, sort_keys=True)`), with
    /// no bytes anywhere. They are named `*_hash`, not `*_digest`, are no foreign keys into
    /// `object`, and `gc` and `verify` never look for blobs under them. Both tables cascade on
    /// delete, so `gc --prune-runs-older-than` can prune an imported run like any other.
    static let v6 = """
        CREATE TABLE run_v6 (
            id TEXT PRIMARY KEY CHECK (length(id) = 32 AND id NOT GLOB '*[^0-9a-f]*'),
            kind TEXT NOT NULL CHECK (kind IN ('batch','rollback','imported')),
            parent_run_id TEXT REFERENCES run(id),
            name TEXT,
            manifest_digest TEXT REFERENCES object(digest) \(digestCheck("manifest_digest")),
            manifest_path TEXT,
            params_digest TEXT REFERENCES object(digest) \(digestCheck("params_digest")),
            profile TEXT,
            environment TEXT,
            company TEXT,
            base_url TEXT,
            state TEXT NOT NULL CHECK (state IN (\(v4RunStates))),
            started_at TEXT NOT NULL,
            finished_at TEXT,
            tool_version TEXT NOT NULL,
            durability TEXT NOT NULL CHECK (durability IN ('process','full')),
            record_digest TEXT REFERENCES object(digest) \(digestCheck("record_digest")),
            previous_record_digest TEXT \(digestCheck("previous_record_digest")),
            step_count INTEGER CHECK (step_count IS NULL OR step_count >= 0)
        );
        INSERT INTO run_v6 (id, kind, parent_run_id, name, manifest_digest, manifest_path, params_digest, profile,
            environment, company, base_url, state, started_at, finished_at, tool_version, durability, record_digest,
            previous_record_digest, step_count)
        SELECT id, kind, parent_run_id, name, manifest_digest, manifest_path, params_digest, profile,
            environment, company, base_url, state, started_at, finished_at, tool_version, durability, record_digest,
            previous_record_digest, step_count
        FROM run;
        DROP TABLE run;
        ALTER TABLE run_v6 RENAME TO run;
        CREATE INDEX run_started_at ON run (started_at);
        CREATE INDEX run_parent ON run (parent_run_id) WHERE parent_run_id IS NOT NULL;

        CREATE TABLE imported_run (
            run_id TEXT PRIMARY KEY REFERENCES run(id) ON DELETE CASCADE,
            source_file TEXT NOT NULL,
            source_digest TEXT NOT NULL REFERENCES object(digest) \(digestCheck("source_digest")),
            source_wal_recovered INTEGER NOT NULL CHECK (source_wal_recovered IN (0, 1)),
            python_schema_version INTEGER,
            python_manifest_hash TEXT,
            imported_at TEXT NOT NULL
        ) WITHOUT ROWID;

        CREATE TABLE imported_step (
            step_id INTEGER PRIMARY KEY REFERENCES step(id) ON DELETE CASCADE,
            python_step_id INTEGER NOT NULL,
            python_method TEXT NOT NULL,
            python_body_hash TEXT
        );
        """

    /// The pages of a GET that followed `@odata.nextLink` (a step with `all: true`): one row per
    /// page received, in order, each naming the exact bytes of that page's body and headers as
    /// blobs. The step row itself names the *assembled* body (every page's `value` in one array,
    /// `PageAssembly`), which is what references, `diff` and `show --response` read; these rows are
    /// the evidence it was assembled from (`verify` recomputes it). A step that got one page has
    /// no rows here. Cascades with its step, so `gc --prune-runs-older-than` prunes them too.
    static let v7 = """
        CREATE TABLE step_page (
            step_id INTEGER NOT NULL REFERENCES step(id) ON DELETE CASCADE,
            page INTEGER NOT NULL CHECK (page >= 1),
            url TEXT NOT NULL,
            http_status INTEGER,
            response_digest TEXT REFERENCES object(digest) \(digestCheck("response_digest")),
            response_headers_digest TEXT REFERENCES object(digest) \(digestCheck("response_headers_digest")),
            request_id TEXT,
            duration_ms INTEGER,
            PRIMARY KEY (step_id, page)
        ) WITHOUT ROWID;
        """

    /// Recovery (`batch reconcile`, `batch resume`): run kinds `reconcile` and `resume` in the
    /// `run.kind` CHECK and step statuses `reconciled_applied` / `reconciled_not_applied` in the
    /// `step.status` CHECK. SQLite cannot change a CHECK in place, so both tables are rebuilt as
    /// migration 4 rebuilt `run` (create, copy every column, drop, rename, re-create the indexes);
    /// GRDB runs it with foreign keys off and `PRAGMA foreign_key_check` before it commits, so
    /// `step.run_id`, `step.target_step_id`, `step_page.step_id`, `imported_step.step_id` and the
    /// rest keep pointing at the same rows (ids are copied) and the migration rolls back whole if
    /// any would not.
    static let v8 = """
        CREATE TABLE run_v8 (
            id TEXT PRIMARY KEY CHECK (length(id) = 32 AND id NOT GLOB '*[^0-9a-f]*'),
            kind TEXT NOT NULL CHECK (kind IN ('batch','rollback','imported','reconcile','resume')),
            parent_run_id TEXT REFERENCES run(id),
            name TEXT,
            manifest_digest TEXT REFERENCES object(digest) \(digestCheck("manifest_digest")),
            manifest_path TEXT,
            params_digest TEXT REFERENCES object(digest) \(digestCheck("params_digest")),
            profile TEXT,
            environment TEXT,
            company TEXT,
            base_url TEXT,
            state TEXT NOT NULL CHECK (state IN (\(v4RunStates))),
            started_at TEXT NOT NULL,
            finished_at TEXT,
            tool_version TEXT NOT NULL,
            durability TEXT NOT NULL CHECK (durability IN ('process','full')),
            record_digest TEXT REFERENCES object(digest) \(digestCheck("record_digest")),
            previous_record_digest TEXT \(digestCheck("previous_record_digest")),
            step_count INTEGER CHECK (step_count IS NULL OR step_count >= 0)
        );
        INSERT INTO run_v8 (id, kind, parent_run_id, name, manifest_digest, manifest_path, params_digest, profile,
            environment, company, base_url, state, started_at, finished_at, tool_version, durability, record_digest,
            previous_record_digest, step_count)
        SELECT id, kind, parent_run_id, name, manifest_digest, manifest_path, params_digest, profile,
            environment, company, base_url, state, started_at, finished_at, tool_version, durability, record_digest,
            previous_record_digest, step_count
        FROM run;
        DROP TABLE run;
        ALTER TABLE run_v8 RENAME TO run;
        CREATE INDEX run_started_at ON run (started_at);
        CREATE INDEX run_parent ON run (parent_run_id) WHERE parent_run_id IS NOT NULL;

        CREATE TABLE step_v8 (
            id INTEGER PRIMARY KEY,
            run_id TEXT NOT NULL REFERENCES run(id),
            seq INTEGER NOT NULL CHECK (seq >= 1),
            name TEXT NOT NULL,
            method TEXT NOT NULL,
            url TEXT NOT NULL,
            request_digest TEXT REFERENCES object(digest) \(digestCheck("request_digest")),
            request_headers_digest TEXT REFERENCES object(digest) \(digestCheck("request_headers_digest")),
            idempotency_key TEXT,
            client_request_id TEXT NOT NULL,
            if_match TEXT,
            pre_image_digest TEXT REFERENCES object(digest) \(digestCheck("pre_image_digest")),
            target_step_id INTEGER REFERENCES step(id),
            intent_at TEXT NOT NULL,
            outcome_at TEXT,
            status TEXT CHECK (status IS NULL OR status IN (\(v8StepStatuses))),
            http_status INTEGER,
            response_digest TEXT REFERENCES object(digest) \(digestCheck("response_digest")),
            response_headers_digest TEXT REFERENCES object(digest) \(digestCheck("response_headers_digest")),
            etag TEXT,
            record_id TEXT,
            request_id TEXT,
            ms_correlation_x TEXT,
            correlation_request_id TEXT,
            bc_error_code TEXT,
            bc_error_message TEXT,
            bc_correlation_id TEXT,
            rollback_url TEXT,
            error_message TEXT,
            duration_ms INTEGER,
            UNIQUE (run_id, seq),
            CHECK ((outcome_at IS NULL) = (status IS NULL))
        );
        INSERT INTO step_v8 SELECT id, run_id, seq, name, method, url, request_digest, request_headers_digest,
            idempotency_key, client_request_id, if_match, pre_image_digest, target_step_id, intent_at, outcome_at,
            status, http_status, response_digest, response_headers_digest, etag, record_id, request_id,
            ms_correlation_x, correlation_request_id, bc_error_code, bc_error_message, bc_correlation_id,
            rollback_url, error_message, duration_ms
        FROM step;
        DROP TABLE step;
        ALTER TABLE step_v8 RENAME TO step;
        CREATE INDEX step_client_request_id ON step (client_request_id);
        CREATE INDEX step_idempotency_key ON step (idempotency_key) WHERE idempotency_key IS NOT NULL;
        CREATE INDEX step_target ON step (target_step_id) WHERE target_step_id IS NOT NULL;
        """

    /// What `batch reconcile` decided about each unknown step it examined (docs/recovery.md): one
    /// row per (reconcile run, original step). `evidence_step_id` is the reconcile run's GET (NULL
    /// when none could be sent); `record_digest` the record as found (a blob); `candidates` a JSON
    /// array of record ids when several matched. `applied`/`not_applied` also set the original
    /// step's status in the same transaction (`Ledger.writeReconciliation`); `undecidable` leaves
    /// it unknown. Cascades with its run, so `gc --prune-runs-older-than` prunes it too.
    static let v9 = """
        CREATE TABLE reconciliation (
            reconcile_run_id TEXT NOT NULL REFERENCES run(id) ON DELETE CASCADE,
            target_step_id INTEGER NOT NULL REFERENCES step(id) ON DELETE CASCADE,
            evidence_step_id INTEGER REFERENCES step(id) ON DELETE CASCADE,
            decision TEXT NOT NULL CHECK (decision IN ('applied','not_applied','undecidable')),
            rule TEXT NOT NULL,
            detail TEXT NOT NULL,
            record_id TEXT,
            etag TEXT,
            record_digest TEXT REFERENCES object(digest) \(digestCheck("record_digest")),
            candidates TEXT,
            decided_at TEXT NOT NULL,
            PRIMARY KEY (reconcile_run_id, target_step_id)
        ) WITHOUT ROWID;
        CREATE INDEX reconciliation_target ON reconciliation (target_step_id);
        """

    /// The bytes of small blobs, stored in the ledger instead of one file each: creating a file
    /// cost 0.3–0.9 ms on this kind of disk, four a step (docs/performance.md, "Issue 12 — ledger
    /// cost"). Content-addressed exactly like a file: the key is the SHA-256 of `data`, and every
    /// reader re-hashes before it trusts the bytes. The row goes with its `object` row.
    static let v10 = """
        CREATE TABLE object_data (
            digest TEXT PRIMARY KEY REFERENCES object(digest) ON DELETE CASCADE \(digestCheck("digest")),
            data BLOB NOT NULL
        );
        """

    /// Every migration, oldest first. Identifiers are permanent.
    static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("1-core-tables") { db in try db.execute(sql: v1) }
        m.registerMigration("2-lookup-indexes") { db in try db.execute(sql: v2) }
        m.registerMigration("3-pruned-runs") { db in try db.execute(sql: v3) }
        m.registerMigration("4-run-states-step-count") { db in try db.execute(sql: v4) }
        // No SQL: it records that this ledger keeps `<store>/refs/head` beside it. The store that
        // applies it writes the file from the ledger's head once (`LedgerStore.init`); from then on
        // a missing file is damage, not a store from before the file existed.
        m.registerMigration(headFileMigration) { _ in }
        m.registerMigration("6-imported-runs") { db in try db.execute(sql: v6) }
        m.registerMigration("7-step-pages") { db in try db.execute(sql: v7) }
        m.registerMigration("8-recovery-kinds-statuses") { db in try db.execute(sql: v8) }
        m.registerMigration("9-reconciliation") { db in try db.execute(sql: v9) }
        m.registerMigration("10-inline-objects") { db in try db.execute(sql: v10) }
        return m
    }

    static let headFileMigration = "5-refs-head-file"

    static var latestIdentifier: String { migrator.migrations.last! }
}
