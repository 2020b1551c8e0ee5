import PostgresNIO

/// The hub's schema (`bcli_hub`), versioned like the local ledger: forward-only migrations,
/// never edited once released, recorded in `bcli_hub.schema_migration`. `bcli batch remote init` applies them
/// (as a role that may create the schema: the hub's owner); push and pull only check the version
/// and refuse a hub that is newer than this bcli, or older (the owner migrates it).
public enum HubSchema {
    public struct Migration: Sendable {
        public let version: Int
        public let name: String
        public let statements: [String]
    }

    public static let schema = "bcli_hub"

    /// The newest version this bcli knows.
    public static var currentVersion: Int { migrations.last!.version }

    /// Serialises concurrent `remote init`s (a transaction-scoped advisory lock).
    static let advisoryLock: Int64 = 0x6263_6C69_6875_6231  // "bclihub1"

    static let appendOnlyTables = ["schema_migration", "blob", "run", "run_blob", "chain"]

    public static let migrations: [Migration] = [
        Migration(version: 1, name: "1-hub-core", statements: [
            "CREATE SCHEMA bcli_hub",
            "REVOKE ALL ON SCHEMA bcli_hub FROM PUBLIC",
            """
            CREATE TABLE bcli_hub.schema_migration (
              version integer PRIMARY KEY,
              name text NOT NULL,
              applied_at timestamptz NOT NULL DEFAULT now(),
              applied_by text NOT NULL DEFAULT session_user
            )
            """,
            // Content-addressed blobs: the server checks every byte itself.
            """
            CREATE TABLE bcli_hub.blob (
              digest text PRIMARY KEY CHECK (digest ~ '^[0-9a-f]{64}$'),
              size bigint NOT NULL CHECK (size = octet_length(data)),
              media_type text,
              data bytea NOT NULL,
              CONSTRAINT blob_digest_is_sha256 CHECK (encode(sha256(data), 'hex') = digest)
            )
            """,
            // One row per pushed run: the three bundle members (index, run row, step rows) and the
            // run record are blobs; a few columns are copied out for listing.
            """
            CREATE TABLE bcli_hub.run (
              id text PRIMARY KEY CHECK (id ~ '^[0-9a-f]{32}$'),
              record_digest text NOT NULL UNIQUE REFERENCES bcli_hub.blob (digest),
              previous_record_digest text CHECK (previous_record_digest ~ '^[0-9a-f]{64}$'),
              bundle_index_digest text NOT NULL REFERENCES bcli_hub.blob (digest),
              run_row_digest text NOT NULL REFERENCES bcli_hub.blob (digest),
              steps_row_digest text NOT NULL REFERENCES bcli_hub.blob (digest),
              kind text NOT NULL,
              state text NOT NULL,
              name text,
              profile text,
              parent_run_id text CHECK (parent_run_id ~ '^[0-9a-f]{32}$'),
              started_at text NOT NULL,
              finished_at text NOT NULL,
              step_count bigint,
              pushed_at timestamptz NOT NULL DEFAULT now(),
              pushed_by text NOT NULL DEFAULT session_user
            )
            """,
            """
            CREATE TABLE bcli_hub.run_blob (
              run_id text NOT NULL REFERENCES bcli_hub.run (id),
              digest text NOT NULL REFERENCES bcli_hub.blob (digest),
              PRIMARY KEY (run_id, digest)
            )
            """,
            """
            CREATE TABLE bcli_hub.chain (
              seq bigint PRIMARY KEY CHECK (seq >= 1),
              run_id text NOT NULL UNIQUE REFERENCES bcli_hub.run (id),
              record_digest text NOT NULL REFERENCES bcli_hub.blob (digest),
              previous_entry text UNIQUE REFERENCES bcli_hub.blob (digest),
              entry_digest text NOT NULL UNIQUE REFERENCES bcli_hub.blob (digest),
              CHECK ((seq = 1) = (previous_entry IS NULL))
            )
            """,
            """
            CREATE TABLE bcli_hub.head (
              id integer PRIMARY KEY CHECK (id = 1),
              seq bigint NOT NULL CHECK (seq >= 0),
              entry_digest text REFERENCES bcli_hub.blob (digest),
              CHECK ((seq = 0) = (entry_digest IS NULL))
            )
            """,
            "INSERT INTO bcli_hub.head (id, seq, entry_digest) VALUES (1, 0, NULL)",
            """
            CREATE FUNCTION bcli_hub.refuse_change() RETURNS trigger LANGUAGE plpgsql
              SET search_path = pg_catalog, pg_temp AS $$
            BEGIN
              RAISE EXCEPTION 'bcli hub: % on %.% is refused: the hub is append-only', TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME
                USING ERRCODE = 'insufficient_privilege';
            END $$
            """,
        ] + appendOnlyTables.flatMap { table in [
            "CREATE TRIGGER append_only BEFORE UPDATE OR DELETE ON bcli_hub.\(table) FOR EACH ROW EXECUTE FUNCTION bcli_hub.refuse_change()",
            "CREATE TRIGGER append_only_truncate BEFORE TRUNCATE ON bcli_hub.\(table) FOR EACH STATEMENT EXECUTE FUNCTION bcli_hub.refuse_change()",
        ] } + [
            "CREATE TRIGGER append_only BEFORE DELETE ON bcli_hub.head FOR EACH ROW EXECUTE FUNCTION bcli_hub.refuse_change()",
            "CREATE TRIGGER append_only_truncate BEFORE TRUNCATE ON bcli_hub.head FOR EACH STATEMENT EXECUTE FUNCTION bcli_hub.refuse_change()",
            // Who pushed and when is the server's word, not the client's.
            """
            CREATE FUNCTION bcli_hub.stamp_push() RETURNS trigger LANGUAGE plpgsql
              SET search_path = pg_catalog, pg_temp AS $$
            BEGIN
              NEW.pushed_at := now();
              NEW.pushed_by := session_user;
              RETURN NEW;
            END $$
            """,
            "CREATE TRIGGER stamp_push BEFORE INSERT ON bcli_hub.run FOR EACH ROW EXECUTE FUNCTION bcli_hub.stamp_push()",
            // A run is visible only with its chain entry: checked at commit.
            """
            CREATE FUNCTION bcli_hub.run_on_chain() RETURNS trigger LANGUAGE plpgsql
              SET search_path = pg_catalog, pg_temp AS $$
            BEGIN
              IF NOT EXISTS (SELECT 1 FROM bcli_hub.chain WHERE run_id = NEW.id) THEN
                RAISE EXCEPTION 'bcli hub: run % has no chain entry', NEW.id USING ERRCODE = 'check_violation';
              END IF;
              RETURN NULL;
            END $$
            """,
            """
            CREATE CONSTRAINT TRIGGER run_on_chain AFTER INSERT ON bcli_hub.run
              DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bcli_hub.run_on_chain()
            """,
            // A chain entry follows the head and says what its row says (its bytes are a blob, so
            // their digest is already checked).
            """
            CREATE FUNCTION bcli_hub.check_chain_entry() RETURNS trigger LANGUAGE plpgsql
              SET search_path = pg_catalog, pg_temp AS $$
            DECLARE
              h record;
              r record;
              e jsonb;
            BEGIN
              SELECT seq, entry_digest INTO h FROM bcli_hub.head WHERE id = 1;
              IF NEW.seq <> h.seq + 1 OR NEW.previous_entry IS DISTINCT FROM h.entry_digest THEN
                RAISE EXCEPTION 'bcli hub: chain entry % does not follow the head (seq %)', NEW.seq, h.seq
                  USING ERRCODE = 'check_violation';
              END IF;
              SELECT * INTO r FROM bcli_hub.run WHERE id = NEW.run_id;
              SELECT convert_from(data, 'UTF8')::jsonb INTO e FROM bcli_hub.blob WHERE digest = NEW.entry_digest;
              IF e IS NULL OR r.id IS NULL OR jsonb_typeof(e) IS DISTINCT FROM 'object'
                 OR (SELECT count(*) FROM jsonb_object_keys(e)) <> 10
                 OR e->>'type' IS DISTINCT FROM 'bcli.hub-chain-entry'
                 OR e->'format_version' IS DISTINCT FROM '1'::jsonb
                 OR e->'seq' IS DISTINCT FROM to_jsonb(NEW.seq)
                 OR e->>'run_id' IS DISTINCT FROM NEW.run_id
                 OR NEW.record_digest IS DISTINCT FROM r.record_digest
                 OR e->>'record_digest' IS DISTINCT FROM 'sha256:' || NEW.record_digest
                 OR e->'previous_entry' IS DISTINCT FROM coalesce(to_jsonb('sha256:' || NEW.previous_entry), 'null'::jsonb)
                 OR e->'previous_record_digest' IS DISTINCT FROM coalesce(to_jsonb('sha256:' || r.previous_record_digest), 'null'::jsonb)
                 OR e->>'bundle_index_digest' IS DISTINCT FROM 'sha256:' || r.bundle_index_digest
                 OR e->>'run_row_digest' IS DISTINCT FROM 'sha256:' || r.run_row_digest
                 OR e->>'steps_row_digest' IS DISTINCT FROM 'sha256:' || r.steps_row_digest THEN
                RAISE EXCEPTION 'bcli hub: chain entry % does not describe run %', NEW.seq, NEW.run_id
                  USING ERRCODE = 'check_violation';
              END IF;
              RETURN NEW;
            END $$
            """,
            "CREATE TRIGGER check_chain_entry BEFORE INSERT ON bcli_hub.chain FOR EACH ROW EXECUTE FUNCTION bcli_hub.check_chain_entry()",
            // The head moves with the entry, in the same transaction: at commit it stands at this
            // entry or past it (an entry left behind the head would block every later push).
            """
            CREATE FUNCTION bcli_hub.head_follows_chain() RETURNS trigger LANGUAGE plpgsql
              SET search_path = pg_catalog, pg_temp AS $$
            DECLARE
              h record;
            BEGIN
              SELECT seq, entry_digest INTO h FROM bcli_hub.head WHERE id = 1;
              IF h.seq < NEW.seq OR (h.seq = NEW.seq AND h.entry_digest IS DISTINCT FROM NEW.entry_digest) THEN
                RAISE EXCEPTION 'bcli hub: chain entry % was added but the head was not advanced to it (head seq %)', NEW.seq, h.seq
                  USING ERRCODE = 'check_violation';
              END IF;
              RETURN NULL;
            END $$
            """,
            """
            CREATE CONSTRAINT TRIGGER head_follows_chain AFTER INSERT ON bcli_hub.chain
              DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bcli_hub.head_follows_chain()
            """,
            // The head only moves forward by one, to the newest entry.
            """
            CREATE FUNCTION bcli_hub.check_head_advance() RETURNS trigger LANGUAGE plpgsql
              SET search_path = pg_catalog, pg_temp AS $$
            BEGIN
              IF NEW.id <> OLD.id OR NEW.seq <> OLD.seq + 1
                 OR NEW.entry_digest IS DISTINCT FROM (SELECT entry_digest FROM bcli_hub.chain WHERE seq = NEW.seq) THEN
                RAISE EXCEPTION 'bcli hub: the head only advances by one, to the newest chain entry'
                  USING ERRCODE = 'insufficient_privilege';
              END IF;
              RETURN NEW;
            END $$
            """,
            "CREATE TRIGGER check_head_advance BEFORE UPDATE ON bcli_hub.head FOR EACH ROW EXECUTE FUNCTION bcli_hub.check_head_advance()",
        ]),
        // `list --remote` and `latest~N` read runs newest first (start time, then id, byte order):
        // an index in that order makes each page an index range scan instead of a sort of every run.
        Migration(version: 2, name: "2-run-list-order", statements: [
            "CREATE INDEX run_list_order ON bcli_hub.run (started_at COLLATE \"C\" DESC, id COLLATE \"C\" DESC)",
        ]),
    ]

    /// The statements that let `role` push: read everything, insert blobs, runs and chain
    /// entries, advance the head — never update or delete anything else.
    public static func pusherGrants(_ role: String) throws -> [String] {
        let r = try HubSession.quoteIdentifier(role)
        return [
            "GRANT USAGE ON SCHEMA bcli_hub TO \(r)",
            "GRANT SELECT ON ALL TABLES IN SCHEMA bcli_hub TO \(r)",
            "GRANT INSERT ON bcli_hub.blob, bcli_hub.run, bcli_hub.run_blob, bcli_hub.chain TO \(r)",
            "GRANT UPDATE (seq, entry_digest) ON bcli_hub.head TO \(r)",
        ]
    }

    /// The statements that let `role` pull (and, later, verify): read only.
    public static func readerGrants(_ role: String) throws -> [String] {
        let r = try HubSession.quoteIdentifier(role)
        return [
            "GRANT USAGE ON SCHEMA bcli_hub TO \(r)",
            "GRANT SELECT ON ALL TABLES IN SCHEMA bcli_hub TO \(r)",
        ]
    }

    /// The hub's applied version: nil when the database has no hub schema.
    public static func version(_ session: HubSession) async throws -> Int? {
        let rows = try await session.query("SELECT to_regclass('bcli_hub.schema_migration') IS NOT NULL")
        guard let row = rows.first, try row.decode(Bool.self) else { return nil }
        let versions = try await session.query("SELECT coalesce(max(version), 0) FROM bcli_hub.schema_migration")
        return try versions.first.map { try Int($0.decode(Int32.self)) } ?? 0
    }

    /// Refuses a hub this bcli cannot use: none, newer, or older than `currentVersion`.
    public static func check(_ session: HubSession) async throws {
        let remote = "\(session.endpoint.name) (\(session.endpoint.display))"
        guard let v = try await version(session), v > 0 else { throw HubError.notInitialized(remote: remote) }
        if v > currentVersion { throw HubError.newerHub(remote: remote, hubVersion: v, known: currentVersion) }
        if v < currentVersion { throw HubError.olderHub(remote: remote, hubVersion: v, known: currentVersion) }
    }

    /// Applies the migrations the hub lacks, each in one transaction under an advisory lock
    /// (concurrent inits take turns), then the grants. Returns the migrations applied.
    public static func migrate(_ session: HubSession, pushers: [String] = [], readers: [String] = []) async throws -> [String] {
        let grants = try pushers.flatMap(pusherGrants) + readers.flatMap(readerGrants)
        var applied: [String] = []
        try await session.transaction {
            try await session.query("SELECT pg_advisory_xact_lock(\(advisoryLock))")
            let v = try await version(session) ?? 0
            if v > currentVersion {
                throw HubError.newerHub(remote: "\(session.endpoint.name) (\(session.endpoint.display))", hubVersion: v, known: currentVersion)
            }
            for m in migrations where m.version > v {
                for statement in m.statements { try await session.query(PostgresQuery(unsafeSQL: statement)) }
                try await session.query("INSERT INTO bcli_hub.schema_migration (version, name) VALUES (\(m.version), \(m.name))")
                applied.append(m.name)
            }
            for statement in grants { try await session.query(PostgresQuery(unsafeSQL: statement)) }
        }
        return applied
    }

    /// The whole schema as SQL text (docs/hub.md prints it; `remote init --print-sql`).
    public static func sql(pusher: String? = nil, reader: String? = nil) throws -> String {
        var out = ""
        for m in migrations {
            out += "-- migration \(m.name)\n"
            for s in m.statements { out += s + ";\n" }
            out += "INSERT INTO bcli_hub.schema_migration (version, name) VALUES (\(m.version), '\(m.name)');\n"
        }
        if let pusher { out += "-- pusher \(pusher)\n" + (try pusherGrants(pusher)).map { $0 + ";\n" }.joined() }
        if let reader { out += "-- reader \(reader)\n" + (try readerGrants(reader)).map { $0 + ";\n" }.joined() }
        return out
    }
}
