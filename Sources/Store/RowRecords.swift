import GRDB
import Hashing

// The ledger's tables as GRDB records. Each column name is spelled once, in the record's
// `CodingKeys`, which are the columns of typed requests too (filter, order, updates): a `String`
// coding key is a GRDB `ColumnExpression`, so `Columns` is the keys themselves (`RefRow` and
// `PrunedRunRow` name their digest column as a `Column`, which `GC.liveSet` lists beside the
// records' `digests`). The records hold the columns as stored (digests as bare hex, enums as
// their spelling); `StepRecord`, `RunRecord` and `BlobRef` are what the rest of bcli reads,
// converted from these in one place each.

/// A row of `step`.
struct StepRow: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "step"

    var id: Int64? = nil
    var runID: String
    var seq: Int
    var name: String
    var method: String
    var url: String
    var requestDigest: String?
    var requestHeadersDigest: String?
    var idempotencyKey: String?
    var clientRequestID: String
    var ifMatch: String?
    var preImageDigest: String?
    var targetStepID: Int64?
    var intentAt: String
    var outcomeAt: String? = nil
    var status: String? = nil
    var httpStatus: Int? = nil
    var responseDigest: String? = nil
    var responseHeadersDigest: String? = nil
    var etag: String? = nil
    var recordID: String? = nil
    var requestID: String? = nil
    var msCorrelationX: String? = nil
    var correlationRequestID: String? = nil
    var bcErrorCode: String? = nil
    var bcErrorMessage: String? = nil
    var bcCorrelationID: String? = nil
    var rollbackURL: String? = nil
    var errorMessage: String? = nil
    var durationMs: Int? = nil

    enum CodingKeys: String, CodingKey, ColumnExpression {
        case id, runID = "run_id", seq, name, method, url, requestDigest = "request_digest"
        case requestHeadersDigest = "request_headers_digest", idempotencyKey = "idempotency_key"
        case clientRequestID = "client_request_id", ifMatch = "if_match", preImageDigest = "pre_image_digest"
        case targetStepID = "target_step_id", intentAt = "intent_at", outcomeAt = "outcome_at", status
        case httpStatus = "http_status", responseDigest = "response_digest", responseHeadersDigest = "response_headers_digest"
        case etag, recordID = "record_id", requestID = "request_id", msCorrelationX = "ms_correlation_x"
        case correlationRequestID = "correlation_request_id", bcErrorCode = "bc_error_code"
        case bcErrorMessage = "bc_error_message", bcCorrelationID = "bc_correlation_id", rollbackURL = "rollback_url"
        case errorMessage = "error_message", durationMs = "duration_ms"

        /// The columns that name a blob, in `StepRecord.digests` order.
        static let digests = [CodingKeys.requestDigest, .requestHeadersDigest, .preImageDigest, .responseDigest,
                              .responseHeadersDigest].map { Column($0) }
    }

    typealias Columns = CodingKeys

    /// The step a rollback step undid.
    static let target = belongsTo(StepRow.self, key: "target", using: ForeignKey([Columns.targetStepID]))

    /// A run's steps in order (seq, then row id: the order the run record lists them).
    static func ofRun(_ runID: String) -> QueryInterfaceRequest<StepRow> {
        StepRow.filter(Columns.runID == runID).order(Columns.seq, Columns.id)
    }

    /// The step as bcli reads it. Throws when the `method` column holds a spelling bcli never
    /// writes (the column has no CHECK).
    func record() throws(StoreError) -> StepRecord {
        guard let method = RecordedMethod(rawValue: self.method) else {
            throw .database("step \(id ?? 0) of run \(runID) has method '\(self.method)', which bcli never records")
        }
        return StepRecord(
            id: id ?? 0, runID: runID, seq: seq, name: name, method: method, url: url,
            requestDigest: columnDigest(requestDigest), requestHeadersDigest: columnDigest(requestHeadersDigest),
            idempotencyKey: idempotencyKey, clientRequestID: clientRequestID, ifMatch: ifMatch,
            preImageDigest: columnDigest(preImageDigest), targetStepID: targetStepID, intentAt: intentAt, outcomeAt: outcomeAt,
            status: status.flatMap(StepStatus.init(rawValue:)), httpStatus: httpStatus,
            responseDigest: columnDigest(responseDigest), responseHeadersDigest: columnDigest(responseHeadersDigest), etag: etag,
            recordID: recordID, requestID: requestID, msCorrelationX: msCorrelationX,
            correlationRequestID: correlationRequestID, bcErrorCode: bcErrorCode, bcErrorMessage: bcErrorMessage,
            bcCorrelationID: bcCorrelationID, rollbackURL: rollbackURL, errorMessage: errorMessage, durationMs: durationMs)
    }

    /// The steps `request` selects, each with its pages (`step_page`, one query for all of them).
    static func fetchRecords(_ db: Database, _ request: QueryInterfaceRequest<StepRow>) throws -> [StepRecord] {
        var steps = try request.fetchAll(db).map { try $0.record() }
        let pages = try StepPageRow.pages(of: steps.map(\.id), db)
        if !pages.isEmpty {
            for i in steps.indices { steps[i].pages = pages[steps[i].id] ?? [] }
        }
        return steps
    }

    /// One step with its pages.
    static func fetchRecord(_ db: Database, id: Int64) throws -> StepRecord? {
        guard var step = try StepRow.fetchOne(db, key: id)?.record() else { return nil }
        step.pages = try StepPageRow.pages(of: [id], db)[id] ?? []
        return step
    }
}

extension StepRow {
    /// An intent row: what is known before the request leaves (no outcome yet).
    init(_ intent: StepIntent, intentAt: String) {
        self.init(
            id: nil, runID: intent.runID, seq: intent.seq, name: intent.name, method: intent.method.rawValue, url: intent.url,
            requestDigest: intent.request?.digest.hex, requestHeadersDigest: intent.requestHeaders?.digest.hex,
            idempotencyKey: intent.idempotencyKey, clientRequestID: intent.clientRequestID, ifMatch: intent.ifMatch,
            preImageDigest: intent.preImage?.digest.hex, targetStepID: intent.targetStepID, intentAt: intentAt)
    }
}

/// A row of `step_page`: one page of a GET that followed `@odata.nextLink` (migration 7).
struct StepPageRow: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "step_page"

    var stepID: Int64
    var page: Int
    var url: String
    var httpStatus: Int?
    var responseDigest: String?
    var responseHeadersDigest: String?
    var requestID: String?
    var durationMs: Int?

    enum CodingKeys: String, CodingKey, ColumnExpression {
        case stepID = "step_id", page, url, httpStatus = "http_status", responseDigest = "response_digest"
        case responseHeadersDigest = "response_headers_digest", requestID = "request_id", durationMs = "duration_ms"

        /// The columns that name a blob.
        static let digests = [CodingKeys.responseDigest, .responseHeadersDigest].map { Column($0) }
    }

    typealias Columns = CodingKeys

    var record: StepPage {
        StepPage(page: page, url: url, httpStatus: httpStatus, responseDigest: columnDigest(responseDigest),
                 responseHeadersDigest: columnDigest(responseHeadersDigest), requestID: requestID, durationMs: durationMs)
    }

    /// The pages of these steps, by step id, in page order (asked for in chunks under SQLite's limit).
    static func pages(of stepIDs: [Int64], _ db: Database) throws -> [Int64: [StepPage]] {
        var out: [Int64: [StepPage]] = [:]
        for start in stride(from: 0, to: stepIDs.count, by: 500) {
            let chunk = Array(stepIDs[start..<min(start + 500, stepIDs.count)])
            for row in try StepPageRow.filter(chunk.contains(Columns.stepID)).order(Columns.stepID, Columns.page).fetchAll(db) {
                out[row.stepID, default: []].append(row.record)
            }
        }
        return out
    }
}

extension StepPageRow {
    init(stepID: Int64, _ p: NewStepPage) {
        self.init(stepID: stepID, page: p.page, url: p.url, httpStatus: p.httpStatus, responseDigest: p.response?.digest.hex,
                  responseHeadersDigest: p.responseHeaders?.digest.hex, requestID: p.requestID, durationMs: p.durationMs)
    }

    init(stepID: Int64, _ p: StepPage) {
        self.init(stepID: stepID, page: p.page, url: p.url, httpStatus: p.httpStatus, responseDigest: p.responseDigest?.hex,
                  responseHeadersDigest: p.responseHeadersDigest?.hex, requestID: p.requestID, durationMs: p.durationMs)
    }
}

/// A row of `run`.
struct RunRow: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "run"

    var id: String
    var kind: String
    var parentRunID: String?
    var name: String?
    var manifestDigest: String?
    var manifestPath: String?
    var paramsDigest: String?
    var profile: String?
    var environment: String?
    var company: String?
    var baseURL: String?
    var state: String
    var startedAt: String
    var finishedAt: String?
    var toolVersion: String
    var durability: String
    var recordDigest: String?
    var previousRecordDigest: String?
    var stepCount: Int?

    enum CodingKeys: String, CodingKey, ColumnExpression {
        case id, kind, parentRunID = "parent_run_id", name, manifestDigest = "manifest_digest"
        case manifestPath = "manifest_path", paramsDigest = "params_digest", profile, environment, company
        case baseURL = "base_url", state, startedAt = "started_at", finishedAt = "finished_at"
        case toolVersion = "tool_version", durability, recordDigest = "record_digest"
        case previousRecordDigest = "previous_record_digest", stepCount = "step_count"

        /// The columns that name a blob.
        static let digests = [CodingKeys.manifestDigest, .paramsDigest, .recordDigest].map { Column($0) }
    }

    typealias Columns = CodingKeys

    /// The run as bcli reads it: its state by `RunStateRule.derive` over the row, the lock and the
    /// step counts.
    func record(counts: StepCounts, lockHeld: (String) -> Bool) -> RunRecord {
        let held = finishedAt == nil && lockHeld(id)
        let kind = RunKind(rawValue: self.kind) ?? .batch
        let stamped = RunState(rawValue: self.state) ?? .running
        let derived = RunStateRule.derive(stamped: stamped, finished: finishedAt != nil, lockHeld: held, kind: kind,
                                          stepCount: stepCount, counts: counts)
        return RunRecord(
            id: id, kind: kind, parentRunID: parentRunID, name: name, manifestDigest: columnDigest(manifestDigest),
            manifestPath: manifestPath, paramsDigest: columnDigest(paramsDigest), profile: profile, environment: environment,
            company: company, baseURL: baseURL, stampedState: stamped, state: derived,
            interrupted: finishedAt == nil && !held, startedAt: startedAt, finishedAt: finishedAt,
            toolVersion: toolVersion, durability: Durability(rawValue: self.durability) ?? .process,
            recordDigest: columnDigest(recordDigest), previousRecordDigest: columnDigest(previousRecordDigest), counts: counts,
            stepCount: stepCount)
    }
}

/// A row of `object`: the index of blobs.
struct ObjectRow: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "object"

    var digest: String
    var size: Int64
    var mediaType: String?
    var createdAt: String

    enum CodingKeys: String, CodingKey, ColumnExpression {
        case digest, size, mediaType = "media_type", createdAt = "created_at"
    }

    typealias Columns = CodingKeys

    /// The index rows of these digests (any number: asked for in chunks under SQLite's limit).
    static func fetchAll(_ db: Database, digests: [String]) throws -> [ObjectRow] {
        var out: [ObjectRow] = []
        for start in stride(from: 0, to: digests.count, by: 500) {
            let chunk = Array(digests[start..<min(start + 500, digests.count)])
            out += try ObjectRow.filter(chunk.contains(Columns.digest)).fetchAll(db)
        }
        return out
    }

    var blob: BlobRef? {
        (try? Digest(parsing: digest)).map { BlobRef(digest: $0, size: size, mediaType: mediaType) }
    }
}

/// A row of `ref`.
struct RefRow: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "ref"

    var name: String
    var digest: String
    var updatedAt: String

    enum CodingKeys: String, CodingKey { case name, digest, updatedAt = "updated_at" }

    enum Columns {
        static let name = Column(CodingKeys.name)
        static let digest = Column(CodingKeys.digest)
    }
}

/// A row of `pruned_run`: a run `gc` removed, whose record stays referenced.
struct PrunedRunRow: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "pruned_run"

    var id: String
    var recordDigest: String
    var prunedAt: String

    enum CodingKeys: String, CodingKey { case id, recordDigest = "record_digest", prunedAt = "pruned_at" }

    enum Columns {
        static let id = Column(CodingKeys.id)
        static let recordDigest = Column(CodingKeys.recordDigest)
    }
}

/// A digest column's bare hex as a `Digest` (the columns' CHECK keeps them 64 lowercase hex).
private func columnDigest(_ hex: String?) -> Digest? { hex.flatMap { try? Digest(parsing: $0) } }

/// A row of `imported_run`: where an `imported` run came from (migration 6). `source_digest` is a
/// blob (the source file's bytes); `python_manifest_hash` is a hash-only value (no bytes exist).
struct ImportedRunRow: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "imported_run"

    var runID: String
    var sourceFile: String
    var sourceDigest: String
    var sourceWalRecovered: Bool
    var pythonSchemaVersion: Int?
    var pythonManifestHash: String?
    var importedAt: String

    enum CodingKeys: String, CodingKey, ColumnExpression {
        case runID = "run_id", sourceFile = "source_file", sourceDigest = "source_digest"
        case sourceWalRecovered = "source_wal_recovered", pythonSchemaVersion = "python_schema_version"
        case pythonManifestHash = "python_manifest_hash", importedAt = "imported_at"
    }

    typealias Columns = CodingKeys
}

/// A row of `imported_step`: what the Python tool recorded for a step that `step` has no column
/// for. `python_body_hash` is a hash-only value (no bytes exist).
struct ImportedStepRow: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "imported_step"

    var stepID: Int64
    var pythonStepID: Int64
    var pythonMethod: String
    var pythonBodyHash: String?

    enum CodingKeys: String, CodingKey, ColumnExpression {
        case stepID = "step_id", pythonStepID = "python_step_id", pythonMethod = "python_method"
        case pythonBodyHash = "python_body_hash"
    }

    typealias Columns = CodingKeys
}
