import Hashing
import NIOCore
import PostgresNIO
import Store

/// A run as the hub lists it, with its chain entry.
public struct HubRun: Sendable, Equatable {
    public let id: String
    public let seq: Int64
    public let recordDigest: String
    public let indexDigest: String
    public let runRowDigest: String
    public let stepsRowDigest: String
    public let entryDigest: String
    public let previousEntry: String?
    public let previousRecordDigest: String?
    /// The run it rolls back, resumes or reconciles (the run row's `parent_run_id`, copied out
    /// for ordering; the bundle's own value is checked against it on pull).
    public let parentRunID: String?
    /// The run's kind as the hub's row copies it (`batch`, `rollback`, `reconcile`, …), for
    /// choosing which runs to read; the bundle's own row is what pull imports.
    public let kind: String
}

/// Orders runs so that a run's parent comes before it, keeping the given order otherwise (a
/// depth-first walk: a parent in the list is emitted just before its first child).
public func parentsFirst<T>(_ items: [T], id: (T) -> String, parent: (T) -> String?) -> [T] {
    var byID: [String: T] = [:]
    for item in items { byID[id(item)] = item }
    var done = Set<String>(), out: [T] = []
    for item in items {
        var pending: [T] = []
        var cursor: T? = item
        while let c = cursor, !done.contains(id(c)), !pending.contains(where: { id($0) == id(c) }) {
            pending.append(c)
            cursor = parent(c).flatMap { byID[$0] }
        }
        for c in pending.reversed() where done.insert(id(c)).inserted { out.append(c) }
    }
    return out
}

/// `batch pull`: rebuilds a run's bundle from the hub — the exact bytes `batch export` wrote —
/// checks every blob's hash and the chain entry here, then imports it through the path
/// `batch import` uses (`RunBundle.verify` then `Importer.importVerified`), so a pulled run is
/// checked exactly like an imported bundle.
public enum HubPull {
    static let columns = """
        SELECT r.id, c.seq, r.record_digest, r.bundle_index_digest, r.run_row_digest, r.steps_row_digest,
          c.entry_digest, c.previous_entry, r.previous_record_digest, r.parent_run_id, r.kind
        FROM bcli_hub.run r JOIN bcli_hub.chain c ON c.run_id = r.id
        """

    /// Every run in the hub, in chain order.
    public static func runs(_ session: HubSession) async throws -> [HubRun] {
        try await session.query(PostgresQuery(unsafeSQL: columns + " ORDER BY c.seq")).map(decode)
    }

    /// The hub's run with this id or unique prefix (6 to 32 hex), or `latest` / `latest~N` (the
    /// newest by start time, then id, as `list --remote` orders them).
    public static func resolve(_ text: String, _ session: HubSession) async throws -> HubRun {
        if let back = Ledger.latestOffset(text) { return try await HubRead.latest(back: back, asked: text, session) }
        let t = text.lowercased()
        guard t.utf8.count >= 6, t.utf8.count <= 32, t.allSatisfy({ $0.isHexDigit }) else { throw StoreError.invalidRunID(text) }
        let pattern = t + "%"
        var query = PostgresQuery(unsafeSQL: columns + " WHERE r.id LIKE $1 ORDER BY c.seq LIMIT 10")
        query.binds.append(pattern)
        let rows = try await session.query(query).map(decode)
        guard let first = rows.first else { throw HubError.runNotFound(text) }
        guard rows.count == 1 else { throw HubError.ambiguousRun(text, rows.map(\.id)) }
        return first
    }

    static func decode(_ row: PostgresRow) throws -> HubRun {
        let (id, seq, record, index, runRow, steps, entry, previous, previousRecord, parent, kind) =
            try row.decode((String, Int64, String, String, String, String, String, String?, String?, String?, String).self)
        return HubRun(id: id, seq: seq, recordDigest: record, indexDigest: index, runRowDigest: runRow, stepsRowDigest: steps,
                      entryDigest: entry, previousEntry: previous, previousRecordDigest: previousRecord, parentRunID: parent, kind: kind)
    }

    /// The hub's run with exactly this id, or nil.
    public static func run(id: String, _ session: HubSession) async throws -> HubRun? {
        var query = PostgresQuery(unsafeSQL: columns + " WHERE r.id = $1")
        query.binds.append(id)
        return try await session.query(query).first.map(decode)
    }

    /// `runs` and the ancestors the hub holds (parents of parents…), parents before children,
    /// otherwise in chain order.
    public static func withAncestors(_ runs: [HubRun], _ session: HubSession) async throws -> [HubRun] {
        var all = runs
        var known = Set(runs.map(\.id))
        var queue = runs.compactMap(\.parentRunID)
        while let id = queue.popLast() {
            guard known.insert(id).inserted, let parent = try await run(id: id, session) else { continue }
            all.append(parent)
            if let next = parent.parentRunID { queue.append(next) }
        }
        return parentsFirst(all.sorted { $0.seq < $1.seq }, id: \.id, parent: \.parentRunID)
    }

    /// Blobs by digest, each re-hashed here (the server checked them on insert; this end checks
    /// again). A digest the hub lacks is simply absent from the result.
    static func blobs(_ hexes: [String], _ session: HubSession) async throws -> [String: [UInt8]] {
        var out: [String: [UInt8]] = [:]
        var start = 0
        while start < hexes.count {
            let chunk = Array(hexes[start..<min(start + 200, hexes.count)])
            start += chunk.count
            for row in try await session.query("SELECT digest, data FROM bcli_hub.blob WHERE digest = ANY(\(chunk)::text[])") {
                let (hex, buffer) = try row.decode((String, ByteBuffer).self)
                let bytes = Array(buffer.readableBytesView)
                guard SHA256.hash(bytes).hex == hex else {
                    throw HubError.damaged(runID: nil, detail: "blob sha256:\(hex) hashes to \(SHA256.hash(bytes))")
                }
                out[hex] = bytes
            }
        }
        return out
    }

    /// The run's bundle, byte for byte what `batch export` wrote on the machine that pushed it,
    /// verified (`RunBundle.verify`), its record the hub's and its chain entry consistent.
    public static func bundle(_ run: HubRun, _ session: HubSession) async throws -> (bytes: [UInt8], bundle: RunBundle) {
        let members = try await blobs([run.indexDigest, run.runRowDigest, run.stepsRowDigest, run.entryDigest], session)
        guard let index = members[run.indexDigest], let runRow = members[run.runRowDigest], let steps = members[run.stepsRowDigest],
              let entry = members[run.entryDigest] else {
            throw HubError.damaged(runID: run.id, detail: "the hub lacks the run's index, rows or chain entry")
        }
        try checkEntry(entry, of: run)
        try await checkLink(run, session)
        let listed: [String]
        do {
            listed = try JSONValue(parsing: index)["blobs"]?.arrayValue?.compactMap { $0["digest"]?.stringValue }
                .map { try Digest(parsing: $0).hex } ?? []
        } catch {
            throw HubError.damaged(runID: run.id, detail: "the bundle index is not valid: \(error)")
        }
        let contents = try await blobs(listed, session)
        var entries = [BundleTar.Entry(name: RunBundle.indexName, bytes: index), BundleTar.Entry(name: RunBundle.runName, bytes: runRow),
                       BundleTar.Entry(name: RunBundle.stepsName, bytes: steps)]
        for hex in listed {
            guard let bytes = contents[hex] else { throw HubError.damaged(runID: run.id, detail: "the hub lacks blob sha256:\(hex)") }
            entries.append(.init(name: RunBundle.blobFolder + hex, bytes: bytes))
        }
        let bytes = BundleTar.write(entries)
        let (report, parsed) = try RunBundle.verify(bytes: bytes)
        guard report.isOK, let bundle = parsed else { throw BundleError.damaged(report) }
        guard bundle.runID == run.id, bundle.recordDigest?.hex == run.recordDigest else {
            throw HubError.damaged(runID: run.id, detail: "the bundle's run or record differs from the hub's row")
        }
        guard bundle.previousRecordDigest?.hex == run.previousRecordDigest else {
            throw HubError.damaged(runID: run.id, detail: "the bundle's previous record differs from its chain entry's")
        }
        guard bundle.run["parent_run_id"]?.stringValue == run.parentRunID else {
            throw HubError.damaged(runID: run.id, detail: "the bundle's parent run differs from the hub's row")
        }
        return (bytes, bundle)
    }

    /// The entry's own fields, read from its bytes (sha256 = `run.entryDigest`, checked when
    /// fetched): exactly the ten fields, canonical JSON (re-encoding the fields gives the same
    /// bytes, so the digest is recomputed from the fields), and each equal to the hub's rows.
    static func checkEntry(_ entry: [UInt8], of run: HubRun) throws {
        func bad(_ why: String) -> HubError { .damaged(runID: run.id, detail: "chain entry \(run.seq): \(why)") }
        let fields: [String: JSONValue]
        do {
            guard let object = try JSONValue(parsing: entry).objectValue else { throw bad("not a JSON object") }
            fields = object
        } catch let error as HubError { throw error } catch { throw bad("not JSON (\(error))") }
        func digest(_ key: String) throws -> String? {
            guard let value = fields[key] else { throw bad("no \(key)") }
            if value.isNull { return nil }
            guard let text = value.stringValue, let d = try? Digest(parsing: text) else { throw bad("\(key) is not a digest") }
            return d.hex
        }
        guard fields.count == 10, fields["type"]?.stringValue == ChainEntry.type, fields["format_version"]?.doubleValue == 1,
              let seqNumber = fields["seq"]?.doubleValue, let seq = Int64(exactly: seqNumber), let runID = fields["run_id"]?.stringValue,
              let record = try digest("record_digest"), let index = try digest("bundle_index_digest"),
              let runRow = try digest("run_row_digest"), let steps = try digest("steps_row_digest") else {
            throw bad("not a bcli.hub-chain-entry of format 1")
        }
        let previousRecord = try digest("previous_record_digest"), previousEntry = try digest("previous_entry")
        let rebuilt = try ChainEntry.bytes(seq: seq, runID: runID, record: record, previousRecord: previousRecord, index: index,
                                           runRow: runRow, stepsRow: steps, previousEntry: previousEntry)
        guard rebuilt == entry, SHA256.hash(rebuilt).hex == run.entryDigest else {
            throw bad("its bytes are not the canonical form of its fields, or do not hash to its digest")
        }
        guard seq == run.seq, runID == run.id, record == run.recordDigest, previousRecord == run.previousRecordDigest,
              index == run.indexDigest, runRow == run.runRowDigest, steps == run.stepsRowDigest, previousEntry == run.previousEntry else {
            throw bad("it does not describe the run's rows")
        }
    }

    /// The link to the entry before: the hub's entry at `seq - 1` has the digest this entry names
    /// as previous (none before seq 1), and the head stands at or past this entry.
    static func checkLink(_ run: HubRun, _ session: HubSession) async throws {
        if run.seq > 1 {
            let rows = try await session.query("SELECT entry_digest FROM bcli_hub.chain WHERE seq = \(run.seq - 1)")
            let before = try rows.first.map { try $0.decode(String.self) }
            guard let before, before == run.previousEntry else {
                throw HubError.damaged(runID: run.id, detail: "chain entry \(run.seq) names sha256:\(run.previousEntry ?? "nothing") as previous, but entry \(run.seq - 1) is \(before.map { "sha256:" + $0 } ?? "missing")")
            }
        } else if run.seq != 1 || run.previousEntry != nil {
            throw HubError.damaged(runID: run.id, detail: "chain entry \(run.seq) is not a valid first entry")
        }
        let head = try await session.query("SELECT seq FROM bcli_hub.head WHERE id = 1").first.map { try $0.decode(Int64.self) }
        guard let head, head >= run.seq else {
            throw HubError.damaged(runID: run.id, detail: "chain entry \(run.seq) is past the hub's head (\(head.map(String.init) ?? "none"))")
        }
    }

    /// Pulls one run into `store`. Nil when the store already holds it with this record (nothing
    /// is fetched); a run id here with another record is refused as `import` refuses it.
    public static func pull(_ run: HubRun, into store: LedgerStore, session: HubSession) async throws -> ImportResult? {
        if let local = try? store.ledger.run(run.id), local.recordDigest?.hex == run.recordDigest { return nil }
        let (_, bundle) = try await bundle(run, session)
        return try Importer.importVerified(bundle, into: store)
    }
}
