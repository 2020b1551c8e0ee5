import Hashing
import NIOCore
import PostgresNIO
import Store

/// What pushing one run did.
public struct PushResult: Sendable, Equatable {
    public let runID: String
    /// False when the hub already held this run (same record): nothing was written.
    public let pushed: Bool
    /// The run's place on the hub's chain.
    public let seq: Int64?
    public let blobsUploaded: Int
    public let blobsPresent: Int
}

/// The bytes one run travels as: its export bundle's members. The three JSON members are
/// stored as blobs too, so the hub keeps the exact bytes export wrote and `pull` rebuilds a
/// byte-identical bundle.
struct RunPayload {
    let bundle: RunBundle
    let index: [UInt8]
    let runRow: [UInt8]
    let stepsRow: [UInt8]
    let recordHex: String

    static let indexMediaType = "application/vnd.bcli.bundle-index+json"
    static let runRowMediaType = "application/vnd.bcli.run-row+json"
    static let stepsRowMediaType = "application/vnd.bcli.step-rows+json"
    static let entryMediaType = "application/vnd.bcli.hub-chain-entry+json"

    /// Every blob to upload: the run's blobs and the three members, with media types.
    var blobs: [(digest: Digest, bytes: [UInt8], mediaType: String?)] {
        var out: [(Digest, [UInt8], String?)] = []
        for blob in bundle.blobs { if let bytes = bundle.contents[blob.digest] { out.append((blob.digest, bytes, blob.mediaType)) } }
        out.append((SHA256.hash(index), index, Self.indexMediaType))
        out.append((SHA256.hash(runRow), runRow, Self.runRowMediaType))
        out.append((SHA256.hash(stepsRow), stepsRow, Self.stepsRowMediaType))
        return out
    }

    /// A finished run of `store`, exported and verified as `batch export` and `verify --bundle` do.
    static func load(runID: String, from store: LedgerStore) throws -> RunPayload {
        let bytes = try RunBundle.export(runID: runID, from: store)
        let (report, parsed) = try RunBundle.verify(bytes: bytes)
        guard report.isOK, let bundle = parsed else { throw BundleError.damaged(report) }
        guard let record = bundle.recordDigest else { throw BundleError.unfinished(runID: runID) }
        var members: [String: [UInt8]] = [:]
        do {
            for e in try BundleTar.read(bytes) where !e.name.hasPrefix(RunBundle.blobFolder) { members[e.name] = e.bytes }
        } catch { throw BundleError.notABundle("\(error)") }
        guard let index = members[RunBundle.indexName], let run = members[RunBundle.runName], let steps = members[RunBundle.stepsName] else {
            throw BundleError.notABundle("export wrote no index or rows")
        }
        return RunPayload(bundle: bundle, index: index, runRow: run, stepsRow: steps, recordHex: record.hex)
    }
}

/// The hub's chain entry for one run: canonical JSON, stored as a blob, named by `chain`.
enum ChainEntry {
    static let type = "bcli.hub-chain-entry"

    static func bytes(seq: Int64, runID: String, record: String, previousRecord: String?, index: String, runRow: String,
                      stepsRow: String, previousEntry: String?) throws -> [UInt8] {
        func d(_ hex: String?) -> JSONValue { hex.map { .string("sha256:" + $0) } ?? .null }
        let value: JSONValue = .object([
            "type": .string(type),
            "format_version": .number(1),
            "seq": .number(Double(seq)),
            "run_id": .string(runID),
            "record_digest": d(record),
            "previous_record_digest": d(previousRecord),
            "bundle_index_digest": d(index),
            "run_row_digest": d(runRow),
            "steps_row_digest": d(stepsRow),
            "previous_entry": d(previousEntry),
        ])
        return try value.canonicalBytes()
    }
}

/// `batch push`: one run at a time, each visible in the hub all at once or not at all.
///
/// 1. Blobs the hub lacks are inserted (`ON CONFLICT DO NOTHING`), each in its own short
///    transaction: they are content-addressed, so a blob left by a killed push is harmless and
///    the next push finds it. The server re-hashes every one (a CHECK on `blob`).
/// 2. One transaction: lock the head row (`SELECT … FOR UPDATE`: concurrent pushers take turns
///    here), re-check the run is not there, insert the chain entry's blob, the run row, its blob
///    list and the chain entry, advance the head, commit. A push killed before the commit leaves
///    no run row; one killed after leaves a complete run, which the next push skips.
public enum HubPush {
    public static func push(runID: String, from store: LedgerStore, session: HubSession) async throws -> PushResult {
        let payload = try RunPayload.load(runID: runID, from: store)
        if let existing = try await hubRecord(of: runID, session) {
            guard existing == payload.recordHex else {
                throw HubError.conflict(runID: runID, detail: "hub record sha256:\(existing), local record sha256:\(payload.recordHex)")
            }
            return PushResult(runID: runID, pushed: false, seq: try await seq(of: runID, session), blobsUploaded: 0, blobsPresent: 0)
        }
        let (uploaded, present) = try await upload(payload.blobs, session)
        let pushed: Int64? = try await session.transaction {
            let head = try await session.query("SELECT seq, entry_digest FROM bcli_hub.head WHERE id = 1 FOR UPDATE")
            guard let headRow = head.first else { throw HubError.damaged(runID: nil, detail: "the hub has no head row") }
            let (headSeq, headEntry) = try headRow.decode((Int64, String?).self)
            // Another pusher may have pushed it while this one uploaded blobs.
            if let existing = try await hubRecord(of: runID, session) {
                guard existing == payload.recordHex else {
                    throw HubError.conflict(runID: runID, detail: "hub record sha256:\(existing), local record sha256:\(payload.recordHex)")
                }
                return nil
            }
            let (seq, entryHex) = try await appendRun(payload, headSeq: headSeq, headEntry: headEntry, session)
            try await session.query("UPDATE bcli_hub.head SET seq = \(seq), entry_digest = \(entryHex) WHERE id = 1")
            return seq
        }
        guard let pushed else {
            return PushResult(runID: runID, pushed: false, seq: try await seq(of: runID, session), blobsUploaded: uploaded, blobsPresent: present)
        }
        return PushResult(runID: runID, pushed: true, seq: pushed, blobsUploaded: uploaded, blobsPresent: present)
    }

    /// Inside the push's transaction, after the head is locked: the chain entry's blob, the run
    /// row, its blob list and the chain row (seq `headSeq + 1`). The caller advances the head.
    static func appendRun(_ payload: RunPayload, headSeq: Int64, headEntry: String?, _ session: HubSession) async throws -> (Int64, String) {
        let runID = payload.bundle.runID
        let r = payload.bundle.run
        let indexHex = SHA256.hash(payload.index).hex, runRowHex = SHA256.hash(payload.runRow).hex
        let stepsRowHex = SHA256.hash(payload.stepsRow).hex
        let previousRecord = payload.bundle.previousRecordDigest?.hex
        let allBlobs = Array(Set(payload.blobs.map(\.digest.hex))).sorted()
        let stepCount = try stepCount(r, runID: runID)
        let seq = headSeq + 1
        let entry = try ChainEntry.bytes(seq: seq, runID: runID, record: payload.recordHex, previousRecord: previousRecord,
                                         index: indexHex, runRow: runRowHex, stepsRow: stepsRowHex, previousEntry: headEntry)
        let entryHex = SHA256.hash(entry).hex
        try await insertBlob(entryHex, entry, RunPayload.entryMediaType, session)
        try await session.query("""
            INSERT INTO bcli_hub.run (id, record_digest, previous_record_digest, bundle_index_digest, run_row_digest,
              steps_row_digest, kind, state, name, profile, parent_run_id, started_at, finished_at, step_count)
            VALUES (\(runID), \(payload.recordHex), \(previousRecord), \(indexHex), \(runRowHex), \(stepsRowHex),
              \(r["kind"]?.stringValue ?? "?"), \(r["state"]?.stringValue ?? "?"), \(r["name"]?.stringValue),
              \(r["profile"]?.stringValue), \(r["parent_run_id"]?.stringValue), \(r["started_at"]?.stringValue ?? ""),
              \(r["finished_at"]?.stringValue ?? ""), \(stepCount))
            """)
        try await session.query("INSERT INTO bcli_hub.run_blob (run_id, digest) SELECT \(runID), unnest(\(allBlobs)::text[])")
        try await session.query("""
            INSERT INTO bcli_hub.chain (seq, run_id, record_digest, previous_entry, entry_digest)
            VALUES (\(seq), \(runID), \(payload.recordHex), \(headEntry), \(entryHex))
            """)
        return (seq, entryHex)
    }

    /// The run row's `step_count` as the hub's bigint column: absent is NULL; a value that is
    /// not an integer in range (an imported bundle may say anything) is refused, not trapped on.
    static func stepCount(_ run: [String: JSONValue], runID: String) throws -> Int64? {
        guard let value = run["step_count"], !value.isNull else { return nil }
        guard let number = value.doubleValue, let count = Int64(exactly: number) else {
            throw HubError.unpushable(runID: runID, detail: "its step_count (\(value)) is not an integer the hub can store")
        }
        return count
    }

    /// The finished runs of `store` in the order they finished (parents before the runs that
    /// undo or resume them), with their record digests.
    public static func finishedRuns(_ store: LedgerStore) throws -> [(id: String, record: Digest)] {
        let runs = try store.runs().filter { $0.finishedAt != nil && $0.recordDigest != nil }
        return runs.sorted { ($0.finishedAt!, $0.startedAt, $0.id) < ($1.finishedAt!, $1.startedAt, $1.id) }
            .map { ($0.id, $0.recordDigest!) }
    }

    /// The ids of the runs the hub holds, with their record digests.
    public static func hubRuns(_ session: HubSession) async throws -> [String: String] {
        var out: [String: String] = [:]
        for row in try await session.query("SELECT id, record_digest FROM bcli_hub.run") {
            let (id, record) = try row.decode((String, String).self)
            out[id] = record
        }
        return out
    }

    static func hubRecord(of runID: String, _ session: HubSession) async throws -> String? {
        try await session.query("SELECT record_digest FROM bcli_hub.run WHERE id = \(runID)").first.map { try $0.decode(String.self) }
    }

    static func seq(of runID: String, _ session: HubSession) async throws -> Int64? {
        try await session.query("SELECT seq FROM bcli_hub.chain WHERE run_id = \(runID)").first.map { try $0.decode(Int64.self) }
    }

    static func upload(_ blobs: [(digest: Digest, bytes: [UInt8], mediaType: String?)], _ session: HubSession) async throws -> (Int, Int) {
        let hexes = Array(Set(blobs.map(\.digest.hex)))
        var present = Set<String>()
        for row in try await session.query("SELECT digest FROM bcli_hub.blob WHERE digest = ANY(\(hexes)::text[])") {
            present.insert(try row.decode(String.self))
        }
        var uploaded = 0, seen = Set<String>()
        for blob in blobs where !present.contains(blob.digest.hex) && seen.insert(blob.digest.hex).inserted {
            try await insertBlob(blob.digest.hex, blob.bytes, blob.mediaType, session)
            uploaded += 1
        }
        return (uploaded, present.count)
    }

    static func insertBlob(_ hex: String, _ bytes: [UInt8], _ mediaType: String?, _ session: HubSession) async throws {
        let buffer = ByteBuffer(bytes: bytes)
        try await session.query("""
            INSERT INTO bcli_hub.blob (digest, size, media_type, data) VALUES (\(hex), \(Int64(bytes.count)), \(mediaType), \(buffer))
            ON CONFLICT (digest) DO NOTHING
            """)
    }
}
