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
}

/// `batch pull`: rebuilds a run's bundle from the hub — the exact bytes `batch export` wrote —
/// checks every blob's hash and the chain entry here, then imports it through the path
/// `batch import` uses (`RunBundle.verify` then `Importer.importVerified`), so a pulled run is
/// checked exactly like an imported bundle.
public enum HubPull {
    static let columns = """
        SELECT r.id, c.seq, r.record_digest, r.bundle_index_digest, r.run_row_digest, r.steps_row_digest,
          c.entry_digest, c.previous_entry, r.previous_record_digest
        FROM bcli_hub.run r JOIN bcli_hub.chain c ON c.run_id = r.id
        """

    /// Every run in the hub, in chain order.
    public static func runs(_ session: HubSession) async throws -> [HubRun] {
        try await session.query(PostgresQuery(unsafeSQL: columns + " ORDER BY c.seq")).map(decode)
    }

    /// The hub's run with this id or unique prefix (6 to 32 hex).
    public static func resolve(_ text: String, _ session: HubSession) async throws -> HubRun {
        let t = text.lowercased()
        guard t.utf8.count >= 6, t.utf8.count <= 32, t.allSatisfy({ $0.isHexDigit }) else { throw StoreError.invalidRunID(text) }
        let pattern = t + "%"
        let rows = try await session.query("""
            SELECT r.id, c.seq, r.record_digest, r.bundle_index_digest, r.run_row_digest, r.steps_row_digest,
              c.entry_digest, c.previous_entry, r.previous_record_digest
            FROM bcli_hub.run r JOIN bcli_hub.chain c ON c.run_id = r.id
            WHERE r.id LIKE \(pattern) ORDER BY c.seq LIMIT 10
            """).map(decode)
        guard let first = rows.first else { throw HubError.runNotFound(text) }
        guard rows.count == 1 else { throw HubError.ambiguousRun(text, rows.map(\.id)) }
        return first
    }

    static func decode(_ row: PostgresRow) throws -> HubRun {
        let (id, seq, record, index, runRow, steps, entry, previous, previousRecord) =
            try row.decode((String, Int64, String, String, String, String, String, String?, String?).self)
        return HubRun(id: id, seq: seq, recordDigest: record, indexDigest: index, runRowDigest: runRow, stepsRowDigest: steps,
                      entryDigest: entry, previousEntry: previous, previousRecordDigest: previousRecord)
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
        let expected = try ChainEntry.bytes(seq: run.seq, runID: run.id, record: run.recordDigest, previousRecord: run.previousRecordDigest,
                                            index: run.indexDigest, runRow: run.runRowDigest, stepsRow: run.stepsRowDigest,
                                            previousEntry: run.previousEntry)
        guard entry == expected else { throw HubError.damaged(runID: run.id, detail: "chain entry \(run.seq) does not describe the run's rows") }
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
        return (bytes, bundle)
    }

    /// Pulls one run into `store`. Nil when the store already holds it with this record (nothing
    /// is fetched); a run id here with another record is refused as `import` refuses it.
    public static func pull(_ run: HubRun, into store: LedgerStore, session: HubSession) async throws -> ImportResult? {
        if let local = try? store.ledger.run(run.id), local.recordDigest?.hex == run.recordDigest { return nil }
        let (_, bundle) = try await bundle(run, session)
        return try Importer.importVerified(bundle, into: store)
    }
}
