#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import GRDB
import Hashing

/// A store folder: the blob store, the ledger database and the run locks, opened together.
///
/// ```
/// <store>/ledger.sqlite3          runs, steps, refs, object index, small blobs' bytes (WAL)
/// <store>/objects/sha256/ab/cd…   larger blobs named by the SHA-256 of their bytes, mode 0444
/// <store>/tmp/                    temp files of streamed puts; gc clears what a crash left
/// <store>/refs/head               the newest finished run's record digest (sha256:<hex>\n)
/// <store>/locks/<run-id>          flock held while a run executes
/// <store>/locks/migrate           flock held while a process opens and migrates the ledger
/// <store>/quarantine/             bad blob files moved aside, never deleted
/// ```
public final class LedgerStore: Sendable {
    public let root: String
    public let objects: ObjectStore
    public let ledger: Ledger

    public static let databaseName = "ledger.sqlite3"

    /// Opens the store at `root`, creating it (mode 0700) on first use.
    ///
    /// A folder that has blobs, a `refs/head` file or run lock files but whose ledger is missing, empty or has no
    /// tables is refused as damaged before anything is created (`StoreError.unusable(.damaged…)`).
    /// Creating and migrating the ledger happen under `<store>/locks/migrate`, so processes that
    /// open one new store at the same moment take turns.
    public init(root: String, durability: Durability = .process) throws(StoreError) {
        self.root = root
        if let damage = StoreIntegrity.damage(root: root) { throw damage }
        try POSIX.makeDirectories(root)
        chmod(root, 0o700)
        let lock = try MigrationLock.acquire(root: root)
        defer { lock.release() }
        if let damage = StoreIntegrity.damage(root: root) { throw damage }
        let fresh = !StoreIntegrity.hasHistory(root: root)
        objects = try ObjectStore(root: root, durability: durability,
                                  inline: InlineObjects(databasePath: root + "/" + LedgerStore.databaseName))
        ledger = try Ledger(path: root + "/" + LedgerStore.databaseName, durability: durability, freshAllowed: fresh)
        // A ledger from before the `refs/head` file: adopt its head into the file, once. A file
        // that exists is never overwritten here (an older ledger copied over a newer store must
        // still read as a mismatch).
        if ledger.migratedByThisOpen.contains(Schema.headFileMigration), HeadFile.read(root: root) == .absent,
           let head = try ledger.ref(LedgerStore.headRef) {
            try HeadFile.write(head, root: root)
        }
    }

    public var durability: Durability { objects.durability }

    /// Blobs up to this size are stored in the ledger, in the transaction of the row that names
    /// them, not as files: a step's request and response bodies and headers are almost always
    /// this small, and a new file per blob was most of a step's ledger cost (docs/ledger.md,
    /// "Where a blob's bytes live").
    public static let inlineLimit = 16 * 1024

    /// Stores bytes as a blob; the returned ref is then named by the row that commits next. A
    /// blob of at most `inlineLimit` bytes is stored by that commit (it carries its bytes);
    /// a larger one is a file by the time this returns.
    public func put(_ bytes: [UInt8], mediaType: String?) throws(StoreError) -> BlobRef {
        if bytes.count <= LedgerStore.inlineLimit { return BlobRef(inline: bytes, mediaType: mediaType) }
        return BlobRef(try objects.put(bytes), mediaType: mediaType)
    }

    /// `put` for several blobs; the files among them share one durability barrier (see
    /// `ObjectStore.putAll`).
    public func putAll(_ items: [(bytes: [UInt8], mediaType: String?)]) throws(StoreError) -> [BlobRef] {
        let large = items.indices.filter { items[$0].bytes.count > LedgerStore.inlineLimit }
        var written = try objects.putAll(large.map { items[$0].bytes }).makeIterator()
        return items.map { item in
            item.bytes.count <= LedgerStore.inlineLimit
                ? BlobRef(inline: item.bytes, mediaType: item.mediaType)
                : BlobRef(written.next()!, mediaType: item.mediaType)
        }
    }

    /// `lockHeld` for the ledger's read API, backed by this store's lock folder.
    public var lockProbe: @Sendable (String) -> Bool {
        let root = self.root
        return { RunLock.isHeld(store: root, runID: $0) }
    }

    public func run(_ idOrPrefix: String) throws(StoreError) -> RunRecord {
        let id = try ledger.resolveRunID(idOrPrefix)
        return try ledger.run(id, lockHeld: lockProbe)
    }

    public func runs(_ filter: Ledger.RunFilter = .init()) throws(StoreError) -> [RunRecord] {
        try ledger.runs(filter, lockHeld: lockProbe)
    }

    public func lock(runID: String) throws(StoreError) -> RunLock {
        try RunLock.acquire(store: root, runID: runID)
    }

    /// The ref that names the newest finished run's record.
    public static let headRef = "refs/head"

    /// Stamps the run's final state, writes its canonical run record as a blob chained to the
    /// previous finished run's record, and moves `refs/head` — all in one transaction, so two runs
    /// finishing at once still form a single chain. The `refs/head` file is written (atomically,
    /// fsynced) inside that transaction, while it holds the database's write lock, so files and
    /// rows move in the same order; if the commit then fails, the file is one record ahead and
    /// `verify --all` says so.
    @discardableResult
    public func finishRun(_ runID: String, state: RunState) throws(StoreError) -> Digest {
        let objects = self.objects
        let root = self.root
        return try ledger.write { db in
            try Ledger.stamp(runID, state: state, db)
            return try LedgerStore.chainRecord(runID, objects: objects, root: root, db)
        }
    }

    /// Writes the run's record as it stands, chained to the previous finished run's record, and
    /// moves `refs/head` (row and file) to it, in the caller's transaction: the second half of
    /// `finishRun`, and how an imported run (which keeps the stamp and finish time it came with)
    /// joins the chain. An imported run's record also carries its import facts (`imported`).
    static func chainRecord(_ runID: String, objects: ObjectStore, root: String, _ db: Database) throws -> Digest {
        let previous = try RefRow.fetchOne(db, key: LedgerStore.headRef).flatMap { try? Digest(parsing: $0.digest) }
        guard let runRow = try RunQuery.fetchAll(db, sql: RunQuery.select(where: "r.id = ?"), arguments: [runID]).first else {
            throw StoreError.runNotFound(runID)
        }
        let run = runRow.record(lockHeld: { _ in true })
        var extra: [String: JSONValue] = [:]
        if run.kind == .imported, let facts = try ImportedRunFacts.fetch(runID, db) {
            extra[RunRecordDocument.importedKey] = facts.json
        }
        if run.kind == .reconcile {
            extra[RunRecordDocument.reconciliationsKey] = try ReconciliationRow.recordJSON(reconcileRunID: runID, db)
        }
        // The record names every step: it is written to a file step by step and streamed into
        // the store, so finishing a run of any length holds a few hundred steps in memory.
        try POSIX.makeDirectories(objects.streamTempDirectory)
        let path = objects.streamTempDirectory + "/record-\(runID)-\(getpid()).json"
        defer { unlink(path) }
        try RunRecordDocument.write(run: run, previous: previous, extra: extra, to: path, db)
        let blob = BlobRef(try objects.put(fileAt: path), mediaType: RunRecordDocument.mediaType)
        try Ledger.indexObjects([blob], db)
        _ = try RunRow.filter(key: runID).updateAll(db, [
            RunRow.Columns.recordDigest.set(to: blob.digest.hex), RunRow.Columns.previousRecordDigest.set(to: previous?.hex),
        ])
        try Ledger.setRef(LedgerStore.headRef, blob.digest, db)
        try HeadFile.write(blob.digest, root: root)
        return blob.digest
    }
}

/// The canonical JSON record of a finished run: its row, its step rows as they stood when it
/// finished, and the digest of the previous finished run's record — a chain like git's commits.
public enum RunRecordDocument {
    public static let mediaType = "application/vnd.bcli.run-record+json"
    public static let formatVersion = 1
    /// The key of an imported run's import facts in its record (absent from every other record).
    public static let importedKey = "imported"
    /// The key of a reconcile run's decisions in its record (`ReconciliationRow.recordJSON`).
    public static let reconciliationsKey = "reconciliations"

    /// Writes the canonical JSON of the run's record (`make`'s document, byte for byte) to
    /// `path`, reading the run's steps in chunks: memory stays flat in the number of steps.
    /// `extra` holds the top-level keys some kinds of run add (`imported`, `reconciliations`).
    static func write(run: RunRecord, previous: Digest?, extra: [String: JSONValue], to path: String, _ db: Database) throws {
        guard case .object(var fields) = make(run: run, steps: [], previous: previous) else { return }
        fields["steps"] = nil
        for (k, v) in extra { fields[k] = v }
        // Every top-level key is ASCII, so byte order is RFC 8785's UTF-16 order.
        let keys = (Array(fields.keys) + ["steps"]).sorted()
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw StoreError.io(operation: "open", path: path, errno: errno) }
        defer { close(fd) }
        var buffer: [UInt8] = []
        buffer.reserveCapacity(1 << 16)
        func flush() throws {
            try buffer.withUnsafeBytes { try POSIX.writeAll(fd: fd, $0, path: path) }
            buffer.removeAll(keepingCapacity: true)
        }
        func emit(_ bytes: [UInt8]) throws {
            buffer.append(contentsOf: bytes)
            if buffer.count >= 1 << 16 { try flush() }
        }
        buffer.append(UInt8(ascii: "{"))
        for (index, key) in keys.enumerated() {
            if index > 0 { buffer.append(UInt8(ascii: ",")) }
            try emit(try JSONValue.string(key).canonicalBytes())
            buffer.append(UInt8(ascii: ":"))
            if key == "steps" {
                buffer.append(UInt8(ascii: "["))
                var first = true
                var lastID: Int64 = 0
                var lastSeq = Int.min
                while true {
                    // Keyset pages in (seq, id) order — the order `StepRow.ofRun` reads.
                    let request = StepRow.filter(StepRow.Columns.runID == run.id)
                        .filter(StepRow.Columns.seq > lastSeq || (StepRow.Columns.seq == lastSeq && StepRow.Columns.id > lastID))
                        .order(StepRow.Columns.seq, StepRow.Columns.id).limit(500)
                    let chunk = try StepRow.fetchRecords(db, request)
                    if chunk.isEmpty { break }
                    for step in chunk {
                        if !first { buffer.append(UInt8(ascii: ",")) }
                        first = false
                        try emit(try stepJSON(step).canonicalBytes())
                    }
                    lastSeq = chunk.last!.seq
                    lastID = chunk.last!.id
                }
                buffer.append(UInt8(ascii: "]"))
            } else {
                try emit(try fields[key]!.canonicalBytes())
            }
        }
        buffer.append(UInt8(ascii: "}"))
        try flush()
    }

    public static func make(run: RunRecord, steps: [StepRecord], previous: Digest?) -> JSONValue {
        .object([
            "format_version": .number(Double(formatVersion)),
            "type": "bcli.run-record",
            "previous_record": previous.map { .string($0.description) } ?? .null,
            "run": runJSON(run),
            "steps": .array(steps.map(stepJSON)),
        ])
    }

    /// A run's row as JSON (stamped state, no derived fields), shared with exports.
    public static func runJSON(_ r: RunRecord) -> JSONValue {
        .object([
            "id": .string(r.id),
            "kind": .string(r.kind.rawValue),
            "parent_run_id": str(r.parentRunID),
            "name": str(r.name),
            "manifest_digest": dig(r.manifestDigest),
            "manifest_path": str(r.manifestPath),
            "params_digest": dig(r.paramsDigest),
            "profile": str(r.profile),
            "environment": str(r.environment),
            "company": str(r.company),
            "base_url": str(r.baseURL),
            "state": .string(r.stampedState.rawValue),
            "started_at": .string(r.startedAt),
            "finished_at": str(r.finishedAt),
            "tool_version": .string(r.toolVersion),
            "durability": .string(r.durability.rawValue),
            // null for runs recorded before the column existed; their records lack the key and
            // still verify (a known key missing from a record must be null in the row).
            "step_count": r.stepCount.map { .number(Double($0)) } ?? .null,
        ])
    }

    /// A step's row as JSON, shared with `state --format json` and exports.
    /// A step with pages (a GET that followed `@odata.nextLink`) carries `pages`; other steps
    /// have no such key, so records written before pages existed read the same.
    public static func stepJSON(_ s: StepRecord) -> JSONValue {
        var fields = stepFields(s)
        if !s.pages.isEmpty { fields["pages"] = .array(s.pages.map(pageJSON)) }
        return .object(fields)
    }

    /// One page of a paged GET as JSON (records, bundles, `state --format json`).
    public static func pageJSON(_ p: StepPage) -> JSONValue {
        .object([
            "page": .number(Double(p.page)),
            "url": .string(p.url),
            "http_status": p.httpStatus.map { .number(Double($0)) } ?? .null,
            "response_digest": dig(p.responseDigest),
            "response_headers_digest": dig(p.responseHeadersDigest),
            "request_id": str(p.requestID),
            "duration_ms": p.durationMs.map { .number(Double($0)) } ?? .null,
        ])
    }

    static func stepFields(_ s: StepRecord) -> [String: JSONValue] {
        [
            "step_id": .number(Double(s.id)),
            "seq": .number(Double(s.seq)),
            "name": .string(s.name),
            "method": .string(s.method.rawValue),
            "url": .string(s.url),
            "request_digest": dig(s.requestDigest),
            "request_headers_digest": dig(s.requestHeadersDigest),
            "idempotency_key": str(s.idempotencyKey),
            "client_request_id": .string(s.clientRequestID),
            "if_match": str(s.ifMatch),
            "pre_image_digest": dig(s.preImageDigest),
            "target_step_id": s.targetStepID.map { .number(Double($0)) } ?? .null,
            "intent_at": .string(s.intentAt),
            "outcome_at": str(s.outcomeAt),
            "status": .string(s.statusName),
            "http_status": s.httpStatus.map { .number(Double($0)) } ?? .null,
            "response_digest": dig(s.responseDigest),
            "response_headers_digest": dig(s.responseHeadersDigest),
            "etag": str(s.etag),
            "record_id": str(s.recordID),
            "request_id": str(s.requestID),
            "ms_correlation_x": str(s.msCorrelationX),
            "correlation_request_id": str(s.correlationRequestID),
            "bc_error_code": str(s.bcErrorCode),
            "bc_error_message": str(s.bcErrorMessage),
            "bc_correlation_id": str(s.bcCorrelationID),
            "rollback_url": str(s.rollbackURL),
            "error_message": str(s.errorMessage),
            "duration_ms": s.durationMs.map { .number(Double($0)) } ?? .null,
        ]
    }

    static func str(_ s: String?) -> JSONValue { s.map { .string($0) } ?? .null }
    static func dig(_ d: Digest?) -> JSONValue { d.map { .string($0.description) } ?? .null }
}
