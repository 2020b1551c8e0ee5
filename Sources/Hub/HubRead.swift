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
    /// `list` filters them, at most `limit`. The state is derived from the pushed rows, never
    /// taken from the hub's copied-out `state` column.
    public static func list(_ session: HubSession, state: RunState?, since: String?, limit: Int) async throws -> [RunRecord] {
        let page = state == nil ? limit : max(limit, 200)
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
            let blobs = try await HubPull.blobs(rows.flatMap { [$0.2, $0.3] }, session)
            for (id, startedAt, runRow, stepsRow) in rows {
                after = (startedAt, id)
                guard let runBytes = blobs[runRow], let stepBytes = blobs[stepsRow] else {
                    throw HubError.damaged(runID: id, detail: "the hub lacks the run's rows (blob sha256:\(blobs[runRow] == nil ? runRow : stepsRow))")
                }
                let record: RunRecord
                do { record = try Importer.record(runRow: runBytes, stepsRow: stepBytes) } catch {
                    throw HubError.damaged(runID: id, detail: "the run's rows cannot be read: \(error.description)")
                }
                guard record.id == id, record.startedAt == startedAt else {
                    throw HubError.damaged(runID: id, detail: "the run's rows name run \(record.id) started at \(record.startedAt), the hub's row says \(id) at \(startedAt)")
                }
                if let state, record.state != state { continue }
                out.append(record)
                if out.count == limit { return out }
            }
            if rows.count < page { return out }
        }
    }

    /// The hub's run `back` places before the newest (by start time, then id, as `list` orders
    /// them): what `latest~N` names. `text` is what was asked, for the error.
    static func latest(back: Int, asked text: String, _ session: HubSession) async throws -> HubRun {
        let total = try await session.query("SELECT count(*) FROM bcli_hub.run").first.map { try $0.decode(Int64.self) } ?? 0
        guard back < total else { throw StoreError.latestOutOfRange(text, runs: Int(total)) }
        var query = PostgresQuery(unsafeSQL: HubPull.columns + " ORDER BY r.started_at COLLATE \"C\" DESC, r.id COLLATE \"C\" DESC LIMIT 1 OFFSET $1")
        try query.binds.append(Int64(back))
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
        try query.binds.append(runID)
        return try await session.query(query).map(HubPull.decode)
    }

    /// A throwaway store holding `runs`, their ancestors and, with `children`, the runs that
    /// follow them, each pulled (and so verified) as `pull` does. Remove it with `HubView.remove`.
    public static func view(of runs: [HubRun], children: Bool, _ session: HubSession) async throws -> HubView {
        var wanted = runs
        if children {
            for run in runs { wanted += try await Self.children(of: run.id, session) }
        }
        let ordered = try await HubPull.withAncestors(wanted, session)
        let view = try HubView()
        do {
            for run in ordered { _ = try await HubPull.pull(run, into: view.store, session: session) }
        } catch {
            view.remove()
            throw error
        }
        return view
    }
}

/// A store in a private temporary folder (mode 0700, under `$TMPDIR` or /tmp) that a `--remote`
/// read fills from the hub and removes when it is done; nothing in it outlives the command.
public final class HubView: Sendable {
    public let store: LedgerStore
    public let folder: String

    init() throws {
        let base = ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        var template = Array((base + "/bcli-remote-XXXXXX").utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw StoreError.io(operation: "mkdtemp", path: base, errno: errno)
        }
        folder = String(cString: made)
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
