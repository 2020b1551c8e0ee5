import Foundation
import PostgresNIO
import Store

/// `list`, `state`, `show` and `diff` with `--remote NAME`: reading a hub in place of a store.
///
/// `list` reads two small blobs per run (its bundle's `rows/run.json` and `rows/steps.json`,
/// re-hashed here) and derives each record by the rule a store uses (`Importer.record`). The
/// others need bodies and step rows, so they pull what they read into a throwaway store (a
/// private temporary folder, removed afterwards) through the path `pull` takes — every blob
/// re-hashed, the chain entry checked, the bundle verified — and then run the local code on it.
/// So `state --remote` prints what `state` prints after a `pull` of the run into an empty store.
public enum HubRead {
    /// Runs newest first (start time, then id, as a store lists them), `since` and `state` as
    /// `list` filters them, at most `limit`. The state is derived from the pushed rows (and the
    /// decisions of reconcile runs in the hub about their unknown steps), never taken from the
    /// hub's copied-out `state` column. `page` is how many runs one query reads (tests page small).
    public static func list(_ session: HubSession, state: RunState?, since: String?, limit: Int, page: Int? = nil) async throws -> [RunRecord] {
        let page = page ?? (state == nil ? limit : max(limit, 200))
        var out: [RunRecord] = []
        var after: (startedAt: String, id: String)?
        while true {
            var sql = "SELECT r.id, r.started_at, r.run_row_digest, r.steps_row_digest FROM bcli_hub.run r WHERE true"
            var binds = PostgresBindings()
            if let since {
                binds.append(since)
                sql += " AND r.started_at COLLATE \"C\" >= $\(binds.count)"
            }
            if let after {
                binds.append(after.startedAt)
                binds.append(after.id)
                sql += " AND (r.started_at COLLATE \"C\", r.id COLLATE \"C\") < ($\(binds.count - 1), $\(binds.count))"
            }
            binds.append(Int64(page))
            sql += " ORDER BY r.started_at COLLATE \"C\" DESC, r.id COLLATE \"C\" DESC LIMIT $\(binds.count)"
            let rows = try await session.query(PostgresQuery(unsafeSQL: sql, binds: binds))
                .map { try $0.decode((String, String, String, String).self) }
            let blobs = try await fetch(rows.flatMap { [$0.2, $0.3] }, naming: rows.map { ($0.0, [$0.2, $0.3]) }, session)
            var records: [RunRecord] = []
            for (id, startedAt, runRow, stepsRow) in rows {
                after = (startedAt, id)
                let record = try derive(id, runRow: blobs[runRow], stepsRow: blobs[stepsRow], reconciledBy: [])
                guard record.id == id, record.startedAt == startedAt else {
                    throw HubError.damaged(runID: id, detail: "the run's rows name run \(record.id) started at \(record.startedAt), the hub's row says \(id) at \(startedAt)")
                }
                records.append(record)
            }
            // Runs with unknown steps: the hub's reconcile runs may have decided them since.
            let doubtful = records.filter { $0.counts.unknown > 0 }.map(\.id)
            if !doubtful.isEmpty {
                let reconciles = try await session.query("""
                    SELECT r.id, r.parent_run_id, r.run_row_digest FROM bcli_hub.run r JOIN bcli_hub.chain c ON c.run_id = r.id
                    WHERE r.kind = 'reconcile' AND r.parent_run_id = ANY(\(doubtful)::text[]) ORDER BY c.seq
                    """).map { try $0.decode((String, String, String).self) }
                if !reconciles.isEmpty {
                    let rows2 = try await fetch(reconciles.map(\.2), naming: reconciles.map { ($0.0, [$0.2]) }, session)
                    for (i, record) in records.enumerated() where record.counts.unknown > 0 {
                        let mine = reconciles.filter { $0.1 == record.id }.compactMap { rows2[$0.2] }
                        guard !mine.isEmpty, let (_, _, runRow, stepsRow) = rows.first(where: { $0.0 == record.id }) else { continue }
                        records[i] = try derive(record.id, runRow: blobs[runRow], stepsRow: blobs[stepsRow], reconciledBy: mine)
                    }
                }
            }
            for record in records {
                if let state, record.state != state { continue }
                out.append(record)
                if out.count == limit { return out }
            }
            if rows.count < page { return out }
        }
    }

    /// Blobs by digest, re-hashed here (`HubPull.blobs`); a blob that does not verify is reported
    /// with the run that names it (`owners`: run id and the digests it names).
    static func fetch(_ digests: [String], naming owners: [(String, [String])], _ session: HubSession) async throws -> [String: [UInt8]] {
        do {
            return try await HubPull.blobs(digests, session)
        } catch HubError.damaged(nil, let detail) {
            let owner = owners.first { $0.1.contains { detail.contains($0) } }?.0
            throw HubError.damaged(runID: owner, detail: detail)
        }
    }

    static func derive(_ id: String, runRow: [UInt8]?, stepsRow: [UInt8]?, reconciledBy: [[UInt8]]) throws -> RunRecord {
        guard let runRow, let stepsRow else { throw HubError.damaged(runID: id, detail: "the hub lacks the run's rows") }
        do {
            return try Importer.record(runRow: runRow, stepsRow: stepsRow, reconciledBy: reconciledBy)
        } catch {
            throw HubError.damaged(runID: id, detail: "the run's rows cannot be read: \(error.description)")
        }
    }

    /// The hub's run `back` places before the newest (by start time, then id, as `list` orders
    /// them): what `latest~N` names. `text` is what was asked, for the error.
    static func latest(back: Int, asked text: String, _ session: HubSession) async throws -> HubRun {
        let total = try await session.query("SELECT count(*) FROM bcli_hub.run").first.map { try $0.decode(Int64.self) } ?? 0
        guard back < total else { throw StoreError.latestOutOfRange(text, runs: Int(total)) }
        var query = PostgresQuery(unsafeSQL: HubPull.columns + " ORDER BY r.started_at COLLATE \"C\" DESC, r.id COLLATE \"C\" DESC LIMIT 1 OFFSET $1")
        query.binds.append(Int64(back))
        guard let run = try await session.query(query).first.map(HubPull.decode) else { throw StoreError.latestOutOfRange(text, runs: Int(total)) }
        return run
    }

    /// The shortest prefix of each id, at least `minimum` characters, that starts no other run's
    /// id in the hub (`Ledger.abbreviations`, against the hub's ids).
    public static func abbreviations(of ids: [String], minimum: Int = RunID.displayLength, _ session: HubSession) async throws -> [String: String] {
        guard !ids.isEmpty else { return [:] }
        let rows = try await session.query("""
            SELECT x.id, (SELECT max(r.id) FROM bcli_hub.run r WHERE r.id < x.id), (SELECT min(r.id) FROM bcli_hub.run r WHERE r.id > x.id)
            FROM unnest(\(ids)::text[]) AS x(id)
            """)
        var out: [String: String] = [:]
        for row in rows {
            let (id, before, after) = try row.decode((String, String?, String?).self)
            let shared = [before, after].compactMap { $0 }.map { Ledger.commonPrefixLength(id, $0) }.max() ?? 0
            out[id] = String(id.prefix(max(minimum, shared + 1)))
        }
        return out
    }

    /// The runs whose parent is `runID` (what rolled it back, resumed or reconciled it), in chain order.
    public static func children(of runID: String, _ session: HubSession) async throws -> [HubRun] {
        var query = PostgresQuery(unsafeSQL: HubPull.columns + " WHERE r.parent_run_id = $1 ORDER BY c.seq")
        query.binds.append(runID)
        return try await session.query(query).map(HubPull.decode)
    }

    /// Which of the runs that follow a run a view takes along.
    public enum Followers: Sendable {
        /// None: the runs and their ancestors only.
        case none
        /// Reconcile runs: their decisions give the run's unknown steps their status on import.
        case reconciles
        /// Every run whose parent it is (rollback, resume, reconcile): `state` names them.
        case all
    }

    /// Fills `view` (a throwaway store) with `runs`, their ancestors and the `followers` of each,
    /// each pulled (and so verified) as `pull` does, parents first.
    public static func fill(_ view: HubView, with runs: [HubRun], followers: Followers, _ session: HubSession) async throws {
        var wanted = runs
        if followers != .none {
            // The named runs' followers, and the reconcile runs of their ancestors (whose state
            // `state` prints on its Parent line).
            let named = Set(runs.map(\.id))
            for run in try await HubPull.withAncestors(runs, session) {
                wanted += try await children(of: run.id, session)
                    .filter { (followers == .all && named.contains(run.id)) || $0.kind == RunKind.reconcile.rawValue }
            }
        }
        var seen = Set<String>()
        let ordered = try await HubPull.withAncestors(wanted.filter { seen.insert($0.id).inserted }, session)
        for run in ordered { _ = try await HubPull.pull(run, into: view.store, session: session) }
    }
}

/// A store in a private temporary folder (mode 0700, under `$TMPDIR` or /tmp) that a `--remote`
/// read fills from the hub (`HubRead.fill`) and removes when it is done (`remove`; the command
/// also removes it on SIGINT, SIGTERM and SIGHUP).
public final class HubView: Sendable {
    public let store: LedgerStore
    public let folder: String

    /// `made` learns the folder as soon as it exists, before the store is created in it (a
    /// signal handler that removes it must know it from then on).
    public init(made: (String) -> Void = { _ in }) throws {
        let base = ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        var template = Array((base + "/bcli-remote-XXXXXX").utf8CString)
        guard let created = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw StoreError.io(operation: "mkdtemp", path: base, errno: errno)
        }
        folder = String(cString: created)
        made(folder)
        do {
            store = try LedgerStore(root: folder + "/store")
        } catch {
            try? FileManager.default.removeItem(atPath: folder)
            throw error
        }
    }

    public func remove() {
        try? FileManager.default.removeItem(atPath: folder)
    }
}
